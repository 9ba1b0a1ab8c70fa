"""Promotions near a point and by id (API.md §3.4), and the back office's promotions with the
rules of their campaign type (API.md §3.5, §4)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Boolean, Float, bindparam, func, select

from cielo.admin.common import Refused, in_environment, not_null
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.cache import CacheRegistry
from cielo.db import Database
from cielo.db.dialects import Dialect
from cielo.numbers import decimal, integer
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError, given, invalid
from cielo.promo.establishments.models import CommercialEstablishment
from cielo.promo.establishments.service import establishment_in
from cielo.promo.establishments.service import model_of as establishment_model_of
from cielo.promo.pagination import Page
from cielo.promo.promotions import rules as campaign_rules
from cielo.promo.promotions.geo import EARTH_RADIUS_M, boxes
from cielo.promo.promotions.index import SearchIndex
from cielo.promo.promotions.models import CAMPAIGN_TYPES, Promotion
from cielo.promo.promotions.schemas import PromotionIn, PromotionPatch

MAX_KEPT_BODIES = 50_000  # ~50 MB at most: the pages actually asked for, not every promotion
SORT_KEYS = ("distance", "startDate", "endDate", "title", "id")
MAX_RADIUS = 50_000

# a promotion's wire fields (the back office's PromotionIn / PromotionPatch) and their columns
COLUMNS = {
    "commercialEstablishmentId": "establishment_id", "title": "title", "description": "description",
    "campaignType": "campaign_type", "startDate": "start_date", "endDate": "end_date", "active": "active",
    "premium": "premium", "rules": "rules", "campaignModel": "campaign_model", "transactionDays": "transaction_days",
    "validityRedemption": "validity_redemption", "shareable": "shareable",
}
_NULLABLE = frozenset({"campaignModel", "transactionDays", "validityRedemption"})


@dataclass(frozen=True)
class Search:
    latitude: float
    longitude: float
    radius: int
    active: bool | None
    types: tuple[str, ...] | None
    sort: tuple[tuple[str, bool], ...]  # (key, descending)

    @classmethod
    def parse(cls, query) -> Search:
        raw_lat, raw_lon, raw_radius = (given(query, name, required=True) for name in ("latitude", "longitude", "radius"))
        lat = _number(raw_lat, "latitude", -90, 90)
        lon = _number(raw_lon, "longitude", -180, 180)
        radius = integer(raw_radius.strip(), 6)
        if radius is None or not 1 <= radius <= MAX_RADIUS:
            raise invalid(f"The 'radius' parameter must be between 1 and {MAX_RADIUS} meters.")
        active = None
        raw_active = given(query, "active", required=False)
        if raw_active is not None:
            value = raw_active.strip().lower()
            if value not in ("true", "false"):
                raise invalid("The 'active' parameter must be true or false.")
            active = value == "true"
        types = None
        raw_types = given(query, "type", required=False)
        if raw_types is not None:
            codes = [c.strip().upper() for c in raw_types.split(",")]
            wrong = [c for c in codes if c not in CAMPAIGN_TYPES]
            if wrong:
                raise invalid(f"The 'type' parameter accepts the campaign codes {','.join(CAMPAIGN_TYPES)}; "
                              f"not {','.join(repr(w) for w in wrong)}.")
            types = tuple(dict.fromkeys(codes))
        sort: list[tuple[str, bool]] = []
        for part in (given(query, "_sort", required=False) or "distance").split(","):
            part = part.strip()
            key = part[1:] if part.startswith("-") else part
            if key not in SORT_KEYS:
                raise invalid(f"The '_sort' parameter takes a comma list of {', '.join(SORT_KEYS)}, each optionally "
                              "prefixed with '-'.")
            sort.append((key, part.startswith("-")))
        return cls(lat, lon, radius, active, types, tuple(sort))


def _number(raw: str, name: str, low: float, high: float) -> float:
    value = decimal(raw.strip())
    if value is None or not low <= value <= high:
        raise invalid(f"The '{name}' parameter must be a number between {low:g} and {high:g}.")
    return value


_PROMOTION_COLUMNS = (Promotion.id, Promotion.active, Promotion.start_date, Promotion.end_date, Promotion.title,
                      Promotion.description, Promotion.premium, Promotion.campaign_type, Promotion.shareable,
                      Promotion.campaign_model, Promotion.transaction_days, Promotion.validity_redemption)
_ESTABLISHMENT_COLUMNS = (CommercialEstablishment.id.label("establishment_id"), CommercialEstablishment.fictitious_name,
                          CommercialEstablishment.business_activity_id)


def _again(page, P, key: str, descending: bool, sql: Dialect):
    """The page's order once more, after the join (a join does not keep the subquery's order)."""
    column = {"distance": page.c.distance, "startDate": P.start_date, "endDate": P.end_date,
              "title": sql.code_point_order(P.title), "id": P.id}[key]
    return column.desc() if descending else column


def promotion_model(p, establishment: dict, distance: float | None = None) -> dict:
    """The seed's promotion: ``p`` is a Promotion or a row with the same names."""
    body = {
        "id": p.id,
        "commercialEstablishment": establishment,
        "active": p.active,
        "startDate": p.start_date.isoformat(),
        "endDate": p.end_date.isoformat(),
        "title": p.title,
        "description": p.description,
        "premium": p.premium,
        "campaignType": p.campaign_type,
        "shareable": p.shareable,
    }
    for key, value in (("campaignModel", p.campaign_model), ("transactionDays", p.transaction_days)):
        if value:
            body[key] = value
    if p.validity_redemption is not None:
        body["validityRedemption"] = p.validity_redemption.isoformat()
    if distance is not None:
        body["distance"] = round(distance, 1)
    return body


def _body(row, distance: float | None = None) -> dict:
    """The seed's promotion from a row of ``_PROMOTION_COLUMNS`` and ``_ESTABLISHMENT_COLUMNS``."""
    establishment = establishment_model_of(row.establishment_id, row.fictitious_name, row.business_activity_id)
    return promotion_model(row, establishment, distance)


def distance_json(distance: float) -> bytes:
    """A distance as the answers write it, with the comma after its object: ``round(d, 1)`` in
    JSON. '%.1f' rounds the same binary value to the same tenth, and for 0 <= d < 1e16 writes the
    digits JSON would (tests hold it equal to orjson's)."""
    return b"%.1f}," % distance


class _Kept(NamedTuple):
    """A promotion's body without its distance, and its JSON up to where the distance goes."""
    body: dict
    head: bytes

    @classmethod
    def of(cls, body: dict) -> _Kept:
        return cls(body, orjson.dumps(body)[:-1] + b',"distance":')


def _with_establishment():
    """The columns of ``_body``: a promotion joined to its establishment."""
    return (select(*_PROMOTION_COLUMNS, *_ESTABLISHMENT_COLUMNS)
            .join(CommercialEstablishment, CommercialEstablishment.id == Promotion.establishment_id))


def checked_rules(row_like: dict) -> dict:
    """The normalised rules of a promotion's columns, or ValueError with a sentence (the API
    and the import command share it)."""
    if row_like["start_date"] > row_like["end_date"]:
        raise ValueError("startDate must not be after endDate.")
    return campaign_rules.validate(row_like["campaign_type"], row_like["rules"])


def _checked(row_like: dict) -> dict:
    try:
        return checked_rules(row_like)
    except ValueError as exc:
        raise Refused(str(exc)) from None


def promotion_values(env: Environment, body: PromotionIn) -> dict:
    """The columns of a new promotion, or ValueError with a sentence (for the import command)."""
    values = {name: getattr(body, field) for field, name in COLUMNS.items()}
    values["rules"] = checked_rules(values)
    return {"environment": env.value, **values}


async def _establishment(session, env: Environment, establishment_id: int) -> None:
    """A promotion names an establishment of its environment: another is a bad request (400)."""
    await establishment_in(session, env, establishment_id, error=Refused)


class PromotionService:
    def __init__(self, db: Database, caches: CacheRegistry | None = None, *, in_memory: bool = True) -> None:
        self._db = db
        # the in-memory index (index.py) answers whenever the read caches may be used
        self.index = SearchIndex(db, caches) if caches is not None and caches.enabled and in_memory else None
        self._one = caches.cache("promotion-by-id", 20_000) if self.index is not None and caches else None

    # The statements are built once per shape (number of boxes, filters given, sort) with bound
    # parameters, and reused: building and cache-keying a statement of this size cost more
    # than running it (more than twice the database's own time for a search).

    def statement(self, env: Environment, search: Search):
        """The candidates of a search with their exact great-circle distance, values bound: the
        promotions whose points fall inside the boxes, the promotions' own spatial index
        driving the query (the R*Tree on SQLite, the covering (environment, latitude,
        longitude) B-tree on PostgreSQL; migration 0009)."""
        shape, values = self._bound(env, search, None)
        return self._candidates(*shape[:3]).params(values)

    async def search(self, env: Environment, search: Search, page: Page) -> tuple[list[dict], int]:
        """The page's promotions, each with its distance, and the total."""
        found = await self._from_index(env, search, page)
        if found is None:
            return await self.search_in_database(env, search, page)
        hits, bodies = found
        # a promotion deleted since the index's look is left out of the page
        return ([{**bodies[i].body, "distance": round(d, 1)}
                 for i, d in zip(hits.ids, hits.distances, strict=True) if i in bodies], hits.total)

    async def search_json(self, env: Environment, search: Search, page: Page) -> tuple[bytes, int]:
        """The page as the JSON the API sends, and the total. From the index, each promotion's
        JSON is kept, and only its distance is written per answer: the bytes orjson gives for
        ``search``'s dicts (tests hold them equal), without building and serialising them."""
        found = await self._from_index(env, search, page)
        if found is None:
            items, total = await self.search_in_database(env, search, page)
            return orjson.dumps(items), total
        hits, bodies = found
        parts = [b"["]
        for i, d in zip(hits.ids, hits.distances, strict=True):
            kept = bodies.get(i)
            if kept is not None:
                parts += (kept.head, distance_json(d))
        if len(parts) == 1:
            return b"[]", hits.total
        parts[-1] = parts[-1][:-1] + b"]"
        return b"".join(parts), hits.total

    async def _from_index(self, env: Environment, search: Search, page: Page):
        """(hits, kept bodies by id) from the in-memory index, or None where it may not answer."""
        if self.index is None or not await self.index.ready():
            return None
        hits = self.index.points.search(env.value, search, page.offset, page.limit)
        return hits, await self._page_bodies(hits.ids)

    async def _page_bodies(self, ids: list[int]) -> dict[int, _Kept]:
        """The page's promotions as the seed shows them (without distance): those the index
        keeps, the others in one statement (kept unless a sync dropped anything meanwhile)."""
        assert self.index is not None  # called only when the index answers
        kept = self.index.bodies
        found, missing = {}, []
        for promotion_id in ids:
            body = kept.get(promotion_id)
            if body is None:
                missing.append(promotion_id)
            else:
                found[promotion_id] = body
        if missing:
            changes = self.index.changes
            rows = await self._db.all(self._by_ids(), {"ids": missing})
            keep = changes == self.index.changes
            if keep and len(kept) + len(rows) > MAX_KEPT_BODIES:
                kept.clear()
            for row in rows:
                body = found[row.id] = _Kept.of(_body(row))
                if keep:
                    kept[row.id] = body
        return found

    @functools.lru_cache(maxsize=1)  # noqa: B019
    def _by_ids(self):
        return _with_establishment().where(Promotion.id.in_(bindparam("ids", expanding=True)))

    async def search_in_database(self, env: Environment, search: Search, page: Page) -> tuple[list[dict], int]:
        """The same search through the database's spatial index (caching off, or for comparison)."""
        shape, values = self._bound(env, search, page)
        stmt, count = self._page(*shape)
        rows = await self._db.all(stmt, values, heavy=True)
        if rows:
            return [_body(row, row.distance) for row in rows], rows[0].total
        # an offset past the end: the page is empty, the total still counts
        return [], await self._db.scalar(count, values)

    @staticmethod
    def _bound(env: Environment, search: Search, page: Page | None) -> tuple[tuple, dict]:
        """The statement's shape (number of boxes, filters given, sort) and its bound values."""
        box_list = boxes(search.latitude, search.longitude, search.radius)
        values: dict = {"env": env.value, "lat": search.latitude, "lon": search.longitude, "radius": float(search.radius),
                  "cos_lat": math.cos(math.radians(search.latitude))}
        for i, box in enumerate(box_list):
            values.update({f"b{i}_{k}": v for k, v in zip(("lat0", "lat1", "lon0", "lon1"), box, strict=True)})
        if search.active is not None:
            values["active"] = search.active
        if search.types:
            values["types"] = list(search.types)
        if page is not None:
            values.update(offset=page.offset, limit=page.limit)
        return (len(box_list), search.active is not None, bool(search.types), search.sort), values

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one service per database, shapes are few
    def _candidates(self, n_boxes: int, has_active: bool, has_types: bool):
        P = Promotion
        box = [tuple(bindparam(f"b{i}_{k}", type_=Float) for k in ("lat0", "lat1", "lon0", "lon1"))
               for i in range(n_boxes)]
        stmt = self._db.sql.within_boxes(P, box, rtree="promotion_rtree")
        stmt = (stmt.add_columns(self._distance(P.latitude, P.longitude).label("distance"))
                .where(P.environment == bindparam("env"), P.establishment_active.is_(True)))
        if has_active:
            stmt = stmt.where(P.active == bindparam("active", type_=Boolean))
        if has_types:
            stmt = stmt.where(P.campaign_type.in_(bindparam("types", expanding=True)))
        return stmt

    def _distance(self, lat_column, lon_column):
        """The haversine of geo.distance_m as SQL, so that filtering, sorting and paging happen
        in the database and only the page's rows travel (SQLite ≥ 3.35 has the math functions)."""
        half_rad = math.pi / 360
        sin_dlat = func.sin((lat_column - bindparam("lat", type_=Float)) * half_rad)
        sin_dlon = func.sin((lon_column - bindparam("lon", type_=Float)) * half_rad)
        a = (sin_dlat * sin_dlat
             + bindparam("cos_lat", type_=Float) * func.cos(lat_column * (2 * half_rad)) * sin_dlon * sin_dlon)
        capped = self._db.sql.least(1.0, func.sqrt(a))
        return 2 * EARTH_RADIUS_M * func.asin(capped)

    @functools.lru_cache(maxsize=256)  # noqa: B019
    def _page(self, n_boxes: int, has_active: bool, has_types: bool, sort: tuple):
        """One statement for the page: the candidates and their distances, those inside the
        circle counted, sorted and cut to the page, then joined to their rows; and the count
        alone (for an offset past the end)."""
        E, P = CommercialEstablishment, Promotion
        hits = self._candidates(n_boxes, has_active, has_types).cte("hits")
        radius = bindparam("radius", type_=Float)
        inside: Any = select(hits.c.id, hits.c.distance).where(hits.c.distance <= radius)  # then its CTE
        if any(key not in ("distance", "id") for key, _ in sort):  # other keys live in the rows
            inside = (select(hits.c.id, hits.c.distance, P.start_date, P.end_date, P.title)
                      .join(P, P.id == hits.c.id).where(hits.c.distance <= radius))
        inside = inside.cte("inside")
        keys = {"distance": inside.c.distance, "id": inside.c.id}
        if "title" in inside.c:
            keys.update(startDate=inside.c.start_date, endDate=inside.c.end_date,
                        title=self._db.sql.code_point_order(inside.c.title))
        order = [keys[key].desc() if descending else keys[key] for key, descending in sort]
        page_ids = (select(inside.c.id, inside.c.distance, func.count().over().label("total"))
                    .order_by(*order, inside.c.id).offset(bindparam("offset")).limit(bindparam("limit"))
                    .subquery("page"))
        stmt = (select(page_ids.c.total, page_ids.c.distance, *_PROMOTION_COLUMNS, *_ESTABLISHMENT_COLUMNS)
                .select_from(page_ids).join(P, P.id == page_ids.c.id).join(E, E.id == P.establishment_id)
                .order_by(*[_again(page_ids, P, key, descending, self._db.sql) for key, descending in sort],
                          P.id))
        return stmt, select(func.count()).select_from(inside)

    async def one(self, env: Environment, promotion_id: int) -> dict:
        """One promotion of ``env`` (through the exact read cache when it is on)."""

        async def load() -> dict | None:
            row = await self._db.first(self._by_id_in(), {"id": promotion_id, "env": env.value})
            return None if row is None else _body(row)

        body = await (self._one.get_or_load((env.value, promotion_id), load) if self._one is not None
                      else load())
        if body is None:
            raise PromoError(404, f"There is no promotion {promotion_id}.")
        return body

    @functools.lru_cache(maxsize=1)  # noqa: B019
    def _by_id_in(self):
        return _with_establishment().where(Promotion.id == bindparam("id"), Promotion.environment == bindparam("env"))

    # ---- the back office -------------------------------------------------------------------

    async def create(self, env: Environment, body: PromotionIn, actor: Actor) -> Promotion:
        values = {name: getattr(body, field) for field, name in COLUMNS.items()}
        values["rules"] = _checked(values)
        row = Promotion(environment=env.value, **values)
        async with self._db.write() as session:
            await _establishment(session, env, body.commercialEstablishmentId)
            session.add(row)
            await session.flush()
            audit.record(session, actor, "create", "promotion", str(row.id), {"fields": sorted(body.model_fields_set)})
        return row

    async def list_in(self, env: Environment, offset: int, limit: int) -> list[Promotion]:
        async with self._db.read() as session:
            return list((await session.scalars(
                select(Promotion).where(Promotion.environment == env.value).order_by(Promotion.id)
                .offset(offset).limit(limit)
            )).all())

    async def find(self, env: Environment, promotion_id: int) -> Promotion:
        async with self._db.read() as session:
            return await in_environment(session, Promotion, env, promotion_id, "promotion")

    async def modify(self, env: Environment, promotion_id: int, body: PromotionPatch, actor: Actor) -> Promotion:
        changes = body.model_dump(exclude_unset=True)
        async with self._db.write() as session:
            row = await in_environment(session, Promotion, env, promotion_id, "promotion", lock=True)
            not_null(changes, _NULLABLE)
            values = {name: getattr(row, name) for name in COLUMNS.values()}
            for field, value in changes.items():
                values[COLUMNS[field]] = value
            values["rules"] = _checked(values)
            if "commercialEstablishmentId" in changes:
                await _establishment(session, env, values["establishment_id"])
            for name, value in values.items():
                setattr(row, name, value)
            audit.record(session, actor, "modify", "promotion", str(row.id), {"fields": sorted(changes)})
            await session.flush()
            return row
