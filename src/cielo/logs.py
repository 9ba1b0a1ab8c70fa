"""Structured logging: one JSON object per line, each carrying the request id.

Never log a token, secret, password, CPF or card number: the access line carries the path
without its query string, and the request's headers are never logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import logging.config
import re
import sys
from datetime import datetime, timezone
from typing import Any

import orjson
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def log_time(moment: datetime) -> str:
    """The one timestamp format of every log line (ours, uvicorn's, the access line's): UTC,
    ISO 8601 with milliseconds, ``2026-12-07T04:46:37.452+00:00``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


_COLOURS = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _dumps(data: dict, **_: Any) -> str:
    return orjson.dumps(data, default=str).decode()


class JsonFormatter(_JsonFormatter):
    """One JSON object a line, shaped as the access line (which writes itself, AccessLog):
    ``time`` as :func:`log_time` writes it, compact, and no terminal colour codes — uvicorn
    hands its records a coloured copy of the message (``color_message``), dropped here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, json_serializer=_dumps, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return log_time(datetime.fromtimestamp(record.created, timezone.utc))

    def process_log_record(self, log_data: dict) -> dict:
        log_data.pop("color_message", None)
        for key, value in log_data.items():
            if isinstance(value, str) and "\x1b" in value:
                log_data[key] = _COLOURS.sub("", value)
        return log_data


def _at_least(level: str, floor: int) -> str:
    number = logging.getLevelName(level)
    return logging.getLevelName(max(number, floor)) if isinstance(number, int) else level


def logging_config(level: str = "INFO", json: bool = True) -> dict:
    """The service's logging. ``level`` is ours (and uvicorn's, never below DEBUG: its TRACE
    prints whole ASGI messages, headers and bodies); other libraries log from INFO up at most,
    since their DEBUG output repeats what they are handed (aiosqlite: every statement's
    parameters — e-mail addresses among them)."""
    level = level.upper()
    formatter = (
        {
            "()": "cielo.logs.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
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
        "root": {"level": _at_least(level, logging.INFO), "handlers": ["stderr"]},
        "loggers": {
            "cielo": {"level": level},
            # uvicorn's own access log prints query strings (which may hold tokens): off.
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "uvicorn": {"level": _at_least(level, logging.DEBUG)},
            "uvicorn.error": {"level": _at_least(level, logging.DEBUG)},
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
                "time": log_time(datetime.now(timezone.utc)),
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
