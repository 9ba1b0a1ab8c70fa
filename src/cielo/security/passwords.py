"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's second recommendation).

A hash or a check costs ~0.2 s of CPU: the web's paths call ``hash_off_loop`` and
``verify_off_loop``, which run it on a small thread pool of its own (argon2-cffi releases the
GIL), so the event loop keeps answering everyone else; the pool's size bounds the CPU and the
memory (64 MiB an Argon2id computation) that sign-ins can take at once, whatever arrives.
The synchronous forms are for the command line (the sandbox seed)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

# Verified against when an account does not exist, so that the answer takes as long as for a
# wrong password and timing does not reveal which e-mails or CPFs are registered.
_DUMMY = _hasher.hash("no account has this password")

MIN_LENGTH = 10
MAX_LENGTH = 256
POOL_SIZE = min(4, os.cpu_count() or 1)
_pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="argon2")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_off_loop(password: str) -> str:
    """``hash_password`` on the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_off_loop(stored: str | None, password: str) -> bool:
    """``verify_password`` on the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_pool, verify_password, stored, password)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


async def check(stored: str | None, password: str) -> tuple[bool, str | None]:
    """What every sign-in asks (developers and holders), on the hashing pool: whether
    ``password`` matches, and, when it does and the stored hash was made with weaker parameters
    than today's, the new hash to store in its place (argon2's ``check_needs_rehash``), else None."""
    if not await verify_off_loop(stored, password):  # (a missing hash takes as long, against the dummy)
        return False, None
    assert stored is not None  # verify_password refuses a missing hash
    return True, await hash_off_loop(password) if needs_rehash(stored) else None


def password_problem(password: str, confirm: str | None = None) -> str | None:
    """A sentence saying what is wrong with a new password, or None."""
    if len(password) < MIN_LENGTH:
        return f"The password must have at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"The password must have at most {MAX_LENGTH} characters."
    if confirm is not None and confirm != password:
        return "The two passwords do not match."
    return None
