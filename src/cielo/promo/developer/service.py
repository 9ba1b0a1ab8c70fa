"""Developer accounts, sessions, applications and their Access-Tokens (the panel), and the
back office's view of the applications (ApplicationService)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from cielo.admin.common import in_environment
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.db import Database, utcnow
from cielo.db.pruning import delete_where
from cielo.promo.developer.models import (
    AppAccessToken,
    Application,
    Developer,
    DeveloperSession,
)
from cielo.promo.developer.schemas import ApplicationPatch
from cielo.promo.environments import Environment
from cielo.promo.partners.service import partner_in
from cielo.promo.sandbox.callback import callback_url
from cielo.ratelimit import Decision, FailureThrottle, RateLimiter
from cielo.security import passwords, tokens
from cielo.security.secrets import SecretBox, SecretKeyError
from cielo.text import has_control, is_email

SESSION_PREFIX = "cdev"
APP_TOKEN_PREFIX = "capp"
SESSION_LIFETIME = timedelta(hours=12)
API_GROUPS = ("holder", "partner")
MAX_REDIRECT_URLS = 10
# Profile bounds a developer may choose.
LIMITS = {
    "requests_per_minute": (1, 100_000),
    "max_page_size": (1, 1000),
    "max_body_bytes": (256, 1_048_576),
}
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
# Wrong passwords a minute per account (e-mail) and per address (only failures count), and
# accounts created a minute per address.
WRONG_PASSWORDS_PER_ACCOUNT = 5
WRONG_PASSWORDS_PER_ADDRESS = 30
ACCOUNTS_PER_ADDRESS = 100
# Showing a sandbox Access-Token again asks for the password: wrong ones are limited per account,
# whatever the address (a stolen session cookie must not turn into a password oracle).
WRONG_REVEAL_PASSWORDS_PER_ACCOUNT = 5


class PanelError(ValueError):
    """A form value the panel refuses, with the sentence to show."""

    status_code = 400


class TooManyAttempts(PanelError):
    status_code = 429


def _too_many(decision: Decision) -> TooManyAttempts:
    return TooManyAttempts(f"Too many attempts; try again in {max(1, decision.reset_after)} seconds.")


class NotFound(LookupError):
    """Not there, or not this developer's (the two are not told apart)."""


def email_problem(email: str) -> str | None:
    if not is_email(email):
        return "Enter a valid e-mail address."
    return None


def _text(value: str, field: str, max_length: int = 100) -> str:
    value = value.strip()
    if not value:
        raise PanelError(f"The {field} must not be empty.")
    if len(value) > max_length:
        raise PanelError(f"The {field} must have at most {max_length} characters.")
    if has_control(value):
        raise PanelError(f"The {field} must not contain control characters.")
    return value


def redirect_url_problem(url: str) -> str | None:
    """RFC 9700 §2.1 / RFC 8252: absolute, no fragment; https, http on loopback only, or an
    app's private-use scheme (reverse domain name)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"'{url}' is not a valid URL."
    if parts.fragment or "#" in url:
        return f"'{url}' must not contain a fragment (#)."
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return f"'{url}' must not contain spaces."
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return None
    if "." in parts.scheme and parts.scheme not in ("http", "https") and re.match(r"^[a-z][a-z0-9.+-]*$", parts.scheme):
        return None
    return f"'{url}' must be an https URL (http only on localhost) or an app scheme such as com.example.app:/callback."


def parse_redirect_urls(text: str) -> list[str]:
    urls = [line.strip() for line in text.splitlines() if line.strip()]
    if not urls:
        raise PanelError("Give at least one redirect URL.")
    if len(urls) > MAX_REDIRECT_URLS:
        raise PanelError(f"Give at most {MAX_REDIRECT_URLS} redirect URLs.")
    for url in urls:
        _redirect_url(url)
    return list(dict.fromkeys(urls))


def _redirect_url(url: str) -> str:
    """One redirect URL as given in a single field: the rules of :func:`parse_redirect_urls`."""
    url = url.strip()
    if not url:
        raise PanelError("Give a redirect URL.")
    if len(url) > 2000:
        raise PanelError("A redirect URL must have at most 2000 characters.")
    problem = redirect_url_problem(url)
    if problem:
        raise PanelError(problem)
    return url


def _test_cpf(number: int) -> str:
    """A valid CPF of its own for ``number`` (the check digits of the Receita Federal's rule)."""
    digits = f"{(number * 7_919 + 104_729) % 10**9:09d}"
    for weight in (10, 11):
        digits += str(sum(int(d) * (weight - i) for i, d in enumerate(digits)) * 10 % 11 % 10)
    return digits


@dataclass(frozen=True)
class TryIt:
    """The panel's ready sign-in of a sandbox application: to the sandbox's callback page, with
    a fresh state and a PKCE (S256) challenge whose verifier the developer keeps for the exchange."""

    callback: str
    registered: bool  # the callback page is among the application's redirect URLs
    link: str  # path and query of /login
    state: str
    code_verifier: str
    holder: dict[str, str]


def try_it(developer: Developer, app: Application, base_url: str) -> TryIt | None:
    """The sign-in link of a sandbox application (None in production, which has no callback page),
    for a test holder of the developer's own (the same one each time)."""
    if app.environment != Environment.SANDBOX.value:
        return None
    callback = callback_url(base_url)
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(16)
    digits = _test_cpf(developer.id)
    holder = {"name": "Titular de Teste", "cpf": f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}",
              "birthdate": "1990-05-17", "email": f"titular.{developer.id}@example.com"}
    query = urlencode({"client_id": app.client_id, "redirect_url": callback, **holder, "state": state,
                       "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"})
    return TryIt(callback, callback in app.redirect_urls, f"{Environment.SANDBOX.base_path}/login?{query}", state,
                 verifier, holder)


def _bounded(value: str | int, field: str) -> int:
    low, high = LIMITS[field]
    label = field.replace("_", " ")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise PanelError(f"The {label} must be a whole number.") from None
    if not low <= number <= high:
        raise PanelError(f"The {label} must be between {low} and {high}.")
    return number


@dataclass(frozen=True)
class TokenProfile:
    requests_per_minute: int
    max_page_size: int
    max_body_bytes: int
    api_groups: tuple[str, ...]


# The first Access-Token of every application (API.md §5), the new-token form's defaults.
DEFAULT_TOKEN_NAME = "default"
DEFAULT_PROFILE = TokenProfile(requests_per_minute=600, max_page_size=100, max_body_bytes=16384, api_groups=API_GROUPS)


def new_access_token(box: SecretBox, app: Application, name: str, profile: TokenProfile) -> tuple[AppAccessToken, str]:
    """A new Access-Token of ``app`` (a row to add) and the token to show. A sandbox token is
    kept encrypted besides its digest, so that it can be shown again; a production one only as
    its digest: shown once (docs/SECURITY.md)."""
    issued = tokens.issue(APP_TOKEN_PREFIX)
    row = AppAccessToken(
        application_id=app.id,
        name=name,
        public_id=issued.public_id,
        secret_digest=issued.secret_digest,
        secret_encrypted=box.encrypt(issued.token) if app.environment == Environment.SANDBOX.value else None,
        requests_per_minute=profile.requests_per_minute,
        max_page_size=profile.max_page_size,
        max_body_bytes=profile.max_body_bytes,
        api_groups=list(profile.api_groups),
    )
    return row, issued.token


def reveal_problem(app: Application, token: AppAccessToken) -> str | None:
    """Why this Access-Token cannot be shown again, or None when it can."""
    if app.environment != Environment.SANDBOX.value:
        return ("A production Access-Token is shown once only, when it is created. If it is lost, create a new one "
                "and revoke this one.")
    if token.revoked_at is not None:
        return "This Access-Token is revoked; it is not shown again."
    if token.secret_encrypted is None:
        return ("This Access-Token was created before sandbox tokens were kept for showing again, so it cannot be "
                "shown; if it is lost, create a new one and revoke this one.")
    return None


def parse_profile(rpm: str, page: str, body: str, groups: list[str]) -> TokenProfile:
    chosen = tuple(g for g in API_GROUPS if g in groups)
    if not chosen or len(set(groups)) != len(chosen):
        raise PanelError("Choose one or more API groups among holder and partner.")
    return TokenProfile(
        _bounded(rpm, "requests_per_minute"),
        _bounded(page, "max_page_size"),
        _bounded(body, "max_body_bytes"),
        chosen,
    )


async def prune(db: Database, horizon: datetime) -> dict[str, int]:
    """Delete the panel sessions that expired or were ended before ``horizon`` (promo/expiry.py)."""
    return {"panel sessions": await delete_where(db, DeveloperSession, or_(
        DeveloperSession.expires_at < horizon, DeveloperSession.ended_at < horizon))}


class DeveloperService:
    def __init__(self, db: Database, limiter: RateLimiter, box: SecretBox) -> None:
        self._db = db
        self._limiter = limiter
        self._wrong_passwords = FailureThrottle(limiter, "developer-sign-in")
        self._wrong_reveal_passwords = FailureThrottle(limiter, "developer-reveal")
        self._box = box

    # ---- accounts and sessions ---------------------------------------------------------

    async def sign_up(self, name: str, email: str, password: str, confirm: str, client_ip: str) -> Developer:
        name = _text(name, "name")
        email = email.strip().lower()
        problem = email_problem(email) or passwords.password_problem(password, confirm)
        if problem:
            raise PanelError(problem)
        created = await self._limiter.hit("developer-sign-up", f"ip:{client_ip}", ACCOUNTS_PER_ADDRESS, exact=True)
        if not created.allowed:
            raise _too_many(created)
        developer = Developer(name=name, email=email, password_hash=await passwords.hash_off_loop(password))
        try:
            async with self._db.write() as session:
                session.add(developer)
                await session.flush()
                audit.record(session, Actor(None, f"developer:{developer.id}"), "sign-up", "developer", str(developer.id))
        except IntegrityError:
            raise PanelError("An account with this e-mail already exists; sign in instead.") from None
        return developer

    async def sign_in(self, email: str, password: str, client_ip: str) -> tuple[Developer, str]:
        email = email.strip().lower()
        guess = self._wrong_passwords.attempt(((f"email:{email}", WRONG_PASSWORDS_PER_ACCOUNT),
                                               (f"ip:{client_ip}", WRONG_PASSWORDS_PER_ADDRESS)), refuse=_too_many)
        async with guess as attempt:
            developer = None
            if email_problem(email) is None:  # (an address that cannot be an account's is not looked up)
                async with self._db.read() as session:
                    developer = await session.scalar(select(Developer).where(Developer.email == email))
            matched, upgraded = await passwords.check(developer.password_hash if developer else None, password)
            if not matched:
                await attempt.failed()
                raise PanelError("The e-mail or the password is wrong.")
        assert developer is not None
        issued = tokens.issue(SESSION_PREFIX)
        async with self._db.write() as session:
            session.add(
                DeveloperSession(
                    developer_id=developer.id,
                    public_id=issued.public_id,
                    secret_digest=issued.secret_digest,
                    expires_at=utcnow() + SESSION_LIFETIME,
                )
            )
            if upgraded is not None:
                await session.execute(update(Developer).where(Developer.id == developer.id).values(password_hash=upgraded))
        return developer, issued.token

    async def from_session(self, cookie: str | None) -> Developer | None:
        parts = tokens.parse(cookie or "", SESSION_PREFIX)
        if parts is None:
            return None
        public_id, secret = parts
        async with self._db.read() as session:
            row = await session.scalar(select(DeveloperSession).where(DeveloperSession.public_id == public_id))
            if row is None or not tokens.matches(secret, row.secret_digest):
                return None
            if row.ended_at is not None or row.expires_at <= utcnow():
                return None
            return await session.get(Developer, row.developer_id)

    async def sign_out(self, cookie: str | None) -> None:
        parts = tokens.parse(cookie or "", SESSION_PREFIX)
        if parts is None:
            return
        async with self._db.write() as session:
            row = await session.scalar(select(DeveloperSession).where(DeveloperSession.public_id == parts[0]))
            if row is not None and tokens.matches(parts[1], row.secret_digest) and row.ended_at is None:
                row.ended_at = utcnow()

    # ---- applications ------------------------------------------------------------------

    async def applications(self, developer: Developer) -> list[Application]:
        async with self._db.read() as session:
            stmt = select(Application).where(Application.developer_id == developer.id).order_by(Application.id)
            return list((await session.scalars(stmt)).all())

    async def application(self, developer: Developer, app_id: int) -> Application:
        async with self._db.read() as session:
            app = await session.get(Application, app_id)
        if app is None or app.developer_id != developer.id:
            raise NotFound()
        return app

    async def create_application(
        self, developer: Developer, name: str, environment: str, redirect_urls: str
    ) -> tuple[Application, str, str]:
        """The new application, its client secret and its first Access-Token (the default
        profile, as the seed says: generated when the Client ID is created)."""
        name = _text(name, "application name")
        try:
            env = Environment(environment)
        except ValueError:
            raise PanelError("Choose the sandbox or the production environment.") from None
        urls = parse_redirect_urls(redirect_urls)
        secret = secrets.token_urlsafe(32)
        app = Application(
            developer_id=developer.id,
            environment=env.value,
            name=name,
            client_id=("sbx_" if env is Environment.SANDBOX else "prd_") + secrets.token_hex(12),
            client_secret_digest=tokens.digest(secret),
            redirect_urls=urls,
        )
        async with self._db.write() as session:
            session.add(app)
            await session.flush()
            audit.record(session, _actor(developer), "create", "application", str(app.id),
                         {"environment": env.value, "redirect_urls": urls})
            row, token = new_access_token(self._box, app, DEFAULT_TOKEN_NAME, DEFAULT_PROFILE)
            await self._add_token(session, developer, row)
        return app, secret, token

    async def rotate_secret(self, developer: Developer, app_id: int) -> tuple[Application, str]:
        secret = secrets.token_urlsafe(32)
        async with self._db.write() as session:
            app = await session.get(Application, app_id, with_for_update=True)
            if app is None or app.developer_id != developer.id:
                raise NotFound()
            app.client_secret_digest = tokens.digest(secret)
            app.secret_rotated_at = utcnow()
            audit.record(session, _actor(developer), "rotate-secret", "application", str(app.id))
        return app, secret

    async def update_holder_profile(self, developer: Developer, app_id: int, rpm: str, page: str) -> Application:
        rpm_value = _bounded(rpm, "requests_per_minute")
        page_value = _bounded(page, "max_page_size")
        async with self._db.write() as session:
            app = await session.get(Application, app_id, with_for_update=True)
            if app is None or app.developer_id != developer.id:
                raise NotFound()
            app.holder_requests_per_minute = rpm_value
            app.holder_max_page_size = page_value
            audit.record(session, _actor(developer), "holder-profile", "application", str(app.id),
                         {"requests_per_minute": rpm_value, "max_page_size": page_value})
        return app

    async def add_redirect_url(self, developer: Developer, app_id: int, url: str) -> Application:
        url = _redirect_url(url)

        def add(urls: list[str]) -> list[str]:
            if url in urls:
                raise PanelError(f"'{url}' is already registered.")
            return [*urls, url]

        return await self._edit_redirect_urls(developer, app_id, "add-redirect-url", add)

    async def change_redirect_url(self, developer: Developer, app_id: int, old: str, new: str) -> Application:
        new = _redirect_url(new)

        def change(urls: list[str]) -> list[str]:
            if old not in urls:
                raise PanelError(f"'{old}' is no longer registered; reload the page.")
            if new != old and new in urls:
                raise PanelError(f"'{new}' is already registered.")
            return [new if u == old else u for u in urls]

        return await self._edit_redirect_urls(developer, app_id, "change-redirect-url", change)

    async def remove_redirect_url(self, developer: Developer, app_id: int, url: str) -> Application:
        def remove(urls: list[str]) -> list[str]:
            if url not in urls:
                raise PanelError(f"'{url}' is no longer registered; reload the page.")
            if urls == [url]:
                raise PanelError("An application keeps at least one redirect URL; add another before removing this one.")
            return [u for u in urls if u != url]

        return await self._edit_redirect_urls(developer, app_id, "remove-redirect-url", remove)

    async def _edit_redirect_urls(self, developer: Developer, app_id: int, operation: str,
                                  edit: Callable[[list[str]], list[str]]) -> Application:
        """The application's redirect URLs changed by ``edit``, held to the rules of creation, audited."""
        async with self._db.write() as session:
            app = await session.get(Application, app_id, with_for_update=True)
            if app is None or app.developer_id != developer.id:
                raise NotFound()
            before = list(app.redirect_urls)
            after = parse_redirect_urls("\n".join(edit(before)))
            app.redirect_urls = after
            audit.record(session, _actor(developer), operation, "application", str(app.id),
                         {"before": before, "after": after})
        return app

    # ---- application Access-Tokens -----------------------------------------------------

    async def access_tokens(self, developer: Developer, app_id: int) -> list[AppAccessToken]:
        await self.application(developer, app_id)
        async with self._db.read() as session:
            stmt = select(AppAccessToken).where(AppAccessToken.application_id == app_id).order_by(AppAccessToken.id)
            return list((await session.scalars(stmt)).all())

    async def create_access_token(
        self, developer: Developer, app_id: int, name: str, profile: TokenProfile
    ) -> tuple[AppAccessToken, str]:
        name = _text(name, "token name")
        app = await self.application(developer, app_id)
        row, token = new_access_token(self._box, app, name, profile)
        async with self._db.write() as session:
            await self._add_token(session, developer, row)
        return row, token

    @staticmethod
    async def _add_token(session, developer: Developer, row: AppAccessToken) -> None:
        session.add(row)
        await session.flush()
        audit.record(session, _actor(developer), "create", "app_access_token", str(row.id),
                     {"application_id": row.application_id, "requests_per_minute": row.requests_per_minute,
                      "max_page_size": row.max_page_size, "max_body_bytes": row.max_body_bytes,
                      "api_groups": list(row.api_groups)})

    async def access_token(self, developer: Developer, app_id: int, token_id: int) -> tuple[Application, AppAccessToken]:
        """One Access-Token of one of the developer's applications (its details)."""
        app = await self.application(developer, app_id)
        async with self._db.read() as session:
            row = await session.get(AppAccessToken, token_id)
        if row is None or row.application_id != app.id:
            raise NotFound()
        return app, row

    async def reveal_access_token(self, developer: Developer, app_id: int, token_id: int, password: str) -> str:
        """A sandbox Access-Token shown again, once the developer's password is given again
        (API.md §5); every showing is audited."""
        app, row = await self.access_token(developer, app_id, token_id)
        problem = reveal_problem(app, row)
        if problem:
            raise PanelError(problem)
        guess = self._wrong_reveal_passwords.attempt(((f"developer:{developer.id}", WRONG_REVEAL_PASSWORDS_PER_ACCOUNT),),
                                                     refuse=_too_many)
        async with guess as attempt:
            async with self._db.read() as session:
                stored = await session.scalar(select(Developer.password_hash).where(Developer.id == developer.id))
            if not await passwords.verify_off_loop(stored, password):
                await attempt.failed()
                raise PanelError("The password is wrong.")
        assert row.secret_encrypted is not None  # reveal_problem said so
        try:
            token = self._box.decrypt(row.secret_encrypted)
        except SecretKeyError:
            raise PanelError("This Access-Token can no longer be decrypted (its key was dropped); create a new one "
                             "and revoke this one.") from None
        async with self._db.write() as session:
            audit.record(session, _actor(developer), "reveal", "app_access_token", str(row.id))
        return token

    async def revoke_access_token(self, developer: Developer, app_id: int, token_id: int) -> None:
        await self.application(developer, app_id)
        async with self._db.write() as session:
            row = await session.get(AppAccessToken, token_id, with_for_update=True)
            if row is None or row.application_id != app_id:
                raise NotFound()
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                audit.record(session, _actor(developer), "revoke", "app_access_token", str(row.id))


def _actor(developer: Developer) -> Actor:
    return Actor(None, f"developer:{developer.id}")


class ApplicationService:
    """The applications of every developer, as the back office sees them: listed per
    environment, assigned to a partner."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_in(self, env: Environment) -> list[Application]:
        async with self._db.read() as session:
            return list((await session.scalars(
                select(Application).where(Application.environment == env.value).order_by(Application.id))).all())

    async def modify(self, env: Environment, application_id: int, changes: ApplicationPatch, actor: Actor) -> Application:
        """Assigns the application to a partner of its environment (or to none) when the
        change names ``partnerId``."""
        async with self._db.write() as session:
            app = await in_environment(session, Application, env, application_id, "application", lock=True)
            if "partnerId" in changes.model_fields_set:
                if changes.partnerId is not None:
                    await partner_in(session, env, changes.partnerId)
                app.partner_id = changes.partnerId
                audit.record(session, actor, "assign-partner", "application", str(app.id),
                             {"partnerId": changes.partnerId})
            await session.flush()
            return app
