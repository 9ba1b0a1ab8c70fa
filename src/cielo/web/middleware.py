"""Pure ASGI middleware: request id, access log, body-size cap, last-resort error answer, and the
headers that keep private answers out of caches and referrers (``web/private.py``).

Written as raw ASGI rather than ``BaseHTTPMiddleware`` because it sits on every request:
the raw form adds no task or stream copies (see docs/performance-history.md).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cielo.cache import RequestMarker, request_marker
from cielo.db import unavailable
from cielo.logs import AccessLog, request_id_var
from cielo.web.http import STATUS_SENTENCES, error_style_for
from cielo.web.private import PrivateAnswers

error_log = logging.getLogger("cielo.error")

_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
# Request ids: a random per-process prefix and a counter: unique across processes and
# restarts, and cheaper than uuid4 (which reads the OS's random source every request).
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def _new_id_prefix() -> None:
    global _ID_PREFIX, _ID_COUNTER
    _ID_PREFIX = os.urandom(8).hex()
    _ID_COUNTER = itertools.count(1)


os.register_at_fork(after_in_child=_new_id_prefix)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


class _BodyTooLarge(Exception):
    pass


BATCH_BODY_BYTES = 2 * 1024 * 1024
RETRY_AFTER_S = 5


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: AccessLog | None = None,
                 private: PrivateAnswers | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.private = private or PrivateAnswers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = None
        content_length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _SAFE_REQUEST_ID.match(value):
                request_id = value.decode("ascii")
            elif name == b"content-length":
                content_length = value
        if request_id is None:
            request_id = new_request_id()
        token = request_id_var.set(request_id)
        marker_token = request_marker.set(RequestMarker())
        started = time.perf_counter()
        status_holder = [0]
        path = scope["path"]
        limit = self.max_body_bytes
        if path.startswith("/admin/v1/") and path.endswith("/transactions/batch"):
            limit = max(limit, BATCH_BODY_BYTES)  # up to 1,000 transactions, a few hundred bytes each
        private = self.private.rule(path)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                headers = list(message["headers"]) + [(b"x-request-id", request_id.encode("ascii"))]
                message["headers"] = PrivateAnswers.apply(private, headers)  # no-store, no-referrer (web/private.py)
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        async def answer(status_code: int, message: str) -> None:
            response = error_style_for(path)(status_code, message)
            if status_code == 503:
                response.headers["Retry-After"] = str(RETRY_AFTER_S)
            await response(scope, receive, send_wrapper)

        try:
            if content_length is not None and content_length.isdigit() and int(content_length) > limit:
                await answer(413, STATUS_SENTENCES[413].format(limit=limit))
            else:
                await self.app(scope, receive_limited, send_wrapper)
        except _BodyTooLarge:
            if status_holder[0] == 0:
                await answer(413, STATUS_SENTENCES[413].format(limit=limit))
        except Exception as exc:
            if unavailable(exc):
                # the database could not be reached or kept us waiting too long: say so, and
                # when to come back (nothing was changed: a failed transaction rolls back)
                error_log.warning("database unavailable", extra={"path": path, "method": scope["method"],
                                                                  "error": type(exc).__name__})
                if status_holder[0] == 0:
                    await answer(503, STATUS_SENTENCES[503])
            else:
                error_log.exception("unhandled error", extra={"path": path, "method": scope["method"]})
                if status_holder[0] == 0:
                    await answer(500, "")
        finally:
            if self.access_log is not None:
                self.access_log.write(
                    {
                        "method": scope["method"],
                        "path": path,
                        "status": status_holder[0] or 500,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    }
                )
            request_id_var.reset(token)
            request_marker.reset(marker_token)
