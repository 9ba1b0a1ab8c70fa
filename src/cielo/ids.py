"""Identifiers on the wire are integers stored in 32-bit columns (PostgreSQL ``integer``):
anything outside 1..MAX_ID cannot name a row and is refused before it reaches the database
(where PostgreSQL would reject the value itself)."""

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2_147_483_647

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
