"""Driving wrk: a table of requests, or a file of them to send once each, and its summary as JSON."""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

THREADS = 2

# What wrk runs. Either a table of ready-made requests, one picked at random per call (formatted
# once per thread; a body holding {n} is formatted per call with a counter, so each write changes
# something, and a keyed request gets an Idempotency-Key no other request of any run has), or,
# when the scenario gives one file per thread, that file's requests in order, each line
# "<index into headers> <path>", sent once each (a delete needs a row that exists).
# A JSON summary at the end.
LUA = """
local specs = %(specs)s
local files = %(files)s
local headers = %(headers)s
local method = %(method)s
local body = %(body)s
local run = %(run)s
local started = 0
function setup(thread)
  started = started + 1
  thread:set("file", files[started])
  thread:set("id", started)
end
local reqs, lines, n = {}, nil, 0
function init(args)
  if file then
    lines = {}
    for line in io.lines(file) do lines[#lines + 1] = line end
    return
  end
  for i, s in ipairs(specs) do
    for k = 1, s.weight do
      if s.keyed or (s.body and s.body:find("{n}", 1, true)) then
        reqs[#reqs + 1] = s
      else
        reqs[#reqs + 1] = wrk.format(s.method, s.path, s.headers, s.body)
      end
    end
  end
end
function request()
  n = n + 1
  if lines then
    local k, path = lines[(n - 1) %% #lines + 1]:match("^(%%d+) (.*)$")
    return wrk.format(method, path, headers[tonumber(k)], body)
  end
  local r = reqs[math.random(#reqs)]
  if type(r) == "table" then
    local h = r.headers
    if r.keyed then
      h = {}
      for name, value in pairs(r.headers) do h[name] = value end
      h["Idempotency-Key"] = run .. "-" .. id .. "-" .. n
    end
    return wrk.format(r.method, r.path, h, r.body and (r.body:gsub("{n}", tostring(n))))
  end
  return r
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "errors": %%d, "status_errors": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None
    weight: int = 1
    keyed: bool = False  # each call with an Idempotency-Key of its own


@dataclass
class Sequence:
    """Requests to send once each, in order: ``method`` on each path, with ``headers[k]`` (1-based)
    and ``body``, the same for all."""

    method: str
    headers: list[dict[str, str]]
    lines: list[tuple[int, str]] = field(default_factory=list)  # (k, path)
    body: str | None = None


def lua_value(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {lua_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    return json.dumps(value)


def run(base: str, load: list[Request] | Sequence, seconds: int, connections: int) -> dict[str, int]:
    """Run wrk against ``base`` and return its summary."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as directory:
        files: list[str] = []
        method, headers, body, specs = "GET", [], None, []
        if isinstance(load, Sequence):
            method, headers, body = load.method, load.headers, load.body
            for thread in range(THREADS):  # every THREADS-th line to each thread, so none is sent twice
                path = Path(directory) / f"thread-{thread}.txt"
                path.write_text("".join(f"{k} {p}\n" for k, p in load.lines[thread::THREADS]))
                files.append(str(path))
        else:
            specs = [
                {
                    "method": r.method,
                    "path": r.path,
                    "headers": r.headers,
                    "body": r.body,
                    "weight": r.weight,
                    "keyed": r.keyed,
                }
                for r in load
            ]
        script = Path(directory) / "bench.lua"
        script.write_text(
            LUA
            % {
                "specs": lua_value(specs),
                "files": lua_value(files),
                "headers": lua_value(headers),
                "method": lua_value(method),
                "body": lua_value(body),
                "run": lua_value(secrets.token_hex(8)),  # so no key repeats one of an earlier run
            }
        )
        command = [
            "wrk",
            f"-t{THREADS}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            base,
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((line for line in output.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{output.stdout}\n{output.stderr}")
    summary: dict[str, int] = json.loads(line[len("BENCH ") :])
    return summary
