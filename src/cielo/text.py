"""What a line of text may hold, in one place for every validator: no control characters (C0,
DEL, C1) and no lone surrogates. PostgreSQL text cannot even hold a NUL, and a control
character in a name or a line of an address is never meant."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

_CONTROLS = r"\x00-\x1f\x7f-\x9f"  # C0, DEL and C1, as a character-class range
# for Pydantic's ``pattern`` (a Python str never reaches it with a lone surrogate: JSON
# decoding refuses them first)
LINE_PATTERN = rf"^[^{_CONTROLS}]*$"
_CONTROL = re.compile(rf"[{_CONTROLS}\ud800-\udfff]")


def _line(max_length: int, min_length: int = 0) -> StringConstraints:
    """One line of text (a name, an address line, a prize): no control characters."""
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=LINE_PATTERN)


# wire fields of one line of text, by their longest: never empty (a field with nothing to say
# is left out, API.md §2)
Name = Annotated[str, _line(100, min_length=1)]
Line20 = Annotated[str, _line(20, min_length=1)]
Line100 = Annotated[str, _line(100, min_length=1)]
Line200 = Annotated[str, _line(200, min_length=1)]
Prize = Annotated[str, _line(200, min_length=1)]
# several lines: tabs and line breaks allowed, other C0 controls not
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000,
                                               pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]


def has_control(value: str) -> bool:
    """Whether ``value`` holds a control character or a lone surrogate."""
    return _CONTROL.search(value) is not None


# an address as people type it: a local part without spaces or control characters, and a
# host name of labels (no IP literals, no quoted local parts)
_EMAIL = re.compile(rf"[^@\s{_CONTROLS}]{{1,64}}@"
                    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


def is_email(value: str, max_length: int = 254) -> bool:
    return len(value) <= max_length and _EMAIL.fullmatch(value) is not None
