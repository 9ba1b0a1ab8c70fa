"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's second recommendation)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

# Verified against when an account does not exist, so that the answer takes as long as for a
# wrong password and timing does not reveal which e-mails or CPFs are registered.
_DUMMY = _hasher.hash("no account has this password")

MIN_LENGTH = 10
MAX_LENGTH = 256


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def password_problem(password: str, confirm: str | None = None) -> str | None:
    """A sentence saying what is wrong with a new password, or None."""
    if len(password) < MIN_LENGTH:
        return f"The password must have at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"The password must have at most {MAX_LENGTH} characters."
    if confirm is not None and confirm != password:
        return "The two passwords do not match."
    return None
