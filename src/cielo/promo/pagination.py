"""_offset/_limit paging of the Promo lists, in one place (CONTRACT §2): a JSON array, the
X-Total-Count header and an RFC 8288 Link header with next/prev."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from cielo.promo.errors import PromoError, invalid, missing

MAX_OFFSET = 10_000_000


def _integer(raw: str, name: str, minimum: int) -> int:
    text = raw.strip()
    if not text.lstrip("-").isdigit() or len(text) > 12:
        raise invalid(f"The '{name}' parameter must be an integer.")
    value = int(text)
    if value < minimum:
        raise invalid(f"The '{name}' parameter must be at least {minimum}.")
    return value


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int

    @classmethod
    def parse(cls, query, max_page_size: int, *, required: bool, default_limit: int = 20) -> "Page":
        raw_offset, raw_limit = query.get("_offset"), query.get("_limit")
        if required and raw_offset in (None, ""):
            raise missing("_offset")
        if required and raw_limit in (None, ""):
            raise missing("_limit")
        offset = _integer(raw_offset, "_offset", 0) if raw_offset not in (None, "") else 0
        if offset > MAX_OFFSET:
            raise invalid(f"The '_offset' parameter must be at most {MAX_OFFSET}.")
        limit = _integer(raw_limit, "_limit", 1) if raw_limit not in (None, "") else min(default_limit, max_page_size)
        if limit > max_page_size:
            raise PromoError(413, f"The '_limit' parameter ({limit}) is above the maximum page size of {max_page_size} "
                                  "of this token's access profile.")
        return cls(offset, limit)

    def headers(self, request, total: int) -> dict[str, str]:
        links = []
        params = dict(request.query_params)
        base = str(request.url.replace(query=""))
        if self.offset + self.limit < total:
            links.append(f'<{base}?{urlencode({**params, "_offset": self.offset + self.limit, "_limit": self.limit})}>; rel="next"')
        if self.offset > 0:
            previous = max(0, self.offset - self.limit)
            links.append(f'<{base}?{urlencode({**params, "_offset": previous, "_limit": self.limit})}>; rel="prev"')
        headers = {"X-Total-Count": str(total)}
        if links:
            headers["Link"] = ", ".join(links)
        return headers
