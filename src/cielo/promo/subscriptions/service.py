"""Subscription requests (API.md §3.3): queued by partners, processed exactly once.

A processing pass claims a batch inside one transaction — ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent workers take disjoint batches; the single writer lock on SQLite —
and commits each request's verdict, the new subscription state and the audit record with
that claim. A worker killed mid-batch commits nothing: its rows unlock and the next pass
takes them. So every request is processed once, whatever crashes or however many workers run.

A batch that fails (other than by the database being out of reach) is taken again one
request at a time, each in its own transaction: the others are processed, and the one that
fails has the failure counted on it and waits before its next try; after ``max_attempts`` it
is set aside as REJECTED, saying so (API.md §3.3). One bad row never stops the queue.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from cielo.admin.common import in_environment
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.cache import CacheRegistry
from cielo.db import Database, unavailable, utcnow
from cielo.db.batching import GroupWriter
from cielo.ids import MAX_ID
from cielo.promo.developer.models import Application
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError, given, invalid
from cielo.promo.establishments.models import CommercialEstablishment, EstablishmentGrant
from cielo.promo.establishments.service import visible_to
from cielo.promo.localtime import local, local_date
from cielo.promo.pagination import Page
from cielo.promo.promotions.models import Promotion
from cielo.promo.subscriptions.models import (
    EstablishmentSubscription,
    SubscriptionRequest,
)

log = logging.getLogger("cielo.subscriptions")


class QueuedRequest(NamedTuple):
    """A subscription request as written: what the 202 answers with."""

    id: int
    environment: str
    application_id: int
    establishment_id: int
    promotion_id: int
    action: str
    requested_at: datetime

ACCEPTED, REJECTED = 1, 2
STATUSES = {ACCEPTED: "ACCEPTED", REJECTED: "REJECTED"}
WORKER = Actor(None, "subscription-worker")
MAX_RETRY_DELAY_S = 300
FAILURE_CHARS = 500  # of the last error kept on the request for the back office


def set_aside_reason(attempts: int) -> str:
    """The reason a partner reads on a request set aside after failing ``attempts`` times."""
    return (f"The request could not be processed ({attempts} attempts failed) and was set aside; send it again "
            "with PATCH /subscriptions/{id}, or contact support if it fails again.")


def queue_item(row) -> dict:
    """The queue's wire model, from a SubscriptionRequest or a row of its columns."""
    return {"id": row.id, "promotionId": row.promotion_id, "subscriptionDate": local_date(row.requested_at),
            "action": row.action}


def processed_item(row) -> dict:
    body = {"id": row.id, "promotionId": row.promotion_id,
            "status": {"id": row.status, "description": STATUSES[row.status]}, "action": row.action,
            "subscriptionDate": local_date(row.requested_at), "processingDate": local_date(row.processed_at)}
    if row.reason:
        body["reason"] = row.reason
    return body


def admin_item(row: SubscriptionRequest) -> dict:
    """The back office's view of a request (``SubscriptionRequestOut``)."""
    if row.processed_at is None:
        state = "QUEUED"
    elif row.failure is not None:
        state = "FAILED"
    else:
        state = STATUSES[row.status] if row.status is not None else "REJECTED"
    return {"id": row.id, "environment": row.environment, "applicationId": row.application_id,
            "commercialEstablishmentId": row.establishment_id, "promotionId": row.promotion_id, "action": row.action,
            "state": state, "requestedAt": row.requested_at, "processedAt": row.processed_at, "reason": row.reason,
            "attempts": row.attempts, "retryAt": row.retry_at, "failure": row.failure}


def parse_body(body: dict) -> tuple[int, str]:
    unknown = sorted(set(body) - {"promotionID", "action"})
    if unknown:
        raise invalid(f"The request body has unknown fields: {', '.join(unknown)}.")
    promotion_id = given(body, "promotionID", required=True, where="body field")
    action = given(body, "action", required=True, where="body field")
    if isinstance(promotion_id, bool) or not isinstance(promotion_id, int) or promotion_id < 1:
        raise invalid("The 'promotionID' field must be a positive integer.")
    if promotion_id > MAX_ID:
        raise invalid(f"There is no promotion {promotion_id}.")
    if action not in ("S", "U"):
        raise invalid("The 'action' field must be S (subscribe) or U (unsubscribe).")
    return promotion_id, action


_REQUEST_COLUMNS = (SubscriptionRequest.id, SubscriptionRequest.application_id, SubscriptionRequest.establishment_id,
                    SubscriptionRequest.promotion_id, SubscriptionRequest.action, SubscriptionRequest.requested_at,
                    SubscriptionRequest.processed_at, SubscriptionRequest.status, SubscriptionRequest.reason)


class SubscriptionService:
    def __init__(self, db: Database, caches: CacheRegistry | None = None, *, max_attempts: int = 5,
                 retry_seconds: float = 1.0) -> None:
        self._db = db
        self.max_attempts = max_attempts
        self.retry_seconds = retry_seconds
        # Exact read caches (emptied by any commit anywhere, cielo.cache) of what partners read:
        # the queue's pages, requests by id, the processed lists and their items.
        caches = caches or CacheRegistry(db.watcher, enabled=False)
        self._reads = caches.cache("promo-subscription-reads", 50_000)
        # What a new request is checked against (its establishment visible to the application,
        # its promotion in the environment), kept while those tables are not written: queuing
        # requests does not empty it.
        self._checks = caches.cache("promo-subscription-checks", 50_000, tables=(
            CommercialEstablishment.__tablename__, EstablishmentGrant.__tablename__, Promotion.__tablename__))
        self._new_requests = GroupWriter(self._insert_requests)

    async def _promotion(self, session, env: Environment, promotion_id: int) -> None:
        promotion = await session.get(Promotion, promotion_id)
        if promotion is None or promotion.environment != env.value:
            raise invalid(f"There is no promotion {promotion_id}.")

    async def request(self, app: Application, env: Environment, establishment_id: int, body: dict) -> QueuedRequest:
        """Queue a request: its establishment and promotion checked, then written with the
        other requests arriving meanwhile (group commit, db/batching.py)."""
        promotion_id, action = parse_body(body)
        await self._checks.get_or_load(("visible", app.id, app.partner_id, env, establishment_id),
                                       lambda: self._check_visible(app, env, establishment_id))
        await self._checks.get_or_load(("promotion", env, promotion_id), lambda: self._check_promotion(env, promotion_id))
        # Checked before the write, not inside it: establishments and promotions are never
        # deleted, and processing judges the promotion again.
        try:
            return await self._new_requests.write(
                QueuedRequest(0, env.value, app.id, establishment_id, promotion_id, action, utcnow()))
        except IntegrityError:
            # the application deleted meanwhile (its requests go with it): its token with it
            raise PromoError(401, "The Access-Token is not valid.") from None

    async def _check_promotion(self, env: Environment, promotion_id: int) -> bool:
        row = await self._db.first(select(Promotion.environment).where(Promotion.id == promotion_id))
        if row is None or row.environment != env.value:
            raise invalid(f"There is no promotion {promotion_id}.")
        return True

    async def _insert_requests(self, items: list[QueuedRequest]) -> list[QueuedRequest]:
        ids = await self._db.sql.add_rows(SubscriptionRequest.__table__, {
            "environment": [i.environment for i in items], "application_id": [i.application_id for i in items],
            "establishment_id": [i.establishment_id for i in items], "promotion_id": [i.promotion_id for i in items],
            "action": [i.action for i in items], "requested_at": [i.requested_at for i in items]}, draw_ids=True)
        assert ids is not None  # drawn when asked
        return [item._replace(id=row_id) for item, row_id in zip(items, ids, strict=True)]

    async def _own(self, session, app: Application, request_id: int, *, lock: bool = False) -> SubscriptionRequest:
        row = await session.get(SubscriptionRequest, request_id, with_for_update=lock)
        if row is None or row.application_id != app.id:
            raise PromoError(404, f"There is no subscription request {request_id} of this application.")
        return row

    async def requeue(self, app: Application, env: Environment, request_id: int, body: dict) -> None:
        promotion_id, action = parse_body(body)
        async with self._db.write() as session:
            row = await self._own(session, app, request_id, lock=True)
            await self._promotion(session, env, promotion_id)
            row.promotion_id, row.action = promotion_id, action
            row.requested_at, row.processed_at, row.status, row.reason = utcnow(), None, None, None
            row.attempts, row.retry_at, row.failure = 0, None, None

    async def queued(self, app: Application, page: Page) -> tuple[list[dict], int]:
        R = SubscriptionRequest

        async def load() -> tuple[list[dict], int]:
            rows, total = await self._db.page(
                select(*_REQUEST_COLUMNS).where(R.application_id == app.id, R.processed_at.is_(None)).order_by(R.id),
                page.offset, page.limit)
            return [queue_item(row) for row in rows], total

        items, total = await self._reads.get_or_load(("queue", app.id, page.offset, page.limit), load)
        page.check_whole(total)
        return items, total

    async def queue_entry(self, app: Application, request_id: int):
        """The request (its columns) if this application made it."""
        async def load():
            row = await self._db.first(select(*_REQUEST_COLUMNS).where(SubscriptionRequest.id == request_id))
            if row is None or row.application_id != app.id:
                raise PromoError(404, f"There is no subscription request {request_id} of this application.")
            return row

        return await self._reads.get_or_load(("entry", app.id, request_id), load)

    async def _check_visible(self, app: Application, env: Environment, establishment_id: int) -> bool:
        """The same refusals as a write's (``_establishment``), read on their own (True when
        none: a value the caches keep)."""
        E = CommercialEstablishment
        row = await self._db.first(
            select(E.environment, visible_to(app, env).label("visible")).where(E.id == establishment_id))
        if row is None or row.environment != env.value:
            raise PromoError(404 if env is Environment.SANDBOX else 403,
                             f"There is no commercial establishment {establishment_id} this application may act for.")
        if not row.visible:
            raise PromoError(403, f"This application may not act for commercial establishment {establishment_id}.")
        return True

    async def processed(self, app: Application, env: Environment, establishment_id: int, page: Page):
        R = SubscriptionRequest

        async def load() -> tuple[list[dict], int]:
            await self._check_visible(app, env, establishment_id)
            rows, total = await self._db.page(
                select(*_REQUEST_COLUMNS).where(R.establishment_id == establishment_id, R.processed_at.is_not(None),
                                                R.status == ACCEPTED).order_by(R.id), page.offset, page.limit)
            return [processed_item(row) for row in rows], total

        key = ("processed", app.id, app.partner_id, env, establishment_id, page.offset, page.limit)
        items, total = await self._reads.get_or_load(key, load)
        page.check_whole(total)
        return items, total

    async def processed_one(self, app: Application, env: Environment, establishment_id: int, request_id: int) -> dict:
        async def load() -> dict:
            await self._check_visible(app, env, establishment_id)
            row = await self._db.first(select(*_REQUEST_COLUMNS).where(SubscriptionRequest.id == request_id))
            if row is None or row.establishment_id != establishment_id or row.processed_at is None:
                raise PromoError(404, f"There is no processed subscription {request_id} of commercial establishment "
                                      f"{establishment_id}.")
            return processed_item(row)

        return await self._reads.get_or_load(("processed-one", app.id, app.partner_id, env, establishment_id,
                                              request_id), load)

    # ---- the back office ----------------------------------------------------------------

    async def admin_list(self, env: Environment, state: str | None, offset: int, limit: int) -> list[dict]:
        R = SubscriptionRequest
        stmt = select(R).where(R.environment == env.value)
        if state == "QUEUED":
            stmt = stmt.where(R.processed_at.is_(None))
        elif state == "FAILED":
            stmt = stmt.where(R.processed_at.is_not(None), R.failure.is_not(None))
        async with self._db.read() as session:
            rows = (await session.scalars(stmt.order_by(R.id).offset(offset).limit(limit))).all()
        return [admin_item(row) for row in rows]

    async def admin_one(self, env: Environment, request_id: int) -> dict:
        async with self._db.read() as session:
            row = await in_environment(session, SubscriptionRequest, env, request_id, "subscription request")
        return admin_item(row)

    # ---- processing --------------------------------------------------------------------

    async def process_batch(self, limit: int = 200) -> int:
        """Process up to ``limit`` queued requests that are due, in one transaction; when that
        fails for any reason but the database's absence, the same requests one at a time.
        Returns how many requests were processed, or had a failure counted."""
        try:
            return await self._process(limit)
        except Exception as exc:
            if unavailable(exc):
                raise
            log.warning("a batch of subscription requests failed; taking them one at a time",
                        extra={"error": _describe(exc)})
        done = 0
        for request_id in await self._due(limit):
            try:
                done += await self._process(1, only=request_id)
            except Exception as exc:
                if unavailable(exc):
                    raise
                done += 1
                try:
                    await self._count_failure(request_id, exc)
                except Exception as again:  # the row cannot even be marked: leave it, go on with the others
                    if unavailable(again):
                        raise
                    log.exception("subscription request %s: its failure could not be recorded", request_id)
        return done

    def _due_clause(self, now: datetime):
        R = SubscriptionRequest
        return and_(R.processed_at.is_(None), or_(R.retry_at.is_(None), R.retry_at <= now))

    async def _due(self, limit: int) -> list[int]:
        R = SubscriptionRequest
        async with self._db.read() as session:
            return list((await session.scalars(
                select(R.id).where(self._due_clause(utcnow())).order_by(R.id).limit(limit))).all())

    async def _count_failure(self, request_id: int, exc: BaseException) -> None:
        """One more failed attempt of the request (in a transaction of its own): it waits before
        its next try, or, at ``max_attempts``, is processed as REJECTED with a reason saying so."""
        async with self._db.write() as session:
            row = await session.get(SubscriptionRequest, request_id, with_for_update=True)
            if row is None or row.processed_at is not None:
                return
            now = utcnow()
            row.attempts += 1
            row.failure = _describe(exc)
            if row.attempts >= self.max_attempts:
                row.processed_at, row.status, row.reason, row.retry_at = now, 2, set_aside_reason(row.attempts), None
                audit.record(session, WORKER, "process", "subscription_request", str(row.id),
                             {"action": row.action, "status": STATUSES[2], "attempts": row.attempts})
                log.error("subscription request %s set aside after %s failed attempts", row.id, row.attempts,
                          extra={"error": row.failure})
            else:
                delay = min(self.retry_seconds * 2 ** (row.attempts - 1), MAX_RETRY_DELAY_S)
                row.retry_at = now + timedelta(seconds=delay)
                log.warning("subscription request %s failed (attempt %s of %s)", row.id, row.attempts,
                            self.max_attempts, extra={"error": row.failure})

    async def _process(self, limit: int, only: int | None = None) -> int:
        """Claim and process up to ``limit`` due requests (or the one ``only``) in one
        transaction. The batch's promotions and subscription states are read in two statements,
        the states locked in one order everywhere (no deadlock between workers), instead of two
        reads per request."""
        R, S = SubscriptionRequest, EstablishmentSubscription
        async with self._db.write() as session:
            sql = self._db.sql
            stmt = select(R).where(self._due_clause(utcnow())).order_by(R.id).limit(limit)
            if only is not None:
                stmt = stmt.where(R.id == only)
            rows = (await session.scalars(sql.for_update(stmt, skip_locked=True))).all()
            if not rows:
                return 0
            promotions = {p.id: p for p in (await session.scalars(
                select(Promotion).where(sql.among(Promotion.id, {r.promotion_id for r in rows})))).all()}
            wanted = sql.pairs_table(sorted({(r.establishment_id, r.promotion_id) for r in rows}))
            states_stmt = sql.for_update(
                select(S).join(wanted, and_(S.establishment_id == wanted.c.a, S.promotion_id == wanted.c.b))
                .order_by(S.establishment_id, S.promotion_id), of=S)
            states = {(s.establishment_id, s.promotion_id): s for s in (await session.scalars(states_stmt)).all()}
            now = utcnow()
            today = local(now).date()
            for row in rows:
                self._decide(session, row, now, today, promotions.get(row.promotion_id), states)
        return len(rows)

    @staticmethod
    def _decide(session, row: SubscriptionRequest, now: datetime, today, promotion: Promotion | None,
                states: dict[tuple[int, int], EstablishmentSubscription]) -> None:
        pair = (row.establishment_id, row.promotion_id)
        state = states.get(pair)
        subscribed = state is not None and state.subscribed
        reason = None
        if row.action == "S":
            if promotion is None or promotion.environment != row.environment:
                reason = "The promotion does not exist."
            elif not promotion.active:
                reason = "The promotion is not active."
            elif promotion.end_date < today:
                reason = f"The promotion ended on {promotion.end_date.isoformat()}."
            elif subscribed:
                reason = "The establishment is already subscribed to this promotion."
        elif not subscribed:
            reason = "The establishment is not subscribed to this promotion."
        row.processed_at, row.status, row.reason = now, REJECTED if reason else ACCEPTED, reason
        row.retry_at, row.failure = None, None
        if reason is None:
            if state is None:  # later requests of the batch for the same pair see it
                states[pair] = EstablishmentSubscription(establishment_id=row.establishment_id,
                                                         promotion_id=row.promotion_id, subscribed=True,
                                                         changed_at=now, request_id=row.id)
                session.add(states[pair])
            else:
                state.subscribed, state.changed_at, state.request_id = row.action == "S", now, row.id
        audit.record(session, WORKER, "process", "subscription_request", str(row.id),
                     {"action": row.action, "status": STATUSES[row.status]})


def _describe(exc: BaseException) -> str:
    """An error in one line for the log and the back office: its class and first line (the
    driver's own message, without SQLAlchemy's statement and parameters)."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}"[:FAILURE_CHARS]


async def run_consumer(service: SubscriptionService, stop: asyncio.Event, *, idle_seconds: float = 0.2,
                       batch: int = 200, max_backoff: float = 5.0) -> None:
    """Process the queue until ``stop`` is set; sleeps only when the queue is empty, or longer
    (up to ``max_backoff``) while the database is out of reach."""
    outage = 0
    while not stop.is_set():
        wait = idle_seconds
        try:
            done = await service.process_batch(batch)
            if outage:
                log.warning("subscription queue: the database answers again")
            outage = 0
        except Exception as exc:  # what was claimed rolled back: log, wait, try again
            done = 0
            if unavailable(exc):
                if not outage:
                    log.warning("subscription queue: the database is out of reach", extra={"error": _describe(exc)})
                outage += 1
                wait = min(idle_seconds * 2 ** outage, max_backoff)
            else:
                log.exception("subscription batch failed")
        if done == 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass
