"""Structured logging: one JSON object per line, each carrying the request id.

Never log a token, secret, password, CPF or card number: the access line carries the path
without its query string, and the request's headers are never logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import logging.config
import sys
from datetime import datetime, timezone

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def logging_config(level: str = "INFO", json: bool = True) -> dict:
    formatter = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
        if json
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own access log prints query strings (which may hold tokens): off.
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "uvicorn.error": {"level": level.upper()},
        },
    }


def configure(level: str = "INFO", json: bool = True) -> None:
    logging.config.dictConfig(logging_config(level, json))
    if not sys.stderr.isatty():
        logging.captureWarnings(True)


class AccessLog:
    """One JSON line per request, buffered and written at most every ``interval`` seconds.

    The access line is on every request's path; formatting it through :mod:`logging` costs
    ~30% of a cached request (docs/performance-history.md). Like nginx's ``access_log … buffer=``,
    lines are serialised with orjson into a buffer that is written when it fills or on a
    timer, in chunks that end on a line boundary and stay under PIPE_BUF so that the lines
    of several worker processes never interleave. At most ``interval`` seconds of access
    lines can be lost if the process is killed; errors go through :mod:`logging` at once.
    Lines have the shape of the other log lines (time, level, logger, message, request_id).
    """

    CHUNK = 4096

    def __init__(self, stream=None, *, interval: float = 0.5, max_buffer: int = 65536) -> None:
        self._stream = stream
        self._interval = interval
        self._max_buffer = max_buffer
        self._lines: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None

    def _out(self):
        stream = self._stream or sys.stderr
        return getattr(stream, "buffer", stream)

    def write(self, fields: dict) -> None:
        line = orjson.dumps(
            {
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "level": "INFO",
                "logger": "cielo.access",
                "message": "request",
                "request_id": request_id_var.get(),
                **fields,
            }
        )
        self._lines.append(line + b"\n")
        self._size += len(line) + 1
        if self._size >= self._max_buffer:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self._interval, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        lines, self._lines, self._size = self._lines, [], 0
        out = self._out()
        chunk: list[bytes] = []
        size = 0
        try:
            for line in lines:
                if size + len(line) > self.CHUNK and chunk:
                    out.write(b"".join(chunk))
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            if chunk:
                out.write(b"".join(chunk))
            out.flush()
        except (OSError, ValueError):  # pragma: no cover - stderr closed at shutdown
            pass
