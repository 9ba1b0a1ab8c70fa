"""Binding a page flow (a holder's sign-in, a card registration) to the browser that began it.

The flow's first answer (the ``/login`` or ``/cards`` redirect) sets a cookie holding
HMAC(key, purpose:link id): only the service can compute it, and only that answer carries it.
Every later step, GET or POST, checks it, so another browser holding only a step's address
(from history, a shared link, a proxy's log) and a CSRF token of its own gets an error page,
never the form, a code or a card (API.md §3.1).

``SameSite=Lax``, not Strict: a flow begins with a navigation from the partner's site, and a
browser sends no Strict cookie along that navigation's redirect to our page. Lax cookies go
with top-level navigations and same-site requests only (the forms post from our own pages).
One cookie per flow, named after its link, so one browser may run two at once (two tabs, two
applications); each lives as long as its link and goes only to the pages' path.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cielo.security.csrf import matches
from cielo.security.signing import SigningKeys

COOKIE_PREFIX = "cielo_flow_"


class FlowBinding:
    def __init__(self, keys: SigningKeys) -> None:
        self._keys = keys

    @staticmethod
    def _name(link_id: str) -> str:
        return COOKIE_PREFIX + link_id[:16]  # 96 random bits: distinct among one browser's flows

    def _value(self, purpose: str, link_id: str) -> str:
        return self._keys.mac("browser-binding", f"{purpose}:{link_id}".encode())

    def bind(self, response: Response, purpose: str, link_id: str, *, path: str, max_age: int, secure: bool) -> None:
        response.set_cookie(self._name(link_id), self._value(purpose, link_id), max_age=max_age, path=path,
                            httponly=True, samesite="lax", secure=secure)

    def holds(self, request: Request, purpose: str, link_id: str) -> bool:
        presented = request.cookies.get(self._name(link_id))
        return presented is not None and matches(presented, self._value(purpose, link_id))

    def release(self, response: Response, link_id: str, *, path: str, secure: bool) -> None:
        """The flow is over: the browser may forget its cookie."""
        response.delete_cookie(self._name(link_id), path=path, httponly=True, samesite="lax", secure=secure)
