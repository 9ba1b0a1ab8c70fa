"""Checks of the holder data the partners send (CPF, birth date, e-mail, name)."""

from __future__ import annotations

import re
from datetime import date

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
