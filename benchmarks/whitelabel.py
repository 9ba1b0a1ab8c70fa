"""White-label API under load over loopback, next to a bare FastAPI endpoint in the same run.

    python benchmarks/whitelabel.py [--seconds 10] [--connections 64] [--accounts 10000]
                                    [--postgres postgresql://postgres@127.0.0.1:5432/test]

Stores N accounts, serves them with `cielo serve` (1 worker, pinned to CPU 0) and drives it
with wrk (pinned to CPU 1) for GET-one (random account), GET-all (the whole envelope, as the
contract has no paging) and PATCH (random account, new customer_name); GET-one is also run
with the read caches off. The bare endpoint (a FastAPI route returning a constant dict) is
measured before and after, served the same way; the baseline is their mean. A route
returning a prebuilt Response is measured too, as a stricter reference. Prints req/s, p50, p99 and the ratio to the baseline, and
writes the figures to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _load import Result, bare, free_port, start, stop, table, wrk  # noqa: E402

from cielo.auth.service import create_token  # noqa: E402
from cielo.config import Settings, normalise_database_url  # noqa: E402
from cielo.db import Database, utcnow  # noqa: E402
from cielo.db.migrate import upgrade  # noqa: E402
from cielo.security.secrets import secret_box_from_settings  # noqa: E402
from cielo.whitelabel.models import WhiteLabelAccount  # noqa: E402

PATH = "/api/integrations/canvas/v1/white_label_account"


async def seed(settings: Settings, accounts: int) -> str:
    from sqlalchemy import insert

    db = Database(settings.resolved_database_url, pool_size=2)
    await upgrade(db)
    box = secret_box_from_settings(settings)
    now = utcnow()
    rows = [
        {
            "canvas_space_name": f"space-{i:05d}",
            "api_key": f"key-{uuid.uuid4().hex}",
            "api_secret_encrypted": box.encrypt(f"secret-{uuid.uuid4().hex}"),
            "is_active": i % 7 != 0,
            "customer_name": f"Customer {i}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(accounts)
    ]
    async with db.write() as session:
        for start_at in range(0, len(rows), 1000):
            await session.execute(insert(WhiteLabelAccount), rows[start_at:start_at + 1000])
    _, token = await create_token(db, "benchmark", "whitelabel")
    await db.dispose()
    return token


async def pg_database(admin_url: str, name: str, drop: bool = False) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return normalise_database_url(admin_url).rsplit("/", 1)[0] + "/" + name


# Requests are built once when the script loads; request() only picks one. Building each
# request in request() (wrk.format) costs wrk more than the server spends answering it, and
# wrk would measure itself.
GET_ONE = """
math.randomseed(42)
local requests = {}
for i = 0, %(n)d do
  requests[#requests + 1] = wrk.format("GET", string.format("%(path)s/space-%%05d", i))
end
local order = {}
for i = 1, 100000 do order[i] = math.random(1, #requests) end
local k = 0
request = function()
  k = k %% #order + 1
  return requests[order[k]]
end
"""

WARM = """
local requests = {}
for i = 0, %(n)d do
  requests[#requests + 1] = wrk.format("GET", string.format("%(path)s/space-%%05d", i))
end
local k = 0
request = function()
  k = k %% #requests + 1
  return requests[k]
end
"""

PATCH = """
math.randomseed(43)
local requests = {}
for i = 1, 20000 do
  local body = string.format('{"canvas_space_name": "space-%%05d", "customer_name": "Renamed %%d"}',
                             math.random(0, %(n)d), i)
  requests[i] = wrk.format("PATCH", "%(path)s", {["Content-Type"] = "application/json",
                                                 ["Authorization"] = "%(auth)s"}, body)
end
local k = 0
request = function()
  k = k %% #requests + 1
  return requests[k]
end
"""


def run_suite(label: str, settings_env: dict[str, str], token: str, args, work: Path) -> list[Result]:
    auth = f"Authorization: Bearer {token}"
    n = args.accounts - 1
    results = []
    for cache in ("true", "false"):
        port = free_port()
        env = {**os.environ, **settings_env, "CIELO_CACHE": cache, "CIELO_ACCESS_LOG": args.access_log}
        proc = start([sys.executable, "-m", "cielo", "serve", "--port", str(port)], env,
                     f"http://127.0.0.1:{port}/healthz", work / f"serve-{label}-{cache}.log")
        base = f"http://127.0.0.1:{port}"
        try:
            suffix = " (warm caches)" if cache == "true" else " (caches off)"
            if cache == "true":
                # Fill the caches as a running service would have: every account once.
                wrk("warm-up", base + PATH, seconds=max(3, args.accounts // 1500), connections=16,
                    script=WARM % {"n": n, "path": PATH}, headers=[auth])
            results.append(wrk(f"{label} GET-one{suffix}", base + PATH, seconds=args.seconds,
                               connections=args.connections, script=GET_ONE % {"n": n, "path": PATH}, headers=[auth]))
            if cache == "true":
                results.append(wrk(f"{label} GET-all ({args.accounts})", base + PATH, seconds=args.seconds,
                                   connections=min(args.connections, 16), headers=[auth]))
                results.append(wrk(f"{label} PATCH", base + PATH, seconds=args.seconds,
                                   connections=args.connections, script=PATCH % {"n": n, "path": PATH, "auth": f"Bearer {token}"},
                                   headers=[auth]))
        finally:
            stop(proc)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to run the suite on as well")
    parser.add_argument("--access-log", default="true", choices=["true", "false"],
                        help="cielo's structured access log (default on, as in production)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cielo-bench-"))
    results: list[Result] = []
    before = bare(args.seconds, args.connections, work, "bare FastAPI (before)")

    sqlite_dir = work / "sqlite"
    settings = Settings(data_dir=sqlite_dir, database_url=None)
    t0 = time.perf_counter()
    token = asyncio.run(seed(settings, args.accounts))
    print(f"seeded {args.accounts} accounts on SQLite in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    results += run_suite("SQLite", {"CIELO_DATA_DIR": str(sqlite_dir)}, token, args, work)

    if args.postgres:
        name = f"cielo_bench_{os.getpid()}"
        url = asyncio.run(pg_database(args.postgres, name))
        pg_dir = work / "pg"
        settings = Settings(data_dir=pg_dir, database_url=url)
        token = asyncio.run(seed(settings, args.accounts))
        try:
            results += run_suite("PostgreSQL", {"CIELO_DATA_DIR": str(pg_dir), "CIELO_DATABASE_URL": url},
                                 token, args, work)
        finally:
            asyncio.run(pg_database(args.postgres, name, drop=True))

    after = bare(args.seconds, args.connections, work, "bare FastAPI (after)")
    strict = bare(args.seconds, args.connections, work, "bare, prebuilt Response", "/bare-response")
    baseline = Result("bare FastAPI (mean)", (before.rps + after.rps) / 2, (before.p50_ms + after.p50_ms) / 2,
                      (before.p99_ms + after.p99_ms) / 2, 0, before.requests + after.requests)
    print(f"\nwrk -t1 -c{args.connections} -d{args.seconds}s, server on CPU 0, wrk on CPU 1, "
          f"access log {'on' if args.access_log == 'true' else 'off'}\n")
    print(table([before, after, baseline, strict, *results], baseline))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (out / f"whitelabel-{stamp}.json").write_text(json.dumps(
        {"args": vars(args), "baseline": baseline.__dict__,
         "results": [r.__dict__ for r in [before, after, strict, *results]]},
        indent=2))


if __name__ == "__main__":
    main()
