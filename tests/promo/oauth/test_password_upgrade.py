"""A password hash made with weaker parameters than today's is replaced at the next successful
sign-in (argon2's needs_rehash), for holders as for developers (one function:
cielo.security.passwords.check); a wrong password changes nothing."""

from __future__ import annotations

from argon2 import PasswordHasher

from cielo.security import passwords
from tests.support.db import db_sql
from tests.support.panel import PASSWORD, Panel
from tests.support.promo import HOLDER_PASSWORD, SANDBOX, authorize, login_params, partner_app, sign_in_to_consent

WEAK = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def test_a_holder_hash_is_upgraded_at_sign_in(client, settings):
    creds = partner_app(client)
    authorize(client, creds)  # signs Maria up
    weak = WEAK.hash(HOLDER_PASSWORD)
    db_sql(settings, f"UPDATE holders SET password_hash = '{weak}'")
    assert passwords.needs_rehash(weak)

    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    assert sign_in_to_consent(client, SANDBOX, location, password="not the password")[0].status_code == 400
    assert db_sql(settings, "SELECT password_hash FROM holders") == [(weak,)]

    assert authorize(client, creds).startswith("https://app.example.com/callback?code=")
    [(stored,)] = db_sql(settings, "SELECT password_hash FROM holders")
    assert stored != weak and not passwords.needs_rehash(stored)
    assert passwords.verify_password(stored, HOLDER_PASSWORD)


def test_a_developer_hash_is_upgraded_at_sign_in(client, settings):
    panel = Panel(client)
    panel.register("dev@example.com")
    weak = WEAK.hash(PASSWORD)
    db_sql(settings, f"UPDATE developers SET password_hash = '{weak}'")
    client.cookies.clear()
    assert panel.sign_in("dev@example.com").url.path == "/developer/applications"
    [(stored,)] = db_sql(settings, "SELECT password_hash FROM developers")
    assert stored != weak and not passwords.needs_rehash(stored)
