"""Validation of the transactions the back office ingests (API.md §4), one item at a time so
that a batch can name each bad item with its index and reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from stdnum import luhn

from cielo.ids import MAX_ID
from cielo.promo.localtime import SAO_PAULO
from cielo.text import has_control

_AMOUNT = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")
MAX_AMOUNT_CENTS = 99_999_999_999  # R$ 999,999,999.99
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
FIELDS = frozenset({"cardId", "cardNumber", "commercialEstablishmentId", "amount", "occurredAt", "productPrimary",
                    "productSecondary", "externalId"})
_PRODUCT_FIELDS = frozenset({"id", "description"})


_PRODUCT_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["id", "description"],
                   "properties": {"id": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                                  "description": {"type": "string", "minLength": 1, "maxLength": 100}}}
# What `parse` accepts, as JSON Schema, for the back office's OpenAPI description (the parser
# itself stays the validator: a batch's refusal names each bad item with its index). A test
# holds the two together.
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["commercialEstablishmentId", "amount", "occurredAt", "productPrimary"],
    # the card by exactly one of cardId and cardNumber (null counts as absent)
    "oneOf": [{"required": ["cardId"], "properties": {"cardId": {"type": "integer"}}},
              {"required": ["cardNumber"], "properties": {"cardNumber": {"type": "string"}}}],
    "properties": {
        "cardId": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID},
        "cardNumber": {"type": ["string", "null"], "description": "12 to 19 digits (spaces and dashes allowed), "
                                                                  "Luhn-valid; matched by fingerprint, never stored"},
        "commercialEstablishmentId": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "amount": {"oneOf": [{"type": "string", "pattern": _AMOUNT.pattern}, {"type": "number", "exclusiveMinimum": 0}],
                   "description": "BRL, at most 999999999.99"},
        "occurredAt": {"type": "string", "format": "date-time", "description": "with its UTC offset, years 2000-2099"},
        "productPrimary": _PRODUCT_SCHEMA,
        "productSecondary": {"anyOf": [_PRODUCT_SCHEMA, {"type": "null"}]},
        "externalId": {"type": ["string", "null"], "minLength": 1, "maxLength": 64,
                       "description": "idempotency key: a repeated one answers with the first transaction"},
    },
}


class ItemError(ValueError):
    """A sentence saying what is wrong with one transaction."""


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each field through object.__setattr__
class Item:
    card_id: int | None
    card_number: str | None  # only until it is fingerprinted; never stored or logged
    establishment_id: int
    amount: int  # cents
    occurred_at: datetime
    primary: tuple[int, str]
    secondary: tuple[int, str] | None
    external_id: str | None

    def __repr__(self) -> str:  # a card number must never reach a log line through repr()
        return f"Item(card_id={self.card_id}, establishment_id={self.establishment_id}, amount={self.amount})"


def _id(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ItemError(f"'{name}' must be a positive integer.")
    return value


def amount_cents(value) -> int:
    """A decimal string in BRL ("20.00") or a JSON number, in cents."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ItemError("'amount' must be a decimal string in BRL such as \"20.00\" (or a number).")
    if isinstance(value, str):
        if not _AMOUNT.match(value):
            raise ItemError("'amount' must be a decimal string in BRL such as \"20.00\": digits, and at most two "
                            "after the point.")
        whole, _, fraction = value.partition(".")  # digits only (the pattern): no Decimal needed
        amount = int(whole) * 100 + (int(fraction.ljust(2, "0")) if fraction else 0)
        return _bounded(amount)
    else:
        try:
            number = Decimal(str(value))
        except InvalidOperation:  # pragma: no cover - JSON numbers are finite
            raise ItemError("'amount' is not a number.") from None
        if not number.is_finite():  # pragma: no cover - JSON numbers are finite
            raise ItemError("'amount' is not a number.")
        # (a number far past the largest amount is refused for its size: quantizing it would
        # overflow the decimal context, 28 digits)
        if abs(number) < MAX_AMOUNT_CENTS and number != number.quantize(Decimal("0.01")):
            raise ItemError("'amount' must have at most two decimal places.")
    return _bounded(int(number * 100))


def _bounded(amount: int) -> int:
    if amount <= 0:
        raise ItemError("'amount' must be greater than zero.")
    if amount > MAX_AMOUNT_CENTS:
        raise ItemError("'amount' must be at most 999999999.99.")
    return amount


def moment(value, name: str = "occurredAt") -> datetime:
    if not isinstance(value, str):
        raise ItemError(f"'{name}' must be an ISO 8601 date-time with its UTC offset, such as "
                        "\"2026-11-24T12:30:00-03:00\".")
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ItemError(f"'{name}' is not an ISO 8601 date-time: {value[:40]!r}.") from None
    if parsed.tzinfo is None:
        raise ItemError(f"'{name}' must carry its UTC offset (such as -03:00 or Z).")
    try:  # in UTC first: instants of one zone compare ~30x faster than of two
        parsed = parsed.astimezone(timezone.utc)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        parsed = None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise ItemError(f"'{name}' must be in the years 2000 to 2099.")
    return parsed


def _product(value, name: str) -> tuple[int, str]:
    if not isinstance(value, dict):
        raise ItemError(f"'{name}' must be an object {{id, description}}.")
    if not value.keys() <= _PRODUCT_FIELDS:
        unknown = sorted(value.keys() - _PRODUCT_FIELDS)
        raise ItemError(f"'{name}' takes id and description; unknown: {', '.join(unknown)}.")
    product_id = value.get("id")
    if isinstance(product_id, bool) or not isinstance(product_id, int) or not 0 <= product_id <= MAX_ID:
        raise ItemError(f"'{name}.id' must be an integer from 0 to {MAX_ID}.")
    description = value.get("description")
    if not isinstance(description, str) or len(description) > 100 or not (stripped := description.strip()):
        raise ItemError(f"'{name}.description' must be a text of 1 to 100 characters.")
    if has_control(description):
        raise ItemError(f"'{name}.description' must not contain control characters.")
    return product_id, stripped


def card_number(value) -> str:
    if not isinstance(value, str):
        raise ItemError("'cardNumber' must be a string of digits.")
    digits = value.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise ItemError("'cardNumber' must have 12 to 19 digits.")
    if not luhn.is_valid(digits):
        raise ItemError("'cardNumber' fails its check digit (Luhn).")
    return digits


def parse(raw) -> Item:
    if not isinstance(raw, dict):
        raise ItemError("a transaction must be a JSON object.")
    if not raw.keys() <= FIELDS:
        unknown = sorted(raw.keys() - FIELDS)
        raise ItemError(f"unknown field(s): {', '.join(unknown)}.")
    get = raw.get
    card_id, number = get("cardId"), get("cardNumber")
    if (card_id is None) == (number is None):
        raise ItemError("give the card as exactly one of 'cardId' or 'cardNumber'.")
    establishment_id, amount, occurred_at, primary = (
        get("commercialEstablishmentId"), get("amount"), get("occurredAt"), get("productPrimary"))
    if establishment_id is None or amount is None or occurred_at is None or primary is None:
        name = next(n for n in ("commercialEstablishmentId", "amount", "occurredAt", "productPrimary") if get(n) is None)
        raise ItemError(f"'{name}' is mandatory.")
    external_id = get("externalId")
    if external_id is not None and (not isinstance(external_id, str) or not 1 <= len(external_id) <= 64
                                    or not external_id.isprintable()):
        raise ItemError("'externalId' must be a text of 1 to 64 printable characters.")
    secondary = get("productSecondary")
    return Item(
        _id(card_id, "cardId") if card_id is not None else None,
        card_number(number) if number is not None else None,
        _id(establishment_id, "commercialEstablishmentId"),
        amount_cents(amount),
        moment(occurred_at),
        _product(primary, "productPrimary"),
        _product(secondary, "productSecondary") if secondary is not None else None,
        external_id,
    )


# ---- the period of /me/transactions --------------------------------------------------------

MAX_RANGE = timedelta(days=366)


def period_bound(raw: str, name: str, *, end: bool) -> tuple[datetime, datetime]:
    """(the instant the parameter names, the bound to query with): an ISO 8601 date is a whole
    local day (an end date includes its day); a date-time without offset is local time."""
    text = raw.strip()
    out_of_range = ItemError(f"The '{name}' parameter must be in the years 2000 to 2099.")
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
        parsed = datetime.fromisoformat(text) if day is None else None
    except ValueError:
        raise ItemError(f"The '{name}' parameter must be an ISO 8601 date (YYYY-MM-DD) or date-time.") from None
    if day is not None:
        if not EARLIEST.year <= day.year < LATEST.year:  # before the arithmetic: 9999-12-31 has no next day
            raise out_of_range
        start = datetime(day.year, day.month, day.day, tzinfo=SAO_PAULO)
        bound = datetime.combine(day + timedelta(days=1), datetime.min.time(), SAO_PAULO) if end else start
        return start.astimezone(timezone.utc), bound.astimezone(timezone.utc)
    assert parsed is not None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SAO_PAULO)
    if not EARLIEST <= parsed < LATEST:
        raise out_of_range
    parsed = parsed.astimezone(timezone.utc)
    return parsed, parsed + timedelta(microseconds=1) if end else parsed
