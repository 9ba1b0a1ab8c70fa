"""The Link header of the Promo lists (pagination.Page.headers): the other parameters kept,
_offset and _limit replaced, whatever way the client wrote them."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.requests import Request

from cielo.promo.pagination import Page


def _request(query: bytes, host: bytes = b"api.example:8000") -> Request:
    return Request({"type": "http", "method": "GET", "scheme": "http", "path": "/sandbox/promotions/v1/promotions",
                    "root_path": "", "query_string": query, "headers": [(b"host", host)],
                    "server": ("127.0.0.1", 8000)})


def _links(headers: dict) -> dict[str, str]:
    out = {}
    for part in headers["Link"].split(", <"):
        url, _, rel = part.partition(">; rel=")
        out[rel.strip('"')] = url.lstrip("<")
    return out


@pytest.mark.parametrize("query, expected_rest", [
    (b"latitude=-23.5&longitude=-46.6&radius=2000&_offset=40&_limit=20",
     "latitude=-23.5&longitude=-46.6&radius=2000"),
    # page keys first, an escaped key, a comma list, an escaped value: kept as written
    (b"_limit=20&%5Foffset=40&type=W,P&title=caf%C3%A9+bar&radius=5",
     "type=W,P&title=caf%C3%A9+bar&radius=5"),
])
def test_links_keep_the_other_parameters_as_written(query, expected_rest):
    headers = Page(40, 20).headers(_request(query), 100)
    links = _links(headers)
    assert headers["X-Total-Count"] == "100"
    assert links == {
        "next": f"http://api.example:8000/sandbox/promotions/v1/promotions?{expected_rest}&_offset=60&_limit=20",
        "prev": f"http://api.example:8000/sandbox/promotions/v1/promotions?{expected_rest}&_offset=20&_limit=20",
    }


def test_a_query_with_unusual_characters_is_re_encoded():
    headers = Page(0, 10).headers(_request(b'q=<a>"b"&_offset=0&_limit=10'), 11)
    url = _links(headers)["next"]
    assert "<" not in url and '"' not in url
    assert parse_qsl(urlsplit(url).query) == [("q", '<a>"b"'), ("_offset", "10"), ("_limit", "10")]


def test_no_link_when_everything_fits_and_the_base_follows_the_host():
    assert Page(0, 20).headers(_request(b"_offset=0&_limit=20"), 20) == {"X-Total-Count": "20"}
    first = _links(Page(0, 1).headers(_request(b"_offset=0&_limit=1", b"one.example"), 2))["next"]
    second = _links(Page(0, 1).headers(_request(b"_offset=0&_limit=1", b"two.example"), 2))["next"]
    assert first == "http://one.example/sandbox/promotions/v1/promotions?_offset=1&_limit=1"
    assert second.startswith("http://two.example/")
