"""Fixtures: the app on SQLite and on PostgreSQL, tokens, live `cielo serve` processes.

PostgreSQL and Redis are the real servers (CIELO_TEST_POSTGRES_URL, CIELO_TEST_REDIS_URL,
defaulting to the local ones). Without them the tests that need them skip, except under
CI=true, where a missing server fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from cielo.config import Settings, normalise_database_url
from cielo.db import Base, Database
from cielo.db.migrate import upgrade
from tests.reference_check import reference

PG_ADMIN_URL = os.environ.get("CIELO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CIELO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
WHITELABEL = "/api/integrations/canvas/v1/white_label_account"


def run(coro):
    return asyncio.run(coro)


def _missing(what: str) -> None:
    message = f"{what} not reachable"
    if IN_CI:
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


_availability: dict[str, bool] = {}


def postgres_available() -> bool:
    if "pg" not in _availability:
        import asyncpg

        async def probe():
            conn = await asyncpg.connect(PG_ADMIN_URL.replace("+asyncpg", ""), timeout=3)
            await conn.close()

        try:
            run(probe())
            _availability["pg"] = True
        except Exception:
            _availability["pg"] = False
    return _availability["pg"]


def redis_available() -> bool:
    if "redis" not in _availability:
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
            _availability["redis"] = True
        except Exception:
            _availability["redis"] = False
    return _availability["redis"]


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not redis_available():
        _missing("Redis")
    return REDIS_URL


class PostgresDatabases:
    """Creates throw-away databases on the test server, dropped at the end of the session."""

    def __init__(self) -> None:
        self.created: list[str] = []

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN_URL.replace("+asyncpg", ""), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create(self, label: str) -> str:
        name = f"cielo_t_{label}_{uuid.uuid4().hex[:8]}"
        run(self._admin(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        base = normalise_database_url(PG_ADMIN_URL)
        return base.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        for name in self.created:
            try:
                run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception:
                pass


@pytest.fixture(scope="session")
def pg_databases():
    if not postgres_available():
        _missing("PostgreSQL")
    dbs = PostgresDatabases()
    yield dbs
    dbs.drop_all()


async def _migrate(url: str) -> None:
    db = Database(url, pool_size=1)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def pg_url(pg_databases, worker_id) -> str:
    url = pg_databases.create(worker_id)
    run(_migrate(url))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "cielo.db"
    run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


async def _truncate(url: str) -> None:
    from sqlalchemy import text

    import cielo.models  # noqa: F401

    db = Database(url, pool_size=1)
    try:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb and pg_ctl into a temporary directory, on a
    free port), to stop and start at will without touching the shared server. As root it runs
    as the ``postgres`` user (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        import glob
        import pwd
        import tempfile

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            _missing("PostgreSQL's server programs (/usr/lib/postgresql/*/bin)")
        self.bin = Path(found[-1]).parent
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="cielo-pg-"))
        self.root.chmod(0o755)
        self.data, self.socket, self.log = self.root / "data", self.root / "socket", self.root / "server.log"
        self.socket.mkdir()
        if self.user:
            owner = pwd.getpwnam(self.user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            os.chown(self.socket, owner.pw_uid, owner.pw_gid)
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/cielo"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "cielo")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres():
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
    run(_truncate(url))
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


def db_sql(settings: Settings, statement: str) -> list | None:
    """Run one SQL statement on the test's database, outside the app (as another process would)."""
    from sqlalchemy import text

    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            async with db.write() as session:
                result = await session.execute(text(statement))
                return list(result.all()) if result.returns_rows else None
        finally:
            await db.dispose()

    return run(go())


def make_token(settings: Settings, scope: str = "whitelabel", name: str = "tests") -> tuple[int, str]:
    from cielo.auth.service import create_token

    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            row, token = await create_token(db, name, scope)
            return row.id, token
        finally:
            await db.dispose()

    return run(go())


@pytest.fixture
def token(settings) -> str:
    return make_token(settings)[1]


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---- live `cielo serve` processes -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real `cielo serve` process; its stderr is kept in a file for log assertions."""

    def __init__(self, data_dir: Path, database_url: str | None, *, workers: int = 1, extra_env=None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"serve-{self.port}.log"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
        env["CIELO_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["CIELO_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cielo", *args], env=self.env, capture_output=True, text=True, check=check, timeout=120
        )

    def start(self) -> LiveServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process writes it until it stops
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cielo", "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cielo serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("cielo serve did not become ready")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def live_server(data_dir: Path, database_url: str | None, **kwargs):
    server = LiveServer(data_dir, database_url, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


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
