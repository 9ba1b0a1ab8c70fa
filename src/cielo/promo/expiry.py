"""Deleting what has expired: sign-in and card registration requests, authorization codes,
holder tokens and grants, panel sessions (API.md §3.1), and the read caches' record of which
tables each transaction wrote (db/changes.py). Each domain says what of its own is
dead (its ``prune``); this runs them all, an hour after the fact (a row is kept that long past
its expiry, so no request in flight finds it gone, and a dead link still says it expired),
once at start and every ten minutes, inside ``cielo serve`` and ``cielo worker`` alike. Any
number of processes may run it at once: each deletion checks its condition again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from cielo.db import Database, utcnow
from cielo.db.changes import RECORDS_KEPT_S, prune_table_writes
from cielo.db.pruning import Retention
from cielo.promo.cards import service as cards
from cielo.promo.developer import service as developer
from cielo.promo.oauth import service as oauth

log = logging.getLogger(__name__)

GRACE = timedelta(hours=1)
EVERY_S = 600.0


async def prune_once(db: Database, now: datetime | None = None, *, writes: Retention | None = None) -> dict[str, int]:
    """One pass: how many rows of each kind were deleted. ``writes``: where the read caches'
    record of writes (db/changes.py) stood at the earlier passes; a fresh one prunes none."""
    horizon = (now or utcnow()) - GRACE
    counts: dict[str, int] = {}
    for prune in (oauth.prune, cards.prune, developer.prune):
        counts.update(await prune(db, horizon))
    counts.update(await prune_table_writes(db, writes or Retention(RECORDS_KEPT_S)))
    return counts


async def keep_pruned(db: Database, stop: asyncio.Event, every_s: float = EVERY_S) -> None:
    writes = Retention(RECORDS_KEPT_S)
    while not stop.is_set():
        try:
            counts = await prune_once(db, writes=writes)
            if any(counts.values()):
                log.info("expired rows deleted", extra={"deleted": counts})
        except Exception as exc:  # the database is away: the next pass does it
            log.warning("deleting expired rows failed: %r", exc)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            pass
