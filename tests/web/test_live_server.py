"""Real `cielo serve` processes: restart durability, concurrency, revocation across
processes, key rotation under a running server, logs free of secrets."""

from __future__ import annotations

import asyncio
import json
import os
import stat

import httpx
import pytest

from tests.support.db import WHITELABEL
from tests.support.live import create_token

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-value-never-logged"


def assert_log_is_clean(server, *secrets: str) -> None:
    log = server.log
    assert log, "the server wrote no log at all"
    for value in secrets:
        assert value not in log


def test_data_survives_a_restart(server_factory, backend):
    server = server_factory()
    token = create_token(server)
    auth = {"Authorization": f"Bearer {token}"}
    body = {"canvas_space_name": "durable", "api_key": "k", "api_secret": SECRET, "customer_name": "Durable Inc"}
    assert httpx.post(server.url + WHITELABEL, json=body, headers=auth).status_code == 200
    server.stop()

    server.start()
    response = httpx.get(server.url + WHITELABEL + "/durable", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"customers": [{**body, "is_active": True}]}
    server.stop()
    assert_log_is_clean(server, token, SECRET)
    if backend == "sqlite":
        key_file = server.data_dir / "secret.keys"
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        assert SECRET.encode() not in (server.data_dir / "cielo.db").read_bytes()


async def _burst(requests):
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(*(client.request(m, u, json=b, headers=h) for m, u, b, h in requests))


def test_concurrent_writes_on_several_processes(server_factory):
    server = server_factory(workers=2)
    token = create_token(server)
    auth = {"Authorization": f"Bearer {token}"}
    url = server.url + WHITELABEL

    same = {"canvas_space_name": "contested", "api_key": "k", "api_secret": "s"}
    responses = asyncio.run(_burst([("POST", url, {**same, "api_key": f"k{i}"}, auth) for i in range(40)]))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1 and codes.count(400) == 39, codes
    for r in responses:
        if r.status_code == 400:
            assert r.json() == {"error": "The 'contested' space name is already integrated. Please modify or delete it."}

    distinct = [("POST", url, {"canvas_space_name": f"space-{i:03d}", "api_key": "k", "api_secret": "s"}, auth)
                for i in range(60)]
    assert {r.status_code for r in asyncio.run(_burst(distinct))} == {200}

    patches = [("PATCH", url, {"canvas_space_name": "contested", "customer_name": f"name {i}"}, auth) for i in range(30)]
    assert {r.status_code for r in asyncio.run(_burst(patches))} == {200}

    deletes = [("DELETE", url, {"canvas_space_name": f"space-{i:03d}"}, auth) for i in range(30)] * 2
    results = asyncio.run(_burst(deletes))
    assert sorted(r.status_code for r in results) == [200] * 30 + [400] * 30

    customers = httpx.get(url, headers=auth).json()["customers"]
    assert [c["canvas_space_name"] for c in customers] == ["contested"] + [f"space-{i:03d}" for i in range(30, 60)]
    assert customers[0]["customer_name"].startswith("name ")

    audit = json.loads(server.cli("admin", "audit", "--space", "contested", "--json").stdout)
    assert [a["operation"] for a in audit].count("create") == 1
    assert sum(1 for a in audit if a["operation"] == "modify") >= 1


def test_a_revoked_token_is_refused_at_once_by_every_process(server_factory):
    server = server_factory(workers=2)
    token = create_token(server)
    auth = {"Authorization": f"Bearer {token}"}
    url = server.url + WHITELABEL
    # Warm every worker's token cache.
    assert {r.status_code for r in asyncio.run(_burst([("GET", url, None, auth)] * 40))} == {200}
    tokens = json.loads(server.cli("admin", "token", "list", "--json").stdout)
    assert set(tokens[0]) == {"id", "name", "scope", "created_at", "revoked_at"}
    assert token not in json.dumps(tokens)
    server.cli("admin", "token", "revoke", str(tokens[0]["id"]))
    responses = asyncio.run(_burst([("GET", url, None, auth)] * 40))
    assert {r.status_code for r in responses} == {403}
    assert_log_is_clean(server, token)


def test_key_rotation_under_a_running_server(server_factory, backend):
    server = server_factory()
    token = create_token(server)
    auth = {"Authorization": f"Bearer {token}"}
    url = server.url + WHITELABEL
    for i in range(25):
        body = {"canvas_space_name": f"rot-{i:02d}", "api_key": "k", "api_secret": f"{SECRET}-{i}"}
        assert httpx.post(url, json=body, headers=auth).status_code == 200
    key_file = server.data_dir / "secret.keys"
    old_keys = key_file.read_text().split()

    result = server.cli("admin", "rotate-keys", "--grace-seconds", "0.2")
    assert "Re-encrypted 25 secret(s)" in result.stderr
    new_keys = key_file.read_text().split()
    assert len(new_keys) == 1 and new_keys[0] not in old_keys
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600

    # The running server follows: old values read, new values written under the new key.
    customers = httpx.get(url, headers=auth).json()["customers"]
    assert [c["api_secret"] for c in customers] == [f"{SECRET}-{i}" for i in range(25)]
    patch = {"canvas_space_name": "rot-00", "api_secret": "after-rotation"}
    assert httpx.patch(url, json=patch, headers=auth).json()["modified_customer"]["api_secret"] == "after-rotation"
    assert httpx.get(url + "/rot-00", headers=auth).json()["customers"][0]["api_secret"] == "after-rotation"

    from cryptography.fernet import Fernet
    from sqlalchemy import text

    from cielo.db import Database
    from cielo.security.secrets import key_id
    from tests.support.db import run

    new_id = key_id(new_keys[0].encode())

    async def stored():
        db = Database(server.database_url or f"sqlite+aiosqlite:///{server.data_dir / 'cielo.db'}", pool_size=1)
        try:
            async with db.read() as session:
                return list((await session.execute(text("SELECT api_secret_encrypted FROM whitelabel_accounts"))).scalars())
        finally:
            await db.dispose()

    values = run(stored())
    assert len(values) == 25 and all(v.startswith(new_id + ":") for v in values)
    assert Fernet(new_keys[0].encode()).decrypt(values[0].split(":", 1)[1].encode())
    audit = json.loads(server.cli("admin", "audit", "--json").stdout)
    rotations = [a for a in audit if a["operation"] == "rotate-keys"]
    assert len(rotations) == 1 and rotations[0]["changes"] == {"reencrypted": 25}
    assert_log_is_clean(server, token, SECRET)


def test_cli_refusals(server_factory):
    server = server_factory()
    bad_scope = server.cli("admin", "token", "create", "--name", "x", "--scope", "root", check=False)
    assert bad_scope.returncode == 2 and "scope must be one of" in bad_scope.stderr
    unknown = server.cli("admin", "token", "revoke", "999", check=False)
    assert unknown.returncode == 1 and "no token with id 999" in unknown.stderr
    assert server.cli("--help").returncode == 0
    migrated = server.cli("migrate")
    assert "revision" in migrated.stderr
