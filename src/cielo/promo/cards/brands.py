"""Card brand from the number's leading digits (IIN/BIN ranges).

No maintained Python library carries the Brazilian brands (Elo, Hipercard), so the table is
kept here, from the brands' published ranges. Order matters: Elo and Hipercard ranges sit
inside Visa's and Discover's, so they are tried first.
"""

from __future__ import annotations

# (brand, [(low, high) over the first 6 digits], allowed lengths)
_ELO_RANGES = [
    (401178, 401179), (431274, 431274), (438935, 438935), (451416, 451416), (457393, 457393),
    (457631, 457632), (504175, 504175), (506699, 506778), (509000, 509999), (627780, 627780),
    (636297, 636297), (636368, 636368), (650031, 650033), (650035, 650051), (650405, 650439),
    (650485, 650538), (650541, 650598), (650700, 650718), (650720, 650727), (650901, 650978),
    (651652, 651679), (655000, 655019), (655021, 655058),
]
_HIPERCARD_RANGES = [(606282, 606282), (384100, 384100), (384140, 384140), (384160, 384160), (637095, 637095),
                     (637568, 637568), (637599, 637599), (637609, 637609), (637612, 637612)]

_TABLE = [
    ("Elo", _ELO_RANGES, {16}),
    ("Hipercard", _HIPERCARD_RANGES, {13, 16, 19}),
    ("Amex", [(340000, 349999), (370000, 379999)], {15}),
    ("Diners", [(300000, 305999), (309500, 309599), (360000, 369999), (380000, 399999)], {14, 16, 19}),
    ("JCB", [(352800, 358999)], {16, 17, 18, 19}),
    ("Discover", [(601100, 601199), (644000, 659999), (622126, 622925)], {16, 19}),
    ("Mastercard", [(510000, 559999), (222100, 272099)], {16}),
    ("Visa", [(400000, 499999)], {13, 16, 19}),
]


def brand_of(digits: str) -> str | None:
    """The brand of a card number (digits only), or None when no known brand issues it."""
    if len(digits) < 12:
        return None
    prefix = int(digits[:6])
    for brand, ranges, lengths in _TABLE:
        if any(low <= prefix <= high for low, high in ranges):
            return brand if len(digits) in lengths else None
    return None


def cvv_length(brand: str) -> int:
    return 4 if brand == "Amex" else 3
