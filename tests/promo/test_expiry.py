"""What has expired is deleted (promo/expiry.py), on SQLite and PostgreSQL: sign-in and card
requests, access tokens, grants that can no longer live with their codes and refresh tokens,
panel sessions, an hour after they stopped being usable. Whatever is alive stays, and so do a
live grant's rotated refresh tokens: presenting one still revokes the grant after a pass."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from cielo.db import Database, utcnow
from cielo.promo.cards.models import CardRequest
from cielo.promo.developer.models import DeveloperSession
from cielo.promo.expiry import prune_once
from cielo.promo.oauth.models import AuthorizationCode, AuthorizationRequest, Grant, HolderToken
from cielo.security import tokens as opaque
from tests.support.db import db_sql, run
from tests.support.panel import Panel
from tests.support.promo import (
    SANDBOX,
    add_card,
    authorize,
    basic,
    card_page,
    login_params,
    tokens_for,
)

LONG_AGO = timedelta(hours=2)  # past the hour of grace
LATELY = timedelta(minutes=10)  # within it


def _set(settings, model, condition, **values) -> None:
    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            async with db.write() as session:
                await session.execute(update(model).where(condition).values(**values))
        finally:
            await db.dispose()

    run(go())


def _cpf(n: int) -> str:
    """A valid CPF (one holder each: the sign-in throttle counts per CPF)."""
    digits = [int(d) for d in f"{n:09d}"]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def _public_id(token: str) -> str:
    parts = opaque.parse(token, "chold")
    assert parts is not None
    return parts[0]


def _ids(settings, table: str) -> set:
    return {row[0] for row in db_sql(settings, f"SELECT id FROM {table}")}


def _grant_of(settings, token: str) -> int:
    return db_sql(settings, f"SELECT grant_id FROM holder_tokens WHERE public_id = '{_public_id(token)}'")[0][0]


def _plant(client, creds, settings) -> dict:
    """Rows of every kind, each dead long ago, dead lately (within the grace) or alive."""
    now = utcnow()
    rows: dict = {}
    # A: alive, rotated once; its rotated refresh token expired long ago, its first access token too
    a = tokens_for(client, creds, cpf=_cpf(100000001))
    rotated = client.post(SANDBOX + "/refresh-token", json={"grant_type": "refresh_token", "code": a["refresh_token"]},
                          headers=basic(creds)).json()
    rows["alive"] = _grant_of(settings, a["access_token"])
    _set(settings, HolderToken, HolderToken.public_id.in_([_public_id(a["refresh_token"]),
                                                           _public_id(a["access_token"])]), expires_at=now - LONG_AGO)
    rows["rotated"], rows["current"] = a["refresh_token"], rotated["refresh_token"]
    rows["access alive"] = _public_id(rotated["access_token"])
    rows["access dead"] = _public_id(a["access_token"])
    # B: every token of it expired long ago; C: revoked long ago; C2: revoked lately
    b, c, c2 = (tokens_for(client, creds, cpf=_cpf(100000002 + i)) for i in range(3))
    rows["expired"], rows["revoked"], rows["revoked lately"] = (_grant_of(settings, t["access_token"]) for t in (b, c, c2))
    _set(settings, HolderToken, HolderToken.grant_id == rows["expired"], expires_at=now - LONG_AGO)
    _set(settings, Grant, Grant.id == rows["revoked"], revoked_at=now - LONG_AGO)
    _set(settings, HolderToken, HolderToken.grant_id == rows["revoked"], revoked_at=now - LONG_AGO)
    _set(settings, Grant, Grant.id == rows["revoked lately"], revoked_at=now - LATELY)
    # D: consented, its code never exchanged and expired long ago; E: the same, expired lately
    known = _ids(settings, "oauth_grants")
    authorize(client, creds, cpf=_cpf(100000005))
    [rows["unexchanged"]] = _ids(settings, "oauth_grants") - known
    authorize(client, creds, cpf=_cpf(100000006))
    [rows["unexchanged lately"]] = _ids(settings, "oauth_grants") - known - {rows["unexchanged"]}
    _set(settings, AuthorizationCode, AuthorizationCode.grant_id == rows["unexchanged"], expires_at=now - LONG_AGO)
    _set(settings, AuthorizationCode, AuthorizationCode.grant_id == rows["unexchanged lately"], expires_at=now - LATELY)
    # every grant so far began long ago (a grant younger than the grace is never deleted)
    _set(settings, Grant, Grant.id.is_not(None), created_at=now - 2 * LONG_AGO)
    # sign-in requests: the ones above (completed), one open, one expired long ago, one lately
    known = _ids(settings, "oauth_requests")
    for _ in range(3):
        assert client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).status_code == 301
    rows["request alive"], rows["request dead"], rows["request lately"] = sorted(_ids(settings, "oauth_requests") - known)
    _set(settings, AuthorizationRequest, AuthorizationRequest.id < rows["request alive"], expires_at=now - LONG_AGO)
    _set(settings, AuthorizationRequest, AuthorizationRequest.id == rows["request dead"], expires_at=now - LONG_AGO)
    _set(settings, AuthorizationRequest, AuthorizationRequest.id == rows["request lately"], expires_at=now - LATELY)
    # card requests: one used and expired long ago, one open
    assert add_card(client, creds, rotated).status_code == 303
    assert card_page(client, creds, rotated).status_code == 200
    rows["card request dead"], rows["card request alive"] = sorted(_ids(settings, "card_requests"))
    _set(settings, CardRequest, CardRequest.id == rows["card request dead"], expires_at=now - LONG_AGO)
    # panel sessions: the developer's (alive), one expired long ago, one ended long ago
    panel = Panel(client)
    for _ in range(2):
        client.cookies.clear()
        assert panel.sign_in("dev@example.com").status_code == 200
    rows["session alive"], rows["session expired"], rows["session ended"] = sorted(_ids(settings, "developer_sessions"))
    _set(settings, DeveloperSession, DeveloperSession.id == rows["session expired"], expires_at=now - LONG_AGO)
    _set(settings, DeveloperSession, DeveloperSession.id == rows["session ended"], ended_at=now - LONG_AGO)
    client.cookies.clear()
    return rows


def test_one_pass_deletes_what_expired_and_keeps_what_lives(client, creds, settings):
    rows = _plant(client, creds, settings)

    async def once():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            return await prune_once(db)
        finally:
            await db.dispose()

    counts = run(once())
    # requests: the six completed and one open long expired; access tokens: A's first, B's, C's
    # (and the read caches' records of table writes, all younger than the hour they are kept)
    assert counts == {"sign-in requests": 7, "access tokens": 3, "grants": 3, "card requests": 1, "panel sessions": 2,
                      "table_writes": 0}
    assert _ids(settings, "oauth_grants") == {rows["alive"], rows["revoked lately"], rows["unexchanged lately"]}
    assert {row[0] for row in db_sql(settings, "SELECT DISTINCT grant_id FROM oauth_codes")} == _ids(settings,
                                                                                                    "oauth_grants")
    assert {row[0] for row in db_sql(settings, "SELECT public_id FROM holder_tokens WHERE grant_id = "
                                               f"{rows['alive']}")} == {
        _public_id(rows["rotated"]), _public_id(rows["current"]), rows["access alive"]}
    assert _ids(settings, "oauth_requests") == {rows["request alive"], rows["request lately"]}
    assert _ids(settings, "card_requests") == {rows["card request alive"]}
    assert _ids(settings, "developer_sessions") == {rows["session alive"]}
    assert run(once()) == dict.fromkeys(counts, 0)

    # the rotated refresh token, past its own expiry but of a live grant, still gives the reuse away
    reused = client.post(SANDBOX + "/refresh-token", json={"grant_type": "refresh_token", "code": rows["rotated"]},
                         headers=basic(creds))
    assert reused.status_code == 400 and "already used" in reused.json()
    current = client.post(SANDBOX + "/refresh-token", json={"grant_type": "refresh_token", "code": rows["current"]},
                          headers=basic(creds))
    assert current.status_code == 400 and "revoked" in current.json()


def _wait_until_gone(settings, table: str, row_id: int, what: str) -> None:
    deadline = time.monotonic() + 60
    while row_id in _ids(settings, table):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_serve_prunes_from_its_start(client, creds, settings):
    from cielo.app import create_app
    from tests.conftest import CheckedClient

    assert client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).status_code == 301
    [request_id] = _ids(settings, "oauth_requests")
    _set(settings, AuthorizationRequest, AuthorizationRequest.id == request_id, expires_at=utcnow() - LONG_AGO)
    with CheckedClient(create_app(settings)):  # another process starting: its lifespan runs a first pass
        _wait_until_gone(settings, "oauth_requests", request_id, "cielo serve did not prune")


@pytest.mark.slow
def test_worker_prunes_from_its_start(client, creds, settings, tmp_path):
    assert client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).status_code == 301
    [request_id] = _ids(settings, "oauth_requests")
    _set(settings, AuthorizationRequest, AuthorizationRequest.id == request_id, expires_at=utcnow() - LONG_AGO)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
    env.update(CIELO_DATA_DIR=str(settings.data_dir), CIELO_DATABASE_URL=settings.resolved_database_url)
    with open(tmp_path / "worker.log", "ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "cielo", "worker"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        _wait_until_gone(settings, "oauth_requests", request_id, (tmp_path / "worker.log").read_text()[-3000:])
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
