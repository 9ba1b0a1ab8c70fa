"""How a number is written in a path or a query (API.md §2), in one place for every parser:
with the ASCII digits 0-9. Python is more generous: ``str.isdigit`` also takes superscripts
(``'²'``, which ``int`` then refuses: a 500), and ``int`` and ``float`` take every script's
decimal digits (fullwidth ``'\uff11\uff12'``, Arabic-Indic ``'\u0661\u0662'``), underscores
(``'1_0'``) and surrounding spaces; none of those is a number here, and each is refused with a
400 by its caller."""

from __future__ import annotations

import re

# a decimal number as people type it: optional sign, digits with an optional fraction, an
# optional exponent (a value out of range is the caller's to refuse, like any other)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def is_digits(text: str) -> bool:
    """Whether ``text`` is one or more of the ASCII digits 0-9 and nothing else."""
    return text.isascii() and text.isdigit()


def integer(text: str, max_digits: int, *, signed: bool = False) -> int | None:
    """The integer ``text`` writes in ASCII digits (after one ``-`` when ``signed``), or None:
    for any other character, and for more than ``max_digits`` digits (``int`` refuses strings
    of thousands of digits with an error of its own)."""
    digits = text[1:] if signed and text.startswith("-") else text
    if not is_digits(digits) or len(digits) > max_digits:
        return None
    return int(text)


def decimal(text: str) -> float | None:
    """The number ``text`` writes in ASCII (``-23.5614``, ``1e3``), or None (``'inf'``, ``'nan'``,
    ``'1_0'`` and other scripts' digits, which ``float`` takes, included)."""
    return float(text) if _DECIMAL.fullmatch(text) else None


def ascii_digits(value: object) -> object:
    """A Pydantic ``BeforeValidator`` for an integer taken from a path or a query: its text
    must be ASCII digits (Pydantic alone also takes ``'+1'``, ``' 1 '``, ``'1_0'``, ``'1.0'``)."""
    if isinstance(value, str) and not is_digits(value):
        raise ValueError("it must be written with the digits 0-9 only")
    return value
