"""CSRF protection for the HTML forms (developer panel, holder login, card page).

Double-submit with a signed token: the browser holds a random value in an HttpOnly,
SameSite=Strict cookie, and each form carries HMAC(key, value) in a hidden field. A forged
cross-site POST has neither the cookie's value nor the key, so it cannot produce the field.
(Starlette has no CSRF of its own; the libraries that add it assume JavaScript clients or
sessions we do not use, so these few lines are written here.)
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from cielo.security.signing import SigningKeys

COOKIE = "cielo_csrf"
FIELD = "csrf_token"


class Csrf:
    def __init__(self, keys: SigningKeys) -> None:
        self._keys = keys

    def _sign(self, value: str) -> str:
        return self._keys.mac("csrf", value.encode())

    def token(self, request: Request) -> tuple[str, str | None]:
        """The form token, and a new cookie value to set when the browser had none."""
        value = request.cookies.get(COOKIE)
        if value and 20 <= len(value) <= 100:
            return self._sign(value), None
        value = secrets.token_urlsafe(32)
        return self._sign(value), value

    def set_cookie(self, response: Response, new_value: str | None, *, secure: bool) -> None:
        if new_value is not None:
            response.set_cookie(COOKIE, new_value, httponly=True, samesite="strict", secure=secure, path="/")

    def valid(self, request: Request, submitted) -> bool:
        value = request.cookies.get(COOKIE)
        if not value or not isinstance(submitted, str) or not submitted:  # (a file, in a multipart form)
            return False
        return matches(submitted, self._sign(value))


def matches(presented: str, expected: str) -> bool:
    """A presented token against the expected one in constant time, whatever it holds
    (``hmac.compare_digest`` refuses two strings with non-ASCII characters: a 500)."""
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode("ascii"))
