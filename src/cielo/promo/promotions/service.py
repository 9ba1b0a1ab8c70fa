"""Promotions near a point and by id (CONTRACT §3.4)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, column, or_, select, table

from cielo.db import Database
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError, invalid, missing
from cielo.promo.establishments.models import CommercialEstablishment
from cielo.promo.establishments.service import model as establishment_model
from cielo.promo.pagination import Page
from cielo.promo.promotions.geo import boxes, distance_m
from cielo.promo.promotions.models import CAMPAIGN_TYPES, Promotion

SORT_KEYS = ("distance", "startDate", "endDate", "title", "id")
MAX_RADIUS = 50_000


@dataclass(frozen=True)
class Search:
    latitude: float
    longitude: float
    radius: int
    active: bool | None
    types: tuple[str, ...] | None
    sort: tuple[tuple[str, bool], ...]  # (key, descending)

    @classmethod
    def parse(cls, query) -> "Search":
        for name in ("latitude", "longitude", "radius"):
            if query.get(name) in (None, ""):
                raise missing(name)
        lat = _number(query["latitude"], "latitude", -90, 90)
        lon = _number(query["longitude"], "longitude", -180, 180)
        raw_radius = query["radius"].strip()
        if not raw_radius.isdigit() or not 1 <= int(raw_radius) <= MAX_RADIUS:
            raise invalid(f"The 'radius' parameter must be between 1 and {MAX_RADIUS} meters.")
        active = None
        if query.get("active") not in (None, ""):
            value = query["active"].strip().lower()
            if value not in ("true", "false"):
                raise invalid("The 'active' parameter must be true or false.")
            active = value == "true"
        types = None
        if query.get("type") not in (None, ""):
            codes = [c.strip().upper() for c in query["type"].split(",")]
            wrong = [c for c in codes if c not in CAMPAIGN_TYPES]
            if wrong:
                raise invalid(f"The 'type' parameter accepts the campaign codes {','.join(CAMPAIGN_TYPES)}; "
                              f"not {','.join(repr(w) for w in wrong)}.")
            types = tuple(dict.fromkeys(codes))
        sort: list[tuple[str, bool]] = []
        for part in (query.get("_sort") or "distance").split(","):
            part = part.strip()
            key = part[1:] if part.startswith("-") else part
            if key not in SORT_KEYS:
                raise invalid(f"The '_sort' parameter takes a comma list of {', '.join(SORT_KEYS)}, each optionally "
                              "prefixed with '-'.")
            sort.append((key, part.startswith("-")))
        return cls(lat, lon, int(raw_radius), active, types, tuple(sort))


def _number(raw: str, name: str, low: float, high: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise invalid(f"The '{name}' parameter must be a number between {low:g} and {high:g}.")
    return value


def promotion_model(promotion: Promotion, establishment: CommercialEstablishment, distance: float | None = None) -> dict:
    body = {
        "id": promotion.id,
        "commercialEstablishment": establishment_model(establishment),
        "active": promotion.active,
        "startDate": promotion.start_date.isoformat(),
        "endDate": promotion.end_date.isoformat(),
        "title": promotion.title,
        "description": promotion.description,
        "premium": promotion.premium,
        "campaignType": promotion.campaign_type,
        "shareable": promotion.shareable,
    }
    for key, value in (("campaignModel", promotion.campaign_model), ("transactionDays", promotion.transaction_days)):
        if value:
            body[key] = value
    if promotion.validity_redemption is not None:
        body["validityRedemption"] = promotion.validity_redemption.isoformat()
    if distance is not None:
        body["distance"] = round(distance, 1)
    return body


class PromotionService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def statement(self, env: Environment, search: Search):
        """The candidates: plain columns of the promotions whose points fall inside the boxes,
        the promotions' own spatial index driving the query (the R*Tree on SQLite, the
        (environment, latitude, longitude) B-tree on PostgreSQL; migration 0009)."""
        E, P = CommercialEstablishment, Promotion
        columns = (P.id, P.latitude, P.longitude, P.start_date, P.end_date, P.title)
        box_list = boxes(search.latitude, search.longitude, search.radius)
        if self._db.is_sqlite:
            rtree = table("promotion_rtree", column("id"), column("min_lat"), column("max_lat"),
                          column("min_lon"), column("max_lon"))
            in_boxes = or_(*[and_(rtree.c.max_lat >= lat0, rtree.c.min_lat <= lat1,
                                  rtree.c.max_lon >= lon0, rtree.c.min_lon <= lon1)
                             for lat0, lat1, lon0, lon1 in box_list])
            # Materialised first, so SQLite's planner starts from the R*Tree and never probes it
            # once per row of another table.
            box_ids = select(rtree.c.id).where(in_boxes).cte("box_ids").prefix_with("MATERIALIZED")
            stmt = select(*columns).select_from(box_ids).join(P, P.id == box_ids.c.id)
        else:
            in_boxes = or_(*[and_(P.latitude.between(lat0, lat1), P.longitude.between(lon0, lon1))
                             for lat0, lat1, lon0, lon1 in box_list])
            stmt = select(*columns).select_from(P).where(in_boxes)
        stmt = (stmt.join(E, E.id == P.establishment_id)
                .where(P.environment == env.value, E.active.is_(True)))
        if search.active is not None:
            stmt = stmt.where(P.active.is_(search.active))
        if search.types:
            stmt = stmt.where(P.campaign_type.in_(search.types))
        return stmt

    async def search(self, env: Environment, search: Search, page: Page) -> tuple[list[dict], int]:
        async with self._db.read() as session:
            rows = (await session.execute(self.statement(env, search))).all()
            lat, lon, radius = search.latitude, search.longitude, search.radius
            hits = []
            for promotion_id, e_lat, e_lon, start, end, title in rows:
                d = distance_m(lat, lon, e_lat, e_lon)
                if d <= radius:
                    hits.append((d, start, end, title, promotion_id))
            index = {"distance": 0, "startDate": 1, "endDate": 2, "title": 3, "id": 4}
            hits.sort(key=lambda h: h[4])  # the final tie-breaker
            for key, descending in reversed(search.sort):  # stable sorts, last key first
                position = index[key]
                hits.sort(key=lambda h: h[position], reverse=descending)
            chosen = hits[page.offset: page.offset + page.limit]
            if not chosen:
                return [], len(hits)
            full = {p.id: (p, e) for p, e in (await session.execute(
                select(Promotion, CommercialEstablishment)
                .join(CommercialEstablishment, CommercialEstablishment.id == Promotion.establishment_id)
                .where(Promotion.id.in_([h[4] for h in chosen]))
            )).all()}
        return [promotion_model(*full[h[4]], h[0]) for h in chosen], len(hits)

    async def one(self, env: Environment, promotion_id: int) -> dict:
        async with self._db.read() as session:
            row = (await session.execute(
                select(Promotion, CommercialEstablishment)
                .join(CommercialEstablishment, CommercialEstablishment.id == Promotion.establishment_id)
                .where(Promotion.id == promotion_id, Promotion.environment == env.value)
            )).first()
        if row is None:
            raise PromoError(404, f"There is no promotion {promotion_id}.")
        return promotion_model(*row)
