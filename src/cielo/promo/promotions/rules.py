"""The parameters of each campaign type (CONTRACT §3.5), validated: a promotion's ``rules``
object must hold exactly its type's keys (plus the optional ``minAmount``)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

_AMOUNT = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class RulesError(ValueError):
    pass


def _amount(value, name: str, *, positive: bool) -> str:
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise RulesError(f"rules.{name} must be a decimal string in BRL such as \"150.00\".")
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already rules it out
        raise RulesError(f"rules.{name} is not a number.") from None
    if positive and number <= 0:
        raise RulesError(f"rules.{name} must be greater than zero.")
    return f"{number:.2f}"


def _integer(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RulesError(f"rules.{name} must be an integer from {low} to {high}.")
    return value


def _dates(value) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= 366:
        raise RulesError("rules.dates must be a list of 1 to 366 ISO 8601 dates.")
    result = []
    for item in value:
        try:
            result.append(date.fromisoformat(item).isoformat())
        except (TypeError, ValueError):
            raise RulesError(f"rules.dates holds {item!r}, which is not an ISO 8601 date (YYYY-MM-DD).") from None
    return sorted(set(result))


def _weekdays(value) -> list[int]:
    if not isinstance(value, list) or not value:
        raise RulesError("rules.weekdays must be a non-empty list of ISO weekdays (1 = Monday … 7 = Sunday).")
    days = [_integer(v, "weekdays[]", 1, 7) for v in value]
    return sorted(set(days))


def _time(value, name: str) -> str:
    if not isinstance(value, str) or not _TIME.match(value):
        raise RulesError(f"rules.{name} must be a local time HH:MM (America/Sao_Paulo).")
    return value


SCHEMAS = {
    "A": {"amount": lambda v: _amount(v, "amount", positive=True), "windowDays": lambda v: _integer(v, "windowDays", 1, 3650)},
    "B": {"daysBefore": lambda v: _integer(v, "daysBefore", 0, 31), "daysAfter": lambda v: _integer(v, "daysAfter", 0, 31)},
    "E": {"dates": _dates},
    "F": {"visits": lambda v: _integer(v, "visits", 1, 1000), "windowDays": lambda v: _integer(v, "windowDays", 1, 3650)},
    "G": {},
    "P": {"every": lambda v: _integer(v, "every", 1, 1000)},
    "R": {"weekdays": _weekdays, "startTime": lambda v: _time(v, "startTime"), "endTime": lambda v: _time(v, "endTime")},
    "X": {"daysAway": lambda v: _integer(v, "daysAway", 1, 3650)},
    "W": {},
}


def validate(campaign_type: str, rules) -> dict:
    """The normalised rules of a campaign type, or RulesError with a sentence."""
    if campaign_type not in SCHEMAS:
        raise RulesError(f"campaignType must be one of {', '.join(SCHEMAS)}.")
    if not isinstance(rules, dict):
        raise RulesError("rules must be a JSON object.")
    schema = SCHEMAS[campaign_type]
    unknown = sorted(set(rules) - set(schema) - {"minAmount"})
    if unknown:
        raise RulesError(f"rules of campaign type {campaign_type} take {', '.join(sorted(schema)) or 'no keys'} "
                         f"(and minAmount); unknown: {', '.join(unknown)}.")
    missing = sorted(set(schema) - set(rules))
    if missing:
        raise RulesError(f"rules of campaign type {campaign_type} must give {', '.join(missing)}.")
    result = {key: check(rules[key]) for key, check in schema.items()}
    if campaign_type == "R" and result["startTime"] >= result["endTime"]:
        raise RulesError("rules.startTime must be before rules.endTime.")
    if "minAmount" in rules:
        result["minAmount"] = _amount(rules["minAmount"], "minAmount", positive=False)
    return result
