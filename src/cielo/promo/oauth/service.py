"""The holder authorization-code flow (API.md §3.1), following RFC 9700:

- the redirect URL must equal one registered for the client, character for character, and
  nothing is ever redirected to another;
- codes are random, single use, live five minutes, and are bound to the client and to the
  redirect URL of their request; a code presented twice revokes the grant it created, and
  with it every token issued from it (RFC 9700 §4.5.3 / RFC 6749 §4.1.2);
- PKCE with S256 when the client asked for it (Authlib computes the challenge);
- refresh tokens rotate; presenting a rotated one revokes the whole grant (RFC 9700 §4.14.2);
- codes and tokens are stored as SHA-256 digests; holder passwords as argon2id;
- password guessing at the login page is throttled per CPF and per address.

The seed's token endpoint is not RFC 6749's (JSON body, 201, the code under "code" for both
grants, a Client-Id header), so Authlib's AuthorizationServer cannot serve it; each check
below is written in the order of RFC 6749 §4.1.3 and §6, and Authlib provides PKCE.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from cielo.db import Database, utcnow
from cielo.db.batching import GroupWriter
from cielo.db.pruning import delete_where
from cielo.promo import validation
from cielo.promo.access import HOLDER_TOKEN_PREFIX, Access
from cielo.promo.developer.models import Application
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError, given, invalid, missing
from cielo.promo.holders.devices import DeviceSighting
from cielo.promo.holders.models import Holder
from cielo.promo.holders.service import record_device
from cielo.promo.oauth.models import (
    AuthorizationCode,
    AuthorizationRequest,
    Grant,
    HolderToken,
)
from cielo.ratelimit import Decision, FailureThrottle, RateLimiter
from cielo.security import passwords, tokens
from cielo.security.secrets import SecretBox
from cielo.security.signing import SigningKeys

REQUEST_LIFETIME = timedelta(minutes=15)
CODE_LIFETIME = timedelta(minutes=5)
ACCESS_LIFETIME = timedelta(hours=1)
REFRESH_LIFETIME = timedelta(days=30)
# API.md §3.1: wrong passwords a minute per CPF and per address (only failures count), and
# accounts created a minute per address (generous: a carrier's NAT puts thousands behind one).
WRONG_PASSWORDS_PER_CPF = 5
WRONG_PASSWORDS_PER_ADDRESS = 30
ACCOUNTS_PER_ADDRESS = 100
_PKCE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class LoginError(ValueError):
    """A problem to show on the login or consent page."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


class FlowStarts:
    """GET /login and GET /cards each write a row (/login with no credential but a public Client
    ID), so each is limited: ``per_address`` calls a minute from one address, ten times as many
    for one client (API.md §3.1; ``CIELO_FLOW_STARTS_PER_MINUTE``). Generous, since a carrier's
    NAT puts thousands of holders behind one address."""

    def __init__(self, limiter: RateLimiter, per_address: int) -> None:
        self._limiter = limiter
        self.per_address = per_address
        self.per_client = per_address * 10

    async def admit(self, page: str, app: Application, client_ip: str) -> None:
        """Count a call of ``page`` (login or cards) about to write its row: 429 past either limit."""
        for key, per_minute, whose in ((f"ip:{client_ip}", self.per_address, "from this address"),
                                       (f"client:{app.id}", self.per_client, "for this client")):
            # Sliding-window counters, as the API's own limits: O(1) per key. An exact moving
            # window keeps one entry per call (thousands per client here) and limits' in-process
            # store sweeps them all every 10 ms, from a thread that competes with the event loop.
            decision = await self._limiter.hit(f"start-{page}", key, per_minute)
            if not decision.allowed:
                raise PromoError(429, f"Too many calls of /{page} {whose} in the last minute (at most {per_minute}); "
                                      f"retry in {max(1, decision.reset_after)} seconds.", headers=decision.headers())


class RedirectMismatch(PromoError):
    """A ``redirect_url`` the application did not register: 400, and never a redirect there. A
    browser is shown a page naming the URL received (app.py), an API client the JSON string."""

    def __init__(self, received: str) -> None:
        super().__init__(400, "The 'redirect_url' is not one of the redirect URLs registered for this client.")
        self.received = received

    def for_a_person(self) -> str:
        """The page's sentence: the URL received and where redirect URLs are registered (never
        which ones are)."""
        shown = self.received if len(self.received) <= 300 else self.received[:300] + "…"
        return (f"The application asked to send you back to {shown}, which is not one of its registered redirect "
                "URLs, so this service will not send you there. Redirect URLs are registered in the developer panel "
                "(/developer), in the application's details: its developer must add this address there, exactly as "
                "sent here.")


def registered_redirect_url(app: Application, redirect_url: str | None) -> str:
    """The redirect URL of a /login or /cards call: one the application registered, exactly
    (RFC 9700 §2.1), else 422 when absent and 400 when another."""
    if not redirect_url:
        raise missing("redirect_url")
    if redirect_url not in app.redirect_urls:
        raise RedirectMismatch(redirect_url)
    return redirect_url


# What a sign-in page says when its link cannot be used: where to go for a fresh one.
FRESH_LINK = "Go back to the application and start signing in again: it opens a fresh link."
LINK_INVALID = "This sign-in link is not valid. " + FRESH_LINK
LINK_EXPIRED = f"This sign-in link has expired (a link works for {REQUEST_LIFETIME.seconds // 60} minutes). " + FRESH_LINK
LINK_USED = "This sign-in link has already been used (a link works once). " + FRESH_LINK


@dataclass
class LoginContext:
    request: AuthorizationRequest
    application: Application
    prefill: dict
    known_holder: bool


@dataclass(frozen=True)
class CodeFacts:
    """What may be told of a code that can still be exchanged, without using it."""

    client_id: str
    pkce: bool  # issued for a code_challenge: the exchange needs the code_verifier


def with_query(url: str, params: dict[str, str | None]) -> str:
    """The URL with parameters added to its query (keeping any it had)."""
    parts = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _too_many(decision: Decision) -> LoginError:
    return LoginError(f"Too many attempts; try again in {max(1, decision.reset_after)} seconds.", 429)


def _pkce_challenge_ok(value: str) -> bool:
    return 43 <= len(value) <= 128 and set(value) <= _PKCE_CHARS


class NewSignIn(NamedTuple):
    """A /login call's row as written (an AuthorizationRequest's columns; its id not read back)."""

    public_id: str
    environment: str
    application_id: int
    redirect_url: str
    state: str | None
    code_challenge: str | None
    prefill_encrypted: str
    cpf_fingerprint: str
    expires_at: datetime


class OAuthService:
    def __init__(self, db: Database, access: Access, box: SecretBox, signing: SigningKeys, limiter: RateLimiter,
                 starts: FlowStarts) -> None:
        self._db = db
        self._access = access
        self._box = box
        self._signing = signing
        self._limiter = limiter
        self._wrong_passwords = FailureThrottle(limiter, "holder-login")
        self._starts = starts
        # /login's rows, written with the others arriving meanwhile (group commit, db/batching.py)
        self._new_requests: GroupWriter[NewSignIn, NewSignIn] = GroupWriter.adding_rows(db, AuthorizationRequest)

    def cpf_fingerprint(self, env: Environment, digits: str) -> str:
        return self._signing.mac("cpf", f"{env.value}:{digits}".encode())

    # ---- GET /login ---------------------------------------------------------------------

    async def start(self, env: Environment, params, client_ip: str) -> tuple[NewSignIn, Application]:
        """Validate a /login call and remember it; answers 401/403/422/400/429 as API.md §3.1."""
        client_id = params.get("client_id")
        if not client_id:
            raise PromoError(401, "The 'client_id' query parameter is missing.")
        app = await self._access.application(env, client_id)
        redirect_url = registered_redirect_url(app, given(params, "redirect_url", required=True))
        email, spelled = given(params, "email", required=False), given(params, "e-mail", required=False)
        email = email if email is not None else spelled
        name, cpf, birthdate = (given(params, field, required=True) for field in ("name", "cpf", "birthdate"))
        if email is None:
            raise missing("email")
        holder_name = validation.name(name)
        digits = validation.cpf(cpf)
        born = validation.birthdate(birthdate)
        address = validation.email(email)
        challenge = given(params, "code_challenge", required=False)
        method = given(params, "code_challenge_method", required=False)
        if method is not None and method != "S256":
            raise invalid("The 'code_challenge_method' parameter must be S256.")
        if method is not None and challenge is None:
            raise missing("code_challenge")
        if challenge is not None and not _pkce_challenge_ok(challenge):
            raise invalid("The 'code_challenge' parameter must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'.")
        state = given(params, "state", required=False)
        if state is not None and len(state) > 1024:
            raise invalid("The 'state' parameter must have at most 1024 characters.")
        if state is not None and not all(" " <= ch <= "~" for ch in state):
            raise invalid("The 'state' parameter must be printable ASCII (RFC 6749 VSCHAR).")
        prefill = {"name": holder_name, "cpf": digits, "birthdate": born.isoformat(), "email": address}
        row = NewSignIn(
            public_id=tokens.link_id(),
            environment=env.value,
            application_id=app.id,
            redirect_url=redirect_url,
            state=state,
            code_challenge=challenge,
            prefill_encrypted=self._box.encrypt(orjson.dumps(prefill).decode()),
            cpf_fingerprint=self.cpf_fingerprint(env, digits),
            expires_at=utcnow() + REQUEST_LIFETIME,
        )
        await self._starts.admit("login", app, client_ip)
        return await self._new_requests.write(row), app

    # ---- the login and consent pages ---------------------------------------------------

    async def context(self, env: Environment, public_id: str | None) -> LoginContext:
        if not tokens.is_link_id(public_id):
            raise LoginError(LINK_INVALID, 400)
        async with self._db.read() as session:
            row = await session.scalar(select(AuthorizationRequest).where(AuthorizationRequest.public_id == public_id))
            if row is None or row.environment != env.value:
                raise LoginError(LINK_INVALID, 400)
            if row.completed_at is not None:
                raise LoginError(LINK_USED, 400)
            if row.expires_at <= utcnow():
                raise LoginError(LINK_EXPIRED, 400)
            app = await session.get(Application, row.application_id)
            known = await session.scalar(
                select(Holder.id).where(Holder.environment == env.value, Holder.cpf_fingerprint == row.cpf_fingerprint)
            )
        prefill = orjson.loads(self._box.decrypt(row.prefill_encrypted))
        assert app is not None  # the request's application (a foreign key)
        return LoginContext(row, app, prefill, known is not None)

    def _guess(self, ctx: LoginContext, client_ip: str):
        """One password attempt (API.md §3.1): refused with 429 while the CPF or the address has
        had its wrong passwords of the minute; only a wrong one is counted."""
        return self._wrong_passwords.attempt(
            ((f"cpf:{ctx.request.cpf_fingerprint}", WRONG_PASSWORDS_PER_CPF),
             (f"ip:{client_ip}", WRONG_PASSWORDS_PER_ADDRESS)), refuse=_too_many)

    async def sign_up(self, ctx: LoginContext, password: str, confirm: str, accepted: bool, client_ip: str, *,
                      gender: str = "", phone: str = "", device: DeviceSighting | None = None) -> None:
        """A new holder from the sign-up form; ``gender`` and ``phone`` are optional (empty:
        not given), ``device`` the phone it was sent from (None: a desktop browser)."""
        if ctx.known_holder:
            raise LoginError("There is already an account for this CPF; sign in with its password.")
        if not accepted:
            raise LoginError("Accept the terms of use to create your account.")
        problem = passwords.password_problem(password, confirm)
        if problem:
            raise LoginError(problem)
        try:
            chosen_gender, phone_parts = validation.gender(gender), validation.phone(phone)
        except PromoError as exc:
            raise LoginError(exc.description) from None
        created = await self._limiter.hit("holder-sign-up", f"ip:{client_ip}", ACCOUNTS_PER_ADDRESS, exact=True)
        if not created.allowed:
            raise _too_many(created)
        env = Environment(ctx.request.environment)
        holder = Holder(
            environment=env.value,
            cpf_fingerprint=ctx.request.cpf_fingerprint,
            cpf_encrypted=self._box.encrypt(ctx.prefill["cpf"]),
            name=ctx.prefill["name"],
            email=ctx.prefill["email"],
            birthdate=validation.birthdate(ctx.prefill["birthdate"]),
            gender=chosen_gender,
            phone_area_code=phone_parts[0] if phone_parts else None,
            phone_number=phone_parts[1] if phone_parts else None,
            password_hash=await passwords.hash_off_loop(password),
        )
        try:
            async with self._db.write() as session:
                session.add(holder)
                await session.flush()
                await self._attach(session, ctx, holder.id, device)
        except IntegrityError:
            raise LoginError("There is already an account for this CPF; sign in with its password.") from None

    async def sign_in(self, ctx: LoginContext, password: str, client_ip: str, *,
                      device: DeviceSighting | None = None) -> None:
        async with self._guess(ctx, client_ip) as attempt:
            async with self._db.read() as session:
                holder = await session.scalar(
                    select(Holder).where(Holder.environment == ctx.request.environment,
                                         Holder.cpf_fingerprint == ctx.request.cpf_fingerprint)
                )
            matched, upgraded = await passwords.check(holder.password_hash if holder else None, password)
            if not matched:
                await attempt.failed()
                raise LoginError("The password is wrong.")
        assert holder is not None  # passwords.check refused a missing holder
        async with self._db.write() as session:
            await self._attach(session, ctx, holder.id, device)
            if upgraded is not None:
                await session.execute(update(Holder).where(Holder.id == holder.id).values(password_hash=upgraded))

    async def _attach(self, session, ctx: LoginContext, holder_id: int, device: DeviceSighting | None) -> None:
        await self._update_open_request(session, ctx, holder_id=holder_id)
        if device is not None:
            await record_device(self._db, session, holder_id, device)

    @staticmethod
    async def _update_open_request(session, ctx: LoginContext, **values) -> None:
        """Change the authorization request only while it is not completed (a used link is dead)."""
        result = await session.execute(
            update(AuthorizationRequest)
            .where(AuthorizationRequest.id == ctx.request.id, AuthorizationRequest.completed_at.is_(None))
            .values(**values)
        )
        if result.rowcount != 1:
            raise LoginError(LINK_USED)

    async def decide(self, ctx: LoginContext, allow: bool) -> str:
        """Consent given or refused: the URL to send the browser to (the registered one)."""
        if ctx.request.holder_id is None:
            raise LoginError("Sign in first.", 400)
        now = utcnow()
        state = ctx.request.state
        async with self._db.write() as session:
            await self._update_open_request(session, ctx, completed_at=now)
            if not allow:
                return with_query(ctx.request.redirect_url, {"error": "access_denied", "state": state})
            grant = Grant(environment=ctx.request.environment, application_id=ctx.request.application_id,
                          holder_id=ctx.request.holder_id)
            session.add(grant)
            await session.flush()
            code = secrets.token_urlsafe(32)
            session.add(
                AuthorizationCode(
                    code_digest=tokens.digest(code),
                    grant_id=grant.id,
                    application_id=ctx.request.application_id,
                    redirect_url=ctx.request.redirect_url,
                    code_challenge=ctx.request.code_challenge,
                    expires_at=now + CODE_LIFETIME,
                )
            )
        return with_query(ctx.request.redirect_url, {"code": code, "state": state})

    # ---- POST /access-token, /refresh-token ---------------------------------------------

    async def _issue_pair(self, session, grant_id: int) -> dict:
        now = utcnow()
        access = tokens.issue(HOLDER_TOKEN_PREFIX)
        refresh = tokens.issue(HOLDER_TOKEN_PREFIX)
        session.add_all([
            HolderToken(grant_id=grant_id, kind="access", public_id=access.public_id,
                        secret_digest=access.secret_digest, expires_at=now + ACCESS_LIFETIME),
            HolderToken(grant_id=grant_id, kind="refresh", public_id=refresh.public_id,
                        secret_digest=refresh.secret_digest, expires_at=now + REFRESH_LIFETIME),
        ])
        return {
            "access_token": access.token,
            "refresh_token": refresh.token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_LIFETIME.total_seconds()),
        }

    async def _revoke_grant(self, grant_id: int, reason: str) -> None:
        now = utcnow()
        async with self._db.write() as session:
            await session.execute(
                update(Grant).where(Grant.id == grant_id, Grant.revoked_at.is_(None))
                .values(revoked_at=now, revoke_reason=reason)
            )
            await session.execute(
                update(HolderToken).where(HolderToken.grant_id == grant_id, HolderToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def exchange_code(self, app: Application, body: dict) -> dict:
        code = given(body, "code", required=True, where="body field")
        if not isinstance(code, str):
            raise invalid("The 'code' field must be a string.")
        verifier = given(body, "code_verifier", required=False, where="body field")
        redirect_url = given(body, "redirect_url", required=False, where="body field")
        now = utcnow()
        async with self._db.write() as session:
            row = await session.scalar(
                select(AuthorizationCode).where(AuthorizationCode.code_digest == tokens.digest_text(code)).with_for_update()
            )
            if row is None or row.application_id != app.id:
                raise invalid("The authorization code is not valid for this client.")
            if redirect_url is not None and redirect_url != row.redirect_url:
                raise invalid("The 'redirect_url' differs from the one the code was issued for.")
            if row.used_at is not None:
                replayed = row.grant_id
            else:
                replayed = None
                if row.expires_at <= now:
                    raise invalid("The authorization code has expired; sign the holder in again.")
                if row.code_challenge is not None:
                    if verifier is None:
                        raise missing("code_verifier", "body field")
                    if not isinstance(verifier, str) or not _pkce_challenge_ok(verifier) or \
                            create_s256_code_challenge(verifier) != row.code_challenge:
                        raise invalid("The 'code_verifier' does not match the code challenge of /login.")
                elif verifier is not None:  # a PKCE downgrade (RFC 9700 §4.8.2)
                    raise invalid("The 'code_verifier' is refused: this code was issued without a 'code_challenge' "
                                  "at /login.")
                grant = await session.get(Grant, row.grant_id)
                if grant is None or grant.revoked_at is not None:
                    raise invalid("The authorization code is not valid for this client.")
                row.used_at = now
                pair = await self._issue_pair(session, row.grant_id)
        if replayed is not None:
            await self._revoke_grant(replayed, "code-replay")
            raise invalid("The authorization code was already used; every token issued from it is revoked.")
        return pair

    async def refresh(self, app: Application, body: dict) -> dict:
        presented = given(body, "code", required=True, where="body field")
        if not isinstance(presented, str):
            raise invalid("The 'code' field must be a string.")
        parts = tokens.parse(presented, HOLDER_TOKEN_PREFIX)
        if parts is None:
            raise invalid("The refresh token is not valid.")
        now = utcnow()
        async with self._db.write() as session:
            row = (
                await session.execute(
                    select(HolderToken, Grant).join(Grant, Grant.id == HolderToken.grant_id)
                    .where(HolderToken.public_id == parts[0]).with_for_update()
                )
            ).first()
            if row is None or not tokens.matches(parts[1], row[0].secret_digest) or row[0].kind != "refresh":
                raise invalid("The refresh token is not valid.")
            token, grant = row
            if grant.application_id != app.id:
                raise invalid("The refresh token is not valid for this client.")
            if token.used_at is not None:
                reused = grant.id
            else:
                reused = None
                if token.revoked_at is not None or grant.revoked_at is not None:
                    raise invalid("The refresh token was revoked; sign the holder in again.")
                if token.expires_at <= now:
                    raise invalid("The refresh token has expired; sign the holder in again.")
                token.used_at = now
                pair = await self._issue_pair(session, grant.id)
        if reused is not None:
            await self._revoke_grant(reused, "refresh-reuse")
            raise invalid("The refresh token was already used; the whole grant is revoked.")
        return pair

    async def code_facts(self, env: Environment, code: str) -> CodeFacts | None:
        """The client of ``code`` and whether it was issued for a PKCE challenge, when it is an
        unused, unexpired code of this environment (the sandbox's callback page shows them)."""
        async with self._db.read() as session:
            row = (await session.execute(
                select(AuthorizationCode.used_at, AuthorizationCode.expires_at, AuthorizationCode.code_challenge,
                       Application.client_id, Application.environment)
                .join(Application, Application.id == AuthorizationCode.application_id)
                .where(AuthorizationCode.code_digest == tokens.digest_text(code)))).first()
        if row is None or row.used_at is not None or row.expires_at <= utcnow() or row.environment != env.value:
            return None
        return CodeFacts(row.client_id, row.code_challenge is not None)

async def prune(db: Database, horizon: datetime) -> dict[str, int]:
    """Delete what stopped being usable before ``horizon`` (promo/expiry.py): sign-in requests,
    access tokens, and grants that can no longer live, with their codes and refresh tokens. A
    grant lives while it is not revoked and a refresh token or an unused code of it is valid;
    until then its rotated refresh tokens and used code are kept, since presenting one again
    must still revoke the grant (RFC 9700 §4.14.2, RFC 6749 §4.1.2)."""
    refresh_valid = exists().where(HolderToken.grant_id == Grant.id, HolderToken.kind == "refresh",
                                   HolderToken.expires_at >= horizon)
    code_valid = exists().where(AuthorizationCode.grant_id == Grant.id, AuthorizationCode.used_at.is_(None),
                                AuthorizationCode.expires_at >= horizon)
    return {
        "sign-in requests": await delete_where(db, AuthorizationRequest, AuthorizationRequest.expires_at < horizon),
        "access tokens": await delete_where(db, HolderToken, and_(
            HolderToken.kind == "access", or_(HolderToken.expires_at < horizon, HolderToken.revoked_at < horizon))),
        "grants": await delete_where(db, Grant, and_(
            Grant.created_at < horizon, or_(Grant.revoked_at < horizon, and_(~refresh_valid, ~code_valid)))),
    }
