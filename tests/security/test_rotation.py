"""`cielo admin rotate-keys` re-encrypts every value stored under the secret keys, so that
nothing becomes unreadable once the old key is dropped: a sandbox Access-Token can still be
shown again, a holder's CPF still read."""

from __future__ import annotations

import os
import subprocess
import sys

from cielo.models import ENCRYPTED_COLUMNS
from cielo.security.secrets import key_id
from tests.support.db import db_sql
from tests.support.panel import PASSWORD, Panel, field
from tests.support.promo import SANDBOX, tokens_for


def _rotate(settings) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
    env["CIELO_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["CIELO_DATABASE_URL"] = settings.database_url
    done = subprocess.run([sys.executable, "-m", "cielo", "admin", "rotate-keys", "--grace-seconds", "0"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stderr


def test_every_encrypted_value_is_readable_after_a_rotation(client, settings):
    panel = Panel(client)
    panel.register("ana@example.com")
    created = panel.create_application(environment="sandbox")
    token = field(created.text, "access_token")
    creds = panel.application_with_token()
    client.cookies.clear()
    holder = {"Client-Id": creds.client_id, "Access-Token": tokens_for(client, creds)["access_token"]}
    assert client.get(SANDBOX + "/me", headers=holder).json()["document"] == "39053344705"
    stored = {c.table.name + "." + c.name: db_sql(settings, f"SELECT {c.name} FROM {c.table.name} WHERE {c.name} IS NOT NULL")
              for c in ENCRYPTED_COLUMNS}
    assert all(stored[name] for name in ("app_access_tokens.secret_encrypted", "holders.cpf_encrypted",
                                         "oauth_requests.prefill_encrypted"))

    assert "Re-encrypted" in _rotate(settings)
    (new_key,) = (settings.data_dir / "secret.keys").read_text().split()
    for c in ENCRYPTED_COLUMNS:
        values = db_sql(settings, f"SELECT {c.name} FROM {c.table.name} WHERE {c.name} IS NOT NULL")
        assert len(values) == len(stored[c.table.name + "." + c.name])
        assert all(v.startswith(key_id(new_key.encode()) + ":") for (v,) in values), c

    assert client.get(SANDBOX + "/me", headers=holder).json()["document"] == "39053344705"
    page = f"/developer/applications/1/tokens/{db_sql(settings, 'SELECT MIN(id) FROM app_access_tokens')[0][0]}"
    client.cookies.clear()
    panel.sign_in("ana@example.com")
    assert field(panel.post_form(page, page + "/reveal", {"password": PASSWORD}).text, "access_token") == token
