"""Checks of the holder data the partners send (CPF, birth date, e-mail, name) and of what
holders add on the sign-up form (gender, phone)."""

from __future__ import annotations

import re
from datetime import date

import phonenumbers
from stdnum.br import cpf as stdnum_cpf
from stdnum.exceptions import ValidationError

from cielo.promo.errors import invalid
from cielo.text import has_control, is_email

MIN_AGE_YEARS = 10
_CPF_SHAPE = re.compile(r"^([0-9]{11}|[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2})$")


def cpf(value: str, name: str = "cpf") -> str:
    """The 11 digits of a valid CPF (with or without punctuation), or a 400."""
    value = value.strip()
    if not _CPF_SHAPE.match(value):
        raise invalid(f"The '{name}' parameter must be a CPF of 11 digits, with or without punctuation (000.000.000-00).")
    try:
        digits = stdnum_cpf.validate(value)
    except ValidationError:
        raise invalid(f"The '{name}' parameter is not a valid CPF: its check digits do not match.") from None
    if len(set(digits)) == 1:
        raise invalid(f"The '{name}' parameter is not a valid CPF.")
    return digits


def birthdate(value: str, today: date | None = None) -> date:
    today = today or date.today()
    try:
        born = date.fromisoformat(value.strip())
    except ValueError:
        raise invalid("The 'birthdate' parameter must be an ISO 8601 date (YYYY-MM-DD).") from None
    if born.year < 1900 or born > today:
        raise invalid("The 'birthdate' parameter must be a date between 1900 and today.")
    tenth = date(born.year + MIN_AGE_YEARS, born.month, 28 if (born.month, born.day) == (2, 29) else born.day)
    if tenth > today:
        raise invalid(f"The holder must be at least {MIN_AGE_YEARS} years old.")
    return born


def email(value: str) -> str:
    value = value.strip()
    if not is_email(value, max_length=100):
        raise invalid("The 'email' parameter must be a valid e-mail address of at most 100 characters.")
    return value


def name(value: str) -> str:
    value = " ".join(value.split())
    if not value or len(value) > 100:
        raise invalid("The 'name' parameter must have 1 to 100 characters.")
    if has_control(value):
        raise invalid("The 'name' parameter must not contain control characters.")
    return value


GENDERS = ("FEMALE", "MALE")
# What a person types for a phone number: digits, spaces, ( ) + - . — no letters (phonenumbers
# would read 'vanity' letters as digits).
_PHONE_SHAPE = re.compile(r"^[0-9 ()+.-]{8,25}$")
_PHONE_TYPES = {phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def gender(value: str) -> str | None:
    """FEMALE, MALE, or None when not given (API.md §3.2)."""
    value = value.strip().upper()
    if not value:
        return None
    if value not in GENDERS:
        raise invalid("The gender must be FEMALE or MALE, or left empty.")
    return value


def phone(value: str) -> tuple[int, int] | None:
    """A Brazilian landline or mobile number with its area code (DDD), e.g. ``(11) 98765-4321``,
    as (area code, number): the area code must be one in use and the number of its kind (8
    digits for a landline, 9 beginning with 9 for a mobile), as libphonenumber's numbering plan
    for Brazil says. None when not given."""
    value = value.strip()
    if not value:
        return None
    problem = "Enter a Brazilian phone number with its area code, e.g. (11) 98765-4321."
    if not _PHONE_SHAPE.match(value):
        raise invalid(problem)
    try:
        number = phonenumbers.parse(value, "BR")
    except phonenumbers.NumberParseException:
        raise invalid(problem) from None
    national = str(number.national_number)
    if (number.country_code != 55 or len(national) not in (10, 11) or not phonenumbers.is_valid_number(number)
            or phonenumbers.number_type(number) not in _PHONE_TYPES):
        raise invalid(problem)
    return int(national[:2]), int(national[2:])


_CNPJ_SHAPE = re.compile(r"^([0-9A-Za-z]{12}[0-9]{2}|[0-9A-Za-z]{2}\.[0-9A-Za-z]{3}\.[0-9A-Za-z]{3}/[0-9A-Za-z]{4}-[0-9]{2})$")


def cnpj(value: str, name: str = "cnpj") -> str:
    """The 14 characters of a valid CNPJ, numeric or the alphanumeric kind issued from July
    2026 (python-stdnum ≥ 2.2 knows both), with or without punctuation; else a 400."""
    from stdnum.br import cnpj as stdnum_cnpj

    value = value.strip()
    if not _CNPJ_SHAPE.match(value):
        raise invalid(f"The '{name}' parameter must be a CNPJ of 14 characters, with or without punctuation "
                      "(00.000.000/0000-00).")
    try:
        compact = stdnum_cnpj.validate(value.upper())
    except ValidationError:
        raise invalid(f"The '{name}' parameter is not a valid CNPJ: its check digits do not match.") from None
    if len(set(compact)) == 1:
        raise invalid(f"The '{name}' parameter is not a valid CNPJ.")
    return compact
