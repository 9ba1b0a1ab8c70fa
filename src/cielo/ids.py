"""Identifiers on the wire are integers stored in 32-bit columns (PostgreSQL ``integer``):
anything outside 1..MAX_ID cannot name a row and is refused before it reaches the database
(where PostgreSQL would reject the value itself)."""

from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator, Field

from cielo.numbers import ascii_digits

MAX_ID = 2_147_483_647

# an id in a path or a query: ASCII digits (API.md §2), 1..MAX_ID
PathId = Annotated[int, Path(ge=1, le=MAX_ID), BeforeValidator(ascii_digits)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID), BeforeValidator(ascii_digits)]
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
