"""The promotions' points in memory, one copy per process: a search near a point answered
without a round trip to the database, and exactly what the database would answer.

Why: through the database a 2 km search costs ~2 ms of its work (the index-only scan of
~1,200 candidates, their distances, count, sort, page) and ~0.3 ms of driver per answer
(docs/PERFORMANCE.md). Here the candidates' distances are one vectorised numpy pass.

Structure: the points of each environment are cut into latitude bands of ``BAND_DEGREES``;
inside a band they are sorted by longitude, so the candidates of a search's bounding boxes
(geo.boxes, shared with the database path) are one binary search per band. Then the same
haversine as the SQL, the same filters and the same order (ties by id), so both paths give
the same pages (tests hold them equal).

Screening: the haversine's trigonometry was most of a search. Where the boxes are small and
away from the poles and the antimeridian, each candidate first gets a trigonometry-free
estimate whose relative error is proven below η (``_screening_error``); the haversine is then
computed only for the points the estimate cannot place inside or outside the radius, and for
those that can reach the page (within η of the page's last estimate, ties included). The
answer is the one the haversine of every candidate gives, float for float.

Exactness — the index is never stale, in any process:
- It is loaded whole on first use, inside one snapshot that also gives the position of the
  change log (``promotion_changes``, written by triggers on every write of a promotion,
  migration 0012).
- After any commit anywhere (the read caches' watcher moves the generation, cache.py), the
  next search first re-reads the promotions logged since that position. A process with caching
  off, or a request outside the middleware, searches in the database instead.
- On PostgreSQL the position is the oldest transaction still running at the snapshot
  (``pg_snapshot_xmin``): the next look reads the log from there, so a transaction that
  commits late is never skipped. On SQLite, whose writers take turns, the log's sequence is
  the order of commits.
- The log is pruned an hour behind (``ChangeLog.keep_pruned``, run by every ``cielo serve``);
  a process whose last look is older than the pruned horizon loads everything again.

The page's bodies are kept too (``SearchIndex.bodies``), dropped by the same log, so constant
commits elsewhere do not send every page back to the database.

Memory: numpy columns only (about 60 bytes a promotion, titles shared when repeated): the
large sandbox's 100,180 promotions take ~6 MB per process. A change rebuilds the arrays of
the bands it touches (well under 1 ms: the densest holds ~3,000 points).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import numpy as np
from sqlalchemy import text

from cielo.cache import CacheRegistry, RequestMarker, request_marker
from cielo.db import Database
from cielo.promo.promotions.geo import EARTH_RADIUS_M, boxes
from cielo.promo.promotions.models import CAMPAIGN_TYPES

log = logging.getLogger(__name__)

BAND_DEGREES = 0.02  # ~2.2 km: a 2 km search reads two or three bands, a 50 km one about fifty
RETENTION_S = 3600.0  # the change log keeps an hour; a process idle longer loads again
_TYPE_CODE = {code: i for i, code in enumerate(CAMPAIGN_TYPES)}
_HALF_RAD = math.pi / 360
_TWO_R = 2 * EARTH_RADIUS_M

_COLUMNS = "p.id, p.environment, p.latitude, p.longitude, p.establishment_active, p.active, p.campaign_type, " \
           "p.start_date, p.end_date, p.title"


_FIELDS = ("ids", "lat", "lon", "active", "type_code", "start", "end", "titles")


@dataclass(slots=True)
class _Band:
    """The points of one latitude band of one environment, as columns in longitude order
    (ties by id). Changes rebuild the band's arrays from arrays: no Python object per point."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    active: np.ndarray
    type_code: np.ndarray
    start: np.ndarray  # date ordinals
    end: np.ndarray
    titles: np.ndarray  # objects (str): only a sort by title reads them
    cos_lat: np.ndarray

    @classmethod
    def of(cls, columns: dict[str, np.ndarray]) -> "_Band":
        order = np.lexsort((columns["ids"], columns["lon"]))
        lat = columns["lat"][order]
        return cls(**{name: columns[name][order] for name in _FIELDS if name != "lat"}, lat=lat,
                   cos_lat=np.cos(lat * (2 * _HALF_RAD)))

    def columns(self, keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) if keep is None else getattr(self, name)[keep] for name in _FIELDS}


def _columns(rows: list) -> dict[str, np.ndarray]:
    """Searchable rows (columns of ``_COLUMNS``) as arrays."""
    n = len(rows)
    titles = np.empty(n, dtype=object)
    titles[:] = [sys.intern(r.title) for r in rows]  # seeded and chain promotions repeat titles
    return {
        "ids": np.fromiter((r.id for r in rows), np.int64, n),
        "lat": np.fromiter((r.latitude for r in rows), np.float64, n),
        "lon": np.fromiter((r.longitude for r in rows), np.float64, n),
        "active": np.fromiter((bool(r.active) for r in rows), np.bool_, n),
        "type_code": np.fromiter((_TYPE_CODE[r.campaign_type] for r in rows), np.int8, n),
        "start": np.fromiter((_ordinal(r.start_date) for r in rows), np.int64, n),
        "end": np.fromiter((_ordinal(r.end_date) for r in rows), np.int64, n),
        "titles": titles,
    }


class Hits(NamedTuple):
    ids: list[int]  # the page, in order
    distances: list[float]
    total: int


class PointIndex:
    """The points of every searchable promotion (its establishment open, its point known)."""

    def __init__(self) -> None:
        self._bands: dict[tuple[str, int], _Band] = {}

    def __len__(self) -> int:
        return sum(band.ids.size for band in self._bands.values())

    def replace(self, rows: list) -> None:
        """Everything, from the rows of promotions (any order; unsearchable ones left out)."""
        self._bands = {}
        self._add([r for r in rows if _searchable(r)])

    def apply(self, changed: list[int], rows: list) -> None:
        """``changed`` promotions are now as ``rows`` say (those absent were deleted)."""
        gone = np.unique(np.fromiter(changed, np.int64, len(changed)))
        for key, band in list(self._bands.items()):
            if gone.size <= 8:  # np.isin costs ~12 µs a call, a comparison ~1.5: every band is asked
                hit = band.ids == gone[0]
                for promotion_id in gone[1:]:
                    hit |= band.ids == promotion_id
                stays = ~hit
            else:
                stays = ~np.isin(band.ids, gone)
            if not stays.all():
                if stays.any():
                    self._bands[key] = _Band.of(band.columns(stays))
                else:
                    del self._bands[key]
        self._add([r for r in rows if _searchable(r)])

    def _add(self, rows: list) -> None:
        if not rows:
            return
        columns = _columns(rows)
        environments = sorted({r.environment for r in rows})
        env_of = np.fromiter((environments.index(r.environment) for r in rows), np.int64, len(rows))
        band_of = np.floor(columns["lat"] / BAND_DEGREES).astype(np.int64)
        group = np.lexsort((band_of, env_of))
        env_sorted, band_sorted = env_of[group], band_of[group]
        cuts = np.flatnonzero((np.diff(env_sorted) != 0) | (np.diff(band_sorted) != 0)) + 1
        for part in np.split(group, cuts):
            key = (environments[int(env_of[part[0]])], int(band_of[part[0]]))
            added = {name: values[part] for name, values in columns.items()}
            old = self._bands.get(key)
            if old is not None:
                added = {name: np.concatenate((old_values, added[name])) for name, old_values in old.columns().items()}
            self._bands[key] = _Band.of(added)

    def search(self, environment: str, search, offset: int, limit: int) -> Hits:
        """The page of ``search`` (promotions.service.Search) as the database would give it."""
        lat_0, lon_0, radius = search.latitude, search.longitude, search.radius
        box_list = boxes(lat_0, lon_0, radius)
        lat0, lat1 = box_list[0][:2]  # every box has the same latitudes
        bands = self._bands
        spans: list[tuple[_Band, int, int]] = []  # each band's candidates: positions i:j
        for _, _, lon0, lon1 in box_list:
            for b in range(_band_of(lat0), _band_of(lat1) + 1):
                band = bands.get((environment, b))
                if band is not None:
                    i, j = int(band.lon.searchsorted(lon0, "left")), int(band.lon.searchsorted(lon1, "right"))
                    if i < j:
                        spans.append((band, i, j))
        if not spans:
            return Hits([], [], 0)
        c = _Candidates(spans)
        lat, lon, cos_lat = c.column("lat"), c.column("lon"), c.column("cos_lat")
        point = (lat_0, lon_0, math.cos(math.radians(lat_0)))
        eta = _screening_error(box_list, lat_0, lon_0) if lat.size >= 64 else None
        if eta is None:
            distance = _haversine(lat, lon, cos_lat, *point)
            near = np.flatnonzero(distance <= radius)
            q = None
        else:
            # Screened: a cheap estimate of each distance with a proven error bound decides
            # most points; the haversine is computed only where the estimate cannot decide
            # (near the radius) and for the points that can reach the page.
            q = _screen(lat, lon, cos_lat, *point)
            limit_q = radius / _TWO_R
            near = np.flatnonzero(q <= (limit_q / (1 - eta)) ** 2)
        near_lat = lat[near]
        keep = near_lat >= lat0  # the database's box, exactly
        keep &= near_lat <= lat1
        if search.active is not None:
            keep &= c.column("active")[near] == search.active
        if search.types:
            allowed = np.zeros(len(CAMPAIGN_TYPES), np.bool_)
            allowed[[_TYPE_CODE[t] for t in search.types]] = True
            keep &= allowed[c.column("type_code")[near]]
        near = near[keep]
        if q is not None:
            unsure = np.flatnonzero(q[near] > (limit_q / (1 + eta)) ** 2)
            if unsure.size:
                u = near[unsure]
                outside = unsure[_haversine(lat[u], lon[u], cos_lat[u], *point) > radius]
                if outside.size:
                    near = np.delete(near, outside)
        total = int(near.size)
        if offset >= total:
            return Hits([], [], total)
        first = offset + limit
        key, descending = search.sort[0]
        if q is not None and key == "distance" and first < total:
            # Only the points whose estimate is within the bound of the first-th one can be on
            # the page or tie with it: the exact order is needed among those alone.
            qn = q[near]
            spread = ((1 + eta) / (1 - eta)) ** 2
            if descending:
                kth = np.partition(qn, total - first)[total - first]
                near = near[qn >= kth / spread]
            else:
                kth = np.partition(qn, first - 1)[first - 1]
                near = near[qn <= kth * spread]
        ids = c.column("ids")[near]
        distances = _haversine(lat[near], lon[near], cos_lat[near], *point) if q is not None else distance[near]

        def column(key: str) -> np.ndarray:
            if key == "distance":
                return distances
            return ids if key == "id" else c.column(_SORT_FIELDS[key])[near]

        order = _order(search.sort, column, ids, first)[offset:offset + limit]
        return Hits(ids[order].tolist(), distances[order].tolist(), total)


def _haversine(lat: np.ndarray, lon: np.ndarray, cos_lat: np.ndarray, lat_0: float, lon_0: float,
               cos_lat0: float) -> np.ndarray:
    """The haversine of service._distance, term for term and in the same order, in place for
    fewer temporaries. The floats are the database's but for numpy's arcsin, which differs
    from the C library's (the databases') in the last bit for ~0.4% of arguments: ~1e-12 m,
    below the answers' 0.1 m, and only a point that close to the radius could fall apart."""
    a = lat - lat_0
    a *= _HALF_RAD
    np.sin(a, out=a)
    a *= a
    b = cos_lat0 * cos_lat
    sin_dlon = lon - lon_0
    sin_dlon *= _HALF_RAD
    np.sin(sin_dlon, out=sin_dlon)
    b *= sin_dlon
    b *= sin_dlon
    a += b
    np.sqrt(a, out=a)
    np.minimum(1.0, a, out=a)
    np.arcsin(a, out=a)
    a *= _TWO_R
    return a


def _screen(lat: np.ndarray, lon: np.ndarray, cos_lat: np.ndarray, lat_0: float, lon_0: float,
            cos_lat0: float) -> np.ndarray:
    """q = (dphi/2)^2 + cos(phi0) cos(phi) (dlambda/2)^2: the haversine's ``a`` with sin x taken
    as x, so that 2R·sqrt(q) estimates the distance (no trigonometry: ~4x cheaper)."""
    q = lat - lat_0
    q *= _HALF_RAD
    q *= q
    w = lon - lon_0
    w *= _HALF_RAD
    w *= w
    w *= cos_lat
    w *= cos_lat0
    q += w
    return q


_MAX_SCREEN_HALF_ANGLE = 0.05  # radians (~2.9°): the bound below stays under 1%


def _screening_error(box_list, lat_0: float, lon_0: float) -> float | None:
    """η such that every candidate's distance d (as _haversine computes it) and its estimate
    d̃ = 2R·sqrt(_screen) satisfy d̃(1-η) <= d <= d̃(1+η); None when no useful bound holds
    (the boxes wrap the antimeridian or reach a pole, or are too wide).

    With x = the largest half-angle (dphi/2 or dlambda/2) of any candidate: x²(1 - x²/3) <= sin²x
    <= x², so a is within q(1 - x²/3) and q; sqrt(1-u) >= 1-u gives d >= d̃(1 - x²/3); asin y <=
    y/sqrt(1-y²) <= y(1+y²) for y² <= 1/2, with y² = a <= q <= 2x², gives d <= d̃(1 + 2x²). The
    floats' own rounding (~1e-15 relative) is covered by 1e-9."""
    if len(box_list) != 1:
        return None
    lat0, lat1, lon0, lon1 = box_list[0]
    if lat0 <= -90 or lat1 >= 90 or lon1 - lon0 >= 180:
        return None
    x = max(lat_0 - lat0, lat1 - lat_0, lon_0 - lon0, lon1 - lon_0) * _HALF_RAD
    if x > _MAX_SCREEN_HALF_ANGLE:
        return None
    return 2 * x * x + 1e-9


class _Candidates:
    """A search's candidates: a slice of each band it reads, seen as one set of columns."""

    __slots__ = ("_spans",)

    def __init__(self, spans: list[tuple[_Band, int, int]]) -> None:
        self._spans = spans

    def column(self, name: str) -> np.ndarray:
        spans = self._spans
        if len(spans) == 1:
            band, i, j = spans[0]
            return getattr(band, name)[i:j]
        return np.concatenate([getattr(band, name)[i:j] for band, i, j in spans])


def _order(sort, column, ids: np.ndarray, first: int) -> np.ndarray:
    """Positions in the order of ``sort`` ((key, descending) pairs), ties by id ascending;
    exact for at least the ``first`` of them. ``column(key)`` gives a key's values."""
    if any(key == "title" for key, _ in sort):
        # Strings do not negate: stable sorts from the last key to the first (Python's sort
        # keeps ties in place even with reverse=True). Titles compare by code point, as the
        # database's "C"/binary collation does.
        positions = sorted(range(ids.size), key=ids.__getitem__)
        for key, descending in reversed(sort):
            values = column(key)
            positions.sort(key=(values.tolist() if key == "title" else values).__getitem__, reverse=descending)
        return np.asarray(positions, dtype=np.int64)
    keys = [ids] + [-column(key) if descending else column(key) for key, descending in reversed(sort)]
    primary = keys[-1]
    if first < primary.size // 2:
        # Only the page and what precedes it need sorting: nothing after them has a
        # primary key below the first-th smallest, so keep those (ties included) and sort
        # them alone (a 2 km search: ~1,000 matches for a page of 20; lexsort of all of
        # them was half of the search's time).
        kth = np.partition(primary, first - 1)[first - 1]
        head = np.flatnonzero(primary <= kth)
        return head[np.lexsort([key[head] for key in keys])]
    return np.lexsort(keys)  # the last key is the primary one


_SORT_FIELDS = {"startDate": "start", "endDate": "end", "title": "titles"}


def _searchable(row) -> bool:
    """As the database path filters: the establishment open and the point known."""
    return row.latitude is not None and row.longitude is not None and bool(row.establishment_active)


def _band_of(latitude: float) -> int:
    return math.floor(latitude / BAND_DEGREES)


def _ordinal(value: date | str) -> int:
    """A date column's day number (SQLite hands a textual statement's dates back as text)."""
    return (value if isinstance(value, date) else date.fromisoformat(value)).toordinal()


class SearchIndex:
    """A PointIndex kept in step with the database (see the module's docstring)."""

    def __init__(self, db: Database, caches: CacheRegistry) -> None:
        self._db = db
        self._caches = caches
        self.points = PointIndex()
        self._position: int | None = None  # None: never loaded
        self._synced = -1  # the caches' generation the points reflect
        self._task: asyncio.Task | None = None
        self.loads = 0  # whole loads, for tests and the logs
        # The answers' promotion bodies (without distance), kept across commits: the change log
        # drops those it names (a promotion written, its establishment moved, closed or renamed:
        # migrations 0012-0013). ``changes`` counts the syncs that dropped any, so a body read
        # while one ran is not kept (it may predate what that sync dropped).
        self.bodies: dict[int, dict] = {}
        self.changes = 0

    async def ready(self) -> bool:
        """Whether the index may answer this request: caching on, and the points brought up to
        every commit seen by this request's refresh (one sync shared by concurrent requests)."""
        caches = self._caches
        await caches.refresh()
        if not caches.current():
            return False
        target = caches.generation
        while self._synced < target:
            task = self._task
            # A finished sync may not be cleared yet (its done-callback waits for the loop), and
            # awaiting a finished task does not yield: start the next one instead, or this
            # loop would spin forever.
            if task is None or task.done():
                task = self._task = asyncio.ensure_future(self._sync(target))
                task.add_done_callback(self._sync_done)
            await asyncio.shield(task)
        return True

    async def warm(self) -> None:
        """Load the points before the first search needs them (at start-up, in the background)."""
        token = request_marker.set(RequestMarker())
        try:
            await self.ready()
        except Exception as exc:  # the first search will try again
            log.warning("search index warm-up failed: %r", exc)
        finally:
            request_marker.reset(token)

    def _sync_done(self, task: asyncio.Task) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("search index sync failed: %r", task.exception())

    async def _sync(self, target: int) -> None:
        db = self._db
        if self._position is not None:
            # Usually one statement (one snapshot, one round trip; on SQLite the loop thread's
            # connection): where the log stands, its horizon, and what changed since our look.
            rows = await db.all(self._changes(), {"since": self._position})
            position, horizon = rows[0].position, rows[0].horizon
            if self._position >= horizon:
                changed = [r for r in rows if r.changed is not None]
                if changed:
                    self.points.apply([r.changed for r in changed], [r for r in changed if r.id is not None])
                    for r in changed:
                        self.bodies.pop(r.changed, None)
                    self.changes += 1
                self._position = position
                self._synced = max(self._synced, target)
                return
        async with db.snapshot() as conn:  # everything, and where the log stood when it was read
            position = (await conn.execute(text(f"SELECT {ChangeLog.position_sql(db)}"))).scalar_one()
            rows = (await conn.execute(text(
                f"SELECT {_COLUMNS} FROM promotions p WHERE p.establishment_active AND p.latitude IS NOT NULL"
            ))).all()
        self.points.replace(rows)
        self.bodies.clear()
        self.changes += 1
        self.loads += 1
        self._position = position
        self._synced = max(self._synced, target)

    @functools.cache  # noqa: B019 - one index per database
    def _changes(self):
        since = "seq > :since" if self._db.is_sqlite else "xid >= :since"
        return text(
            f"SELECT s.position, s.horizon, c.promotion_id AS changed, {_COLUMNS} FROM "
            f"(SELECT {ChangeLog.position_sql(self._db)} AS position, "
            "COALESCE((SELECT upto FROM promotion_changes_horizon WHERE id = 1), 0) AS horizon) s "
            f"LEFT JOIN (SELECT DISTINCT promotion_id FROM promotion_changes WHERE {since}) c ON 1 = 1 "
            "LEFT JOIN promotions p ON p.id = c.promotion_id")


class ChangeLog:
    """``promotion_changes``: where it stands, and keeping it short.

    Every ``cielo serve`` prunes (whether or not its own index is on: the triggers always
    write): every twelfth of the retention it notes the log's position, and forgets what came
    before the position it noted a retention ago. Deleting is idempotent, so several processes
    pruning at once only repeat each other."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def position_sql(db: Database) -> str:
        """Where the log stands in the statement's snapshot (the module's docstring says why)."""
        if db.is_sqlite:
            return "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'promotion_changes'), 0)"
        return "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"

    async def position(self) -> int:
        return (await self._db.first(text(f"SELECT {self.position_sql(self._db)}")))[0]

    async def prune(self, upto: int) -> None:
        """Forget the log before ``upto`` and say so in the horizon, in one transaction."""
        below = "seq <= :upto" if self._db.is_sqlite else "xid < :upto"
        async with self._db.write() as session:
            await session.execute(text(f"DELETE FROM promotion_changes WHERE {below}"), {"upto": upto})
            await session.execute(text(
                "INSERT INTO promotion_changes_horizon (id, upto) VALUES (1, :upto) "
                "ON CONFLICT (id) DO UPDATE SET upto = CASE WHEN excluded.upto > promotion_changes_horizon.upto "
                "THEN excluded.upto ELSE promotion_changes_horizon.upto END"), {"upto": upto})

    async def keep_pruned(self, stop: asyncio.Event, retention_s: float = RETENTION_S) -> None:
        noted: deque[tuple[float, int]] = deque()  # (monotonic time, position)
        while not stop.is_set():
            try:
                now = time.monotonic()
                noted.append((now, await self.position()))
                upto = None
                while noted and now - noted[0][0] >= retention_s:
                    upto = noted.popleft()[1]
                if upto is not None:
                    await self.prune(upto)
            except Exception as exc:  # the database is away: try again next time
                log.warning("promotion change log prune failed: %r", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(retention_s / 12, 0.05))
            except asyncio.TimeoutError:
                pass
