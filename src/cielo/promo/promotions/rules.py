"""The parameters of each campaign type (API.md §3.5), validated: a promotion's ``rules``
object must hold exactly its type's keys (plus the optional ``minAmount``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

_AMOUNT = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # fromisoformat alone also takes 20260314, 2026-W11-6…


class RulesError(ValueError):
    pass


class _Param(NamedTuple):
    """One parameter of a campaign type: its check (value → normalised value, or RulesError)
    and its JSON Schema (the back office's OpenAPI description), made from one spec."""
    check: Callable
    schema: dict


def _amount(name: str, *, positive: bool) -> _Param:
    def check(value) -> str:
        if not isinstance(value, str) or not _AMOUNT.match(value):
            raise RulesError(f"rules.{name} must be a decimal string in BRL such as \"150.00\".")
        number = Decimal(value)  # the pattern makes it a valid decimal
        if positive and number <= 0:
            raise RulesError(f"rules.{name} must be greater than zero.")
        return f"{number:.2f}"
    return _Param(check, {"type": "string", "pattern": _AMOUNT.pattern,
                          "description": "BRL" + (", greater than zero" if positive else "")})


def _integer(name: str, low: int, high: int) -> _Param:
    def check(value) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RulesError(f"rules.{name} must be an integer from {low} to {high}.")
        return value
    return _Param(check, {"type": "integer", "minimum": low, "maximum": high})


def _dates_check(value) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= 366:
        raise RulesError("rules.dates must be a list of 1 to 366 ISO 8601 dates.")
    result = []
    for item in value:
        try:
            if not isinstance(item, str) or not _DATE.match(item):
                raise ValueError
            result.append(date.fromisoformat(item).isoformat())
        except ValueError:
            raise RulesError(f"rules.dates holds {item!r}, which is not an ISO 8601 date (YYYY-MM-DD).") from None
    return sorted(set(result))


_WEEKDAY = _integer("weekdays[]", 1, 7)


def _weekdays_check(value) -> list[int]:
    if not isinstance(value, list) or not value:
        raise RulesError("rules.weekdays must be a non-empty list of ISO weekdays (1 = Monday … 7 = Sunday).")
    return sorted({_WEEKDAY.check(v) for v in value})


def _time(name: str) -> _Param:
    def check(value) -> str:
        if not isinstance(value, str) or not _TIME.match(value):
            raise RulesError(f"rules.{name} must be a local time HH:MM (America/Sao_Paulo).")
        return value
    return _Param(check, {"type": "string", "pattern": _TIME.pattern, "description": "HH:MM, America/Sao_Paulo"})


_DATES = _Param(_dates_check, {"type": "array", "minItems": 1, "maxItems": 366,
                               "items": {"type": "string", "format": "date"}})
_WEEKDAYS = _Param(_weekdays_check, {"type": "array", "minItems": 1, "items": _WEEKDAY.schema,
                                     "description": "ISO weekdays, 1 = Monday … 7 = Sunday"})
_MIN_AMOUNT = _amount("minAmount", positive=False)

PARAMS: dict[str, dict[str, _Param]] = {
    "A": {"amount": _amount("amount", positive=True), "windowDays": _integer("windowDays", 1, 3650)},
    "B": {"daysBefore": _integer("daysBefore", 0, 31), "daysAfter": _integer("daysAfter", 0, 31)},
    "E": {"dates": _DATES},
    "F": {"visits": _integer("visits", 1, 1000), "windowDays": _integer("windowDays", 1, 3650)},
    "G": {},
    "P": {"every": _integer("every", 1, 1000)},
    "R": {"weekdays": _WEEKDAYS, "startTime": _time("startTime"), "endTime": _time("endTime")},
    "X": {"daysAway": _integer("daysAway", 1, 3650)},
    "W": {},
}


def json_schema(campaign_type: str) -> dict:
    """The JSON Schema of a campaign type's rules (R also needs startTime before endTime)."""
    params = PARAMS[campaign_type]
    return {"type": "object", "additionalProperties": False, "required": list(params),
            "properties": {**{name: p.schema for name, p in params.items()}, "minAmount": _MIN_AMOUNT.schema}}


def validate(campaign_type: str, rules) -> dict:
    """The normalised rules of a campaign type, or RulesError with a sentence."""
    if campaign_type not in PARAMS:
        raise RulesError(f"campaignType must be one of {', '.join(PARAMS)}.")
    if not isinstance(rules, dict):
        raise RulesError("rules must be a JSON object.")
    params = PARAMS[campaign_type]
    unknown = sorted(set(rules) - set(params) - {"minAmount"})
    if unknown:
        raise RulesError(f"rules of campaign type {campaign_type} take {', '.join(sorted(params)) or 'no keys'} "
                         f"(and minAmount); unknown: {', '.join(unknown)}.")
    missing = sorted(set(params) - set(rules))
    if missing:
        raise RulesError(f"rules of campaign type {campaign_type} must give {', '.join(missing)}.")
    result = {key: param.check(rules[key]) for key, param in params.items()}
    if campaign_type == "R" and result["startTime"] >= result["endTime"]:
        raise RulesError("rules.startTime must be before rules.endTime.")
    if "minAmount" in rules:
        result["minAmount"] = _MIN_AMOUNT.check(rules["minAmount"])
    return result


# The family each campaign type belongs to, as the seed names the types ("A – RFM Amount",
# "B – Event Birthday", "G – Generic"…): a promotion's campaignModel (API.md §3.5).
CAMPAIGN_MODELS = {"A": "RFM", "F": "RFM", "P": "RFM", "X": "RFM",
                   "B": "EVENT", "E": "EVENT", "R": "EVENT", "W": "EVENT", "G": "GENERIC"}
# The types whose prize is earned over several purchases (the RFM family) and redeemed at a
# later one: their promotions carry a validityRedemption, the last day to redeem it.
REDEEMED_LATER = frozenset({"A", "F", "P", "X"})
_WEEKDAY_NAMES = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
TRANSACTION_DAYS_MAX = 100  # the column's length


def transaction_days(campaign_type: str, rules: dict) -> str | None:
    """The days on which a purchase counts, for the types whose rule names them (a
    promotion's transactionDays, API.md §3.5): E its dates (``2026-12-24,2026-12-31``), R its
    weekdays (``MONDAY,TUESDAY``); None for the others, and when the list is too long to hold."""
    if campaign_type == "E":
        days = ",".join(rules["dates"])
    elif campaign_type == "R":
        days = ",".join(_WEEKDAY_NAMES[day - 1] for day in rules["weekdays"])
    else:
        return None
    return days if len(days) <= TRANSACTION_DAYS_MAX else None
