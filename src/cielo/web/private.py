"""Which answers no cache may keep (``Cache-Control: no-store``) and which must not leak their
address to the next site (``Referrer-Policy: no-referrer``), API.md §2 and §3.1.

Decided here, by path, for every answer of a route — success, error or redirect — and applied
by the request middleware, so no route carries a copy of the rule: ``create_app`` lists the
paths (``/me…``, the white-label API, the token endpoints, ``/login``, ``/cards``, the pages),
and every HTML answer gets both headers wherever it comes from.
"""

from __future__ import annotations

Header = tuple[bytes, bytes]

NO_STORE: Header = (b"cache-control", b"no-store")
NO_REFERRER: Header = (b"referrer-policy", b"no-referrer")
_STORE_ONLY: tuple[Header, ...] = (NO_STORE,)
_BOTH: tuple[Header, ...] = (NO_STORE, NO_REFERRER)


class PrivateAnswers:
    def __init__(self) -> None:
        self._exact: dict[str, tuple[Header, ...]] = {}
        self._prefixes: list[tuple[str, tuple[Header, ...]]] = []

    def add(self, path: str, *, prefix: bool = False, no_referrer: bool = False) -> None:
        """Answers of ``path`` (or of every path beginning with it) are never stored, and with
        ``no_referrer`` tell no referrer either."""
        headers = _BOTH if no_referrer else _STORE_ONLY
        if prefix:
            self._prefixes.append((path, headers))
        else:
            self._exact[path] = headers

    def rule(self, path: str) -> tuple[Header, ...]:
        """The headers every answer of ``path`` carries (none for most paths)."""
        headers = self._exact.get(path)
        if headers is not None:
            return headers
        for start, headers in self._prefixes:
            if path.startswith(start):
                return headers
        return ()

    @staticmethod
    def apply(rule: tuple[Header, ...], headers: list[Header]) -> list[Header]:
        """An answer's headers with its path's rule applied; an HTML page gets both headers."""
        if not rule:
            for name, value in headers:
                if name == b"content-type":
                    if value.startswith(b"text/html"):
                        rule = _BOTH
                    break
            if not rule:
                return headers
        names = {name for name, _ in rule}
        return [header for header in headers if header[0] not in names] + list(rule)
