"""Fixtures: the app on SQLite and on PostgreSQL, tokens, live `cielo serve` processes.

PostgreSQL and Redis are the real servers; without them the tests that need them skip, except
under CI=true, where a missing server fails the run (tests/support/db.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cielo.config import Settings
from tests.support.db import (
    REDIS_URL,
    PostgresDatabases,
    PrivatePostgres,
    make_token,
    migrate,
    missing,
    postgres_available,
    redis_available,
    run,
    truncate,
)
from tests.support.live import LiveServer, RedisProcess
from tests.support.promo import partner_app
from tests.support.reference import CheckedClient


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not redis_available():
        missing("Redis")
    return REDIS_URL


@pytest.fixture(scope="session")
def pg_databases():
    if not postgres_available():
        missing("PostgreSQL")
    dbs = PostgresDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def pg_url(pg_databases, worker_id) -> str:
    url = pg_databases.create(worker_id)
    run(migrate(url))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "cielo.db"
    run(migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of the test's own, to stop and start (tests/support/db.py)."""
    cluster = PrivatePostgres()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def settings(backend, tmp_path, request) -> Settings:
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "cielo.db")
        return Settings(data_dir=tmp_path, database_url=None, access_log=False, secret_keys=None, queue_consumer=False)
    url = request.getfixturevalue("pg_url")
    run(truncate(url))
    return Settings(data_dir=tmp_path, database_url=url, access_log=False, secret_keys=None, queue_consumer=False)


@pytest.fixture
def app(settings):
    from cielo.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    with CheckedClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def token(settings) -> str:
    return make_token(settings)[1]


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(settings) -> dict:
    """Headers of a back-office (admin scope) Bearer token."""
    return {"Authorization": f"Bearer {make_token(settings, scope='admin')[1]}"}


@pytest.fixture
def creds(client):
    """A sandbox partner application with its Access-Token, made through the developer panel."""
    return partner_app(client)


@pytest.fixture
def server_factory(backend, tmp_path, request):
    """Start real servers on the test's backend (a fresh database each test)."""
    database_url = None
    if backend == "postgres":
        database_url = request.getfixturevalue("pg_databases").create("live")
    servers: list[LiveServer] = []

    def start(**kwargs) -> LiveServer:
        server = LiveServer(tmp_path, database_url, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# ---- Redis processes a test may break, and cheap password hashes ------------------------


@pytest.fixture
def private_redis():
    executable = shutil.which("redis-server")
    if executable is None:
        missing("redis-server")
    assert executable is not None
    server = RedisProcess(executable).start()
    yield server
    server.stop()


@pytest.fixture
def cheap_passwords(monkeypatch):
    """Argon2id at its lightest parameters, for tests that sign many people in or up (a real
    hash costs ~0.2 s of CPU). Only in this process: live servers keep the real ones."""
    from argon2 import PasswordHasher

    from cielo.security import passwords

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY", hasher.hash("no account has this password"))
