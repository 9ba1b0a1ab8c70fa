"""Opaque bearer tokens: ``<prefix>_<public id>.<secret>``.

Only the public id and a SHA-256 digest of the secret are stored. The secret carries 256 bits
of randomness, so a fast digest is the right tool (a slow password hash would add latency to
every request and no security). The row is found by its public id and the digest compared
with :func:`hmac.compare_digest`, so timing reveals nothing about the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"^([a-z]{2,8})_([A-Za-z0-9]{12})\.([A-Za-z0-9_-]{43})$")
_LINK_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class IssuedToken:
    public_id: str
    secret_digest: bytes
    token: str


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def digest_text(secret: str) -> bytes:
    """Digest of any presented text (it may not be ASCII when it is wrong)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def issue(prefix: str) -> IssuedToken:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    public_id = "".join(secrets.choice(alphabet) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return IssuedToken(public_id, digest(secret), f"{prefix}_{public_id}.{secret}")


def parse(token: str, prefix: str) -> tuple[str, str] | None:
    """Split a presented token into (public id, secret), or None when it is malformed."""
    match = _TOKEN_RE.match(token)
    if match is None or match.group(1) != prefix:
        return None
    return match.group(2), match.group(3)


def matches(secret: str, stored_digest: bytes) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


def link_id() -> str:
    """The public id of a one-time page link (sign-in, card registration): 256 random bits."""
    return secrets.token_urlsafe(32)


def is_link_id(text) -> bool:
    """Whether a presented link id can be one (anything else, a NUL byte included, is refused
    before it reaches the database)."""
    return isinstance(text, str) and _LINK_ID_RE.fullmatch(text) is not None
