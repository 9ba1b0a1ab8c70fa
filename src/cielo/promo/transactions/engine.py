"""The campaign engine: which purchases of a holder at an establishment earn which promotion
(API.md §3.5).

Pure functions over plain values, so that the rules can be read (one small rule per
campaign type), property-tested and replayed: `replay` judges a holder's whole history at one
establishment, oldest first, and says what each purchase earns and why. Ingestion, reversal
and late arrivals all call it; the service decides which of its answers to store.

Definitions the rules share:
- A purchase *counts* for a promotion when it was not cancelled or undone (the caller passes
  only those) and its amount is at least the promotion's ``minAmount``.
- Dates are local dates in America/Sao_Paulo; a window of N days ending at a purchase holds
  the purchases of that local date and of the N − 1 dates before it.
- The counting rules (A, F, P, X, W) follow the holder's counted purchases whether or not the
  promotion could reward them at the time; a firing is *rewarded* when the promotion is
  active, the purchase's local date is within its start and end dates, and the establishment
  was subscribed to it at the purchase's ``occurredAt``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

from cielo.promo.localtime import SAO_PAULO


def cents(amount: str | Decimal) -> int:
    return int((Decimal(amount) * 100).to_integral_value())


def brl(amount_cents: int) -> str:
    return f"{amount_cents // 100}.{amount_cents % 100:02d}"


class Purchase:
    """A counted purchase: its key (the transaction id, or a provisional key before it has
    one), when it happened (aware), its amount in cents, and its São Paulo local time, date and
    day number (the windows count days as integers). A plain slotted class: a batch builds one
    per purchase of every history it replays (a dataclass's __post_init__ doubled the cost)."""
    __slots__ = ("key", "occurred_at", "amount", "local_at", "day")

    def __init__(self, key: int, occurred_at: datetime, amount: int) -> None:
        self.key, self.occurred_at, self.amount = key, occurred_at, amount
        self.local_at = local_at = occurred_at.astimezone(SAO_PAULO)
        self.day = local_at.toordinal()  # the local date's day number

    @property
    def local_date(self) -> date:
        return self.local_at.date()

    def __repr__(self) -> str:
        return f"Purchase({self.key}, {self.occurred_at.isoformat()}, {self.amount})"


@dataclass(frozen=True, slots=True)
class Campaign:
    """A promotion as the engine needs it, with the intervals [from, to) during which the
    establishment was subscribed to it (to = None: still subscribed). Its rule is prepared
    once (amounts in cents, times and dates parsed): campaigns are kept in memory and judge
    every batch."""
    promotion_id: int
    campaign_type: str
    rules: dict
    premium: str
    start_date: date
    end_date: date
    active: bool
    subscribed: tuple[tuple[datetime, datetime | None], ...]
    floor: int = field(init=False, repr=False, compare=False)  # minAmount in cents (0: none)
    judge: Callable = field(init=False, repr=False, compare=False)  # its rule's (see Rule)
    each: bool = field(init=False, repr=False, compare=False)
    heading: tuple = field(init=False, repr=False, compare=False)  # what every Earned of it begins with
    first_day: int = field(init=False, repr=False, compare=False)  # start and end dates as day numbers
    last_day: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "floor", cents(self.rules["minAmount"]) if "minAmount" in self.rules else 0)
        rule = RULES[self.campaign_type](self.rules)
        object.__setattr__(self, "judge", rule.judge)
        object.__setattr__(self, "each", rule.each)
        object.__setattr__(self, "heading", (self.promotion_id, self.campaign_type, self.premium))
        object.__setattr__(self, "first_day", self.start_date.toordinal())
        object.__setattr__(self, "last_day", self.end_date.toordinal())

    def rewards_at(self, purchase: Purchase) -> bool:
        if not self.active or not self.first_day <= purchase.day <= self.last_day:
            return False
        moment = purchase.occurred_at
        for start, end in self.subscribed:  # noqa: SIM110 - a loop is cheaper than any() over a generator here
            if start <= moment and (end is None or moment < end):
                return True
        return False


class Earned(NamedTuple):  # a tuple: a batch makes one per reward (a frozen dataclass cost ~3x)
    promotion_id: int
    campaign_type: str
    premium: str
    reason: str


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# ---- the nine rules ------------------------------------------------------------------------
# Each takes a promotion's rules (API.md §3.5) and returns its judge, of one of two kinds.
#
# A rule of each purchase (B, E, G, P, R, W, X) looks at one purchase and at most its place
# and the one before it: its judge takes the promotion's counted purchases (oldest first), the
# index n of the one judged and the holder's birthdate, and says why it fires, or None.
#
# A running rule (A, F) follows the counted purchases since its last firing: its judge takes
# them (oldest first), the index of the first one being judged and the holder's birthdate,
# and returns (purchase, why) for every judged purchase on which it fires. The purchases
# before that index still count (spend, visits), but no sentence is written for them.
#
# A batch asks ~9,000 judges, most about its one new purchase: plain functions (a generator
# costs several calls' worth to make and finish), and replay calls a rule of each purchase
# once for that purchase alone.


Fired = list[tuple[Purchase, str]]


class Rule(NamedTuple):
    judge: Callable
    each: bool  # a rule of each purchase (judge(purchases, n, birthdate) -> why | None)


def _each(judge: Callable) -> Rule:
    return Rule(judge, True)


def _running(judge: Callable) -> Rule:
    return Rule(judge, False)


def _amount(rules: dict) -> Rule:
    target, days = cents(rules["amount"]), rules["windowDays"]

    def judge(purchases: Sequence[Purchase], start: int, birthdate: date | None) -> Fired:
        fired = []
        first, total = 0, 0  # the window: purchases[first:n + 1], since the last firing and within the days
        for n, p in enumerate(purchases):
            total += p.amount
            oldest = p.day - days + 1
            while purchases[first].day < oldest:  # stops at p itself at the latest
                total -= purchases[first].amount
                first += 1
            if total >= target:
                if n >= start:
                    fired.append((p, f"spend at the establishment reached R$ {brl(total)} over {n - first + 1} "
                                     f"purchase(s) within {days} day(s) (target R$ {brl(target)})"))
                first, total = n + 1, 0
        return fired
    return _running(judge)


@lru_cache(maxsize=65536)
def _birthday_in(birthdate: date, year: int) -> int:
    """The day number of the holder's birthday in that year (29 February in a common year: the 28th)."""
    try:
        return birthdate.replace(year=year).toordinal()
    except ValueError:
        return date(year, 2, 28).toordinal()


def _birthday(rules: dict) -> Rule:
    before, after = rules["daysBefore"], rules["daysAfter"]

    def judge(purchases: Sequence[Purchase], n: int, birthdate: date | None) -> str | None:
        if birthdate is None:
            return None
        p = purchases[n]
        day, year = p.day, p.local_at.year
        # this year's birthday, else the nearer neighbour's: the period is a few days wide
        birthday = _birthday_in(birthdate, year)
        if not birthday - before <= day <= birthday + after:
            birthday = _birthday_in(birthdate, year - 1 if day < birthday else year + 1)
            if not birthday - before <= day <= birthday + after:
                return None
        return (f"purchase on {p.local_date.isoformat()}, within the birthday period around "
                f"{date.fromordinal(birthday).isoformat()}")
    return _each(judge)


def _event_day(rules: dict) -> Rule:
    days = {date.fromisoformat(d).toordinal() for d in rules["dates"]}

    def judge(purchases: Sequence[Purchase], n: int, birthdate: date | None) -> str | None:
        p = purchases[n]
        return f"purchase on the event day {p.local_date.isoformat()}" if p.day in days else None
    return _each(judge)


def _frequency(rules: dict) -> Rule:
    visits, days = rules["visits"], rules["windowDays"]

    def judge(purchases: Sequence[Purchase], start: int, birthdate: date | None) -> Fired:
        fired: Fired = []
        if len(purchases) < visits:  # no window can hold enough visits yet
            return fired
        first = 0  # the window: purchases[first:n + 1], since the last firing and within the days
        for n, p in enumerate(purchases):
            oldest = p.day - days + 1
            while purchases[first].day < oldest:  # stops at p itself at the latest
                first += 1
            if n - first + 1 >= visits:
                if n >= start:
                    fired.append((p, f"{_ordinal(n - first + 1)} visit within {days} day(s) (target {visits})"))
                first = n + 1
        return fired
    return _running(judge)


def _generic(rules: dict) -> Rule:
    def judge(purchases: Sequence[Purchase], n: int, birthdate: date | None) -> str | None:
        return "every purchase earns"
    return _each(judge)


def _punch(rules: dict) -> Rule:
    every = rules["every"]

    def judge(purchases: Sequence[Purchase], n: int, birthdate: date | None) -> str | None:
        count = n + 1  # the purchase's place among the counted ones
        return f"{_ordinal(count)} purchase at the establishment (every {every})" if count % every == 0 else None
    return _each(judge)


def _recurring(rules: dict) -> Rule:
    weekdays = set(rules["weekdays"])
    opens, closes = time.fromisoformat(rules["startTime"]), time.fromisoformat(rules["endTime"])

    def judge(purchases: Sequence[Purchase], n: int, birthdate: date | None) -> str | None:
        moment = purchases[n].local_at
        clock = moment.time()  # naive (datetime.time() drops the zone)
        if moment.isoweekday() in weekdays and opens <= clock < closes:
            return (f"purchase on ISO weekday {moment.isoweekday()} at {clock.strftime('%H:%M')} local time, "
                    f"within {rules['startTime']}–{rules['endTime']}")
        return None
    return _each(judge)


def _recency(rules: dict) -> Rule:
    days = rules["daysAway"]

    def judge(purchases: Sequence[Purchase], n: int, birthdate: date | None) -> str | None:
        if n == 0:
            return None
        away = purchases[n].day - purchases[n - 1].day
        return f"first purchase in {away} day(s) (at least {days})" if away >= days else None
    return _each(judge)


def _welcome(rules: dict) -> Rule:
    def judge(purchases: Sequence[Purchase], n: int, birthdate: date | None) -> str | None:
        return "the holder's first purchase at the establishment" if n == 0 else None
    return _each(judge)


RULES = {"A": _amount, "B": _birthday, "E": _event_day, "F": _frequency, "G": _generic, "P": _punch,
         "R": _recurring, "X": _recency, "W": _welcome}

_moment = attrgetter("occurred_at")
_earned = tuple.__new__  # Earned(*fields) without the Python-level __new__ a NamedTuple has


def replay(history: Sequence[Purchase], campaigns: Iterable[Campaign], birthdate: date | None = None,
           since: datetime | None = None) -> dict[int, list[Earned]]:
    """What each purchase of the history earns: {purchase key: [Earned, …]} (purchases that
    earn nothing are absent). ``history`` must be ordered oldest first. With ``since``, only
    the purchases from that instant on are judged; the earlier ones still count."""
    earned: dict[int, list[Earned]] = {}
    if not history:
        return earned
    last = len(history) - 1
    first = 0 if since is None else bisect_left(history, since, key=_moment)
    if first > last:
        return earned
    judged_from, judged_to = history[first].day, history[last].day
    fired: list[tuple[Campaign, Purchase, str]] = []
    for campaign in campaigns:
        # a promotion that can reward none of the judged purchases needs no replay
        if not (campaign.active and campaign.first_day <= judged_to and judged_from <= campaign.last_day):
            continue
        # the purchases the campaign counts, and where judging starts (found once above for
        # the campaigns that count every purchase)
        if campaign.floor:
            counted: Sequence[Purchase] = [p for p in history if p.amount >= campaign.floor]
            start = 0 if since is None else bisect_left(counted, since, key=_moment)
            end = len(counted) - 1
        else:
            counted, start, end = history, first, last
        judge = campaign.judge
        if not campaign.each:
            for purchase, why in judge(counted, start, birthdate):
                fired.append((campaign, purchase, why))
        elif start == end:  # the usual case: one purchase judged, the newest
            if (why := judge(counted, end, birthdate)) is not None:
                fired.append((campaign, counted[end], why))
        else:
            for n in range(start, end + 1):
                if (why := judge(counted, n, birthdate)) is not None:
                    fired.append((campaign, counted[n], why))
    for campaign, purchase, why in fired:
        if campaign.rewards_at(purchase):
            won = _earned(Earned, campaign.heading + (why,))
            if (already := earned.get(purchase.key)) is None:
                earned[purchase.key] = [won]
            else:
                already.append(won)
    return earned


def subscription_intervals(events: Iterable[tuple[datetime, str]]) -> tuple[tuple[datetime, datetime | None], ...]:
    """The intervals of a subscription from its accepted requests, oldest first: (processed
    at, 'S' or 'U')."""
    intervals: list[tuple[datetime, datetime | None]] = []
    opened: datetime | None = None
    for moment, action in events:
        if action == "S" and opened is None:
            opened = moment
        elif action == "U" and opened is not None:
            intervals.append((opened, moment))
            opened = None
    if opened is not None:
        intervals.append((opened, None))
    return tuple(intervals)
