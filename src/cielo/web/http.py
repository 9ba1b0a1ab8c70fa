"""HTTP plumbing shared by every API: fast JSON responses and per-API error shapes.

Each API mounted in the app owns a path prefix and says how its errors look (the white-label
API answers ``{"error": …}``, the Promo API a JSON string or ``{code, description}``). Errors
raised outside a route's own handling (unknown route, wrong method, oversized body, an
unexpected exception) are rendered through :func:`error_style_for` so they keep that shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    """JSON rendered by orjson (FastAPI's ORJSONResponse is deprecated)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


ErrorRenderer = Callable[[int, str], Response]


def query_of(request) -> Mapping[str, str]:
    """The request's query parameters, a repeated name's last value winning (as Starlette's
    ``request.query_params.get``). A query without escapes is split here: Starlette's
    ``parse_qsl`` path cost ~6% of a cached search's request; the split gives what it gives
    (tests hold them equal), and any query with an escape goes through Starlette."""
    raw = request.scope.get("query_string", b"")
    if b"%" in raw or b"+" in raw:
        return request.query_params
    params = {}
    for part in raw.decode("latin-1").split("&"):
        if part:
            name, _, value = part.partition("=")
            params[name] = value
    return params


def hides_detail(status_code: int) -> bool:
    """A 5xx answered with the API's fixed internal-error text (the detail stays in the log):
    every one but 503, an outage, which says what it is and when to retry."""
    return status_code >= 500 and status_code != 503


def _default_renderer(status_code: int, message: str) -> Response:
    if hides_detail(status_code):
        message = "An internal server error has occurred."
    return JSONResponse({"detail": message}, status_code=status_code)


_STYLES: list[tuple[str, ErrorRenderer]] = []


def register_error_style(prefix: str, renderer: ErrorRenderer) -> None:
    """Errors under ``prefix`` are rendered by ``renderer`` (longest prefix wins)."""
    _STYLES[:] = [(p, r) for p, r in _STYLES if p != prefix]
    _STYLES.append((prefix, renderer))
    _STYLES.sort(key=lambda item: len(item[0]), reverse=True)


def error_style_for(path: str) -> ErrorRenderer:
    for prefix, renderer in _STYLES:
        if path.startswith(prefix):
            return renderer
    return _default_renderer


STATUS_SENTENCES = {
    404: "The requested resource was not found.",
    405: "The {method} method is not allowed on this endpoint.",
    413: "The request body is larger than the {limit} bytes allowed.",
    503: "The service cannot reach its database right now; nothing was changed. Retry in a few seconds.",
}


_EMPTY = object()
NOT_JSON = "The request body must be JSON (Content-Type: application/json)."


def sent_as_json(headers: Mapping[str, str]) -> bool:
    """Whether a body is read as JSON: it says ``application/json``, or names no type at all
    (every API answers any other type 415 with :data:`NOT_JSON`)."""
    return headers.get("content-type", "").split(";")[0].strip().lower() in ("application/json", "")


async def json_body(request, error: Callable[[int, str], Exception], *, empty: Any = _EMPTY,
                    max_bytes: int | None = None, too_large: Callable[[], Exception] | None = None) -> Any:
    """The request's JSON body, or the API's own error: 415 for another content type, 400 for
    text that is not JSON. An empty body answers ``empty`` when one is given, else raises
    ``error(422, …)`` (the caller decides whether a missing body is absent or invalid).
    With ``max_bytes``, ``too_large()`` is raised as soon as the body read so far passes it,
    whatever its framing (a chunked body has no Content-Length to check beforehand)."""
    if not sent_as_json(request.headers):
        raise error(415, NOT_JSON)
    if max_bytes is None:
        raw = await request.body()
    else:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_large() if too_large is not None else error(413, STATUS_SENTENCES[413].format(limit=max_bytes))
            chunks.append(chunk)
        raw = b"".join(chunks)
    if not raw.strip():
        if empty is _EMPTY:
            raise error(422, "The request body is mandatory.")
        return empty
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise error(400, "The request body is not valid JSON.") from None
