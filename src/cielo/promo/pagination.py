"""_offset/_limit paging of the Promo lists, in one place (API.md §2): a JSON array, the
X-Total-Count header and an RFC 8288 Link header with next/prev."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlencode

from cielo.numbers import integer
from cielo.promo.errors import PromoError, given, invalid

MAX_OFFSET = 10_000_000


def _integer(raw: str, name: str, minimum: int) -> int:
    value = integer(raw.strip(), 12, signed=True)
    if value is None:
        raise invalid(f"The '{name}' parameter must be an integer.")
    if value < minimum:
        raise invalid(f"The '{name}' parameter must be at least {minimum}.")
    return value


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
    whole: bool = False  # no _limit: every match from the offset on, at most ``limit`` (the page size) of them

    @classmethod
    def parse(cls, query, max_page_size: int, *, required: bool) -> Page:
        """The page asked for. Where paging is optional (the lists the seed gives no paging
        parameters), a request without ``_limit`` asks for every match: :meth:`check_whole`
        refuses it once the total is known, if there are more than the profile's page size."""
        raw_offset = given(query, "_offset", required=required)
        raw_limit = given(query, "_limit", required=required)
        offset = _integer(raw_offset, "_offset", 0) if raw_offset is not None else 0
        if offset > MAX_OFFSET:
            raise invalid(f"The '_offset' parameter must be at most {MAX_OFFSET}.")
        if raw_limit is None:
            return cls(offset, max_page_size, whole=True)
        limit = _integer(raw_limit, "_limit", 1)
        if limit > max_page_size:
            raise PromoError(413, f"The '_limit' parameter ({limit}) is above the maximum page size of {max_page_size} "
                                  "of this token's access profile.")
        return cls(offset, limit)

    def check_whole(self, total: int) -> None:
        """An unpaged list is never cut (API.md §2): more matches past the offset than the
        profile's page size is a 413 that says how to page."""
        if self.whole and total - self.offset > self.limit:
            raise PromoError(413, f"This list has {total - self.offset} matches, more than the maximum page size of "
                                  f"{self.limit} of this token's access profile; page through it with the '_offset' "
                                  "and '_limit' parameters.")

    def headers(self, request, total: int) -> dict[str, str]:
        headers = {"X-Total-Count": str(total)}
        has_next, has_prev = self.offset + self.limit < total, self.offset > 0
        if has_next or has_prev:
            rest = _query_without_page(request)
            prefix = f"{_base_url(request)}?{rest}&" if rest else f"{_base_url(request)}?"
            links = []
            if has_next:
                links.append(f'<{prefix}_offset={self.offset + self.limit}&_limit={self.limit}>; rel="next"')
            if has_prev:
                links.append(f'<{prefix}_offset={max(0, self.offset - self.limit)}&_limit={self.limit}>; rel="prev"')
            headers["Link"] = ", ".join(links)
        return headers


_PAGE_KEYS = ("_offset", "_limit")
# A query of only unreserved characters, escapes and the separators: safe to repeat in a Link
# header as the client wrote it (re-encoding it cost more than building the rest of the header).
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9._~%+=&,:-]*")


def _query_without_page(request) -> str:
    """The request's query without _offset and _limit, encoded (the other parameters in the
    client's order and spelling when the query is plain; re-encoded otherwise)."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    if _PLAIN_QUERY.fullmatch(raw):
        kept = []
        for part in raw.split("&"):
            key = part.partition("=")[0]
            if "%" in key or "+" in key:
                key = unquote_plus(key)
            if part and key not in _PAGE_KEYS:
                kept.append(part)
        return "&".join(kept)
    params = dict(request.query_params)
    for key in _PAGE_KEYS:
        params.pop(key, None)
    return urlencode(params)


_BASES: dict[tuple, str] = {}


def _base_url(request) -> str:
    """The request's URL without its query, remembered by what Starlette makes it of: building
    it costs as much as re-encoding a query did, every page of a list answer needs it, and it
    takes few values."""
    scope = request.scope
    server = scope.get("server")
    key = (scope.get("scheme"), request.headers.get("host"), tuple(server) if server else None, scope.get("root_path"),
           scope["path"])
    base = _BASES.get(key)
    if base is None:
        if len(_BASES) >= 1024:  # Host headers are the caller's to choose: keep it bounded
            _BASES.clear()
        base = _BASES[key] = str(request.url.replace(query=""))
    return base
