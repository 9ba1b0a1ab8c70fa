"""cielo.web.pages: whether a request prefers an HTML answer (a browser's navigation)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from cielo.web.pages import prefers_html

CHROMIUM = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("accept,html", [
    (CHROMIUM, True), (FIREFOX, True), ("text/html", True), ("text/*", True), ("", False), ("*/*", False),
    ("application/json", False), ("text/html;q=0.8, application/json", False), ("text/html;q=x, */*;q=0.1", False),
])
def test_prefers_html(accept, html):
    request = Request({"type": "http", "headers": [(b"accept", accept.encode())] if accept else []})
    assert prefers_html(request) is html
