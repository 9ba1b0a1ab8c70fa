"""Server-rendered HTML pages: Jinja2 templates, CSRF, the browser a flow is bound to, and the HTML
error style.

Shared by the developer panel and the holder pages (login, consent, cards)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from cielo.security.csrf import FIELD, Csrf
from cielo.services import services
from cielo.web.http import hides_detail

TEMPLATES = Path(__file__).parent.parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)

# Pages never go into frames (clickjacking on the forms). That no cache keeps them and that
# they tell no referrer is decided with every other private answer, in web/private.py.
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                               "form-action 'self' https: http://localhost:* http://127.0.0.1:*",
    "X-Content-Type-Options": "nosniff",
}


def secure_request(request: Request) -> bool:
    # the scope's scheme (as the proxy headers set it), not request.url's: that builds and
    # parses the whole address on every page and redirect
    return request.scope.get("scheme") == "https" or services(request).settings.cookie_secure


def render(request: Request, template: str, *, status_code: int = 200, **context) -> HTMLResponse:
    csrf: Csrf = services(request).csrf
    token, new_cookie = csrf.token(request)
    root = request.scope.get("root_path", "")
    html = _env.get_template(template).render(csrf_token=token, url=lambda path: root + path, **context)
    response = HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
    csrf.set_cookie(response, new_cookie, secure=secure_request(request))
    return response


def csrf_ok(request: Request, form) -> bool:
    return services(request).csrf.valid(request, form.get(FIELD))


def bind_browser(request: Request, response: Response, purpose: str, link_id: str, *, path: str,
                 lifetime: timedelta) -> None:
    """The flow of ``link_id`` goes on only in this browser (security/binding.py)."""
    services(request).binding.bind(response, purpose, link_id, path=path, max_age=int(lifetime.total_seconds()),
                                   secure=secure_request(request))


def browser_bound(request: Request, purpose: str, link_id: str) -> bool:
    """Whether this browser began the flow of ``link_id``."""
    return services(request).binding.holds(request, purpose, link_id)


def release_browser(request: Request, response: Response, link_id: str, *, path: str) -> None:
    services(request).binding.release(response, link_id, path=path, secure=secure_request(request))


def prefers_html(request: Request) -> bool:
    """Whether the ``Accept`` header ranks ``text/html`` above ``application/json``: a browser's
    navigation does; API clients, curl's ``*/*`` and a missing header do not. Each type takes the
    quality of the most specific range that matches it (RFC 9110 §12.5.1)."""
    ranges: dict[str, float] = {}
    for item in request.headers.get("accept", "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.setdefault(media.lower(), quality)

    def quality_of(media: str) -> float:
        for candidate in (media, media.split("/")[0] + "/*", "*/*"):
            if candidate in ranges:
                return ranges[candidate]
        return 0.0

    return quality_of("text/html") > quality_of("application/json")


def error_page(status_code: int, message: str) -> Response:
    headings = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
                413: "Request too large", 429: "Too many requests", 503: "Service unavailable"}
    if hides_detail(status_code):
        message = "An internal error has occurred. Please try again later."
    html = _env.get_template("error.html").render(
        status=status_code, heading=headings.get(status_code, "Something went wrong"), message=message,
        url=lambda path: path,
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
