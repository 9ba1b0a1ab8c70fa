"""Persistence: engine and sessions, the declarative base, migrations, change detection."""

from cielo.db.base import Base, UTCDateTime, utcnow
from cielo.db.engine import Database, unavailable

__all__ = ["Base", "Database", "UTCDateTime", "unavailable", "utcnow"]
