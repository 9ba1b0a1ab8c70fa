"""Which phone a holder signs in from (API.md §3.2): Android or iOS, told by the browser's
User-Agent, and the same device recognised again by a long-lived cookie.

The cookie holds 256 random bits and nothing else; the service keeps only its digest
(HolderDevice). A desktop browser records no device and gets no cookie. iPadOS Safari
announces itself as a Mac unless asked for the mobile site, so such an iPad counts as a
desktop: only what the browser says is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from cielo.security import tokens

DEVICE_COOKIE = "cielo_device"
# The longest a browser keeps a cookie (RFC 6265bis caps Max-Age at 400 days); set again at
# every sign-in, so a device in use is never forgotten.
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600
_IOS = re.compile(r"\b(iPhone|iPad|iPod)\b")


def platform(user_agent: str | None) -> str | None:
    """ANDROID, IOS, or None for anything else (a desktop browser, a robot, nothing)."""
    if not user_agent:
        return None
    if "Android" in user_agent:
        return "ANDROID"
    if _IOS.search(user_agent):
        return "IOS"
    return None


@dataclass(frozen=True)
class DeviceSighting:
    """A phone seen at a sign-in: its platform and its cookie (the browser's, or a new one)."""

    type: str
    cookie: str

    @property
    def digest(self) -> bytes:
        return tokens.digest(self.cookie)


def sighting(request: Request) -> DeviceSighting | None:
    """The phone this request comes from, or None for a desktop browser."""
    kind = platform(request.headers.get("user-agent"))
    if kind is None:
        return None
    cookie = request.cookies.get(DEVICE_COOKIE)
    return DeviceSighting(kind, cookie if cookie is not None and tokens.is_link_id(cookie) else tokens.link_id())


def remember(response: Response, device: DeviceSighting | None, *, path: str, secure: bool) -> None:
    """Give the browser its device cookie (again: each sign-in renews its lifetime)."""
    if device is not None:
        response.set_cookie(DEVICE_COOKIE, device.cookie, max_age=DEVICE_COOKIE_MAX_AGE, path=path, httponly=True,
                            secure=secure, samesite="lax")
