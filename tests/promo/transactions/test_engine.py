"""The nine campaign rules as pure functions (cielo.promo.transactions.engine), property-tested
with hypothesis against small independent oracles, plus the daylight-saving history of São
Paulo."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import jsonschema
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from cielo.promo.transactions import engine
from cielo.promo.transactions.engine import Campaign, Purchase, replay
from cielo.promo.transactions.parsing import (
    FIELDS,
    MAX_AMOUNT_CENTS,
    SCHEMA,
    ItemError,
    amount_cents,
    moment,
    parse,
)

UTC = timezone.utc
ALWAYS = ((datetime(2000, 1, 1, tzinfo=UTC), None),)


def campaign(kind: str, rules: dict, **fields) -> Campaign:
    values = {"premium": "prize", "start_date": date(2000, 1, 1), "end_date": date(2099, 12, 31), "active": True,
              "subscribed": ALWAYS, **fields}
    return Campaign(1, kind, rules, **values)


def purchases(moments, amounts=None) -> list[Purchase]:
    amounts = amounts or [1000] * len(moments)
    return [Purchase(i + 1, m, a) for i, (m, a) in enumerate(sorted(zip(moments, amounts, strict=False), key=lambda x: x[0]))]


def earning(history, c, birthdate=None) -> list[int]:
    return sorted(replay(history, [c], birthdate))


moments = st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))


@given(k=st.integers(0, 60), n=st.integers(1, 10))
def test_punch_every_n_earns_floor_k_over_n(k, n):
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    history = purchases([start + timedelta(hours=i) for i in range(k)])
    won = earning(history, campaign("P", {"every": n}))
    assert len(won) == k // n
    assert won == [history[i - 1].key for i in range(n, k + 1, n)]


@given(st.lists(moments, max_size=30))
def test_welcome_earns_exactly_the_first(times):
    history = purchases(times)
    assert earning(history, campaign("W", {})) == ([history[0].key] if history else [])


@given(st.lists(moments, max_size=30), st.lists(st.integers(1, 5000), min_size=30, max_size=30), st.integers(1, 5000))
def test_min_amount_filters_what_counts(times, amounts, floor):
    """Below minAmount a purchase never counts: W earns on the first purchase at or above it."""
    history = purchases(times, amounts[:len(times)])
    c = campaign("W", {"minAmount": engine.brl(floor)})
    eligible = [p.key for p in history if p.amount >= floor]
    assert earning(history, c) == eligible[:1]


@given(st.lists(moments, max_size=40), st.integers(1, 7), st.integers(0, 21), st.integers(1, 2))
@settings(max_examples=200)
def test_recurring_only_inside_the_local_window(times, weekday, hour, length):
    rules = {"weekdays": [weekday], "startTime": f"{hour:02d}:00", "endTime": f"{hour + length:02d}:00"}
    history = purchases(times)
    won = set(earning(history, campaign("R", rules)))
    for p in history:
        local = p.occurred_at.astimezone(engine.SAO_PAULO)
        inside = local.isoweekday() == weekday and hour <= local.hour < hour + length
        assert (p.key in won) == inside


def test_recurring_follows_daylight_saving_history():
    """Brazil kept daylight saving time until 2019: on 5 Nov 2018 São Paulo was UTC−2, on
    5 Nov 2019 UTC−3. 13:30 UTC is 11:30 local in 2018 (inside 11:00–14:00) but 10:30 in 2019."""
    rules = {"weekdays": [1, 2, 3, 4, 5], "startTime": "11:00", "endTime": "14:00"}
    in_dst = Purchase(1, datetime(2018, 11, 5, 13, 30, tzinfo=UTC), 100)
    after = Purchase(2, datetime(2019, 11, 5, 13, 30, tzinfo=UTC), 100)
    assert earning([in_dst, after], campaign("R", rules)) == [1]
    # the end of DST on 17 Feb 2019: 16 Feb 15:30 UTC is 13:30 local (inside), 18 Feb 15:30 UTC is 12:30
    rules = {"weekdays": [6, 1], "startTime": "13:00", "endTime": "14:00"}
    assert earning([Purchase(3, datetime(2019, 2, 16, 15, 30, tzinfo=UTC), 1),
                    Purchase(4, datetime(2019, 2, 18, 15, 30, tzinfo=UTC), 1)], campaign("R", rules)) == [3]


@given(k=st.integers(0, 40), visits=st.integers(1, 8))
def test_frequency_in_a_wide_window_is_every_nth_visit(k, visits):
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    history = purchases([start + timedelta(hours=i) for i in range(k)])
    assert len(earning(history, campaign("F", {"visits": visits, "windowDays": 30}))) == k // visits


def test_frequency_window_forgets_old_visits():
    day = lambda d: datetime(2026, 3, d, 15, tzinfo=UTC)  # noqa: E731
    history = purchases([day(1), day(2), day(20), day(21), day(22)])
    # a 10-day window: visits of the 1st and 2nd have left it by the 20th; the 22nd is the 3rd in the window
    assert earning(history, campaign("F", {"visits": 3, "windowDays": 10})) == [5]


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 20_000)), max_size=40), st.integers(1, 30_000),
       st.integers(1, 60))
@settings(max_examples=200)
def test_amount_against_an_oracle(days_and_amounts, target, window):
    start = datetime(2026, 1, 1, 15, tzinfo=UTC)
    history = purchases([start + timedelta(days=d) for d, _ in days_and_amounts], [a for _, a in days_and_amounts])
    expected, since = [], []
    for p in history:
        since.append(p)
        since = [q for q in since if (p.local_date - q.local_date).days < window]
        if sum(q.amount for q in since) >= target:
            expected.append(p.key)
            since = []
    assert earning(history, campaign("A", {"amount": engine.brl(target), "windowDays": window})) == expected


@given(st.lists(st.integers(0, 2000), max_size=30, unique=True), st.integers(1, 200))
def test_recency_against_an_oracle(days, away):
    start = datetime(2026, 1, 1, 15, tzinfo=UTC)
    history = purchases([start + timedelta(days=d) for d in days])
    expected = [b.key for a, b in itertools.pairwise(history) if (b.local_date - a.local_date).days >= away]
    assert earning(history, campaign("X", {"daysAway": away})) == expected


def test_birthday_period_wraps_the_year_and_leap_days():
    c = campaign("B", {"daysBefore": 3, "daysAfter": 2})
    at = lambda y, m, d: Purchase(y * 10000 + m * 100 + d, datetime(y, m, d, 15, tzinfo=UTC), 100)  # noqa: E731
    history = [at(2026, 12, 28), at(2026, 12, 29), at(2027, 1, 2), at(2027, 1, 3), at(2027, 1, 4)]
    assert earning(history, c, date(1990, 1, 1)) == [20261229, 20270102, 20270103]  # 29 Dec … 3 Jan
    leap = [at(2027, 2, 28), at(2027, 3, 3)]
    assert earning(leap, campaign("B", {"daysBefore": 0, "daysAfter": 0}), date(2000, 2, 29)) == [20270228]
    assert earning(history, c, None) == []
    # early January, in the period of last year's late-December birthday
    january = [at(2027, 1, 2), at(2027, 1, 6)]
    december = campaign("B", {"daysBefore": 0, "daysAfter": 5})
    assert earning(january, december, date(1990, 12, 30)) == [20270102]
    assert replay(january, [december], date(1990, 12, 30))[20270102][0].reason.endswith("around 2026-12-30")


@given(st.dates(date(1920, 1, 1), date(2010, 12, 31)), st.integers(0, 31), st.integers(0, 31),
       st.lists(moments, max_size=20, unique=True))
def test_birthday_against_an_oracle(birthdate, before, after, times):
    """A purchase earns when its local date is within the period around the holder's birthday
    in its own year or either neighbour (29 February in a common year: the 28th), and says which."""
    def birthday(year):
        return birthdate.replace(year=year) if birthdate.month != 2 or birthdate.day != 29 or (year % 4 == 0 and (
            year % 100 != 0 or year % 400 == 0)) else date(year, 2, 28)
    history = purchases(times)
    expected = {}
    for p in history:
        day = p.local_date
        near = [b for b in (birthday(day.year + k) for k in (-1, 0, 1))
                if b - timedelta(days=before) <= day <= b + timedelta(days=after)]
        if near:
            expected[p.key] = near[0]
    earned = replay(history, [campaign("B", {"daysBefore": before, "daysAfter": after})], birthdate)
    assert sorted(earned) == sorted(expected)
    for key, (won,) in earned.items():
        assert won.reason.endswith(f"around {expected[key].isoformat()}")


def test_event_days_are_local_dates():
    c = campaign("E", {"dates": ["2026-12-24"]})
    late_evening = Purchase(1, datetime(2026, 12, 25, 2, 30, tzinfo=UTC), 100)  # 23:30 on the 24th in São Paulo
    next_morning = Purchase(2, datetime(2026, 12, 25, 12, 0, tzinfo=UTC), 100)
    assert earning([late_evening, next_morning], c) == [1]


def test_generic_and_the_reward_conditions():
    t = lambda d: Purchase(d, datetime(2026, 6, d, 15, tzinfo=UTC), 100)  # noqa: E731
    history = [t(1), t(10), t(20)]
    assert earning(history, campaign("G", {})) == [1, 10, 20]
    assert earning(history, campaign("G", {}, active=False)) == []
    assert earning(history, campaign("G", {}, start_date=date(2026, 6, 5), end_date=date(2026, 6, 15))) == [10]
    window = ((datetime(2026, 6, 5, tzinfo=UTC), datetime(2026, 6, 15, tzinfo=UTC)),
              (datetime(2026, 6, 18, tzinfo=UTC), None))
    assert earning(history, campaign("G", {}, subscribed=window)) == [10, 20]
    # counting goes on while the promotion cannot reward: P every 2 counts the 1st, rewards the 2nd only if subscribed
    assert earning(history, campaign("P", {"every": 2}, subscribed=window)) == [10]


def test_subscription_intervals_from_accepted_requests():
    t = lambda d: datetime(2026, 1, d, tzinfo=UTC)  # noqa: E731
    assert engine.subscription_intervals([(t(1), "S"), (t(5), "U"), (t(9), "S")]) == ((t(1), t(5)), (t(9), None))
    assert engine.subscription_intervals([(t(1), "U"), (t(2), "S"), (t(3), "S")]) == ((t(2), None),)


KINDS_AND_RULES = [("A", {"amount": "150.00", "windowDays": 30}), ("B", {"daysBefore": 3, "daysAfter": 7}),
                   ("E", {"dates": ["2026-03-14", "2026-06-12"]}), ("F", {"visits": 3, "windowDays": 20}),
                   ("G", {"minAmount": "10.00"}), ("P", {"every": 3}),
                   ("R", {"weekdays": [1, 3, 5], "startTime": "11:00", "endTime": "14:00"}),
                   ("X", {"daysAway": 10}), ("W", {})]


@given(st.lists(st.tuples(st.integers(0, 200 * 24), st.integers(100, 20_000)), max_size=30), st.integers(0, 30))
@settings(max_examples=200)
def test_judging_from_an_instant_is_the_full_replay_from_that_instant(hours_and_amounts, cut):
    """Ingestion judges only the new purchases (``since``); what they earn, and why, must be
    what judging the whole history says about them."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    history = purchases([start + timedelta(hours=h) for h, _ in hours_and_amounts], [a for _, a in hours_and_amounts])
    campaigns = [Campaign(i, kind, rules, "prize", date(2026, 1, 1), date(2026, 12, 31), True, ALWAYS)
                 for i, (kind, rules) in enumerate(KINDS_AND_RULES)]
    since = history[cut].occurred_at if cut < len(history) else start + timedelta(days=400)
    everything = replay(history, campaigns, date(1990, 2, 10))
    judged = replay(history, campaigns, date(1990, 2, 10), since=since)
    assert judged == {p.key: everything[p.key] for p in history if p.occurred_at >= since and p.key in everything}


@given(st.lists(st.tuples(st.integers(0, 200 * 24), st.integers(100, 20_000)), min_size=1, max_size=30))
@settings(max_examples=200)
def test_purchases_judged_as_they_arrive_earn_what_the_full_replay_says(hours_and_amounts):
    """Ingestion's usual case: each purchase judged when it arrives, the newest of its history
    (replay judges a single purchase without its loop), against the whole history at once."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    history = purchases([start + timedelta(hours=h) for h, _ in hours_and_amounts], [a for _, a in hours_and_amounts])
    campaigns = [Campaign(i, kind, rules, "prize", date(2026, 1, 1), date(2026, 12, 31), True, ALWAYS)
                 for i, (kind, rules) in enumerate(KINDS_AND_RULES)]
    as_they_arrive = {}
    for n, purchase in enumerate(history):
        as_they_arrive.update(replay(history[:n + 1], campaigns, date(1990, 2, 10), since=purchase.occurred_at))
    assert as_they_arrive == replay(history, campaigns, date(1990, 2, 10))


@given(st.from_regex(r"[0-9]{1,10}(\.[0-9]{1,2})?", fullmatch=True))
def test_amount_strings_are_their_decimal_value_in_cents(text):

    from cielo.promo.transactions.parsing import (
        ItemError,
    )

    expected = int(Decimal(text) * 100)
    if 0 < expected <= MAX_AMOUNT_CENTS:
        assert amount_cents(text) == expected
    else:
        with pytest.raises(ItemError):
            amount_cents(text)


@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_amount_numbers_of_any_size_are_cents_or_a_refusal(value):
    try:
        cents = amount_cents(value)
    except ItemError:
        return
    assert 0 < cents <= MAX_AMOUNT_CENTS and Decimal(str(value)) * 100 == cents


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                   "1999-12-31T23:59:59.999999+00:00", "2100-01-01T00:00:00Z", "2099-12-31T23:00:00-01:00"])
def test_instants_outside_the_years_are_refused_whatever_their_offset(value):
    with pytest.raises(ItemError, match="years 2000 to 2099"):
        moment(value)


def test_the_years_are_judged_by_the_instant_not_the_written_date():
    assert moment("1999-12-31T23:00:00-01:00") == datetime(2000, 1, 1, tzinfo=timezone.utc)
    assert moment("2100-01-01T00:59:59+01:00") == datetime(2099, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


_products = st.fixed_dictionaries({"id": st.integers(-2, 2**31) | st.sampled_from([0, 2**31 - 1, 2**31]),
                                   "description": st.text(max_size=102) | st.integers(98, 101).map("é".__mul__)})
_valid = st.fixed_dictionaries({
    "cardId": st.integers(1, 2**31 - 1), "commercialEstablishmentId": st.integers(1, 2**31 - 1),
    "amount": st.from_regex(r"[0-9]{1,10}(\.[0-9]{1,2})?", fullmatch=True) | st.integers(1, 10**9),
    "occurredAt": st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30), timezones=st.timezones())
                    .map(lambda d: d.isoformat()),
    "productPrimary": st.fixed_dictionaries({"id": st.integers(0, 2**31 - 1),
                                             "description": st.text(min_size=1, max_size=100)})})
_changes = st.fixed_dictionaries({}, optional={
    "cardId": st.integers(-1, 2**31) | st.booleans() | st.none(),
    "cardNumber": st.sampled_from(["4111111111111111", "4111 1111 1111 1111", "4111", "x"]),
    "commercialEstablishmentId": st.integers(-1, 2**31) | st.text(max_size=3),
    "amount": st.from_regex(r"-?[0-9]{1,11}(\.[0-9]{0,3})?", fullmatch=True) | st.floats(-1, 1e12) | st.integers(-5, 10**12)
              | st.sampled_from(["999999999.99", "1000000000.00", "0.01", 999999999.99, 0.001]),
    "occurredAt": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | st.text(max_size=5),
    "productPrimary": _products | st.none(), "productSecondary": _products | st.none(),
    "externalId": st.text(max_size=66) | st.integers(62, 65).map("x".__mul__) | st.none(), "other": st.just(1)})


_EDGE = {"cardId": 2**31 - 1, "commercialEstablishmentId": 2**31 - 1, "amount": "999999999.99",
         "occurredAt": "2099-12-31T23:59:59.999999+00:00", "productPrimary": {"id": 2**31 - 1, "description": "é" * 100}}


@settings(max_examples=300, deadline=None)
@given(_valid, _changes)
@example(_EDGE, {})  # every limit the parser allows, at once
@example(_EDGE, {"amount": 999999999.99, "occurredAt": "2000-01-01T00:00:00Z", "externalId": "x" * 64,
                 "productSecondary": {"id": 0, "description": " x "}})
@example(_EDGE, {"amount": "0.01", "cardId": None, "cardNumber": "4111 1111 1111 1111"})
def test_what_the_parser_accepts_the_documented_schema_accepts(valid, changes):
    """The back office's OpenAPI description of a transaction (parsing.SCHEMA) is never
    stricter than the parser: the parser also checks what a schema cannot (Luhn, ranges of
    years and amounts), so the converse need not hold."""
    assert set(SCHEMA["properties"]) == FIELDS
    raw = {**valid, **changes}
    if "cardNumber" in changes and changes.get("cardId", 0) is not None:
        raw.pop("cardId")
    try:
        parse(raw)
    except ItemError:
        event("refused by the parser")
        return
    event("accepted by the parser")
    jsonschema.validate(raw, SCHEMA, format_checker=jsonschema.FormatChecker())
