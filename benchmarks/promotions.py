"""GET /promotions over the large sandbox (1,000,000 establishments, 100,000 promotions).

    python benchmarks/promotions.py [--seconds 10] [--postgres ADMIN_URL] [--no-sqlite] [--prism]

For each database: seeds the large sandbox once (kept in benchmarks/.data/ and in the
PostgreSQL database cielo_bench_promotions, so later runs start at once); times the
candidate query through the spatial index against the same search as a full scan
(database + distance work, in process); serves it with `cielo serve` (CPU 0) and drives
GET /promotions with wrk (CPU 1) at radii 500 m, 2 km and 10 km from points within 1 km of
Avenida Paulista, next to the bare FastAPI endpoint measured in the same run. On PostgreSQL
it also measures the subscription queue (requests processed per second, 1 and 2 workers).
With --prism, Stoplight Prism (npm) mocks the reference document and takes the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _load import Result, bare, cli_env, free_port, start, stop, table, unthrottle, wrk  # noqa: E402

from cielo.config import normalise_database_url  # noqa: E402
from cielo.db import Database  # noqa: E402
from cielo.promo.environments import Environment  # noqa: E402
from cielo.promo.pagination import Page  # noqa: E402
from cielo.promo.promotions.geo import distance_m  # noqa: E402
from cielo.promo.promotions.service import PromotionService, Search  # noqa: E402

DATA = ROOT / "benchmarks" / ".data"
PAULISTA = (-23.5614, -46.6559)
RADII = (500, 2000, 10_000)
PATH = "/sandbox/promotions/v1/promotions"


def seed(data_dir: Path, database_url: str | None) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "cielo", "sandbox", "seed", "--size", "large", "--json"],
                         env=cli_env(data_dir, database_url), capture_output=True, text=True, check=True)
    print(f"  seed: {time.perf_counter() - t0:.0f} s ({out.stderr.strip().splitlines()[-1][:80]})", file=sys.stderr)
    return json.loads(out.stdout)


def points(n: int = 2000) -> list[tuple[float, float]]:
    rng = random.Random(7)
    result = []
    while len(result) < n:
        lat = PAULISTA[0] + rng.uniform(-0.009, 0.009)
        lon = PAULISTA[1] + rng.uniform(-0.01, 0.01)
        if distance_m(*PAULISTA, lat, lon) <= 1000:
            result.append((round(lat, 6), round(lon, 6)))
    return result


async def db_timings(url: str, reps: int = 15) -> list[dict]:
    """Indexed search vs the same search as a full scan, in process (database + distances);
    and the in-memory index (what `cielo serve` answers from), its first whole load timed apart."""
    from sqlalchemy import select

    from cielo.cache import CacheRegistry, RequestMarker, request_marker
    from cielo.promo.establishments.models import CommercialEstablishment as E
    from cielo.promo.promotions.models import Promotion as P

    db = Database(url, pool_size=2)
    service = PromotionService(db, CacheRegistry(db.watcher))
    page = Page(0, 20)
    rows = []

    async def in_memory(search: Search):
        token = request_marker.set(RequestMarker())
        try:
            return await service.search(Environment.SANDBOX, search, page)
        finally:
            request_marker.reset(token)

    try:
        t0 = time.perf_counter()
        await in_memory(Search.parse({"latitude": "0", "longitude": "0", "radius": "1"}))
        load_ms = (time.perf_counter() - t0) * 1000
        for radius in RADII:
            search = Search.parse({"latitude": str(PAULISTA[0]), "longitude": str(PAULISTA[1]), "radius": str(radius)})
            indexed = []
            for _ in range(reps):
                t0 = time.perf_counter()
                answer = await service.search_in_database(Environment.SANDBOX, search, page)
                indexed.append(time.perf_counter() - t0)
            _, total = answer
            memory = []
            for _ in range(reps):
                t0 = time.perf_counter()
                assert await in_memory(search) == answer
                memory.append(time.perf_counter() - t0)
            scan = []
            for _ in range(max(3, reps // 5)):
                t0 = time.perf_counter()
                async with db.read() as session:
                    result = (await session.execute(
                        select(P.id, E.latitude, E.longitude).join(E, E.id == P.establishment_id)
                        .where(E.environment == "sandbox", E.active.is_(True)))).all()
                hits = sorted(distance_m(*PAULISTA, lat, lon) for _, lat, lon in result
                              if distance_m(*PAULISTA, lat, lon) <= radius)
                scan.append(time.perf_counter() - t0)
            assert len(hits) == total, (len(hits), total)
            rows.append({"radius": radius, "matches": total, "indexed_ms": statistics.median(indexed) * 1000,
                         "scan_ms": statistics.median(scan) * 1000, "memory_ms": statistics.median(memory) * 1000,
                         "load_ms": load_ms, "points": len(service.index.points)})
    finally:
        await db.dispose()
    return rows


def lua(radius: int, path: str = PATH) -> str:
    """500 prebuilt requests, built in init(): only then are wrk's host and -H headers set
    (built at load time they carried no Host header, which Node's HTTP server — Prism —
    refuses with 400)."""
    paths = ",\n".join(f'"{path}?latitude={lat}&longitude={lon}&radius={radius}&_offset=0&_limit=20"'
                       for lat, lon in points(500))
    return (f"local paths = {{\n{paths}\n}}\nlocal requests = {{}}\nlocal k = 0\n"
            "init = function(args)\n  for i, p in ipairs(paths) do requests[i] = wrk.format(\"GET\", p) end\nend\n"
            "request = function()\n  k = k % #requests + 1\n  return requests[k]\nend\n")


def http_suite(label: str, data_dir: Path, database_url: str | None, client: dict, args, work: Path) -> list[Result]:
    port = free_port()
    env = {**cli_env(data_dir, database_url), "CIELO_QUEUE_CONSUMER": "false"}
    proc = start([sys.executable, "-m", "cielo", "serve", "--port", str(port)], env,
                 f"http://127.0.0.1:{port}/healthz", work / f"serve-{label}.log")
    headers = [f"Client-Id: {client['client_id']}", f"Access-Token: {client['access_token']}"]
    results = []
    try:
        # Warm up (discarded): the index loads and the compiled search is read in the
        # background after start-up; the first radius measured must not pay for them.
        wrk(f"{label} warm-up", f"http://127.0.0.1:{port}", seconds=3, connections=args.connections,
            script=lua(2000), headers=headers)
        for radius in RADII:
            results.append(wrk(f"{label} /promotions r={radius} m", f"http://127.0.0.1:{port}", seconds=args.seconds,
                               connections=args.connections, script=lua(radius), headers=headers))
        # Latency as a client sees it when the server is not saturated (at -c64 a single
        # process queues 64 requests, and p99 measures the queue, not the request).
        for connections in (1, args.latency_connections):
            results.append(wrk(f"{label} r=2000 m -c{connections}", f"http://127.0.0.1:{port}",
                               seconds=args.seconds, connections=connections, script=lua(2000), headers=headers))
    finally:
        stop(proc)
    return results


def db_sql(database_url: str, statement: str):
    import asyncpg

    async def go():
        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return await conn.fetch(statement)
        finally:
            await conn.close()

    return asyncio.run(go())


def queue_throughput(database_url: str, data_dir: Path, work: Path, n: int = 20_000) -> list[dict]:
    settings = database_url
    rows = []
    for workers in (1, 2):
        db_sql(settings, "DELETE FROM subscription_requests WHERE application_id = (SELECT MIN(id) FROM applications)"
                         " AND requested_at > now() - interval '1 day'")
        db_sql(settings, "DELETE FROM establishment_subscriptions WHERE request_id > 1000000")
        db_sql(settings, f"""INSERT INTO subscription_requests (environment, application_id, establishment_id, promotion_id,
                 action, requested_at) SELECT 'sandbox', (SELECT MIN(id) FROM applications), p.establishment_id, p.id,
                 'S', now() FROM promotions p WHERE p.id > 1000 ORDER BY p.id LIMIT {n}""")
        procs = [subprocess.Popen([sys.executable, "-m", "cielo", "worker", "--batch", "500", "--idle", "0.05"],
                                  env=cli_env(data_dir, database_url), stdout=open(work / f"worker-{workers}.log", "ab"),
                                  stderr=subprocess.STDOUT) for _ in range(workers)]
        t0 = time.perf_counter()
        while db_sql(settings, "SELECT COUNT(*) FROM subscription_requests WHERE processed_at IS NULL")[0][0]:
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.terminate()
            p.wait()
        rows.append({"workers": workers, "requests": n, "seconds": elapsed, "per_second": n / elapsed})
    return rows


def prism(args, work: Path) -> Result | None:
    prism_dir = DATA / "prism"
    binary = prism_dir / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        prism_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prism_dir), "@stoplight/prism-cli@5"], check=True,
                       capture_output=True)
    port = free_port()
    spec = ROOT / "tests" / "reference" / "promotions-v1.openapi.yaml"
    proc = start([str(binary), "mock", str(spec), "-p", str(port), "--errors", "false"], dict(os.environ),
                 f"http://127.0.0.1:{port}/sandbox/promotions/v1/promotions", work / "prism.log")
    try:
        time.sleep(2)
        # Prism serves the document's paths without the servers' relative base path.
        wrk("Prism warm-up", f"http://127.0.0.1:{port}", seconds=3, connections=args.connections,
            script=lua(2000, "/promotions"), headers=["Client-Id: x", "Access-Token: y"])
        return wrk("Prism mock /promotions r=2000 m", f"http://127.0.0.1:{port}", seconds=args.seconds,
                   connections=args.connections, script=lua(2000, "/promotions"),
                   headers=["Client-Id: x", "Access-Token: y"])
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--latency-connections", type=int, default=4)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--prism", action="store_true")
    args = parser.parse_args()
    work = Path(__import__("tempfile").mkdtemp(prefix="cielo-bench-promo-"))
    DATA.mkdir(parents=True, exist_ok=True)
    report: dict = {"db": {}, "queue": []}
    results = [bare(args.seconds, args.connections, work, "bare FastAPI (before)")]
    backends = []
    if not args.no_sqlite:
        backends.append(("SQLite", DATA / "sqlite", None))
    if args.postgres:
        import asyncpg

        async def ensure() -> None:
            conn = await asyncpg.connect(args.postgres.replace("+asyncpg", ""))
            try:
                if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'cielo_bench_promotions'"):
                    await conn.execute('CREATE DATABASE "cielo_bench_promotions"')
            finally:
                await conn.close()

        asyncio.run(ensure())
        url = normalise_database_url(args.postgres).rsplit("/", 1)[0] + "/cielo_bench_promotions"
        backends.append(("PostgreSQL", DATA / "pg", url))
    for label, data_dir, url in backends:
        print(f"{label}:", file=sys.stderr)
        document = seed(data_dir, url)
        db_url = url or f"sqlite+aiosqlite:///{data_dir / 'cielo.db'}"
        unthrottle(db_url, document["client"]["client_id"])
        report["db"][label] = asyncio.run(db_timings(db_url))
        results += http_suite(label, data_dir, url, document["client"], args, work)
        if url:
            report["queue"] = queue_throughput(url, data_dir, work)
    if args.prism:
        prism_result = prism(args, work)
        if prism_result:
            results.append(prism_result)
    results.append(bare(args.seconds, args.connections, work, "bare FastAPI (after)"))
    baseline = Result("bare FastAPI (mean)", (results[0].rps + results[-1].rps) / 2,
                      (results[0].p50_ms + results[-1].p50_ms) / 2, (results[0].p99_ms + results[-1].p99_ms) / 2, 0, 0)
    print(f"\nwrk -t1 -c{args.connections} -d{args.seconds}s, server on CPU 0, wrk on CPU 1\n")
    print(table([*results, baseline], baseline))
    print("\nCandidate search in process (median; indexed vs the same search as a full scan):")
    for label, rows in report["db"].items():
        for r in rows:
            print(f"  {label:<10} r={r['radius']:>6} m  matches={r['matches']:>6}  indexed {r['indexed_ms']:8.2f} ms"
                  f"  scan {r['scan_ms']:9.1f} ms  ×{r['scan_ms'] / r['indexed_ms']:,.0f}"
                  f"  in memory {r['memory_ms']:6.3f} ms (first load of {r['points']:,} points {r['load_ms']:,.0f} ms)")
    for q in report["queue"]:
        print(f"  queue: {q['workers']} worker(s): {q['requests']} requests in {q['seconds']:.1f} s = "
              f"{q['per_second']:,.0f}/s")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"promotions-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(
        {"http": [r.__dict__ for r in results], "baseline": baseline.__dict__, **report}, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
