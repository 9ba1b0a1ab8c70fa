"""Promotions: the back office with the rules of each campaign type, and the search near a
point through the spatial index (R*Tree on SQLite, B-tree box on PostgreSQL)."""

from __future__ import annotations

import math

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cielo.promo.promotions.geo import EARTH_RADIUS_M, distance_m
from tests.support.db import db_sql
from tests.support.promo import PAULISTA, PRODUCTION, RULES, SANDBOX, check, partner_app, place, promote


def destination(lat: float, lon: float, bearing_deg: float, meters: float) -> tuple[float, float]:
    """The point `meters` away on the sphere of the haversine (to place points at exact distances)."""
    phi1, lmb1, theta = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    delta = meters / EARTH_RADIUS_M
    phi2 = math.asin(math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta))
    lmb2 = lmb1 + math.atan2(math.sin(theta) * math.sin(delta) * math.cos(phi1),
                             math.cos(delta) - math.sin(phi1) * math.sin(phi2))
    return math.degrees(phi2), (math.degrees(lmb2) + 540) % 360 - 180


def search(client, creds, base=SANDBOX, **params):
    query = {"latitude": PAULISTA[0], "longitude": PAULISTA[1], "radius": 2000, "_offset": 0, "_limit": 100, **params}
    return client.get(base + "/promotions", params={k: v for k, v in query.items() if v is not None},
                      headers={"Client-Id": creds.client_id, "Access-Token": creds.access_token})


# ---- back office -----------------------------------------------------------------------


def test_every_campaign_type_with_its_rules(client, admin):
    shop = place(client, admin, *PAULISTA)
    for campaign in RULES:
        created = promote(client, admin, shop, campaign)
        got = client.get(f"/admin/v1/sandbox/promotions/{created['id']}", headers=admin).json()
        assert got == created and got["campaignType"] == campaign
    assert promote(client, admin, shop, "A", rules={"amount": "99.9", "windowDays": 7})["rules"]["amount"] == "99.90"


@pytest.mark.parametrize(
    "campaign,rules,fragment",
    [
        ("A", {"amount": 150, "windowDays": 30}, "decimal string"),
        ("A", {"amount": "0.00", "windowDays": 30}, "greater than zero"),
        ("A", {"amount": "150.00"}, "must give windowDays"),
        ("B", {"daysBefore": -1, "daysAfter": 7}, "daysBefore"),
        ("E", {"dates": []}, "1 to 366"),
        ("E", {"dates": ["2026-13-01"]}, "not an ISO 8601 date"),
        ("F", {"visits": 4, "windowDays": 0}, "windowDays"),
        ("G", {"every": 3}, "unknown: every"),
        ("P", {"every": "3"}, "integer"),
        ("R", {"weekdays": [0], "startTime": "11:00", "endTime": "14:00"}, "weekdays"),
        ("R", {"weekdays": [1], "startTime": "14:00", "endTime": "11:00"}, "before"),
        ("R", {"weekdays": [1], "startTime": "25:00", "endTime": "26:00"}, "HH:MM"),
        ("X", {"daysAway": True}, "integer"),
        ("W", {"minAmount": "-1"}, "decimal string"),
        ("G", {"{x}": 1, "}": 2}, "unknown: "),  # the sentence quotes the keys, braces and all
    ],
)
def test_rules_refusals_change_nothing(client, admin, settings, campaign, rules, fragment):
    shop = place(client, admin, *PAULISTA)
    body = {"commercialEstablishmentId": shop, "title": "T", "campaignType": campaign, "startDate": "2026-01-01",
            "endDate": "2026-12-31", "premium": "p", "rules": rules}
    response = client.post("/admin/v1/sandbox/promotions", json=body, headers=admin)
    assert response.status_code == 400 and fragment in response.json()["detail"]
    assert db_sql(settings, "SELECT COUNT(*) FROM promotions")[0][0] == 0


def test_promotion_patch_and_other_refusals(client, admin):
    shop = place(client, admin, *PAULISTA)
    promo = promote(client, admin, shop, "P")
    url = f"/admin/v1/sandbox/promotions/{promo['id']}"
    assert client.patch(url, json={"campaignType": "A"}, headers=admin).status_code == 400  # P rules do not fit A
    changed = client.patch(url, json={"campaignType": "A", "rules": RULES["A"], "active": False}, headers=admin)
    assert changed.status_code == 200 and changed.json()["campaignType"] == "A" and changed.json()["active"] is False
    assert client.patch(url, json={"startDate": "2027-01-01"}, headers=admin).status_code == 400
    assert client.patch(url, json={"commercialEstablishmentId": 999}, headers=admin).status_code == 400
    assert client.get(f"/admin/v1/production/promotions/{promo['id']}", headers=admin).status_code == 404
    other_env_shop = place(client, admin, *PAULISTA, env="production")
    body = {"commercialEstablishmentId": other_env_shop, "title": "T", "campaignType": "G", "startDate": "2026-01-01",
            "endDate": "2026-12-31", "premium": "p", "rules": {}}
    assert client.post("/admin/v1/sandbox/promotions", json=body, headers=admin).status_code == 400
    # the back office's lists take offsets a table can have, not integers of any size
    for path in ("promotions", "commercial-establishments", "transactions"):
        huge = client.get(f"/admin/v1/sandbox/{path}", params={"offset": 10**25}, headers=admin)
        assert huge.status_code == 400 and "offset" in huge.json()["detail"], huge.text
        assert client.get(f"/admin/v1/sandbox/{path}", params={"offset": 10_000_000}, headers=admin).json() == []


# ---- GET /promotions -------------------------------------------------------------------


def test_search_near_avenida_paulista(client, admin, creds):
    near = place(client, admin, *destination(*PAULISTA, 45, 500), name="Perto")
    far = place(client, admin, *destination(*PAULISTA, 200, 1500), name="Longe")
    out = place(client, admin, *destination(*PAULISTA, 90, 5000), name="Fora")
    p1 = promote(client, admin, near, "G")
    p2 = promote(client, admin, far, "W", active=False)
    promote(client, admin, out, "P")
    response = search(client, creds)
    assert response.status_code == 200 and response.headers["x-total-count"] == "2"
    check(response, SANDBOX)
    items = response.json()
    assert [i["id"] for i in items] == [p1["id"], p2["id"]]
    assert abs(items[0]["distance"] - 500) < 0.5 and abs(items[1]["distance"] - 1500) < 0.5
    assert items[0]["commercialEstablishment"] == {"id": near, "fictitiousName": "Perto", "businessActivity": {"id": 5812}}
    assert [i["id"] for i in search(client, creds, active="true").json()] == [p1["id"]]
    assert [i["id"] for i in search(client, creds, active="false").json()] == [p2["id"]]
    assert [i["id"] for i in search(client, creds, type="W,P").json()] == [p2["id"]]
    assert [i["id"] for i in search(client, creds, _sort="-distance").json()] == [p2["id"], p1["id"]]
    assert [i["id"] for i in search(client, creds, _sort="-id").json()] == [p2["id"], p1["id"]]
    assert len(search(client, creds, radius=10000).json()) == 3
    paged = search(client, creds, _offset=1, _limit=1)
    assert [i["id"] for i in paged.json()] == [p2["id"]] and 'rel="prev"' in paged.headers["link"]
    assert search(client, creds, base=PRODUCTION).status_code == 403  # a sandbox application


def test_radius_boundary_and_its_limits(client, admin, creds):
    inside = promote(client, admin, place(client, admin, *destination(*PAULISTA, 10, 999.5)))
    promote(client, admin, place(client, admin, *destination(*PAULISTA, 10, 1000.5)))
    assert [i["id"] for i in search(client, creds, radius=1000).json()] == [inside["id"]]
    same = promote(client, admin, place(client, admin, *PAULISTA))
    assert [i["id"] for i in search(client, creds, radius=1).json()] == [same["id"]]
    remote = promote(client, admin, place(client, admin, *destination(*PAULISTA, 300, 49_990)))
    assert remote["id"] in [i["id"] for i in search(client, creds, radius=50000).json()]
    for radius in (0, 50001, -5, 1.5, "far"):
        response = search(client, creds, radius=radius)
        assert response.status_code == 400
        assert response.json() == "The 'radius' parameter must be between 1 and 50000 meters."
        check(response, SANDBOX)


def test_poles_and_the_antimeridian(client, admin, creds):
    east = promote(client, admin, place(client, admin, 10.0, 179.9995))
    found = search(client, creds, latitude=10.0, longitude=-179.9995, radius=500).json()
    assert [i["id"] for i in found] == [east["id"]]
    assert abs(found[0]["distance"] - distance_m(10.0, -179.9995, 10.0, 179.9995)) < 0.5
    north = promote(client, admin, place(client, admin, 89.9995, 0.0))
    across = search(client, creds, latitude=89.9995, longitude=180, radius=200).json()
    assert [i["id"] for i in across] == [north["id"]]  # ~111 m across the pole
    south = promote(client, admin, place(client, admin, -90.0, 0.0))
    assert [i["id"] for i in search(client, creds, latitude=-89.9999, longitude=-120, radius=50).json()] == [south["id"]]


@pytest.mark.parametrize(
    "params,status,fragment",
    [
        ({"latitude": None}, 422, "latitude"),
        ({"longitude": None}, 422, "longitude"),
        ({"radius": None}, 422, "radius"),
        ({"_offset": None}, 422, "_offset"),
        ({"_limit": None}, 422, "_limit"),
        ({"latitude": 90.5}, 400, "between -90 and 90"),
        ({"longitude": "east"}, 400, "between -180 and 180"),
        ({"latitude": "nan"}, 400, "between -90 and 90"),
        ({"type": "G,Z"}, 400, "'Z'"),
        ({"active": "yes"}, 400, "true or false"),
        ({"_sort": "price"}, 400, "_sort"),
        ({"_limit": 101}, 413, "maximum page size"),
    ],
)
def test_search_refusals(client, creds, params, status, fragment):
    response = search(client, creds, **params)
    assert response.status_code == status
    body = response.json()
    assert fragment in (body["description"] if isinstance(body, dict) else body)
    check(response, SANDBOX)


def test_promotion_by_id(client, admin, creds):
    promo = promote(client, admin, place(client, admin, *PAULISTA), "R", campaignModel="Cashback",
                    validityRedemption="2027-01-31")
    headers = {"Client-Id": creds.client_id, "Access-Token": creds.access_token}
    response = client.get(f"{SANDBOX}/promotions/{promo['id']}", headers=headers)
    assert response.status_code == 200
    check(response, SANDBOX)
    body = response.json()
    assert body["campaignType"] == "R" and body["campaignModel"] == "Cashback" and "distance" not in body
    assert body["validityRedemption"] == "2027-01-31"
    # answered from the read cache the second time, and never after a change
    assert client.get(f"{SANDBOX}/promotions/{promo['id']}", headers=headers).json() == body
    assert client.patch(f"/admin/v1/sandbox/promotions/{promo['id']}", headers=admin,
                        json={"title": "Renamed"}).status_code == 200
    assert client.get(f"{SANDBOX}/promotions/{promo['id']}", headers=headers).json() == {**body, "title": "Renamed"}
    for raw, status in (("999999", 404), ("abc", 400), ("0", 400), ("2147483648", 404), ("31204926486159056", 404)):
        answer = client.get(f"{SANDBOX}/promotions/{raw}", headers=headers)
        assert answer.status_code == status
        check(answer, SANDBOX)
    prod = partner_app(client, environment="production", email="prod@example.com")
    other = client.get(f"{PRODUCTION}/promotions/{promo['id']}", headers={"Client-Id": prod.client_id,
                                                                           "Access-Token": prod.access_token})
    assert other.status_code == 404


def test_the_search_goes_through_the_spatial_index(settings, backend):
    """SQLite: the promotions' R*Tree; PostgreSQL: the (environment, latitude, longitude) B-tree (seq scans disabled so
    the planner shows whether the index can serve the query at all on a tiny table)."""
    from sqlalchemy.dialects import postgresql, sqlite

    from cielo.db import Database
    from cielo.promo.environments import Environment
    from cielo.promo.promotions.service import PromotionService, Search

    db = Database(settings.resolved_database_url, pool_size=1)
    search_ = Search.parse({"latitude": "-23.56", "longitude": "-46.65", "radius": "2000"})
    stmt = PromotionService(db).statement(Environment.SANDBOX, search_)
    dialect = sqlite.dialect() if backend == "sqlite" else postgresql.dialect()
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if backend == "sqlite":
        plan = " ".join(str(r) for r in db_sql(settings, "EXPLAIN QUERY PLAN " + sql))
        assert "promotion_rtree VIRTUAL TABLE INDEX" in plan, plan
    else:

        from tests.support.db import run

        # with its bound parameters, as the service runs it (literal binds do not reach inside
        # every function call): compiled for asyncpg and run on the driver's connection
        compiled = stmt.compile(dialect=db.engine.dialect)
        params = [compiled.params[name] for name in compiled.positiontup]

        async def explain():
            async with db.engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                async with raw.transaction():
                    await raw.execute("SET LOCAL enable_seqscan = off")
                    return " ".join(str(r) for r in await raw.fetch("EXPLAIN " + compiled.string, *params))

        plan = run(explain())
        assert "ix_promotions_location" in plan, plan
    run_dispose(db)


def run_dispose(db) -> None:
    from tests.support.db import run

    run(db.dispose())


def test_promotions_follow_their_establishment(client, admin, creds):
    """The promotions' points are kept by triggers: an establishment that moves takes its
    promotions along, and a promotion given to another establishment takes that one's point."""
    near = place(client, admin, *PAULISTA)
    far = place(client, admin, -22.9068, -43.1729, name="Rio")
    promo = promote(client, admin, near)
    assert [i["id"] for i in search(client, creds).json()] == [promo["id"]]
    moved = client.patch(f"/admin/v1/sandbox/commercial-establishments/{near}", headers=admin,
                         json={"latitude": -22.9068, "longitude": -43.1729})
    assert moved.status_code == 200, moved.text
    assert search(client, creds).json() == []
    assert [i["id"] for i in search(client, creds, latitude=-22.9068, longitude=-43.1729, radius=10).json()] == [promo["id"]]
    back = place(client, admin, *destination(*PAULISTA, 90, 1500))
    assert client.patch(f"/admin/v1/sandbox/promotions/{promo['id']}", headers=admin,
                        json={"commercialEstablishmentId": back}).status_code == 200
    found = search(client, creds).json()
    assert [i["id"] for i in found] == [promo["id"]] and abs(found[0]["distance"] - 1500) < 1
    assert far  # a second establishment in Rio, never in the Paulista results
    # a closed establishment's promotions leave the search, and come back when it reopens
    for active, expected in ((False, []), (True, [promo["id"]])):
        assert client.patch(f"/admin/v1/sandbox/commercial-establishments/{back}", headers=admin,
                            json={"active": active}).status_code == 200
        assert [i["id"] for i in search(client, creds).json()] == expected


_rule_values = (st.integers(-2, 3652) | st.sampled_from([0, 1, 7, 31, 32, 1000, 1001, 3650, 3651]) | st.booleans()
                | st.sampled_from(["150.00", "0.00", "0", "1.5", "1.555", "-1", "abc", "11:00", "14:30", "24:00",
                                   "2026-03-14", "20260314", "2026-W11-6"])
                | st.lists(st.integers(0, 8) | st.sampled_from(["2026-03-14", "2026-02-30", "20260314"]), min_size=1,
                           max_size=3))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_rules_the_back_office_takes_fit_their_documented_schema(data):
    """What rules.validate accepts, the OpenAPI description (rules.json_schema) accepts too."""
    import jsonschema

    from cielo.promo.promotions import rules as campaign_rules

    kind = data.draw(st.sampled_from(list(campaign_rules.PARAMS)))
    names = list(campaign_rules.PARAMS[kind])
    rules = data.draw(st.fixed_dictionaries({name: _rule_values for name in names},
                                            optional={"minAmount": _rule_values, "other": st.just(1)}))
    try:
        campaign_rules.validate(kind, rules)
    except campaign_rules.RulesError:
        event("refused")
        return
    event("accepted")
    jsonschema.validate(rules, campaign_rules.json_schema(kind), format_checker=jsonschema.FormatChecker())


_LIMITS = [("A", {"amount": "9999999999.99", "windowDays": 3650, "minAmount": "0.00"}),
           ("B", {"daysBefore": 0, "daysAfter": 31}),
           ("E", {"dates": [f"2028-{1 + d // 31:02d}-{1 + d % 28:02d}" for d in range(366)]}),
           ("F", {"visits": 1000, "windowDays": 1}), ("P", {"every": 1000}), ("X", {"daysAway": 3650}),
           ("R", {"weekdays": [7, 1, 2, 3, 4, 5, 6, 1], "startTime": "00:00", "endTime": "23:59"}),
           ("W", {"minAmount": "9999999999.99"}), ("G", {})]


@pytest.mark.parametrize(("kind", "rules"), _LIMITS + list(RULES.items()))
def test_rules_at_their_limits_fit_the_documented_schema(kind, rules):
    import jsonschema

    from cielo.promo.promotions import rules as campaign_rules

    campaign_rules.validate(kind, rules)
    jsonschema.validate(rules, campaign_rules.json_schema(kind), format_checker=jsonschema.FormatChecker())
