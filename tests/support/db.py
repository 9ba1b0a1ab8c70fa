"""The databases and servers tests run against: PostgreSQL and Redis are the real servers
(CIELO_TEST_POSTGRES_URL, CIELO_TEST_REDIS_URL, defaulting to the local ones); SQL and tokens
made outside the app, as another process would."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from cielo.config import Settings, normalise_database_url
from cielo.db import Base, Database
from cielo.db.migrate import upgrade
from tests.support.live import free_port

PG_ADMIN_URL = os.environ.get("CIELO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CIELO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
WHITELABEL = "/api/integrations/canvas/v1/white_label_account"


def run(coro):
    return asyncio.run(coro)


def missing(what: str) -> None:
    """Skip a test whose server isn't reachable, except under CI=true, where it fails the run."""
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


async def migrate(url: str) -> None:
    db = Database(url, pool_size=1)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def truncate(url: str) -> None:
    from sqlalchemy import text

    import cielo.models  # noqa: F401

    db = Database(url, pool_size=1)
    try:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


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
            missing("PostgreSQL's server programs (/usr/lib/postgresql/*/bin)")
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
