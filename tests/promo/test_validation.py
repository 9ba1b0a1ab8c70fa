"""The sign-up form's phone and gender checks (promo/validation.py), on their own."""

from __future__ import annotations

import pytest

from cielo.promo import validation
from cielo.promo.errors import PromoError


@pytest.mark.parametrize("typed,parts", [
    ("(11) 98765-4321", (11, 987654321)),
    ("11987654321", (11, 987654321)),
    ("+55 (21) 99876-5432", (21, 998765432)),
    ("(61) 3333-4444", (61, 33334444)),  # a landline: 8 digits
    ("  (85) 3456.7890 ", (85, 34567890)),
    ("", None),
    ("   ", None),
])
def test_brazilian_numbers_with_their_area_code(typed, parts):
    assert validation.phone(typed) == parts


@pytest.mark.parametrize("typed", [
    "(20) 98765-4321",  # there is no area code 20 (nor 10, 23, 25, 26, 29…)
    "(10) 3333-4444",
    "(11) 8765-4321",  # a mobile has 9 digits now, and a landline does not begin with 8
    "(11) 98765-432", "(11) 98765-43210",
    "98765-4321",  # no area code
    "0800 123 4567", "4004-0001",  # toll-free and nationwide numbers have no area code
    "+1 202 555 0100", "+351 21 123 4567",
    "(11) 9876A-4321", "11 FLOWERS", "(11)\n98765-4321",
    "".join(chr(0xFF10 + int(d)) for d in "11987654321"),  # fullwidth digits
])
def test_anything_else_is_refused(typed):
    with pytest.raises(PromoError) as refused:
        validation.phone(typed)
    assert refused.value.status_code == 400 and "area code" in refused.value.description


def test_gender():
    assert [validation.gender(v) for v in ("FEMALE", "male", " Female ", "")] == ["FEMALE", "MALE", "FEMALE", None]
    for bad in ("F", "OTHER", "FEMALE\0"):
        with pytest.raises(PromoError):
            validation.gender(bad)
