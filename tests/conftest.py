"""Fixtures: the app on SQLite and on PostgreSQL, tokens, live `cielo serve` processes.

PostgreSQL and Redis are the real servers; without them the tests that need them skip, except
under CI=true, where a missing server fails the run (tests/support/db.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from cielo.config import Settings
from tests.support.db import (
    REDIS_URL,
    WHITELABEL,
    PostgresDatabases,
    make_token,
    migrate,
    missing,
    postgres_available,
    redis_available,
    run,
    truncate,
)
from tests.support.live import LiveServer
from tests.support.promo import partner_app
from tests.support.reference import reference


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


class CheckedClient(TestClient):
    """A TestClient that validates every white-label answer against the reference document."""

    allow_undocumented = (405, 413)

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        path = httpx.URL(str(response.request.url)).path
        if path.startswith(WHITELABEL) and response.status_code not in self.allow_undocumented:
            reference("whitelabel-v1.openapi.yaml").check(method, path, response.status_code, response.json())
        return response


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
