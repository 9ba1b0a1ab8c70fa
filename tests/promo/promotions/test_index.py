"""The in-memory search index (promo/promotions/index.py) answers exactly what the database's
spatial index answers, and stays exact while other processes write: incremental re-reads of
the change log, late commits on PostgreSQL, a pruned log, caching turned off."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
from collections import namedtuple
from datetime import date, timedelta

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from cielo.cache import CacheRegistry, RequestMarker, request_marker
from cielo.db import Database
from cielo.promo.environments import Environment
from cielo.promo.establishments.models import CommercialEstablishment
from cielo.promo.pagination import Page
from cielo.promo.promotions import index as index_module
from cielo.promo.promotions.index import ChangeLog, PointIndex
from cielo.promo.promotions.models import CAMPAIGN_TYPES, Promotion
from cielo.promo.promotions.service import (
    SORT_KEYS,
    PromotionService,
    Search,
    distance_json,
)
from tests.support.db import run
from tests.support.promo import PAULISTA

# Clusters where searches get hard: a city, both poles, both sides of the antimeridian, the
# equator on the prime meridian, band edges (multiples of index.BAND_DEGREES, 0.002°).
CENTRES = [(-23.5614, -46.6559), (89.9995, 10.0), (-89.9995, -120.0), (-16.5, 179.9995), (-16.5, -179.9995),
           (0.0, 0.0), (45.06, 7.7)]
TITLES = ["Café", "cafe", "Zebra", "Água", "Promo", "Promo", "Ω deal", "a"]
# Fixed so CI is repeatable; CIELO_FUZZ_SEED draws other data, searches and writes by hand.
SEED = int(os.environ.get("CIELO_FUZZ_SEED", "20261124"))


class Process:
    """What one serving process holds: its own engine, change watcher, caches and index."""

    def __init__(self, url: str) -> None:
        self.db = Database(url, pool_size=2)
        self.caches = CacheRegistry(self.db.watcher)
        self.service = PromotionService(self.db, self.caches)

    async def search(self, search: Search, page: Page, env=Environment.SANDBOX, *, in_memory=True, encoded=False):
        """The service's search; ``encoded``: its JSON, as the API sends it (search_json)."""
        token = request_marker.set(RequestMarker())  # a fresh request, as the middleware does
        try:
            if in_memory:
                assert await self.service.index.ready()
                if encoded:
                    return await self.service.search_json(env, search, page)
                return await self.service.search(env, search, page)
            return await self.service.search_in_database(env, search, page)
        finally:
            request_marker.reset(token)

    async def close(self) -> None:
        await self.db.dispose()


@contextlib.asynccontextmanager
async def processes(settings, count: int):
    made = [Process(settings.resolved_database_url) for _ in range(count)]
    try:
        yield made
    finally:
        for process in made:
            await process.close()


def _search(lat, lon, radius, active=None, types=None, sort=(("distance", False),)) -> Search:
    return Search(lat, lon, radius, active, types, tuple(sort))


async def _seed(db: Database, rng: random.Random, shops: int = 120) -> list[int]:
    async with db.write() as session:
        establishments = []
        for n in range(shops):
            lat0, lon0 = rng.choice(CENTRES)
            lat = max(-90.0, min(90.0, lat0 + rng.uniform(-0.3, 0.3) * rng.random() ** 3))
            lon = lon0 + rng.uniform(-0.3, 0.3) * rng.random() ** 3
            lon = (lon + 540) % 360 - 180
            establishments.append(CommercialEstablishment(
                environment=rng.choice(["sandbox", "sandbox", "production"]), document_type="CNPJ",
                document="11222333000181", fictitious_name=f"Loja {n}", business_activity_id=5812,
                latitude=lat, longitude=lon, active=rng.random() > 0.1))
        session.add_all(establishments)
        await session.flush()
        promotions = []
        for e in establishments:
            for _ in range(rng.randint(0, 4)):  # several at one point: ties in distance, broken by id
                start = date(2026, 1, 1) + timedelta(days=rng.randint(0, 300))
                promotions.append(Promotion(
                    environment=e.environment, establishment_id=e.id, title=rng.choice(TITLES), description="d",
                    campaign_type=rng.choice(CAMPAIGN_TYPES), premium="10%", start_date=start,
                    end_date=start + timedelta(days=rng.randint(0, 60)), active=rng.random() > 0.3, rules={}))
        session.add_all(promotions)
        await session.flush()
        return [p.id for p in promotions]


def _random_search(rng: random.Random) -> tuple[Search, Page]:
    lat, lon = rng.choice(CENTRES)
    lat = max(-90.0, min(90.0, lat + rng.uniform(-0.05, 0.05)))
    lon = (lon + rng.uniform(-0.05, 0.05) + 540) % 360 - 180
    radius = rng.choice([1, 10, 500, 2000, 10_000, 50_000, rng.randint(1, 50_000)])
    keys = rng.sample(SORT_KEYS, rng.randint(1, 3))
    sort = [(k, rng.random() < 0.5) for k in keys]
    types = tuple(rng.sample(CAMPAIGN_TYPES, rng.randint(1, 4))) if rng.random() < 0.3 else None
    active = rng.choice([None, None, True, False])
    page = Page(rng.choice([0, 0, 1, 5, 40, 10_000]), rng.choice([1, 5, 20, 100]))
    return _search(lat, lon, radius, active, types, sort), page


def test_the_index_answers_what_the_database_answers(settings):
    """300 random searches (poles, antimeridian, band edges, every sort key either way, filters,
    pages past the end) give the same items, distances, order and totals both ways."""

    async def go():
        rng = random.Random(SEED)
        async with processes(settings, 1) as (process,):
            await _seed(process.db, rng)
            nonempty = 0
            for _ in range(300):
                search, page = _random_search(rng)
                for env in Environment:
                    memory = await process.search(search, page, env)
                    database = await process.search(search, page, env, in_memory=False)
                    assert memory == database, (search, page, env)
                    body, total = await process.search(search, page, env, encoded=True)  # as the API sends it
                    assert (body, total) == (orjson.dumps(database[0]), database[1])
                    nonempty += bool(memory[0])
            assert nonempty > 100  # the comparison saw real pages, not only empty ones
            assert process.service.index.loads == 1

    run(go())


_Row = namedtuple("_Row", "id environment latitude longitude establishment_active active campaign_type start_date "
                          "end_date title")


def _dense_points(rng: random.Random, n: int = 3000) -> list[tuple[float, float]]:
    """A dense city centre (the searches' screened pass needs many candidates) with repeated
    points (ties in distance) and points on the circles of the searches' radii from PAULISTA
    (distances within a hair of the radius, where the screen cannot decide)."""
    points = []
    for _ in range(n):
        spread = rng.choice([0.002, 0.01, 0.03])
        points.append((PAULISTA[0] + rng.gauss(0, spread), PAULISTA[1] + rng.gauss(0, spread)))
    points += [rng.choice(points) for _ in range(n // 10)]
    for radius in (500, 1000, 2000, 2500):
        for bearing in range(0, 360, 15):
            angle = radius / index_module.EARTH_RADIUS_M
            lat = PAULISTA[0] + math.degrees(angle * math.cos(math.radians(bearing)))
            lon = PAULISTA[1] + math.degrees(angle * math.sin(math.radians(bearing))
                                             / math.cos(math.radians(PAULISTA[0])))
            points.append((lat, lon))
    return points


def _dense_search(rng: random.Random) -> tuple[Search, Page]:
    centre = PAULISTA if rng.random() < 0.5 else (PAULISTA[0] + rng.uniform(-0.01, 0.01),
                                                  PAULISTA[1] + rng.uniform(-0.01, 0.01))
    radius = rng.choice([500, 1000, 2000, 2500, rng.randint(50, 20_000)])
    keys = ["distance"] + rng.sample([k for k in SORT_KEYS if k != "distance"], rng.randint(0, 2))
    rng.shuffle(keys) if rng.random() < 0.3 else None
    sort = [(k, rng.random() < 0.5) for k in keys]
    types = tuple(rng.sample(CAMPAIGN_TYPES, rng.randint(1, 4))) if rng.random() < 0.2 else None
    active = rng.choice([None, None, True, False])
    page = Page(rng.choice([0, 0, 0, 1, 19, 20, 300, 5000]), rng.choice([1, 5, 20, 100]))
    return _search(*centre, radius, active, types, sort), page


def test_the_screened_pass_answers_what_the_full_haversine_answers(monkeypatch):
    """In memory, dense data: the screened search (estimate first, haversine near the radius
    and for the page) gives the same pages, distances and totals as the haversine of every
    candidate, including points within a hair of the radius and ties in distance."""
    rng = random.Random(SEED)
    rows = [_Row(n + 1, "sandbox", lat, lon, True, rng.random() > 0.3, rng.choice(CAMPAIGN_TYPES),
                 date(2026, 1, 1) + timedelta(days=rng.randint(0, 30)), date(2026, 3, 1) + timedelta(days=rng.randint(0, 30)),
                 rng.choice(TITLES))
            for n, (lat, lon) in enumerate(_dense_points(rng))]
    points = PointIndex()
    points.replace(rows)
    screened_error = index_module._screening_error
    screened = 0
    for _ in range(400):
        search, page = _dense_search(rng)
        monkeypatch.setattr(index_module, "_screening_error", screened_error)
        fast = points.search("sandbox", search, page.offset, page.limit)
        screened += screened_error(index_module.boxes(search.latitude, search.longitude, search.radius),
                                   search.latitude, search.longitude) is not None
        monkeypatch.setattr(index_module, "_screening_error", lambda *args: None)
        assert fast == points.search("sandbox", search, page.offset, page.limit), (search, page)
    assert screened > 300


def _on_circle(centre: tuple[float, float], radius: float, bearing: float) -> list[tuple[float, float]]:
    """Two points on a ray from ``centre``: the last whose distance (as the index computes it)
    is within ``radius`` and the first beyond it — a hair either side of the circle, where only
    the exact haversine can tell them apart."""
    lat0, lon0 = centre
    cos0 = math.cos(math.radians(lat0))

    def point(t: float) -> tuple[float, float]:
        return (lat0 + math.degrees(t * math.cos(math.radians(bearing))),
                lon0 + math.degrees(t * math.sin(math.radians(bearing)) / cos0))

    def distance(t: float) -> float:
        lat, lon = point(t)
        return index_module._haversine(lat, lon, math.cos(math.radians(lat)), lat0, lon0, cos0)

    inside, outside = 0.0, 2 * radius / index_module.EARTH_RADIUS_M
    for _ in range(200):
        middle = (inside + outside) / 2
        if middle in (inside, outside):
            break
        inside, outside = (middle, outside) if distance(middle) <= radius else (inside, middle)
    return [point(inside), point(outside)]


def test_the_screen_decides_exactly_on_the_circle(monkeypatch):
    """Points a hair inside and outside circles around one centre (the estimate's own error is
    larger than their distance to the circle), several at one point: every page of searches
    whose radius or page boundary falls on those circles is what the haversine of every
    candidate gives — the screen's bound and its spread at the page's edge both matter here."""
    rng = random.Random(SEED + 2)
    points = [p for radius in (500, 1000, 2000) for bearing in range(0, 360, 10) for p in _on_circle(PAULISTA, radius, bearing)]
    points += [rng.choice(points) for _ in range(40)]
    rows = [_Row(n + 1, "sandbox", lat, lon, True, True, "G", date(2026, 1, 1), date(2026, 2, 1), "t")
            for n, (lat, lon) in enumerate(points)]
    index = PointIndex()
    index.replace(rows)
    screened_error = index_module._screening_error
    for radius in (500, 1000, 2000, 2500):
        search = _search(*PAULISTA, radius)
        assert screened_error(index_module.boxes(*PAULISTA, radius), *PAULISTA) is not None
        for offset in range(0, len(points), 3):
            for descending in (False, True):
                search = _search(*PAULISTA, radius, sort=[("distance", descending)])
                monkeypatch.setattr(index_module, "_screening_error", screened_error)
                fast = index.search("sandbox", search, offset, 3)
                monkeypatch.setattr(index_module, "_screening_error", lambda *args: None)
                assert fast == index.search("sandbox", search, offset, 3), (radius, offset, descending)
    monkeypatch.setattr(index_module, "_screening_error", screened_error)
    # each circle keeps exactly its inside points (and their repeats)
    inside = index.search("sandbox", _search(*PAULISTA, 1000), 0, 1).total
    assert inside == sum(1 for lat, lon in points
                         if index_module._haversine(lat, lon, math.cos(math.radians(lat)), *PAULISTA,
                                                    math.cos(math.radians(PAULISTA[0]))) <= 1000)


def test_changes_slotted_in_give_the_index_a_fresh_load_gives(monkeypatch):
    """Rounds of random changes applied to the index (a few points slotted into the sorted
    columns, or many re-sorted; moves, deletions, repeated points and longitudes) leave it
    exactly as loading the same promotions afresh: same columns in the same order, same pages."""
    rng = random.Random(SEED + 3)
    current = {}

    def row(promotion_id: int) -> _Row:
        lat, lon = rng.choice(CENTRES) if rng.random() < 0.2 else (PAULISTA[0] + rng.uniform(-0.01, 0.01),
                                                                  PAULISTA[1] + rng.uniform(-0.01, 0.01))
        if current and rng.random() < 0.3:  # the point (or the longitude) of another promotion
            other = rng.choice(list(current.values()))
            lat, lon = (other.latitude, other.longitude) if rng.random() < 0.5 else (lat, other.longitude)
        return _Row(promotion_id, rng.choice(["sandbox", "production"]), lat, lon, rng.random() > 0.05,
                    rng.random() > 0.3, rng.choice(CAMPAIGN_TYPES), date(2026, 1, 1), date(2026, 2, 1), "t")

    index = PointIndex()
    for promotion_id in range(1, 301):
        current[promotion_id] = row(promotion_id)
    index.replace(list(current.values()))
    for round_ in range(40):
        changed = rng.sample(sorted(current), rng.randint(0, 10))
        changed += [max(current) + n + 1 for n in range(rng.choice([0, 1, 5, 300]))]  # the last: re-sorted
        rows = []
        for promotion_id in changed:
            if promotion_id in current and rng.random() < 0.3:
                del current[promotion_id]
            else:
                current[promotion_id] = row(promotion_id)
                rows.append(current[promotion_id])
        index.apply(changed, rows)
        fresh = PointIndex()
        fresh.replace(list(current.values()))
        assert index._layers.keys() == fresh._layers.keys()
        for env, layer in fresh._layers.items():
            for name in ("ids", "lat", "lon", "category", "band", "starts", "cos_lat"):
                assert np.array_equal(getattr(index._layers[env], name), getattr(layer, name)), (round_, env, name)
            assert index._layers[env].kmin == layer.kmin
        for _ in range(5):
            search, page = _dense_search(rng)
            assert index.search("sandbox", search, page.offset, page.limit) == \
                fresh.search("sandbox", search, page.offset, page.limit)


def test_dense_searches_answer_what_the_database_answers(settings):
    """The same dense data in the database: the screened pass against the database's own
    haversine, on each database."""

    async def go():
        rng = random.Random(SEED + 1)
        async with processes(settings, 1) as (process,):
            async with process.db.write() as session:
                shops = [CommercialEstablishment(
                    environment="sandbox", document_type="CNPJ", document="11222333000181",
                    fictitious_name=f"Loja {n}", business_activity_id=5812, latitude=lat, longitude=lon, active=True)
                    for n, (lat, lon) in enumerate(_dense_points(rng, 1500))]
                session.add_all(shops)
                await session.flush()
                session.add_all([Promotion(
                    environment="sandbox", establishment_id=e.id, title=rng.choice(TITLES), description="d",
                    campaign_type=rng.choice(CAMPAIGN_TYPES), premium="10%", start_date=date(2026, 1, 1),
                    end_date=date(2026, 2, 1) + timedelta(days=rng.randint(0, 9)), active=rng.random() > 0.3, rules={})
                    for e in shops])
            for _ in range(120):
                search, page = _dense_search(rng)
                memory = await process.search(search, page)
                assert memory == await process.search(search, page, in_memory=False), (search, page)

    run(go())


def test_the_index_follows_random_writes_of_another_process(settings):
    """Rounds of random writes by another process (moves, closings, deletions, new
    promotions, changed types, dates and titles), each followed by searches compared with the
    database: all through the change log, never a whole reload."""

    async def go():
        rng = random.Random(SEED + 99)
        async with processes(settings, 2) as (reader, writer):
            ids = await _seed(writer.db, rng, shops=60)
            await reader.search(_search(0.0, 0.0, 1), Page(0, 1))
            for _ in range(8):
                async with writer.db.write() as session:
                    shops = (await session.execute(select(CommercialEstablishment.id))).scalars().all()
                    for _ in range(rng.randint(1, 6)):
                        lat, lon = rng.choice(CENTRES)
                        await session.execute(update(CommercialEstablishment)
                                              .where(CommercialEstablishment.id == rng.choice(shops))
                                              .values(latitude=lat, longitude=lon, active=rng.random() > 0.2))
                    await session.execute(update(Promotion).where(Promotion.id.in_(rng.sample(ids, 10))).values(
                        campaign_type=rng.choice(CAMPAIGN_TYPES), title=rng.choice(TITLES), active=rng.random() > 0.5,
                        start_date=date(2026, 3, 1), end_date=date(2026, 4, rng.randint(1, 30))))
                    await session.execute(update(CommercialEstablishment)
                                          .where(CommercialEstablishment.id == rng.choice(shops))
                                          .values(fictitious_name=f"Loja {rng.random():.6f}"))
                    doomed = rng.sample(ids, 3)
                    await session.execute(delete(Promotion).where(Promotion.id.in_(doomed)))
                    ids = [i for i in ids if i not in doomed]
                ids += await _seed(writer.db, rng, shops=3)
                for _ in range(25):
                    search, page = _random_search(rng)
                    assert await reader.search(search, page) == await reader.search(search, page, in_memory=False)
            assert reader.service.index.loads == 1

    run(go())


def test_writes_of_other_processes_are_seen_at_once_without_reloading(settings):
    async def go():
        rng = random.Random(7)
        async with processes(settings, 2) as (reader, writer):
            ids = await _seed(writer.db, rng)
            near = _search(-23.5614, -46.6559, 50_000)
            page = Page(0, 1000)

            async def same() -> list[int]:
                memory = await reader.search(near, page)
                assert memory == await reader.search(near, page, in_memory=False)
                return [item["id"] for item in memory[0]]

            before = await same()
            assert before
            victim = before[0]

            def shop_of(promotion_id):
                return select(Promotion.establishment_id).where(Promotion.id == promotion_id).scalar_subquery()

            steps = [
                update(Promotion).where(Promotion.id == victim).values(title="Renamed", active=False),
                delete(Promotion).where(Promotion.id == before[1]),
                # an establishment that moves far away takes its promotions out of the search
                update(CommercialEstablishment).where(CommercialEstablishment.id == shop_of(before[2]))
                .values(latitude=10.0, longitude=10.0),
                update(CommercialEstablishment).where(CommercialEstablishment.id == shop_of(before[2]))
                .values(latitude=-23.56, longitude=-46.65),
                update(Promotion).where(Promotion.id.in_(ids[:10])).values(campaign_type="W"),
                # what an answer shows of the establishment: its name and business activity
                update(CommercialEstablishment).where(CommercialEstablishment.id == shop_of(before[3]))
                .values(fictitious_name="Renomeada", business_activity_id=5999),
            ]
            for step in steps:
                async with writer.db.write() as session:
                    await session.execute(step)
                await same()
            async with writer.db.write() as session:
                shop = CommercialEstablishment(environment="sandbox", document_type="CPF", document="52998224725",
                                               fictitious_name="Nova", business_activity_id=1, latitude=-23.5615,
                                               longitude=-46.6560)
                session.add(shop)
                await session.flush()
                fresh = Promotion(environment="sandbox", establishment_id=shop.id, title="Nova", description="",
                                  campaign_type="G", premium="x", start_date=date(2026, 1, 1),
                                  end_date=date(2026, 2, 1), rules={})
                session.add(fresh)
            assert fresh.id in await same()
            async with writer.db.write() as session:
                await session.execute(update(CommercialEstablishment).where(CommercialEstablishment.id == shop.id)
                                      .values(active=False))
            assert fresh.id not in await same()
            assert reader.service.index.loads == 1  # every change above came through the log

    run(go())


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])  # SQLite's writers
def test_a_transaction_that_commits_late_is_not_skipped(settings):  # take turns: their log order is commit order
    """PostgreSQL commits out of order: a promotion written by a transaction that began before
    the reader's look but committed after it (and after a later transaction) still arrives."""
    async def go():
        async with processes(settings, 2) as (reader, writer):
            await _seed(writer.db, random.Random(3), shops=10)
            near = _search(-23.5614, -46.6559, 50_000)
            page = Page(0, 1000)
            await reader.search(near, page)
            async with writer.db.write() as session:
                shop = CommercialEstablishment(environment="sandbox", document_type="CPF", document="52998224725",
                                               fictitious_name="Late", business_activity_id=1, latitude=-23.5615,
                                               longitude=-46.6560)
                session.add(shop)
            slow = writer.db.engine.connect()
            conn = await slow.__aenter__()
            transaction = await conn.begin()
            await conn.execute(text(
                "INSERT INTO promotions (environment, establishment_id, title, description, campaign_type, premium, "
                "start_date, end_date, shareable, active, rules, created_at, updated_at) VALUES ('sandbox', :shop, "
                "'Late', '', 'G', 'x', '2026-01-01', '2026-02-01', false, true, '{}', now(), now())"), {"shop": shop.id})
            late = (await conn.execute(text("SELECT currval('promotions_id_seq')"))).scalar_one()
            async with writer.db.write() as session:  # a later transaction commits first
                await session.execute(update(Promotion).where(Promotion.title != "Late").values(premium="y"))
            first = [item["id"] for item in (await reader.search(near, page))[0]]
            assert late not in first
            await transaction.commit()
            await slow.__aexit__(None, None, None)
            second = await reader.search(near, page)
            assert late in [item["id"] for item in second[0]]
            assert second == await reader.search(near, page, in_memory=False)
            assert reader.service.index.loads == 1

    run(go())


def test_a_pruned_log_makes_a_reader_behind_it_load_again(settings):
    async def go():
        async with processes(settings, 2) as (reader, other):
            ids = await _seed(other.db, random.Random(11))
            near = _search(-23.5614, -46.6559, 50_000)
            page = Page(0, 1000)
            await reader.search(near, page)
            async with other.db.write() as session:
                await session.execute(update(Promotion).where(Promotion.id.in_(ids[:20])).values(active=False))
            await other.search(near, page)  # the other process's position is past that change
            # On PostgreSQL a transaction still open elsewhere on the server (another test
            # worker's) can hold both positions at one xmin; the reader must then still be
            # answered from the log, so prune past the reader's position to test the reload.
            upto = max(other.service.index._position, reader.service.index._position + 1)
            await ChangeLog(other.db).prune(upto)
            below = "seq <= :upto" if other.db.is_sqlite else "xid < :upto"
            async with other.db.read() as session:
                left = (await session.execute(text(f"SELECT count(*) FROM promotion_changes WHERE {below}"),
                                              {"upto": upto})).scalar_one()
                horizon = (await session.execute(text("SELECT upto FROM promotion_changes_horizon"))).scalar_one()
            assert left == 0 and horizon == upto
            result = await reader.search(near, page)
            assert reader.service.index.loads == 2  # behind the horizon: loaded whole again
            assert result == await reader.search(near, page, in_memory=False)

    run(go())


def test_the_log_is_kept_pruned_a_retention_behind(settings):
    """keep_pruned forgets what came before the position it noted a retention ago (here: at
    once), and a process behind that horizon still answers exactly."""

    async def go():
        async with processes(settings, 2) as (process, writer):
            ids = await _seed(writer.db, random.Random(5), shops=20)
            near = _search(-23.5614, -46.6559, 50_000)
            await process.search(near, Page(0, 10))
            async with writer.db.write() as session:
                await session.execute(update(Promotion).where(Promotion.id.in_(ids)).values(premium="z", active=False))
            stop = asyncio.Event()
            pruner = asyncio.ensure_future(ChangeLog(writer.db).keep_pruned(stop, retention_s=0.0))
            behind = process.service.index._position
            below = "seq <= upto" if writer.db.is_sqlite else "xid < upto"
            for _ in range(250):  # on PostgreSQL another worker's open transaction may hold xmin back a while
                await asyncio.sleep(0.02)
                async with writer.db.read() as session:
                    horizon, left = (await session.execute(text(
                        "SELECT upto, (SELECT count(*) FROM promotion_changes, promotion_changes_horizon h "
                        f"WHERE {below.replace('upto', 'h.upto')}) FROM promotion_changes_horizon"))).one_or_none() or (0, 1)
                if horizon > behind and left == 0:
                    break
            stop.set()
            await pruner
            assert horizon and left == 0  # pruned, and the horizon says up to where
            result = await process.search(near, Page(0, 10))
            assert result == await process.search(near, Page(0, 10), in_memory=False)
            # a transaction held open elsewhere on the server for the whole wait keeps xmin, so
            # the horizon, behind the reader: then it rightly reads the log instead of reloading
            assert process.service.index.loads == (2 if horizon > behind else 1)

    run(go())


def test_with_caching_off_every_search_goes_to_the_database(settings):
    from cielo.app import create_app

    assert create_app(settings.model_copy(update={"cache": False})).state.services.promotions.index is None
    assert create_app(settings.model_copy(update={"search_index": False})).state.services.promotions.index is None
    assert create_app(settings).state.services.promotions.index is not None


@pytest.mark.timeout(60)  # the failure this guards against is a loop that never yields
def test_a_request_arriving_as_a_sync_finishes_starts_the_next_one(settings):
    """A request of a newer generation that finds the previous sync finished, before that
    sync's done-callback has cleared it, starts the next sync. The index once awaited the
    finished task again and again without ever yielding: the server stopped answering under
    searches while another process kept committing (found by a mixed-load run)."""

    async def go():
        async with processes(settings, 2) as (reader, writer):
            await _seed(writer.db, random.Random(SEED + 7), shops=20)
            near = _search(-23.5614, -46.6559, 50_000)
            first = (await reader.search(near, Page(0, 1)))[0][0]["id"]
            index = reader.service.index
            async with writer.db.write() as session:
                await session.execute(update(Promotion).where(Promotion.id == first).values(title="Newer"))
            finished = asyncio.get_running_loop().create_future()
            finished.set_result(None)
            index._task = finished  # finished, its done-callback not yet run
            memory = await reader.search(near, Page(0, 50))  # a new generation: must sync, not spin
            assert memory == await reader.search(near, Page(0, 50), in_memory=False)
            assert "Newer" in [p["title"] for p in memory[0]]

    run(go())


def test_concurrent_searches_while_another_process_keeps_committing(settings):
    """Searches in flight across generations all complete and stay exact."""

    async def go():
        rng = random.Random(SEED + 7)
        async with processes(settings, 2) as (reader, writer):
            ids = await _seed(writer.db, rng, shops=40)
            near = _search(-23.5614, -46.6559, 50_000)
            await reader.search(near, Page(0, 5))
            done = 0

            async def keep_committing():
                for n in range(60):
                    async with writer.db.write() as session:
                        await session.execute(update(Promotion).where(Promotion.id == ids[n % len(ids)])
                                              .values(premium=f"p{n}"))
                    await asyncio.sleep(0)

            async def search_a_lot():
                nonlocal done
                for _ in range(10):
                    await asyncio.gather(*(reader.search(near, Page(0, 5)) for _ in range(12)))
                    done += 12

            await asyncio.wait_for(asyncio.gather(keep_committing(), search_a_lot()), timeout=60)
            assert done == 120
            assert await reader.search(near, Page(0, 50)) == await reader.search(near, Page(0, 50), in_memory=False)

    run(go())


@given(st.lists(st.floats(0, 1e6, allow_nan=False) | st.sampled_from([0.0, 1.0, 2.0]), min_size=1, max_size=300),
       st.data())
@hypothesis_settings(max_examples=300, deadline=None)
def test_the_kth_smallest_is_the_sorted_values_kth(values, data):
    """The page's edge: the compiled k-th smallest (a heap for a page's few, a partition past
    64) is the k-th of the sorted values, repeats included."""
    k = data.draw(st.integers(1, len(values)))
    assert index_module._kth_smallest(np.array(values, np.float64), k) == sorted(values)[k - 1]


@given(st.floats(0, 60_000, allow_nan=False) | st.sampled_from([0.0, 0.05, 0.15, 0.25, 1234.45, 49_999.95, 2.5e-324]))
@hypothesis_settings(max_examples=2000, deadline=None)
def test_a_distance_is_written_as_json_writes_its_tenth(distance):
    assert distance_json(distance) == orjson.dumps(round(distance, 1)) + b"},"
