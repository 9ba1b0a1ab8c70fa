"""Issue, list, revoke and check the bearer tokens of the project's own APIs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.auth.models import SCOPES, ApiToken
from cielo.cache import CacheRegistry
from cielo.db import Database, utcnow
from cielo.security import tokens

TOKEN_PREFIX = "cielo"


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class _Entry:
    id: int
    name: str
    scope: str
    digest: bytes
    revoked: bool


def covers(token_scope: str, needed: str) -> bool:
    return token_scope == "all" or token_scope == needed


async def create_token(db: Database, name: str, scope: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("The token name must be 1 to 100 characters long.")
    if scope not in SCOPES:
        raise TokenError(f"The scope must be one of {', '.join(SCOPES)}.")
    issued = tokens.issue(TOKEN_PREFIX)
    async with db.write() as session:
        row = ApiToken(public_id=issued.public_id, secret_digest=issued.secret_digest, name=name, scope=scope)
        session.add(row)
        await session.flush()
        audit.record(session, Actor.cli(), "create", "api_token", str(row.id), {"name": name, "scope": scope})
    return row, issued.token


async def list_tokens(db: Database) -> list[ApiToken]:
    async with db.read() as session:
        return list((await session.scalars(select(ApiToken).order_by(ApiToken.id))).all())


async def revoke_token(db: Database, token_id: int) -> ApiToken:
    async with db.write() as session:
        row = await session.get(ApiToken, token_id, with_for_update=True)
        if row is None:
            raise TokenError(f"There is no token with id {token_id}.")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit.record(session, Actor.cli(), "revoke", "api_token", str(row.id), {})
    return row


class Authenticator:
    """Checks ``Authorization: Bearer`` values; cached per process, exact across processes."""

    def __init__(self, db: Database, caches: CacheRegistry) -> None:
        self._db = db
        self._cache = caches.cache("api_tokens", max_entries=10_000, tables=(ApiToken.__tablename__,))

    async def _lookup(self, public_id: str) -> _Entry | None:
        async def load():
            table = ApiToken.__table__
            row = await self._db.first(select(table).where(table.c.public_id == public_id))
            if row is None:
                return False  # a cached "no such token"
            return _Entry(row.id, row.name, row.scope, row.secret_digest, row.revoked_at is not None)

        return await self._cache.get_or_load(public_id, load) or None

    async def authenticate(self, authorization: str | None, scope: str) -> Actor | None:
        """The acting token, or None for a missing, malformed, unknown, revoked or out-of-scope one."""
        actor, token_scope = await self.identify(authorization)
        return actor if actor is not None and covers(token_scope, scope) else None

    async def identify(self, authorization: str | None) -> tuple[Actor | None, str]:
        """The acting token and its scope whatever it covers, or (None, "") for a missing,
        malformed, unknown or revoked one."""
        if not authorization:
            return None, ""
        kind, _, value = authorization.partition(" ")
        if kind.lower() != "bearer":
            return None, ""
        parts = tokens.parse(value.strip(), TOKEN_PREFIX)
        if parts is None:
            return None, ""
        public_id, secret = parts
        entry = await self._lookup(public_id)
        if entry is None or not tokens.matches(secret, entry.digest) or entry.revoked:
            return None, ""
        return Actor(entry.id, entry.name), entry.scope
