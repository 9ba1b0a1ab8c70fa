"""Who is calling the Promotions API (API.md §2): one place for every credential check.

- ``Client-Id`` (or ``client_id``) on every call; the application must exist (else 401) and
  belong to the environment of the URL (else 403).
- Partner calls: the application ``Access-Token`` from the developer panel, issued to that
  Client-Id, unrevoked, with the API group in its profile (else 401 / 403).
- Holder calls: the holder's ``Access-Token`` from /access-token, of a live grant of that
  Client-Id (else 401 / 403).
- /access-token and /refresh-token: ``Authorization: Basic base64(client_id:client_secret)``, or
  the other wordings of the seed (``client_secret_of``), limited per client by the
  application's holder profile.

Each caller carries its access profile: requests per minute (429 with Retry-After and
RateLimit-* headers), maximum page size and body size (413).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from cielo.cache import CacheRegistry
from cielo.db import Database, utcnow
from cielo.numbers import is_digits
from cielo.promo.developer.models import AppAccessToken, Application
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError
from cielo.ratelimit import Decision, RateLimiter
from cielo.security import tokens

APP_TOKEN_PREFIX = "capp"
HOLDER_TOKEN_PREFIX = "chold"
HOLDER_MAX_BODY_BYTES = 16_384  # holder calls and the token endpoints (their bodies are a few short fields)
# a token of the other kind: the sentence says which kind the route takes (API.md §2)
_WRONG_KIND = {
    "partner": "This route takes a partner Access-Token (the application's, from the developer panel), "
               "not a holder's.",
    "holder": "This route takes a holder's Access-Token (from /access-token), not the application's partner "
              "Access-Token.",
}


def header(request, *names: str) -> str | None:
    for name in names:
        value = request.headers.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,40}")  # printable ASCII, the column's length


def client_id_of(request) -> str:
    value = header(request, "client-id", "client_id")
    if value is None:
        raise PromoError(401, "The 'Client-Id' header is missing.")
    return value


BASIC = ("Basic base64(client_id:client_secret) (also accepted: that base64 alone, or the base64 of client_id "
         "followed by client_secret, with or without 'Basic ')")


def client_secret_of(authorization: str, client_id: str) -> str | None:
    """The client_secret an ``Authorization`` value carries for ``client_id``, or None. The
    seed words it three ways, all taken: ``Basic base64(client_id:client_secret)``, the same
    base64 without the scheme, and the base64 of client_id immediately followed by
    client_secret ("concatenated"), with or without ``Basic``. The client is the one the
    Client-Id header names, so the decoded text must begin with it (compared in constant
    time); a colon right after it separates the secret (a client_secret never holds one: it
    is URL-safe base64)."""
    scheme, _, rest = authorization.partition(" ")
    if rest:
        if scheme.lower() != "basic":
            return None
        authorization = rest.strip()
    try:
        decoded = base64.b64decode(authorization, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    given_id = decoded[:len(client_id)]
    if not hmac.compare_digest(given_id.encode(), client_id.encode()):
        return None
    secret = decoded[len(client_id):]
    secret = secret[1:] if secret.startswith(":") else secret
    return secret or None


def access_token_of(request) -> str:
    """The ``Access-Token`` (or ``access_token``) header: 401 when there is none, saying where
    the token goes when it came as ``Authorization: Bearer`` (the token pair's token_type)."""
    presented = header(request, "access-token", "access_token")
    if presented is None:
        authorization = header(request, "authorization")
        if authorization is not None and authorization[:7].lower() == "bearer ":
            raise PromoError(401, "The Promotions API takes the token in the 'Access-Token' header, not in "
                                  "'Authorization: Bearer'; send it as 'Access-Token: <token>'.")
        raise PromoError(401, "The 'Access-Token' header is missing.")
    return presented


@dataclass
class Caller:
    environment: Environment
    application: Application
    requests_per_minute: int
    max_page_size: int
    max_body_bytes: int
    rate_key: str
    holder_id: int | None = None
    grant_id: int | None = None
    decision: Decision | None = field(default=None)

    @property
    def holder(self) -> int:
        """The holder's id, on a holder's call (``Access.holder``, ``holder_from_query``)."""
        if self.holder_id is None:
            raise RuntimeError("a partner's call has no holder")
        return self.holder_id

    def headers(self) -> dict[str, str]:
        return self.decision.headers() if self.decision else {}

    def body_too_large(self) -> PromoError:
        """The 413 of a body over this caller's access profile (API.md §2)."""
        return PromoError(413, f"The request body is larger than the {self.max_body_bytes} bytes of this token's "
                               "access profile.", headers=self.headers())


class Access:
    def __init__(self, db: Database, limiter: RateLimiter, caches: CacheRegistry) -> None:
        self._db = db
        self._limiter = limiter
        # Exact read caches (emptied by any commit to the tables they read, see cielo.cache):
        # applications by Client-Id and Access-Token rows by public id. The secret, revocation,
        # expiry and profile are still checked on every request against what was read.
        from cielo.promo.oauth.models import Grant, HolderToken

        self._apps = caches.cache("promo-applications", 10_000, tables=(Application.__tablename__,))
        self._app_tokens = caches.cache("promo-app-tokens", 100_000, tables=(AppAccessToken.__tablename__,))
        self._holder_tokens = caches.cache("promo-holder-tokens", 100_000,
                                           tables=(HolderToken.__tablename__, Grant.__tablename__))

    async def application(self, env: Environment, client_id: str) -> Application:
        if not _CLIENT_ID.fullmatch(client_id):  # never looked up (nor kept) when it cannot be one
            raise PromoError(401, "The Client-Id is not known.")

        async def load():
            row = await self._db.first_entities(select(Application).where(Application.client_id == client_id))
            return row[0] if row is not None else None

        app = await self._apps.get_or_load(client_id, load)
        if app is None:
            raise PromoError(401, "The Client-Id is not known.")
        if app.environment != env.value:
            raise PromoError(403, f"This Client-Id belongs to the {app.environment} environment, not to {env.value}.")
        return app

    async def basic_client(self, request, env: Environment) -> Application:
        """The application authenticated by Client-Id + its client_secret in ``Authorization``,
        in any of the wordings of API.md §3.1 (``client_secret_of``)."""
        client_id = client_id_of(request)
        authorization = header(request, "authorization")
        if authorization is None:
            raise PromoError(401, f"The 'Authorization' header is missing; send {BASIC}.")
        secret = client_secret_of(authorization, client_id)
        if secret is None:
            raise PromoError(401, f"The 'Authorization' header must be {BASIC}, for the client the 'Client-Id' "
                                  "header names.")
        app = await self.application(env, client_id)
        if not hmac.compare_digest(tokens.digest_text(secret), app.client_secret_digest):
            raise PromoError(401, "The client credentials are not valid.")
        return app

    async def token_client(self, request, env: Environment) -> Caller:
        """The client of /access-token and /refresh-token, admitted by the application's holder
        profile (requests per minute, API.md §2): its own calls count per client; calls naming
        it with wrong credentials count per client and address, so that nobody who only knows
        a Client-Id (it travels in browsers' addresses) can use up the client's minute."""
        try:
            app = await self.basic_client(request, env)
        except PromoError as refused:
            if refused.status_code == 401:
                await self._admit_refused(request, env)
            raise
        caller = Caller(env, app, app.holder_requests_per_minute, app.holder_max_page_size, HOLDER_MAX_BODY_BYTES,
                        f"token:{app.client_id}")
        await self._admit(request, caller)
        return caller

    async def _admit_refused(self, request, env: Environment) -> None:
        """Count a refused token call against (the client it names, the caller's address); 429
        once that is over the client's holder profile."""
        try:
            app = await self.application(env, client_id_of(request))
        except PromoError:  # no such client: nothing to count against (the 401 stands)
            return
        address = request.client.host if request.client else "unknown"
        await self._admit(request, Caller(env, app, app.holder_requests_per_minute, app.holder_max_page_size,
                                          HOLDER_MAX_BODY_BYTES, f"token-refused:{app.client_id}|{address}"))

    async def partner(self, request, env: Environment, group: str = "partner") -> Caller:
        client_id = client_id_of(request)
        presented = access_token_of(request)
        app = await self.application(env, client_id)
        parts = tokens.parse(presented, APP_TOKEN_PREFIX)
        if parts is None:
            raise PromoError(401, _WRONG_KIND["partner"] if tokens.parse(presented, HOLDER_TOKEN_PREFIX)
                             else "The Access-Token is not valid.")
        async def load():
            row = await self._db.first_entities(select(AppAccessToken).where(AppAccessToken.public_id == parts[0]))
            return row[0] if row is not None else None

        row = await self._app_tokens.get_or_load(parts[0], load)
        if row is None or not tokens.matches(parts[1], row.secret_digest) or row.revoked_at is not None:
            raise PromoError(401, "The Access-Token is not valid, or it was revoked.")
        if row.application_id != app.id:
            raise PromoError(403, "This Access-Token was not issued to this Client-Id.")
        if group not in row.api_groups:
            raise PromoError(403, f"This Access-Token's profile does not allow the {group} API.")
        caller = Caller(env, app, row.requests_per_minute, row.max_page_size, row.max_body_bytes, f"app:{row.public_id}")
        await self._admit(request, caller)
        return caller

    async def holder_from_query(self, request, env: Environment) -> Caller:
        """The holder of /cards, whose browser carries client_id and access_token in the query."""
        client_id = request.query_params.get("client_id")
        if not client_id:
            raise PromoError(401, "The 'client_id' query parameter is missing.")
        presented = request.query_params.get("access_token")
        if not presented:
            raise PromoError(401, "The 'access_token' query parameter is missing.")
        return await self._holder(request, env, client_id, presented)

    async def holder(self, request, env: Environment) -> Caller:
        client_id = client_id_of(request)
        return await self._holder(request, env, client_id, access_token_of(request))

    async def _holder(self, request, env: Environment, client_id: str, presented: str) -> Caller:
        from cielo.promo.oauth.models import Grant, HolderToken

        app = await self.application(env, client_id)
        parts = tokens.parse(presented, HOLDER_TOKEN_PREFIX)
        if parts is None:
            raise PromoError(401, _WRONG_KIND["holder"] if tokens.parse(presented, APP_TOKEN_PREFIX)
                             else "The Access-Token is not valid.")
        async def load():
            found = await self._db.first_entities(
                select(HolderToken, Grant).join(Grant, Grant.id == HolderToken.grant_id)
                .where(HolderToken.public_id == parts[0]))
            return tuple(found) if found is not None else None

        row = await self._holder_tokens.get_or_load(parts[0], load)
        if row is None or not tokens.matches(parts[1], row[0].secret_digest):
            raise PromoError(401, "The Access-Token is not valid.")
        token, grant = row
        if token.kind != "access":
            raise PromoError(401, "A refresh token is not an Access-Token; exchange it at /refresh-token.")
        if token.revoked_at is not None or grant.revoked_at is not None:
            raise PromoError(401, "The Access-Token was revoked.")
        if token.expires_at <= utcnow():
            raise PromoError(401, "The Access-Token has expired; get a new one at /refresh-token.")
        if grant.application_id != app.id:
            raise PromoError(403, "This Access-Token was issued to another Client-Id.")
        caller = Caller(env, app, app.holder_requests_per_minute, app.holder_max_page_size, HOLDER_MAX_BODY_BYTES,
                        f"holder:{token.public_id}", holder_id=grant.holder_id, grant_id=grant.id)
        await self._admit(request, caller)
        return caller

    async def _admit(self, request, caller: Caller) -> None:
        caller.decision = await self._limiter.hit("promo", caller.rate_key, caller.requests_per_minute)
        if not caller.decision.allowed:
            raise PromoError(
                429,
                f"The limit of {caller.requests_per_minute} requests per minute of this token's access profile "
                f"was reached; retry in {max(1, caller.decision.reset_after)} seconds.",
                headers=caller.decision.headers(),
            )
        # a declared length over the profile is refused before anything is read; a body without
        # one (chunked) is counted as it is read (requests.json_object)
        length = request.headers.get("content-length")
        if length is not None and is_digits(length) and int(length) > caller.max_body_bytes:
            raise caller.body_too_large()
