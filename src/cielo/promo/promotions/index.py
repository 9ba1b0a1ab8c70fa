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
- The log is pruned past a position this process held an hour ago; a process whose last look
  is older than the pruned horizon loads everything again.

Memory: about 60 bytes a promotion (arrays) plus its title and dates in a dict; 100,000
promotions take ~15 MB per process.
"""

from __future__ import annotations

import asyncio
import logging
import math
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

BAND_DEGREES = 0.05  # ~5.6 km: a 2 km search reads one or two bands, a 50 km one about twenty
RETENTION_S = 3600.0  # the change log keeps an hour; a process idle longer loads again
_TYPE_CODE = {code: i for i, code in enumerate(CAMPAIGN_TYPES)}
_HALF_RAD = math.pi / 360

# Where the log stands in a snapshot (the module's docstring says why each).
_POSITION_PG = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_POSITION_SQLITE = "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'promotion_changes'), 0)"
_COLUMNS = "p.id, p.environment, p.latitude, p.longitude, p.establishment_active, p.active, p.campaign_type, " \
           "p.start_date, p.end_date, p.title"


class _Point(NamedTuple):
    environment: str
    latitude: float
    longitude: float
    active: bool
    type_code: int
    start: int  # date ordinals
    end: int
    title: str


@dataclass(slots=True)
class _Band:
    """One latitude band of one environment, in longitude order."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    cos_lat: np.ndarray
    active: np.ndarray
    type_code: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def build(cls, members: list[tuple[int, _Point]]) -> "_Band":
        members.sort(key=lambda m: (m[1].longitude, m[0]))
        lat = np.fromiter((p.latitude for _, p in members), np.float64, len(members))
        return cls(
            ids=np.fromiter((i for i, _ in members), np.int64, len(members)),
            lat=lat,
            lon=np.fromiter((p.longitude for _, p in members), np.float64, len(members)),
            cos_lat=np.cos(lat * (2 * _HALF_RAD)),
            active=np.fromiter((p.active for _, p in members), np.bool_, len(members)),
            type_code=np.fromiter((p.type_code for _, p in members), np.int8, len(members)),
            start=np.fromiter((p.start for _, p in members), np.int64, len(members)),
            end=np.fromiter((p.end for _, p in members), np.int64, len(members)),
        )


class Hits(NamedTuple):
    ids: list[int]  # the page, in order
    distances: list[float]
    total: int


class PointIndex:
    """The points of every searchable promotion (its establishment open, its point known)."""

    def __init__(self) -> None:
        self._points: dict[int, _Point] = {}
        self._members: dict[tuple[str, int], set[int]] = {}
        self._bands: dict[tuple[str, int], _Band] = {}

    def __len__(self) -> int:
        return len(self._points)

    def clear(self) -> None:
        self._points.clear()
        self._members.clear()
        self._bands.clear()

    def remove(self, promotion_id: int) -> None:
        old = self._points.pop(promotion_id, None)
        if old is not None:
            key = (old.environment, _band_of(old.latitude))
            self._members[key].discard(promotion_id)
            self._bands.pop(key, None)

    def put(self, row) -> None:
        """A promotion as the database has it now (columns of ``_COLUMNS``; id alone when gone)."""
        self.remove(row.id)
        if row.environment is None or row.latitude is None or row.longitude is None or not row.establishment_active:
            return  # deleted, or not searchable (the database path filters the same)
        point = _Point(row.environment, float(row.latitude), float(row.longitude), bool(row.active),
                       _TYPE_CODE[row.campaign_type], _ordinal(row.start_date), _ordinal(row.end_date), row.title)
        self._points[row.id] = point
        key = (point.environment, _band_of(point.latitude))
        self._members.setdefault(key, set()).add(row.id)
        self._bands.pop(key, None)

    def _band(self, key: tuple[str, int]) -> _Band | None:
        band = self._bands.get(key)
        if band is None:
            members = self._members.get(key)
            if not members:
                return None
            band = self._bands[key] = _Band.build([(i, self._points[i]) for i in members])
        return band

    def search(self, environment: str, search, offset: int, limit: int) -> Hits:
        """The page of ``search`` (promotions.service.Search) as the database would give it."""
        cos_lat0 = math.cos(math.radians(search.latitude))
        allowed = None
        if search.types:
            allowed = np.zeros(len(CAMPAIGN_TYPES), np.bool_)
            allowed[[_TYPE_CODE[t] for t in search.types]] = True
        found: list[tuple[_Band, np.ndarray, np.ndarray]] = []  # (band, positions, distances)
        for lat0, lat1, lon0, lon1 in boxes(search.latitude, search.longitude, search.radius):
            for b in range(_band_of(lat0), _band_of(lat1) + 1):
                band = self._band((environment, b))
                if band is None:
                    continue
                i, j = int(band.lon.searchsorted(lon0, "left")), int(band.lon.searchsorted(lon1, "right"))
                if i >= j:
                    continue
                lat, lon = band.lat[i:j], band.lon[i:j]
                inside = (lat >= lat0) & (lat <= lat1)  # the database's box, exactly
                # the haversine of service._distance, term for term
                sin_dlat = np.sin((lat - search.latitude) * _HALF_RAD)
                sin_dlon = np.sin((lon - search.longitude) * _HALF_RAD)
                a = sin_dlat * sin_dlat + cos_lat0 * band.cos_lat[i:j] * sin_dlon * sin_dlon
                distance = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
                inside &= distance <= search.radius
                if search.active is not None:
                    inside &= band.active[i:j] == search.active
                if allowed is not None:
                    inside &= allowed[band.type_code[i:j]]
                positions = np.flatnonzero(inside)
                if positions.size:
                    found.append((band, positions + i, distance[positions]))
        if not found:
            return Hits([], [], 0)
        ids = np.concatenate([band.ids[p] for band, p, _ in found])
        distances = np.concatenate([d for _, _, d in found])
        total = int(ids.size)
        if offset >= total:
            return Hits([], [], total)
        order = self._order(search.sort, found, ids, distances)[offset:offset + limit]
        return Hits(ids[order].tolist(), distances[order].tolist(), total)

    def _order(self, sort, found, ids: np.ndarray, distances: np.ndarray) -> np.ndarray:
        """Positions in the order of ``sort`` ((key, descending) pairs), ties by id ascending."""
        if any(key == "title" for key, _ in sort):
            # Strings do not negate: stable sorts from the last key to the first (Python's sort
            # keeps ties in place even with reverse=True). Titles compare by code point, as the
            # database's "C"/binary collation does.
            positions = sorted(range(ids.size), key=ids.__getitem__)
            values = {"distance": distances, "id": ids, "title": [self._points[i].title for i in ids.tolist()],
                      "startDate": np.concatenate([band.start[p] for band, p, _ in found]),
                      "endDate": np.concatenate([band.end[p] for band, p, _ in found])}
            for key, descending in reversed(sort):
                column = values[key]
                positions.sort(key=column.__getitem__, reverse=descending)
            return np.asarray(positions, dtype=np.int64)
        columns = {"distance": distances, "id": ids}
        if any(key in ("startDate", "endDate") for key, _ in sort):
            columns["startDate"] = np.concatenate([band.start[p] for band, p, _ in found])
            columns["endDate"] = np.concatenate([band.end[p] for band, p, _ in found])
        keys = [ids] + [-columns[key] if descending else columns[key] for key, descending in reversed(sort)]
        return np.lexsort(keys)  # the last key is the primary one


def _band_of(latitude: float) -> int:
    return math.floor(latitude / BAND_DEGREES)


def _ordinal(value: date | str) -> int:
    """A date column's day number (SQLite hands a textual statement's dates back as text)."""
    return (value if isinstance(value, date) else date.fromisoformat(value)).toordinal()


class SearchIndex:
    """A PointIndex kept in step with the database (see the module's docstring)."""

    def __init__(self, db: Database, caches: CacheRegistry, *, retention_s: float = RETENTION_S) -> None:
        self._db = db
        self._caches = caches
        self._retention = retention_s
        self.points = PointIndex()
        self._position: int | None = None  # None: never loaded
        self._synced = -1  # the caches' generation the points reflect
        self._task: asyncio.Task | None = None
        self._checkpoints: deque[tuple[float, int]] = deque()  # (monotonic time, position)
        self._pruning: asyncio.Task | None = None
        self.loads = 0  # whole loads, for tests and the logs

    async def ready(self) -> bool:
        """Whether the index may answer this request: caching on, and the points brought up to
        every commit seen by this request's refresh (one sync shared by concurrent requests)."""
        caches = self._caches
        await caches.refresh()
        if not caches.current():
            return False
        target = caches.generation
        while self._synced < target:
            if self._task is None:
                task = self._task = asyncio.ensure_future(self._sync(target))
                task.add_done_callback(self._sync_done)
            await asyncio.shield(self._task)
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
        self._task = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("search index sync failed: %r", task.exception())

    async def _sync(self, target: int) -> None:
        db, pg = self._db, not self._db.is_sqlite
        async with db.snapshot() as conn:
            position, horizon = (await conn.execute(text(
                f"SELECT {_POSITION_PG if pg else _POSITION_SQLITE}, "
                "COALESCE((SELECT upto FROM promotion_changes_horizon WHERE id = 1), 0)"))).one()
            if self._position is None or self._position < horizon:
                rows = (await conn.execute(text(
                    f"SELECT {_COLUMNS} FROM promotions p WHERE p.establishment_active AND p.latitude IS NOT NULL"
                ))).all()
                self.points.clear()
                self.loads += 1
            else:
                since = "xid >= :since" if pg else "seq > :since"
                rows = (await conn.execute(text(
                    f"SELECT c.promotion_id AS changed, {_COLUMNS} FROM "
                    f"(SELECT DISTINCT promotion_id FROM promotion_changes WHERE {since}) c "
                    "LEFT JOIN promotions p ON p.id = c.promotion_id"), {"since": self._position})).all()
                for row in rows:
                    if row.id is None:
                        self.points.remove(row.changed)
        for row in rows:
            if row.id is not None:
                self.points.put(row)
        self._position = position
        self._synced = max(self._synced, target)
        self._maybe_prune(position)

    # ---- pruning the log --------------------------------------------------------------------

    def _maybe_prune(self, position: int) -> None:
        now = time.monotonic()
        if not self._checkpoints or now - self._checkpoints[-1][0] >= self._retention / 12:
            self._checkpoints.append((now, position))
        upto = None
        while self._checkpoints and now - self._checkpoints[0][0] >= self._retention:
            upto = self._checkpoints.popleft()[1]
        if upto is not None and self._pruning is None:
            self._pruning = asyncio.ensure_future(self.prune(upto))
            self._pruning.add_done_callback(self._prune_done)

    def _prune_done(self, task: asyncio.Task) -> None:
        self._pruning = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("promotion change log prune failed: %r", task.exception())

    async def prune(self, upto: int) -> None:
        """Forget the log before ``upto`` (a position this process held a retention ago) and
        say so in the horizon, in one transaction."""
        below = "xid < :upto" if not self._db.is_sqlite else "seq <= :upto"
        async with self._db.write() as session:
            await session.execute(text(f"DELETE FROM promotion_changes WHERE {below}"), {"upto": upto})
            await session.execute(text(
                "INSERT INTO promotion_changes_horizon (id, upto) VALUES (1, :upto) "
                "ON CONFLICT (id) DO UPDATE SET upto = CASE WHEN excluded.upto > promotion_changes_horizon.upto "
                "THEN excluded.upto ELSE promotion_changes_horizon.upto END"), {"upto": upto})
