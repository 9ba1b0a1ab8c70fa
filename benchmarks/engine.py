"""Transaction ingestion through the campaign engine, and /me/transactions.

    python benchmarks/engine.py [--postgres ADMIN_URL] [--no-sqlite] [--transactions 100000]

For each database kind, three fresh databases populated alike: 10,000 holders with a card
each, 1,000 establishments with a promotion of each of the nine campaign types (active,
subscribed); then 100,000 purchases (each holder mostly at three favourite places, so punches,
visits and spend accumulate), ingested three ways, one database each, in turns (a batch of
each in a rotating order, so that all three see the same moments of a noisy machine):

- plain insert: the same rows written with SQLAlchemy's executemany and no engine (batches of
  1,000; and one row per transaction for the single-call figure) — the goal's baseline;
- plain insert as one statement of arrays: the same rows through insert_columns, the way the
  engine itself writes them, in holder order (the cheapest plain write this project has),
  shown beside it;
- engine: TransactionService.ingest, batched (1,000 per call) and single (one per call).
Figures: transactions/s and p99 per call; the goal is batched ingestion with the engine at
≥ 50% of the plain insert's rate.

Then GET /me/transactions over HTTP (`cielo serve` on CPU 0, wrk on CPU 1) for a holder with
10,000 purchases, 20 per page at random offsets over a year: p50/p99 (goal: p99 < 20 ms),
next to the bare FastAPI endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from _load import Result, bare, cli_env, free_port, start, stop, table, unthrottle, wrk  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from cielo.audit.service import Actor  # noqa: E402
from cielo.config import normalise_database_url  # noqa: E402
from cielo.db import Database, utcnow  # noqa: E402
from cielo.promo.cards.models import Card  # noqa: E402
from cielo.promo.cards.service import CardService  # noqa: E402
from cielo.promo.environments import Environment  # noqa: E402
from cielo.promo.establishments.models import CommercialEstablishment  # noqa: E402
from cielo.promo.holders.models import Holder  # noqa: E402
from cielo.promo.localtime import SAO_PAULO  # noqa: E402
from cielo.promo.promotions.models import Promotion  # noqa: E402
from cielo.promo.sandbox.seed import EXAMPLE_RULES, PREMIUMS  # noqa: E402
from cielo.promo.subscriptions.models import SubscriptionRequest  # noqa: E402
from cielo.promo.transactions.models import Transaction, TransactionReward  # noqa: E402
from cielo.promo.transactions.parsing import amount_cents  # noqa: E402
from cielo.promo.transactions.service import TransactionService  # noqa: E402
from cielo.security.signing import signing_keys_from_settings  # noqa: E402

HOLDERS, ESTABLISHMENTS, SINGLE = 10_000, 1_000, 2_000
ACTOR = Actor(None, "benchmark")


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) >= 100 else max(samples)


async def populate(db: Database, application_id: int) -> tuple[list[int], list[int]]:
    """10,000 holders with a card each, 1,000 establishments with the nine campaign types."""
    now = utcnow()
    rng = random.Random(5)
    async with db.write() as session:
        holder_rows = [{"environment": "sandbox", "cpf_fingerprint": f"bench-{i:058d}", "cpf_encrypted": "-",
                        "name": f"Titular {i}", "email": f"t{i}@example.com",
                        "birthdate": date(1960 + i % 45, 1 + i % 12, 1 + i % 28), "gender": "FEMALE",
                        "phone_area_code": 11, "phone_number": 900000000 + i, "password_hash": "-", "created_at": now}
                       for i in range(HOLDERS)]
        holder_ids = (await session.execute(insert(Holder).returning(Holder.id, sort_by_parameter_order=True),
                                            holder_rows)).scalars().all()
        card_ids = (await session.execute(insert(Card).returning(Card.id, sort_by_parameter_order=True), [
            {"environment": "sandbox", "holder_id": h, "brand": "Visa", "last4": f"{i % 10000:04d}", "pan_length": 16,
             "fingerprint": f"bench{i:059d}", "expiry_month": 12, "expiry_year": 2030, "holder_name": "TITULAR",
             "type": "CREDIT", "status": "STRONG", "created_at": now} for i, h in enumerate(holder_ids)])).scalars().all()
        establishment_ids = (await session.execute(
            insert(CommercialEstablishment).returning(CommercialEstablishment.id, sort_by_parameter_order=True), [
                {"environment": "sandbox", "document_type": "CNPJ", "document": f"{i:014d}", "cnpj_root": f"{i:08d}",
                 "fictitious_name": f"Loja {i}", "business_activity_id": 5812,
                 "latitude": -23.56 + rng.uniform(-0.05, 0.05), "longitude": -46.65 + rng.uniform(-0.05, 0.05),
                 "address": {}, "active": True, "created_at": now, "updated_at": now} for i in range(ESTABLISHMENTS)])
        ).scalars().all()
        promotion_ids = (await session.execute(insert(Promotion).returning(Promotion.id, sort_by_parameter_order=True), [
            {"environment": "sandbox", "establishment_id": e, "title": PREMIUMS[kind], "description": "",
             "campaign_type": kind, "premium": PREMIUMS[kind], "start_date": date(2026, 1, 1),
             "end_date": date(2026, 12, 31), "shareable": False, "active": True,
             "rules": {"dates": ["2026-03-14", "2026-06-12", "2026-10-12"]} if kind == "E" else EXAMPLE_RULES[kind],
             "created_at": now, "updated_at": now}
            for e in establishment_ids for kind in EXAMPLE_RULES])).scalars().all()
        kinds = len(EXAMPLE_RULES)
        since = datetime(2025, 12, 1, tzinfo=timezone.utc)
        await session.execute(insert(SubscriptionRequest), [
            {"environment": "sandbox", "application_id": application_id,
             "establishment_id": establishment_ids[i // kinds], "promotion_id": p, "action": "S",
             "requested_at": since, "processed_at": since, "status": 1} for i, p in enumerate(promotion_ids)])
    return list(card_ids), list(establishment_ids)


def purchases(cards: list[int], establishments: list[int], n: int, seed: int = 11) -> list[dict]:
    """n purchases in time order over 2026, each holder mostly at three favourite places."""
    rng = random.Random(seed)
    favourites = {c: rng.sample(establishments, 3) for c in cards}
    start = datetime(2026, 1, 5, 8, tzinfo=SAO_PAULO)
    step = (datetime(2026, 11, 1, tzinfo=SAO_PAULO) - start) / n
    rows = []
    for i in range(n):
        card = rng.choice(cards)
        place = rng.choice(favourites[card]) if rng.random() < 0.9 else rng.choice(establishments)
        moment = start + step * i
        rows.append({"cardId": card, "commercialEstablishmentId": place, "amount": f"{rng.lognormvariate(3.4, 0.7):.2f}",
                     "occurredAt": moment.isoformat(), "productPrimary": {"id": 1, "description": "Crédito à vista"}})
    return rows


def by_holder(row: dict) -> tuple[int, int]:
    return row["holder_id"], row["establishment_id"]


def plain_rows(raws: list[dict], holder_of: dict[int, int]) -> list[dict]:
    """The same purchases as rows, as an ingestion without the engine would write them."""
    now = utcnow()
    return [{"environment": "sandbox", "kind": "P", "card_id": r["cardId"], "holder_id": holder_of[r["cardId"]],
             "establishment_id": r["commercialEstablishmentId"], "amount_cents": amount_cents(r["amount"]),
             "occurred_at": datetime.fromisoformat(r["occurredAt"]), "product_primary_id": 1,
             "product_primary_description": "Crédito à vista", "product_secondary_id": None,
             "product_secondary_description": None, "external_id": None, "reverses_id": None, "reversed_by_id": None,
             "contains_promotions": False, "created_at": now} for r in raws]


async def interleaved(runs: dict[str, list]) -> dict[str, list[float]]:
    """Each run's calls, taken in rounds: call i of every run, in an order that rotates from
    round to round. The machine's speed drifts by tens of percent over minutes here, so runs
    timed one after the other compare the moments as much as the code; taken in turns, every
    run sees the same moments."""
    names = list(runs)
    laps: dict[str, list[float]] = {name: [] for name in names}
    for i in range(len(runs[names[0]])):
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            t = time.perf_counter()
            await runs[name][i]()
            laps[name].append(time.perf_counter() - t)
    return laps


PLAIN, COLUMNS, ENGINE = "plain insert", "plain insert, one statement of arrays", "engine"


async def ingestion(urls: dict[str, str], data_dir: Path, application_ids: dict[str, int], n: int
                    ) -> tuple[list[dict], dict]:
    """Ingest the same purchases three ways, each into its own database populated alike, in
    turns (``interleaved``): the engine (TransactionService.ingest), and two plain inserts of
    the same rows without it — SQLAlchemy's executemany of the rows (the baseline of the goal)
    and insert_columns (one statement of arrays on PostgreSQL, the driver's executemany of
    tuples on SQLite) in holder order, which is how the engine itself writes them."""
    from cielo.web import runtime
    from cielo.config import Settings
    from cielo.db.lists import insert_columns

    runtime.tune()  # as every cielo process runs (the application factory, the command line)

    dbs = {name: Database(url, pool_size=2) for name, url in urls.items()}
    engine_db = dbs[ENGINE]
    settings = Settings(data_dir=data_dir, database_url=None if urls[ENGINE].startswith("sqlite") else urls[ENGINE])
    service = TransactionService(engine_db, CardService(engine_db, signing_keys_from_settings(settings)))
    try:
        populated = {name: await populate(db, application_ids[name]) for name, db in dbs.items()}
        cards, establishments = populated[ENGINE]
        assert all(ids == populated[ENGINE] for ids in populated.values()), "the databases were populated differently"
        for db in dbs.values():
            await db.analyze()
        async with engine_db.read() as session:
            holder_of = dict((await session.execute(select(Card.id, Card.holder_id))).all())
        raws = purchases(cards, establishments, n)
        plain = plain_rows(raws, holder_of)

        def write_plain(chunk):
            async def call():
                async with dbs[PLAIN].write() as session:
                    await session.execute(insert(Transaction), chunk)
            return call

        def write_columns(chunk):
            async def call():
                rows = sorted(chunk, key=by_holder)  # in the order the engine writes them
                async with dbs[COLUMNS].write() as session:
                    await insert_columns(await session.connection(), Transaction.__table__,
                                         {k: [r[k] for r in rows] for k in rows[0]}, sqlite=dbs[COLUMNS].is_sqlite)
            return call

        def ingest(chunk):
            return lambda: service.ingest(Environment.SANDBOX, chunk, ACTOR)

        def runs(raw_chunks, plain_chunks) -> dict[str, list]:
            return {PLAIN: [write_plain(c) for c in plain_chunks], COLUMNS: [write_columns(c) for c in plain_chunks],
                    ENGINE: [ingest(c) for c in raw_chunks]}

        async with engine_db.read() as session:  # the sandbox's own purchases earned these
            seeded = (await session.execute(select(TransactionReward.campaign_type))).scalars().all()
        rows = []
        laps = await interleaved(runs([raws[i:i + 1000] for i in range(0, n, 1000)],
                                      [plain[i:i + 1000] for i in range(0, n, 1000)]))
        for name, times in laps.items():
            rows.append({"run": f"{name}, batches of 1,000", "tps": n / sum(times), "p99_ms": p99(times) * 1000})
        for db in dbs.values():
            await db.analyze()  # as autovacuum would after a bulk load: stale statistics mislead the planner
        async with engine_db.read() as session:
            earned = (await session.execute(select(TransactionReward.campaign_type))).scalars().all()
        kinds = {k: earned.count(k) - seeded.count(k) for k in sorted(set(earned))}
        extra = purchases(cards, establishments, SINGLE, seed=12)
        for r in extra:  # after the batched ones, in time order
            r["occurredAt"] = (datetime.fromisoformat(r["occurredAt"]) + timedelta(days=300)).isoformat()
        laps = await interleaved(runs([[r] for r in extra], [[r] for r in plain_rows(extra, holder_of)]))
        for name, times in laps.items():
            rows.append({"run": f"{name}, one per call", "tps": SINGLE / sum(times), "p99_ms": p99(times) * 1000})
        return rows, {"rewards_by_type": kinds, "establishments": establishments}
    finally:
        for db in dbs.values():
            await db.dispose()


async def heavy_holder(url: str, holder_card: int, establishments: list[int], count: int = 10_000) -> None:
    """Give one holder ``count`` purchases over the last year (plain rows: only reading is measured)."""
    db = Database(url, pool_size=1)
    try:
        async with db.read() as session:
            holder_id = (await session.execute(select(Card.holder_id).where(Card.id == holder_card))).scalar_one()
        rng = random.Random(3)
        end = datetime.now(timezone.utc)
        raws = [{"cardId": holder_card, "commercialEstablishmentId": rng.choice(establishments), "amount": "12.34",
                 "occurredAt": (end - timedelta(minutes=52 * i + 1)).isoformat()} for i in range(count)]
        rows = plain_rows(raws, {holder_card: holder_id})
        async with db.write() as session:
            for i in range(0, count, 1000):
                await session.execute(insert(Transaction), rows[i:i + 1000])
        await db.analyze()
    finally:
        await db.dispose()


def holder_token(base_url: str, document: dict, holder: dict) -> str:
    from tests.support.panel import Credentials
    from tests.support.promo import tokens_for

    creds = Credentials(0, document["client"]["client_id"], document["client"]["client_secret"])
    with httpx.Client(base_url=base_url, timeout=30) as http:
        return tokens_for(http, creds, redirect_url=document["client"]["redirect_url"], cpf=holder["cpf"],
                          name=holder["name"], email=holder["email"], birthdate=holder["birthdate"],
                          password=holder["password"])["access_token"]


def lua_me(start: str, end: str) -> str:
    offsets = ",".join(str(o) for o in random.Random(9).sample(range(0, 9980, 20), 400))
    return (f"local offsets = {{{offsets}}}\nlocal requests = {{}}\nlocal k = 0\n"
            "init = function(args)\n  for i, o in ipairs(offsets) do\n"
            f"    requests[i] = wrk.format(\"GET\", \"/sandbox/promotions/v1/me/transactions?_offset=\" .. o .. "
            f"\"&_limit=20&start_date={start}&end_date={end}\")\n  end\nend\n"
            "request = function()\n  k = k % #requests + 1\n  return requests[k]\nend\n")


def me_transactions(label: str, data_dir: Path, url: str | None, document: dict, args, work: Path) -> list[Result]:
    port = free_port()
    env = {**cli_env(data_dir, url), "CIELO_QUEUE_CONSUMER": "false"}
    proc = start([sys.executable, "-m", "cielo", "serve", "--port", str(port)], env,
                 f"http://127.0.0.1:{port}/healthz", work / f"serve-{label}.log")
    try:
        token = holder_token(f"http://127.0.0.1:{port}", document, document["holders"][0])
        headers = [f"Client-Id: {document['client']['client_id']}", f"Access-Token: {token}"]
        today = date.today()
        script = lua_me((today - timedelta(days=365)).isoformat(), today.isoformat())
        check = httpx.get(f"http://127.0.0.1:{port}/sandbox/promotions/v1/me/transactions",
                          params={"_offset": 0, "_limit": 20, "start_date": (today - timedelta(days=365)).isoformat(),
                                  "end_date": today.isoformat()},
                          headers=dict(h.split(": ", 1) for h in headers))
        assert check.status_code == 200 and int(check.headers["X-Total-Count"]) >= 10_000, check.text[:300]
        return [wrk(f"{label} /me/transactions -c{c}", f"http://127.0.0.1:{port}", seconds=args.seconds,
                    connections=c, script=script, headers=headers) for c in (1, args.latency_connections, args.connections)]
    finally:
        stop(proc)


async def app_id(url: str, client_id: str) -> int:
    from cielo.promo.developer.models import Application

    db = Database(url, pool_size=1)
    try:
        async with db.read() as session:
            return (await session.execute(select(Application.id).where(Application.client_id == client_id))).scalar_one()
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--latency-connections", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cielo-bench-engine-"))
    # per backend: the engine's database (also served for /me/transactions) and one for each
    # plain insert, all seeded alike
    backends: list[tuple[str, dict[str, tuple[Path, str | None]]]] = []
    suffixes = {ENGINE: "", PLAIN: "_plain", COLUMNS: "_columns"}
    if not args.no_sqlite:
        backends.append(("SQLite", {name: (work / f"sqlite{suffix}", None) for name, suffix in suffixes.items()}))
    if args.postgres:
        import asyncpg

        async def fresh() -> None:
            conn = await asyncpg.connect(args.postgres.replace("+asyncpg", ""))
            try:
                for suffix in suffixes.values():
                    await conn.execute(f'DROP DATABASE IF EXISTS "cielo_bench_engine{suffix}"')
                    await conn.execute(f'CREATE DATABASE "cielo_bench_engine{suffix}"')
            finally:
                await conn.close()

        asyncio.run(fresh())
        server = normalise_database_url(args.postgres).rsplit("/", 1)[0]
        backends.append(("PostgreSQL", {name: (work / f"pg{suffix}", f"{server}/cielo_bench_engine{suffix}")
                                        for name, suffix in suffixes.items()}))
    http_results = [bare(args.seconds, args.connections, work, "bare FastAPI (before)")]
    report = {}
    for label, places in backends:
        print(f"{label}:", file=sys.stderr)
        documents, urls, application_ids = {}, {}, {}
        for name, (data_dir, url) in places.items():
            data_dir.mkdir(mode=0o700, parents=True)  # key files live here: the service refuses others' access
            documents[name] = json.loads(subprocess.run(
                [sys.executable, "-m", "cielo", "sandbox", "seed", "--json"], env=cli_env(data_dir, url),
                capture_output=True, text=True, check=True).stdout)
            urls[name] = url or f"sqlite+aiosqlite:///{data_dir / 'cielo.db'}"
            application_ids[name] = asyncio.run(app_id(urls[name], documents[name]["client"]["client_id"]))
        data_dir, url = places[ENGINE]
        document, db_url = documents[ENGINE], urls[ENGINE]
        rows, facts = asyncio.run(ingestion(urls, data_dir, application_ids, args.transactions))
        report[label] = {"ingestion": rows, "rewards_by_type": facts["rewards_by_type"]}
        asyncio.run(heavy_holder(db_url, document["holders"][0]["cards"][0]["id"], facts["establishments"]))
        unthrottle(db_url, document["client"]["client_id"])
        http_results += me_transactions(label, data_dir, url, document, args, work)
    http_results.append(bare(args.seconds, args.connections, work, "bare FastAPI (after)"))
    baseline = Result("bare FastAPI (mean)", (http_results[0].rps + http_results[-1].rps) / 2,
                      (http_results[0].p50_ms + http_results[-1].p50_ms) / 2,
                      (http_results[0].p99_ms + http_results[-1].p99_ms) / 2, 0, 0)
    print(f"\nIngestion of {args.transactions:,} purchases over {HOLDERS:,} holders and {ESTABLISHMENTS:,} "
          f"establishments, all nine campaign types active (single: {SINGLE:,} calls):")
    for label, data in report.items():
        plain = {r["run"]: r["tps"] for r in data["ingestion"]}
        for r in data["ingestion"]:
            print(f"  {label:<10} {r['run']:<54} {r['tps']:>9,.0f} tx/s   p99 {r['p99_ms']:8.2f} ms per call")
        for how in ("batches of 1,000", "one per call"):
            print(f"  {label:<10} {how}: engine / plain insert {plain[f'{ENGINE}, {how}'] / plain[f'{PLAIN}, {how}']:.2f}"
                  f"   engine / one statement of arrays {plain[f'{ENGINE}, {how}'] / plain[f'{COLUMNS}, {how}']:.2f}")
        print(f"  {label:<10} rewards by campaign type: {data['rewards_by_type']}")
    print(f"\nGET /me/transactions, a holder with 10,000 purchases; wrk -t1 -d{args.seconds}s, "
          "server on CPU 0, wrk on CPU 1\n")
    print(table([*http_results, baseline], baseline))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"engine-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(
        {"ingestion": report, "http": [r.__dict__ for r in http_results]}, indent=2, default=str))


if __name__ == "__main__":
    main()
