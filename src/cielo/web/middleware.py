"""Pure ASGI middleware: request id, access log, body-size cap, last-resort error answer.

Written as raw ASGI rather than ``BaseHTTPMiddleware`` because it sits on every request:
the raw form adds no task or stream copies (see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cielo.cache import RequestMarker, request_marker
from cielo.db import unavailable
from cielo.web.http import STATUS_SENTENCES, error_style_for
from cielo.logs import AccessLog, request_id_var

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
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: AccessLog | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log

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

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode("ascii"))]
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


class FixedPathRoutes:
    """The plain Starlette routes whose path has no parameter, found by one dict lookup.

    Starlette's router asks every route in turn (~40 here: /promotions came ~37th, ~35 µs a
    request), and FastAPI's stack adds its own layers (telemetry, body limit, exit stack) that
    plain routes do not use. Requests to these paths go through the same request-context
    middleware and the same exception handlers, then straight to their route.

    Exact by construction: a path is served here only for methods no earlier route of the
    application would have taken (``build`` probes them), and a request whose method no route
    of that path fully matches falls through to the application (its 405 and Allow stay as
    they are).
    """

    def __init__(self, table: dict[str, list], app: ASGIApp) -> None:
        self._table = table
        self._app = app  # the request-context middleware around the exception handlers

    @classmethod
    def build(cls, routes: list, plain: list, wrap) -> FixedPathRoutes:
        """``routes``: the application's routes in order; ``plain``: those that may be served
        here; ``wrap(app)``: the middleware and handlers to serve them with."""
        plain_ids = {id(route) for route in plain}
        table: dict[str, list] = {}
        for position, route in enumerate(routes):
            if id(route) not in plain_ids or not isinstance(route, Route) or route.param_convertors:
                continue
            earlier = routes[:position]
            if any(other.matches({"type": "http", "path": route.path, "root_path": "", "method": method})[0]
                   is Match.FULL for method in route.methods or () for other in earlier):
                continue  # the router would give (some of) its requests to an earlier route
            table.setdefault(route.path, []).append(route)
        return cls(table, wrap(cls._dispatch))

    def find(self, scope: Scope):
        """The route that takes this request, or None."""
        candidates = self._table.get(scope["path"]) if not scope.get("root_path") else None
        if candidates is not None:
            for route in candidates:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    return route, child_scope
        return None

    async def __call__(self, found, scope: Scope, receive: Receive, send: Send) -> None:
        route, child_scope = found
        scope.update(child_scope)
        scope["fixed_path_route"] = route
        await self._app(scope, receive, send)

    @staticmethod
    async def _dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        await scope["fixed_path_route"].handle(scope, receive, send)
