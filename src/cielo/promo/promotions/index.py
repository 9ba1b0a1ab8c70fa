"""The promotions' points in memory, one copy per process: a search near a point answered
without a round trip to the database, and exactly what the database would answer.

Why: through the database a 2 km search pays for the index-only scan of ~1,200 candidates,
their distances, count, sort and page, and the driver's work per answer, many times what the
same pass costs in memory (figures in docs/performance-history.md). Here a search is one
compiled pass (numba) over its candidates.

Structure: the points of each environment are columns sorted by latitude band
(``BAND_DEGREES``), then longitude, then id; an offsets array says where each band starts.
The candidates of a search's bounding boxes (geo.boxes, shared with the database path) are
then two binary searches per band. Then the same haversine as the SQL (the C library's sin
and asin, as the databases), the same filters and the same order (ties by id), so both paths
give the same pages (tests hold them equal).

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
- After any commit to this database (the read caches' watcher moves the generation, cache.py), the
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

Memory: numpy columns only (about 70 bytes a promotion, titles shared when repeated): the
large sandbox's 100,180 promotions take ~7 MB per process. A change slots its points into the
sorted columns (a copy of each column; more than 256 points re-sort all).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import numba
import numpy as np
from sqlalchemy import Row, text

from cielo.cache import CacheRegistry, RequestMarker, request_marker
from cielo.db import Database
from cielo.db.pruning import Retention
from cielo.promo.promotions.geo import EARTH_RADIUS_M, boxes
from cielo.promo.promotions.models import CAMPAIGN_TYPES

log = logging.getLogger(__name__)

BAND_DEGREES = 0.002  # ~220 m: a 2 km search reads ~20 bands, a 50 km one ~450 (a binary search each)
RETENTION_S = 3600.0  # the change log keeps an hour; a process idle longer loads again
_TYPE_CODE = {code: i for i, code in enumerate(CAMPAIGN_TYPES)}
_HALF_RAD = math.pi / 360
_TWO_R = 2 * EARTH_RADIUS_M

_COLUMNS = "p.id, p.environment, p.latitude, p.longitude, p.establishment_active, p.active, p.campaign_type, " \
           "p.start_date, p.end_date, p.title"


_FIELDS = ("ids", "lat", "lon", "active", "type_code", "start", "end", "titles")


@dataclass(slots=True)
class _Layer:
    """The points of one environment as columns in (band, longitude, id) order, bands being
    ``BAND_DEGREES`` of latitude: a band's points are ``starts[b]:starts[b + 1]`` for band
    ``kmin + b``, sorted by longitude, so a box's candidates in a band are two binary searches."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    active: np.ndarray
    type_code: np.ndarray
    start: np.ndarray  # date ordinals
    end: np.ndarray
    titles: np.ndarray  # objects (str): only a sort by title reads them
    cos_lat: np.ndarray
    category: np.ndarray  # type_code * 2 + active: what the filters ask, one byte
    band: np.ndarray
    starts: np.ndarray
    kmin: int

    @classmethod
    def of(cls, columns: dict[str, np.ndarray], ordered: bool = False) -> _Layer:
        band = np.floor(columns["lat"] / BAND_DEGREES).astype(np.int64)
        if not ordered:
            order = np.lexsort((columns["ids"], columns["lon"], band))
            columns = {name: values[order] for name, values in columns.items()}
            band = band[order]
        kmin = int(band[0])
        starts = np.zeros(int(band[-1]) - kmin + 2, np.int64)
        np.cumsum(np.bincount(band - kmin), out=starts[1:])
        return cls(**columns, cos_lat=np.cos(columns["lat"] * (2 * _HALF_RAD)),
                   category=(columns["type_code"] * 2 + columns["active"]).astype(np.int8),
                   band=band, starts=starts, kmin=kmin)

    def columns(self, keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) if keep is None else getattr(self, name)[keep] for name in _FIELDS}

    def merged(self, stays: np.ndarray | None, added: dict[str, np.ndarray] | None) -> _Layer | None:
        """This layer without the points ``stays`` drops and with ``added``; a few points are
        slotted into the sorted columns (no sort of the whole environment, which at 100,000 points
        cost ten times the slotting)."""
        kept = self.columns(stays)
        if added is None:
            return _Layer.of(kept, ordered=True) if kept["ids"].size else None
        if kept["ids"].size == 0 or added["ids"].size > 256:
            return _Layer.of({name: np.concatenate((kept[name], added[name])) for name in _FIELDS})
        band = np.floor(added["lat"] / BAND_DEGREES).astype(np.int64)
        order = np.lexsort((added["ids"], added["lon"], band))
        added = {name: values[order] for name, values in added.items()}
        old_band = np.floor(kept["lat"] / BAND_DEGREES).astype(np.int64)
        slots = np.empty(order.size, np.int64)
        for n, (b, lon, promotion_id) in enumerate(zip(band[order].tolist(), added["lon"].tolist(),
                                                        added["ids"].tolist(), strict=True)):
            i, j = int(old_band.searchsorted(b, "left")), int(old_band.searchsorted(b, "right"))
            i += int(kept["lon"][i:j].searchsorted(lon, "left"))
            j = i + int(kept["lon"][i:j].searchsorted(lon, "right"))  # the same longitude: ids decide
            slots[n] = i + int(kept["ids"][i:j].searchsorted(promotion_id))
        return _Layer.of({name: np.insert(kept[name], slots, added[name]) for name in _FIELDS}, ordered=True)


def _columns(rows: Sequence) -> dict[str, np.ndarray]:
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
        self._layers: dict[str, _Layer] = {}

    def __len__(self) -> int:
        return sum(layer.ids.size for layer in self._layers.values())

    def replace(self, rows: Sequence) -> None:
        """Everything, from the rows of promotions (any order; unsearchable ones left out)."""
        self._layers = {}
        self.apply([], rows)

    def apply(self, changed: list[int], rows: Sequence) -> None:
        """``changed`` promotions are now as ``rows`` say (those absent were deleted)."""
        gone = np.unique(np.fromiter(changed, np.int64, len(changed)))
        rows = [r for r in rows if _searchable(r)]
        added = {}
        if rows:
            columns = _columns(rows)
            environments = np.array([r.environment for r in rows], dtype=object)
            added = {env: {name: values[environments == env] for name, values in columns.items()}
                     for env in set(environments.tolist())}
        for env in set(self._layers) | set(added):
            layer = self._layers.get(env)
            if layer is None:
                self._layers[env] = _Layer.of(added[env])
                continue
            stays = ~np.isin(layer.ids, gone) if gone.size else None
            if stays is not None and stays.all():
                stays = None
            if stays is None and env not in added:
                continue
            merged = layer.merged(stays, added.get(env))
            if merged is None:
                del self._layers[env]
            else:
                self._layers[env] = merged

    def search(self, environment: str, search, offset: int, limit: int) -> Hits:
        """The page of ``search`` (promotions.service.Search) as the database would give it."""
        layer = self._layers.get(environment)
        if layer is None:
            return Hits([], [], 0)
        lat_0, lon_0 = search.latitude, search.longitude
        box_list = boxes(lat_0, lon_0, search.radius)
        eta = _screening_error(box_list, lat_0, lon_0)
        first = offset + limit
        key, descending = search.sort[0]
        by_distance = key == "distance"
        sort_here = by_distance and len(search.sort) == 1
        total, found, distances = _search(
            layer.lat, layer.lon, layer.cos_lat, layer.ids, layer.category, layer.starts, layer.kmin,
            BAND_DEGREES, np.array(box_list, np.float64), lat_0, lon_0, math.cos(math.radians(lat_0)),
            float(search.radius), _allowed(search.active, search.types), -1.0 if eta is None else eta,
            first, descending, by_distance, sort_here)
        if offset >= total:
            return Hits([], [], total)
        if sort_here:
            page = found[offset:first]
            return Hits(layer.ids[page].tolist(), distances[offset:first].tolist(), total)
        ids = layer.ids[found]

        def column(key: str) -> np.ndarray:
            if key == "distance":
                return distances
            return ids if key == "id" else getattr(layer, _SORT_FIELDS[key])[found]

        order = _order(search.sort, column, ids, first)[offset:first]
        return Hits(ids[order].tolist(), distances[order].tolist(), total)


@functools.lru_cache(maxsize=256)
def _allowed(active: bool | None, types: tuple[str, ...] | None) -> np.ndarray:
    """Which categories (type_code * 2 + active) the filters let through."""
    allowed = np.zeros(2 * len(CAMPAIGN_TYPES), np.bool_)
    for code in (types or CAMPAIGN_TYPES):
        for is_active in (False, True):
            if active is None or active == is_active:
                allowed[_TYPE_CODE[code] * 2 + is_active] = True
    allowed.flags.writeable = False
    return allowed


# The search itself is one compiled loop (numba): as numpy it was some forty vectorised passes
# over the candidates, each paying numpy's call overhead and each sweeping the candidates
# through the CPU caches again; compiled, a 2 km search takes about a fifth of numpy's time,
# with the same floats.
# Compiled once per machine and kept on disk (cache=True).

@numba.njit(cache=True)
def _haversine(lat: float, lon: float, cos_lat: float, lat_0: float, lon_0: float, cos_lat0: float) -> float:
    """The haversine of service._distance, term for term and in the same order, with the C
    library's sin and asin (as the databases): the database's floats."""
    a = math.sin((lat - lat_0) * _HALF_RAD)
    a = a * a
    s = math.sin((lon - lon_0) * _HALF_RAD)
    b = cos_lat0 * cos_lat
    b = b * s
    b = b * s
    a = a + b
    return math.asin(min(1.0, math.sqrt(a))) * _TWO_R


@numba.njit(cache=True)
def _kth_smallest(values, k):
    """The k-th smallest of ``values`` (1-based, k <= size): for a page's few, a max-heap of the
    k smallest seen (most values are turned away by one comparison with its top); else a
    partition."""
    if k > 64:
        return np.partition(values.copy(), k - 1)[k - 1]
    heap = np.empty(k, np.float64)
    for t in range(k):  # the first k, then heapified
        heap[t] = values[t]
    for start in range(k // 2 - 1, -1, -1):
        _sift_down(heap, start, heap[start])
    top = heap[0]
    for t in range(k, values.size):
        v = values[t]
        if v < top:
            _sift_down(heap, 0, v)
            top = heap[0]
    return top


@numba.njit(cache=True)
def _sift_down(heap, i, v):
    """Put ``v`` at ``i`` of the max-heap ``heap`` and sift it down to its place."""
    n = heap.size
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and heap[child + 1] > heap[child]:
            child += 1
        if heap[child] <= v:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = v


@numba.njit(cache=True)
def _search(lat, lon, cos_lat, ids, category, starts, kmin, band_degrees, box, lat_0, lon_0, cos_lat0, radius,
            allowed, eta, first, descending, by_distance, sort_here):
    """(total, positions, distances): the matches of a search, or, when the order is by
    distance, the matches that can be among its ``first`` (ties included); sorted by
    (distance, id) when ``sort_here``.

    Candidates: each box's bands, a binary search each for the box's longitudes, then the
    box's latitudes, the filters (``allowed[category]``) and the radius, as the database.
    With ``eta >= 0`` (_screening_error) each candidate's distance is first estimated without
    trigonometry: q = (dphi/2)² + cos φ0 cos φ (dλ/2)², d̃ = 2R·sqrt(q), and the haversine is
    computed only where d̃(1 ± η) cannot place the point inside or outside the radius, and for
    the points whose estimate is within the bound's spread of the first-th one (the only ones
    that can reach the page or tie with it)."""
    n_bands = starts.size - 1
    spans = np.empty((box.shape[0] * (int(math.floor(box[0, 1] / band_degrees))
                                      - int(math.floor(box[0, 0] / band_degrees)) + 1), 2), np.int64)
    n_spans = 0
    n = 0
    for k in range(box.shape[0]):
        lo = max(int(math.floor(box[k, 0] / band_degrees)) - kmin, 0)
        hi = min(int(math.floor(box[k, 1] / band_degrees)) - kmin, n_bands - 1)
        for b in range(lo, hi + 1):
            s, e = starts[b], starts[b + 1]
            if s < e:
                i = s + np.searchsorted(lon[s:e], box[k, 2], "left")
                j = s + np.searchsorted(lon[s:e], box[k, 3], "right")
                if i < j:
                    spans[n_spans, 0] = i
                    spans[n_spans, 1] = j
                    n_spans += 1
                    n += j - i
    lat0, lat1 = box[0, 0], box[0, 1]  # every box has the same latitudes
    screened = eta >= 0
    sure2 = maybe2 = 0.0
    if screened:
        sure2 = (radius / _TWO_R / (1 + eta)) ** 2  # q below: surely inside
        maybe2 = (radius / _TWO_R / (1 - eta)) ** 2  # q above: surely outside
    found = np.empty(n, np.int64)
    value = np.empty(n, np.float64)  # the estimate q when screened, else the distance
    m = 0
    for t in range(n_spans):
        for p in range(spans[t, 0], spans[t, 1]):
            la = lat[p]
            if la < lat0 or la > lat1 or not allowed[category[p]]:
                continue
            if screened:
                half_dphi = (la - lat_0) * _HALF_RAD
                half_dlmb = (lon[p] - lon_0) * _HALF_RAD
                v = half_dphi * half_dphi + half_dlmb * half_dlmb * cos_lat[p] * cos_lat0
                if v > maybe2 or (v > sure2 and _haversine(la, lon[p], cos_lat[p], lat_0, lon_0, cos_lat0) > radius):
                    continue
            else:
                v = _haversine(la, lon[p], cos_lat[p], lat_0, lon_0, cos_lat0)
                if v > radius:
                    continue
            found[m] = p
            value[m] = v
            m += 1
    found, value = found[:m], value[:m]
    if by_distance and first < m:
        spread = ((1 + eta) / (1 - eta)) ** 2 if screened else 1.0
        if descending:
            kth = -_kth_smallest(-value, first)
            head = value >= kth / spread
        else:
            kth = _kth_smallest(value, first)
            head = value <= kth * spread
        found, value = found[head], value[head]
    if screened:
        for t in range(found.size):
            p = found[t]
            value[t] = _haversine(lat[p], lon[p], cos_lat[p], lat_0, lon_0, cos_lat0)
    if sort_here:
        if found.size <= 32:  # insertion sort by (distance, id), distance descending if asked
            for t in range(1, found.size):
                p, d = found[t], value[t]
                u = t - 1
                while u >= 0 and ((value[u] < d if descending else value[u] > d)
                                  or (value[u] == d and ids[found[u]] > ids[p])):
                    found[u + 1] = found[u]
                    value[u + 1] = value[u]
                    u -= 1
                found[u + 1] = p
                value[u + 1] = d
        else:  # by id, then stably by distance
            order = np.argsort(ids[found], kind="mergesort")
            found, value = found[order], value[order]
            order = np.argsort(-value if descending else value, kind="mergesort")
            found, value = found[order], value[order]
    return m, found, value


_MAX_SCREEN_HALF_ANGLE = 0.05  # radians (~2.9°): the bound below stays under 1%


def _screening_error(box_list, lat_0: float, lon_0: float) -> float | None:
    """η such that every candidate's distance d (as _haversine computes it) and its estimate
    d̃ = 2R·sqrt(q) (_search) satisfy d̃(1-η) <= d <= d̃(1+η); None when no useful bound holds
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


def _compile() -> None:
    """Compile (or load from numba's cache) the search, by one search of one point."""
    points = PointIndex()
    points.replace([_WarmUpRow()])
    points.search("sandbox", _WarmUpSearch(), 0, 1)


class _WarmUpRow(NamedTuple):
    id: int = 1
    environment: str = "sandbox"
    latitude: float = 0.0
    longitude: float = 0.0
    establishment_active: bool = True
    active: bool = True
    campaign_type: str = CAMPAIGN_TYPES[0]
    start_date: date = date(2026, 1, 1)
    end_date: date = date(2026, 1, 1)
    title: str = "-"


class _WarmUpSearch(NamedTuple):
    latitude: float = 0.0
    longitude: float = 0.0
    radius: int = 1
    active: bool | None = None
    types: tuple[str, ...] | None = None
    sort: tuple[tuple[str, bool], ...] = (("distance", False),)


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
        self.bodies: dict = {}  # id → service._Kept
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
        """Load the points, and the compiled search (compiled once per machine, ~5 s, then read
        from numba's cache), before the first search needs them: at start-up, in the background
        (the compilation in a thread, so the loop keeps serving)."""
        token = request_marker.set(RequestMarker())
        try:
            await asyncio.to_thread(_compile)
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
            rows: Sequence[Row] = await db.all(self._changes(), {"since": self._position})
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
        since = self._db.sql.log_after_sql("since")
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
        return db.sql.log_position_sql("promotion_changes")

    async def position(self) -> int:
        return await self._db.scalar(text(f"SELECT {self.position_sql(self._db)}"))

    async def prune(self, upto: int) -> None:
        """Forget the log before ``upto`` and say so in the horizon, in one transaction."""
        below = self._db.sql.log_before_sql("upto")
        async with self._db.write() as session:
            await session.execute(text(f"DELETE FROM promotion_changes WHERE {below}"), {"upto": upto})
            await session.execute(text(
                "INSERT INTO promotion_changes_horizon (id, upto) VALUES (1, :upto) "
                "ON CONFLICT (id) DO UPDATE SET upto = CASE WHEN excluded.upto > promotion_changes_horizon.upto "
                "THEN excluded.upto ELSE promotion_changes_horizon.upto END"), {"upto": upto})

    async def keep_pruned(self, stop: asyncio.Event, retention_s: float = RETENTION_S) -> None:
        retention = Retention(retention_s)
        while not stop.is_set():
            try:
                upto = retention.note(time.monotonic(), await self.position())
                if upto is not None:
                    await self.prune(upto)
            except Exception as exc:  # the database is away: try again next time
                log.warning("promotion change log prune failed: %r", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(retention_s / 12, 0.05))
            except TimeoutError:
                pass
