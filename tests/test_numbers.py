"""cielo.numbers: a number in a path or a query is ASCII digits, and nothing Python would also
take for one (other scripts' digits, superscripts, underscores, signs, spaces)."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cielo.numbers import decimal, integer, is_digits

# what str.isdigit, int or float take and a number here is not
# superscripts, fullwidth, Arabic-Indic, N'Ko, mathematical double-struck, mixed
NOT_ASCII = ["²", "¹²", "\uff11\uff12", "\u0661\u0662", "\u07c1", "\U0001d7d9", "\u0663.\u0665", "1²", "\u0660"]
LOOKALIKES = ["1_0", "+1", " 1", "1 ", "1.0", "1e3", "0x1", "inf", "nan", "-", "", "1\n", "1\x00"]


@pytest.mark.parametrize("text", NOT_ASCII + LOOKALIKES)
def test_only_ascii_digits_are_an_integer(text):
    assert not is_digits(text)
    assert integer(text, 20) is None


@pytest.mark.parametrize("text", NOT_ASCII + ["1_0", "inf", "nan", "-inf", "1e", ".", "+", "0x1p3", " 1"])
def test_only_ascii_is_a_decimal(text):
    assert decimal(text) is None


def test_what_is_a_number():
    assert integer("007", 3) == 7 and integer("-12", 3, signed=True) == -12
    assert integer("-12", 3) is None and integer("1234", 3) is None
    assert integer("9" * 5000, 12) is None  # int() itself refuses more than 4300 digits with an error
    assert decimal("-23.5614") == -23.5614 and decimal("1e3") == 1000.0 and decimal(".5") == 0.5 and decimal("5.") == 5


@settings(max_examples=300, derandomize=True)
@given(st.text(alphabet=st.characters(categories=["Nd", "No", "Zs", "Pc"]) | st.sampled_from("0123456789-+."),
               max_size=12))
@example("²")
def test_integer_is_int_of_ascii_digits_and_never_raises(text):
    value = integer(text, 12, signed=True)
    assert (value is not None) == (re.fullmatch(r"-?[0-9]{1,12}", text) is not None)
    if value is not None:
        assert value == int(text)
    number = decimal(text)
    assert number is None or text.isascii()
