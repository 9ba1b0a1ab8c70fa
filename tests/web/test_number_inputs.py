"""Numbers and dates in paths and queries (API.md §2): every route's numeric and date inputs —
its path parameters from the route table, its query parameters from the OpenAPI document —
driven with other scripts' digits, superscripts, look-alikes and the calendar's edges, with a
valid credential and every other input valid. No answer is a 5xx, and a number or date holding
anything but ASCII is a 400 in the API's own shape."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cielo.ids import MAX_ID
from tests.support.callers import (
    Operation,
    baseline_path,
    baseline_query,
    body_of,
    credential_class,
    operations,
    query_parameters,
    seed_rows,
    set_up,
    valid_credentials,
)
from tests.support.db import db_sql

EXAMPLES = 300  # fixed budget, derandomized: the same inputs on every run

# superscripts, fractions, fullwidth, Arabic-Indic, N'Ko, mathematical, Devanagari digits; look-alikes
NUMBERS = ["²", "¹", "³", "½", "1²", "\uff11\uff12", "\u0661\u0662", "\u0663", "\u07c1", "\U0001d7d9", "\u0967",
           "1\u200b", "0", "00", "-1", "-0", "+1", " 1", "1_0", "1.0", "1e3", "0x1", "inf", "nan", "1,5",
           str(MAX_ID), str(MAX_ID + 1), "9" * 19, "9" * 20, "9" * 400, "9" * 5000, "0" * 30 + "1", "-" + "9" * 5000]
DATES = ["9999-12-31", "0001-01-01", "0000-01-01", "10000-01-01", "9999-12-31T23:59:59.999999+23:59",
         "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59", "0001-01-01T00:00:00Z",
         "9999-12-31T23:59:59Z", "9999-12-31T23:59:59", "2026-02-30", "2026-13-01", "2026-01-01T24:00:00",
         "\uff12\uff10\uff12\uff16-01-01", "2026-0\uff11-01", "2026-01-01T00:00:00.\uff11Z", "20261231",
         "9999-W52-7", "-2026-01-01", "2026-01-01T00:00:00+99:99", "²⁰²⁶-01-01"]
UNICODE_DIGITS = st.characters(categories=["Nd", "No"])


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def plain(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _kind(op: Operation, location: str, name: str, schema: dict | None) -> str | None:
    """What an input is: a number, a date, text (fuzzed for 5xx only), or None (not fuzzed)."""
    schema = schema or {}
    types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", ())}
    if types & {"integer", "number"}:
        return "number"
    if schema.get("format") in ("date", "date-time") or name.endswith("_date"):
        return "date"
    if location == "path":
        if "$ref" in schema or name == "env":
            return None  # an enumeration (the environment)
        return "number" if name.endswith("_id") else "text"
    return None


def inputs(app) -> list[tuple[Operation, str, str, str]]:
    """(operation, 'path' or 'query', name, kind) of every numeric, date and path input."""
    found = []
    for op in operations(app):
        assert credential_class(op) is not None, f"{op.method} {op.template}: no credential class known"
        documented = {(p["in"], p["name"]): p.get("schema") for p in op.document.get("parameters", ())}
        for name in op.path_params:
            kind = _kind(op, "path", name, documented.get(("path", name)))
            if kind:
                found.append((op, "path", name, kind))
        for parameter in query_parameters(op):
            kind = _kind(op, "query", parameter["name"], parameter.get("schema"))
            if kind:
                found.append((op, "query", parameter["name"], kind))
    return found


def _dates() -> st.SearchStrategy[str]:
    year = st.sampled_from(["0001", "9999", "0000", "2026", "10000", "1999", "2100"]) | st.integers(0, 9999).map(
        lambda y: f"{y:04d}")
    day = st.tuples(year, st.integers(0, 13), st.integers(0, 32)).map(lambda t: f"{t[0]}-{t[1]:02d}-{t[2]:02d}")
    offset = st.sampled_from(["", "Z", "+23:59", "-23:59", "+14:00", "-03:00", "+00:00"])
    moment = st.tuples(day, st.integers(0, 24), st.integers(0, 59), offset).map(
        lambda t: f"{t[0]}T{t[1]:02d}:{t[2]:02d}:59.999999{t[3]}")
    plain = day | moment

    @st.composite
    def with_a_unicode_digit(draw):
        text = draw(plain)
        at = draw(st.integers(0, len(text) - 1))
        return text[:at] + draw(UNICODE_DIGITS) + text[at + 1:]

    return st.sampled_from(DATES) | plain | with_a_unicode_digit()


def _numbers() -> st.SearchStrategy[str]:
    mixed = st.text(alphabet=UNICODE_DIGITS | st.sampled_from("0123456789-+._e "), min_size=1, max_size=24)
    return st.sampled_from(NUMBERS) | mixed | st.integers(-2**70, 2**70).map(str)


def _call(client, callers, op: Operation, location: str, name: str, value: str):
    kind = credential_class(op)
    assert kind is not None
    credentials = valid_credentials(op, callers, kind)
    query = {**baseline_query(op, callers), **credentials.get("params", {})}
    path = baseline_path(op, {name: value} if location == "path" else None)
    if location == "query":
        query[name] = value
    client.cookies.clear()
    return client.request(op.method, path, params=query, headers=credentials.get("headers", {}),
                          follow_redirects=False, **body_of(op, callers))


def _holds(response, kind: str, value: str, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if kind in ("number", "date") and not value.isascii():
        assert response.status_code == 400, f"{what}: {response.status_code} {response.text[:300]}"


@pytest.fixture
def callers(plain, settings):
    found = set_up(plain, settings)
    seed_rows(plain, found)
    # thousands of requests a minute: the profiles' highest limits (no 429 in the way of a 400)
    db_sql(settings, "UPDATE applications SET holder_requests_per_minute = 100000")
    db_sql(settings, "UPDATE app_access_tokens SET requests_per_minute = 100000")
    return found


def test_every_numeric_input_of_every_route_at_its_edges(plain, callers, app):
    table = inputs(app)
    assert {(op.template, name) for op, _, name, _ in table} >= {
        ("/promotions/v1/promotions", "radius"), ("/promotions/v1/promotions", "latitude"),
        ("/sandbox/promotions/v1/me/transactions", "end_date"), ("/sandbox/promotions/v1/me/cards/{card_id}", "card_id"),
        ("/admin/v1/{env}/promotions", "offset"), ("/developer/applications/{app_id}", "app_id"),
        ("/promotions/v1/login", "birthdate"), ("/api/integrations/canvas/v1/white_label_account/{canvas_space_name}",
                                                "canvas_space_name")}
    for op, location, name, kind in table:
        for value in NUMBERS if kind != "date" else DATES:
            response = _call(plain, callers, op, location, name, value)
            _holds(response, kind, value, f"{op.method} {op.template} {location} {name}={value[:30]!r}")


def test_numeric_inputs_hold_whatever_they_are(plain, callers, app):
    table = inputs(app)
    numbers, dates = _numbers(), _dates()

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def holds(data):
        op, location, name, kind = data.draw(st.sampled_from(table))
        value = data.draw(dates if kind == "date" else numbers)
        if location == "path":
            value = re.sub(r"[/?#%]", "", value) or "1"  # a separator would make it another path
        response = _call(plain, callers, op, location, name, value)
        _holds(response, kind, value, f"{op.method} {op.template} {location} {name}={value[:30]!r}")

    holds()
