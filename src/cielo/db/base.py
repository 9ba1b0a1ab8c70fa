"""Declarative base shared by every domain's tables."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from sqlalchemy import DateTime, MetaData, Table
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on both databases (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def bind_processor(self, dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite keeps text: the dialect's format ('2026-03-05 13:22:33.120000') written by
        # isoformat in one step, where process_bind_param and then the dialect's formatting took
        # three times as long (a batch writes a thousand). A test holds the two equal.
        def process(value, utc=timezone.utc):
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            if value.tzinfo is not utc:
                value = value.astimezone(utc)
            return value.isoformat(" ", "microseconds")[:26]

        return process

    def result_processor(self, dialect, coltype):
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite keeps the dialect's text ('2026-03-05 13:22:33.120000', UTC): parsed with its
        # offset written on in one step, where the dialect's parser and then process_result_value's
        # datetime.replace took several times as long (a batch's history reads thousands)
        def process(value, parse=datetime.fromisoformat, utc=timezone.utc):
            if value is None:
                return None
            try:
                return parse(value + "+00:00")
            except ValueError:  # text that carries its own offset
                return parse(value).astimezone(utc)

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __table__: ClassVar[Table]  # every model is mapped to one Table (SQLAlchemy types it as a FromClause)
