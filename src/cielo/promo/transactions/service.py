"""Transactions: ingestion through the campaign engine, cancellation and undo, the back
office's explanation, and the holder's /me/transactions (API.md §3.2, §3.5, §4).

Every write of a holder's history at an establishment is serialised per (holder,
establishment): on PostgreSQL by a transaction-scoped advisory lock taken before the history
is read, on SQLite by its single writer (write transactions begin IMMEDIATE). Two concurrent
purchases therefore never both take the same punch."""

from __future__ import annotations

import asyncio
from array import array
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)

from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.cache import CacheRegistry
from cielo.db import Database, utcnow
from cielo.db.dialects import Dialect
from cielo.promo.cards.models import Card
from cielo.promo.cards.service import CardService
from cielo.promo.environments import Environment
from cielo.promo.establishments.models import CommercialEstablishment
from cielo.promo.establishments.service import model_of as establishment_model_of
from cielo.promo.holders.models import Holder
from cielo.promo.pagination import Page
from cielo.promo.promotions.models import Promotion
from cielo.promo.subscriptions.models import SubscriptionRequest
from cielo.promo.transactions import engine
from cielo.promo.transactions.models import (
    CANCELLATION,
    KINDS,
    PURCHASE,
    UNDO,
    Transaction,
    TransactionReward,
)
from cielo.promo.transactions.parsing import Item, ItemError, parse

MAX_BATCH = 1000
# items answered between two looks at the writing task: few enough that its next step, once
# the database answers, waits little
_ANSWER_SLICE = 50
WORDS = {CANCELLATION: "cancelled", UNDO: "undone"}
ACCEPTED = 1


class IngestError(Exception):
    """Refused input: a sentence, and for a batch the bad items with their index and reason."""

    def __init__(self, status_code: int, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.status_code, self.detail, self.errors = status_code, detail, errors


@dataclass
class _New:
    index: int
    item: Item
    card_id: int
    holder_id: int
    key: int  # provisional engine key (negative) until the row has an id
    earned: list[engine.Earned]
    id: int | None = None


@dataclass
class _Known:
    """What a batch names, as the database knows it (TransactionService._resolve)."""
    cards: dict[int, tuple[int, int]]  # item index -> (card id, holder id)
    birthdates: dict[int, date | None]  # holder id -> birthdate
    versions: dict[int, int]  # establishment id -> campaigns_version
    errors: list[dict]


def _product(row, which: str) -> dict | None:
    product_id = getattr(row, f"product_{which}_id")
    if product_id is None:
        return None
    return {"id": product_id, "description": getattr(row, f"product_{which}_description")}


def admin_model(row: Transaction, rewards: list[TransactionReward] | None = None) -> dict:
    return _admin_body(
        row.id, row.environment, row.kind, row.card_id, row.holder_id, row.establishment_id, row.amount_cents,
        row.occurred_at, _product(row, "primary"), _product(row, "secondary"), row.external_id, row.reverses_id,
        row.reversed_by_id, row.contains_promotions,
        None if rewards is None else [_reward_body(
            r.promotion_id, r.campaign_type, r.premium, r.reason, r.earned_at.isoformat(), r.withdrawn_at,
            r.withdrawn_reason) for r in rewards])


def _admin_body(row_id, environment, kind, card_id, holder_id, establishment_id, amount_cents, occurred_at,
                primary, secondary, external_id, reverses_id, reversed_by_id, contains_promotions,
                rewards: list[dict] | None) -> dict:
    """The back office's transaction: from a stored row (admin_model) or, for a batch just
    ingested, from the values in memory (_fresh_model) — one shape for both."""
    body = {"id": row_id, "environment": environment, "kind": KINDS[kind], "cardId": card_id,
            "holderId": holder_id, "commercialEstablishmentId": establishment_id,
            "amount": engine.brl(amount_cents), "occurredAt": occurred_at.isoformat(),
            "productPrimary": primary, "containsPromotions": contains_promotions}
    if secondary:
        body["productSecondary"] = secondary
    if external_id is not None:
        body["externalId"] = external_id
    if reverses_id is not None:
        body["reverses"] = reverses_id
    if reversed_by_id is not None:
        body["reversedBy"] = reversed_by_id
    if rewards is not None:
        body["rewards"] = rewards
    return body


def _reward_body(promotion_id, campaign_type, premium, why, earned_at: str, withdrawn_at, withdrawn_reason) -> dict:
    body = {"promotionId": promotion_id, "campaignType": campaign_type, "premium": premium, "why": why,
            "earnedAt": earned_at}
    if withdrawn_at is not None:
        body.update(withdrawnAt=withdrawn_at.isoformat(), withdrawnBecause=withdrawn_reason)
    return body


def _fresh_model(environment: str, n: _New, earned_at: str) -> dict:
    """A purchase just ingested, answered from memory (only repeated externalIds are read back)."""
    item = n.item
    return _admin_body(
        n.id, environment, PURCHASE, n.card_id, n.holder_id, item.establishment_id, item.amount, item.occurred_at,
        {"id": item.primary[0], "description": item.primary[1]},
        {"id": item.secondary[0], "description": item.secondary[1]} if item.secondary else None,
        item.external_id, None, None, bool(n.earned),
        [_reward_body(e.promotion_id, e.campaign_type, e.premium, e.reason, earned_at, None, None)
         for e in n.earned])


async def _answer_beside(work, environment: str, new: list[_New], earned_at: str) -> dict[int, dict]:
    """The new purchases' answers, built a slice at a time while ``work`` (a write or a commit)
    runs, the loop let run between slices so that it goes on as soon as its database step is
    done; returned once it is done too."""
    running = asyncio.ensure_future(work)
    fresh: dict = {}
    try:
        for start in range(0, len(new), _ANSWER_SLICE):
            await asyncio.sleep(0)
            for n in new[start:start + _ANSWER_SLICE]:
                fresh[n.id] = _fresh_model(environment, n, earned_at)
    finally:
        await running
    return fresh


def holder_model(row: Transaction | SimpleNamespace, establishment: dict) -> dict:
    """The seed's TransactionData (``establishment``: its CommercialEstablishment model)."""
    body = {"id": row.id, "commercialEstablishment": establishment,
            "productPrimary": _product(row, "primary")}
    secondary = _product(row, "secondary")
    if secondary:
        body["productSecondary"] = secondary
    body["containsPromotions"] = row.contains_promotions
    return body


class TransactionService:
    def __init__(self, db: Database, cards: CardService, caches: CacheRegistry | None = None) -> None:
        self._db = db
        self._cards = cards
        # a holder's period as a client pages through it: its purchases' ids newest first (or,
        # for a period of more than PERIOD_IDS purchases, only their count); exact, like every
        # read cache (emptied by any commit, see cielo.cache). At most ~40 MB of ids.
        self._periods = caches.cache("holder-transaction-periods", 256) if caches and caches.enabled else None
        self._pages = caches.cache("holder-transaction-pages", 20_000) if caches and caches.enabled else None  # as answered
        self._campaign_cache: dict[int, tuple[int, list[engine.Campaign]]] = {}

    # ---- ingestion -------------------------------------------------------------------------

    async def ingest(self, env: Environment, raws, actor: Actor) -> list[tuple[dict, bool]]:
        """Ingest a batch of raw transactions all or nothing; returns (transaction, created) per
        item, in order (created is False for a repeated externalId, which answers with the
        first one). Refusals name every bad item with its index and reason."""
        items, errors = _parse_all(raws)
        async with self._db.write() as session:
            known = await self._resolve(session, env, items, errors)
            if known.errors:
                raise IngestError(400, _refusal(known.errors, len(items)), known.errors)
            return await self._store(session, env, items, known, actor)  # type: ignore[arg-type]  # no None left

    async def check(self, env: Environment, raws: list) -> list[dict]:
        """Every error ingesting these transactions would meet ({index, reason}), changing
        nothing (the import command checks a whole file before it loads any of it)."""
        items, errors = _parse_all(raws, limit=None)
        async with self._db.read() as session:
            return (await self._resolve(session, env, items, errors)).errors

    async def _resolve(self, session, env: Environment, items: list[Item | None], errors: list[dict]) -> _Known:
        """What the batch names, read once for resolving and for judging: each item's card and
        holder, the holders' birthdates, the establishments' campaign versions; and every error
        (the parsing ones given, unknown cards and unknown establishments)."""
        cards, birthdates, card_errors = await self._cards_of(session, env, items)
        errors = errors + card_errors
        # by primary key alone, the environment checked on the rows found (see _cards_of)
        sql = self._db.sql
        versions = {e: version for e, version, environment in await self._db.rows_before_writes(
            session, _lookups(sql).establishments,
            sql.among_values("ids", {i.establishment_id for i in items if i})) if environment == env.value}
        for index, item in enumerate(items):
            if item is not None and item.establishment_id not in versions:
                errors.append({"index": index, "reason": f"There is no commercial establishment "
                                                         f"{item.establishment_id} in {env.value}."})
        errors.sort(key=lambda e: e["index"])
        return _Known(cards, birthdates, versions, errors)

    async def _store(self, session, env: Environment, items: list[Item], known: _Known, actor: Actor):
        results: list[tuple[int | None, bool]] = [(None, True)] * len(items)
        by_external: dict[str, int] = {}
        externals = {i.external_id for i in items if i.external_id}
        if externals:
            # Serialise the requests that carry one externalId (a terminal retrying, or two
            # sending the same), so that the second finds the first's row instead of breaking
            # the unique index. Taken before the pairs' locks: lock_keys's one order.
            await self._db.sql.lock_keys(session, texts=[f"{env.value}:{e}" for e in externals])
            for row_id, external_id in (await session.execute(
                select(Transaction.id, Transaction.external_id)
                .where(Transaction.environment == env.value, Transaction.external_id.in_(externals))
            )).all():
                by_external[external_id] = row_id
        new: list[_New] = []
        first_of: dict[str, _New] = {}
        for index, item in enumerate(items):
            if item.external_id in by_external:
                results[index] = (by_external[item.external_id], False)
            elif item.external_id in first_of:
                results[index] = (-1 - first_of[item.external_id].index, False)
            else:
                card_id, holder_id = known.cards[index]
                entry = _New(index, item, card_id, holder_id, -1 - index, [])
                new.append(entry)
                if item.external_id:
                    first_of[item.external_id] = entry
        by_index = {n.index: n for n in new}
        fresh: dict[int, dict] = {}
        earlier = {row_id for row_id, _ in results if row_id is not None and row_id > 0}
        if earlier:  # a repeated externalId answers with the first transaction, read back
            fresh.update({m["id"]: m for m, _ in await self._models(session, [(i, False) for i in earlier])})
        if new:
            recounts = await self._judge(session, new, known)
            now = utcnow()
            for n, row_id in zip(new, await self._db.sql.reserve_ids(session, Transaction.__table__, len(new)), strict=True):
                n.id = row_id
            audit.record(session, actor, "create", "transaction", str(new[0].id) if len(new) == 1 else "batch",
                         {"count": len(new), "ids": [n.id for n in new][:1000]})
            # The new rows are answered from memory, built while the database works (write_beside).
            work = await self._db.sql.write_beside(session, self._write(session, env, new, recounts, now))
            fresh.update(await _answer_beside(work, env.value, new, now.isoformat()))
        ids = {n.key: n.id for n in new}
        return [(fresh[n.id], True) if (n := by_index.get(index)) else (fresh[ids.get(row_id, row_id)], False)  # type: ignore[index, assignment, arg-type]
                for index, (row_id, _) in enumerate(results)]

    async def _cards_of(self, session, env: Environment, items: list[Item | None]):
        """(card id, holder id) per item index, the holders' birthdates, and the errors of cards
        that are not known."""
        cards: dict[int, tuple[int, int]] = {}
        birthdates: dict[int, date | None] = {}
        errors: list[dict] = []
        by_id = {i.card_id for i in items if i and i.card_id is not None}
        id_rows = {}
        if by_id:
            # By primary key alone, the environment checked on the rows found: a condition on
            # it made SQLite walk the environment's index, every row of it, for the list: over
            # a million establishments, a batch's lookup took nearly a hundred times as long.
            sql = self._db.sql
            for card_id, holder_id, birthdate, environment in await self._db.rows_before_writes(
                    session, _lookups(sql).cards, sql.among_values("ids", by_id)):
                if environment == env.value:
                    id_rows[card_id] = holder_id
                    birthdates[holder_id] = birthdate
        fingerprints = {index: self._cards.fingerprint(env, i.card_number)
                        for index, i in enumerate(items) if i and i.card_number is not None}
        by_print: dict[str, list[tuple[int, int]]] = defaultdict(list)
        if fingerprints:
            with_holder = select(Card.id, Card.holder_id, Holder.birthdate).join(Holder, Holder.id == Card.holder_id)
            for row in (await session.execute(
                with_holder.add_columns(Card.fingerprint)
                .where(Card.environment == env.value, Card.fingerprint.in_(set(fingerprints.values())))
            )).all():
                by_print[row.fingerprint].append((row.id, row.holder_id))
                birthdates[row.holder_id] = row.birthdate
        for index, item in enumerate(items):
            if item is None:
                continue
            if item.card_id is not None:
                if item.card_id in id_rows:
                    cards[index] = (item.card_id, id_rows[item.card_id])
                else:
                    errors.append({"index": index, "reason": f"There is no card {item.card_id} in {env.value}."})
                continue
            matches = by_print.get(fingerprints[index], [])
            if len(matches) == 1:
                cards[index] = matches[0]
            elif not matches:
                errors.append({"index": index, "reason": f"No card with this number is registered in {env.value}."})
            else:
                errors.append({"index": index, "reason": "This card number is registered by more than one holder; "
                                                         "name the card by 'cardId'."})
        return cards, birthdates, errors

    async def _history(self, session, pairs, *, written: bool = True) -> dict[tuple[int, int], list[engine.Purchase]]:
        """The counted purchases (not reversed) of each (holder, establishment), oldest first
        (``written``: whether this transaction has written yet; see Database.rows_before_writes)."""
        history: dict[tuple[int, int], list[engine.Purchase]] = defaultdict(list)
        sql = self._db.sql
        stmt, values = _history_statement(sql), sql.pairs_values("pairs", sorted(pairs))
        rows = (await session.execute(stmt, values)).all() if written else \
            await self._db.rows_before_writes(session, stmt, values)
        # in each pair's order already (the statement's ORDER BY: _order's for stored purchases)
        for row_id, holder_id, establishment_id, occurred_at, amount in rows:
            history[(holder_id, establishment_id)].append(engine.Purchase(row_id, occurred_at, amount))
        return history

    async def _campaigns(self, session, establishments, versions: dict[int, int] | None = None
                         ) -> dict[int, list[engine.Campaign]]:
        """The promotions each establishment has ever been subscribed to, with the intervals of
        its subscriptions (from the accepted requests, API.md §3.3). Kept in memory per
        establishment under its ``campaigns_version`` (bumped by triggers on any change), so a
        batch reads one small column and loads only what changed."""
        E = CommercialEstablishment
        if versions is None:
            versions = dict((await session.execute(
                select(E.id, E.campaigns_version).where(self._db.sql.among(E.id, establishments)))).all())
        else:
            versions = {e: versions[e] for e in establishments}
        cache = self._campaign_cache
        stale = [e for e, version in versions.items() if cache.get(e, (None,))[0] != version]
        if stale:
            if len(cache) + len(stale) > 200_000:
                cache.clear()
            loaded = await self._load_campaigns(session, stale)
            for e in stale:
                cache[e] = (versions[e], loaded.get(e, []))
        return {e: cache[e][1] for e in versions}

    async def _load_campaigns(self, session, establishments) -> dict[int, list[engine.Campaign]]:
        R, P = SubscriptionRequest, Promotion
        events: dict[tuple[int, int], list[tuple[datetime, str]]] = defaultdict(list)
        for establishment_id, promotion_id, action, processed_at in (await session.execute(
            select(R.establishment_id, R.promotion_id, R.action, R.processed_at)
            .where(R.establishment_id.in_(establishments), R.status == ACCEPTED)
            .order_by(R.processed_at, R.id)
        )).all():
            events[(establishment_id, promotion_id)].append((processed_at, action))
        promotions = {}
        if events:
            promotions = {p.id: p for p in (await session.execute(
                select(P.id, P.campaign_type, P.rules, P.premium, P.start_date, P.end_date, P.active)
                .where(P.id.in_({p for _, p in events}))
            )).all()}
        campaigns: dict[int, list[engine.Campaign]] = defaultdict(list)
        for (establishment_id, promotion_id), history in events.items():
            p = promotions.get(promotion_id)
            if p is None:
                continue
            campaigns[establishment_id].append(engine.Campaign(
                p.id, p.campaign_type, p.rules, p.premium, p.start_date, p.end_date, p.active,
                engine.subscription_intervals(history)))
        return campaigns

    async def _birthdates(self, session, holders) -> dict[int, date | None]:
        return dict((await session.execute(
            select(Holder.id, Holder.birthdate).where(self._db.sql.among(Holder.id, holders)))).all())

    async def _judge(self, session, new: list[_New], known: _Known) -> list[tuple]:
        """What each new purchase earns (n.earned), its pair locked and its history read; and
        the recounts that late arrivals make: (pair, since, what the replay says)."""
        pairs = {_pair(n) for n in new}
        await self._db.sql.lock_keys(session, pairs=pairs)  # one order everywhere: no deadlocks
        history = await self._history(session, pairs, written=False)
        campaigns = await self._campaigns(session, {e for _, e in pairs}, known.versions)
        birthdates = known.birthdates
        incoming: dict[tuple[int, int], list[_New]] = defaultdict(list)
        for n in new:
            incoming[_pair(n)].append(n)
        recounts: list[tuple[tuple[int, int], datetime, dict[int, list[engine.Earned]]]] = []
        Purchase = engine.Purchase
        for pair, entries in incoming.items():
            if len(entries) == 1:  # the usual case: one new purchase of the pair in the batch
                n = entries[0]
                mine = [Purchase(n.key, n.item.occurred_at, n.item.amount)]
            else:
                mine = sorted((Purchase(n.key, n.item.occurred_at, n.item.amount) for n in entries), key=_order)
            earliest = mine[0].occurred_at
            # the history is in order; the new purchases usually all come after it (a stored
            # purchase goes before a new one at the same instant: _order)
            past = history.get(pair)
            late = past is not None and earliest < past[-1].occurred_at
            if past is None:
                merged = mine
            elif late:
                merged = sorted(past + mine, key=_order)
            else:
                merged = past + mine
            # only the new purchases and any stored after them are judged
            earned = engine.replay(merged, campaigns.get(pair[1], ()), birthdates.get(pair[0]), since=earliest)
            for n in entries:
                n.earned = earned.get(n.key, [])
            if late:  # later purchases are recounted
                recounts.append((pair, earliest, earned))
        return recounts

    async def _write(self, session, env: Environment, new: list[_New], recounts: list[tuple], now: datetime) -> None:
        """Write the new purchases (their ids reserved) and what they earned, and the recounts."""
        won = [(n.id, e) for n in new for e in n.earned]  # in id order, as the rewards' indexes are
        # The purchases in the order of the indexes that lead with the holder (/me/transactions'
        # and the engine's), not in the batch's: each index page they change is then changed
        # once, where a batch in time order sends every row to another page (on SQLite, whose
        # page cache is smaller than a batch's pages, ~15% of the write; the ids stay the
        # batch's order).
        new = sorted(new, key=_pair)
        count, ids = len(new), [n.id for n in new]
        items = [n.item for n in new]
        conn = await session.connection()
        # one list per column, written in one round trip (insert_columns: one statement of
        # arrays on PostgreSQL, the driver's executemany of tuples on SQLite)
        await self._db.sql.insert_columns(conn, Transaction.__table__, {
            "id": ids, "environment": [env.value] * count, "kind": [PURCHASE] * count,
            "card_id": [n.card_id for n in new], "holder_id": [n.holder_id for n in new],
            "establishment_id": [i.establishment_id for i in items], "amount_cents": [i.amount for i in items],
            "occurred_at": [i.occurred_at for i in items],
            "product_primary_id": [i.primary[0] for i in items],
            "product_primary_description": [i.primary[1] for i in items],
            "product_secondary_id": [i.secondary[0] if i.secondary else None for i in items],
            "product_secondary_description": [i.secondary[1] if i.secondary else None for i in items],
            "external_id": [i.external_id for i in items],
            "contains_promotions": [bool(n.earned) for n in new], "created_at": [now] * count,
        })
        await self._db.sql.insert_columns(conn, TransactionReward.__table__, {
            "transaction_id": [row_id for row_id, _ in won], "promotion_id": [e.promotion_id for _, e in won],
            "campaign_type": [e.campaign_type for _, e in won], "premium": [e.premium for _, e in won],
            "reason": [e.reason for _, e in won], "earned_at": [now] * len(won)})
        real = {n.key: n.id for n in new}
        for pair, since, earned in recounts:
            earned = {real.get(key, key): value for key, value in earned.items()}
            await self._apply_recount(session, pair, since, earned, now, "recounted after an earlier purchase "
                                                                          "arrived late")

    async def _apply_recount(self, session, pair, since: datetime, earned: dict[int, list[engine.Earned]],
                             now: datetime, because: str) -> None:
        """Make the stored rewards of the pair's purchases from ``since`` on what the replay says."""
        T, W = Transaction, TransactionReward
        ids = (await session.scalars(select(T.id).where(
            T.holder_id == pair[0], T.establishment_id == pair[1], _counted(), T.occurred_at >= since))).all()
        if not ids:
            return
        live: defaultdict[int, dict[int, int]] = defaultdict(dict)
        for reward_id, transaction_id, promotion_id in (await session.execute(
            select(W.id, W.transaction_id, W.promotion_id)
            .where(W.transaction_id.in_(ids), W.withdrawn_at.is_(None)))).all():
            live[transaction_id][promotion_id] = reward_id
        withdraw, add, flags = [], [], {}
        for transaction_id in ids:
            should = {e.promotion_id: e for e in earned.get(transaction_id, [])}
            has = live.get(transaction_id, {})
            withdraw += [reward_id for promotion_id, reward_id in has.items() if promotion_id not in should]
            add += [{"transaction_id": transaction_id, "promotion_id": e.promotion_id,
                     "campaign_type": e.campaign_type, "premium": e.premium, "reason": e.reason, "earned_at": now}
                    for promotion_id, e in should.items() if promotion_id not in has]
            if bool(should) != bool(has):
                flags[transaction_id] = bool(should)
        if withdraw:
            await session.execute(update(W).where(W.id.in_(withdraw)).values(withdrawn_at=now, withdrawn_reason=because))
        if add:
            await session.execute(insert(W), add)
        for value in (True, False):
            changed = [t for t, flag in flags.items() if flag is value]
            if changed:
                await session.execute(update(T).where(T.id.in_(changed)).values(contains_promotions=value))

    # ---- cancellation and undo -------------------------------------------------------------

    async def reverse(self, env: Environment, transaction_id: int, kind: str, occurred_at: datetime | None,
                      actor: Actor) -> dict:
        assert kind in (CANCELLATION, UNDO)
        word = WORDS[kind]
        async with self._db.write() as session:
            original = await session.get(Transaction, transaction_id)
            if original is None or original.environment != env.value:
                raise IngestError(404, f"There is no transaction {transaction_id} in {env.value}.")
            pair = (original.holder_id, original.establishment_id)
            await self._db.sql.lock_keys(session, pairs={pair})
            await session.refresh(original)
            if original.kind != PURCHASE:
                raise IngestError(400, f"Transaction {transaction_id} is itself a {KINDS[original.kind]}; only a "
                                       "purchase can be cancelled or undone.")
            if original.reversed_by_id is not None:
                earlier = await session.get(Transaction, original.reversed_by_id)
                assert earlier is not None  # reversed_by_id is a foreign key
                raise IngestError(400, f"Transaction {transaction_id} was already {WORDS[earlier.kind]} by "
                                       f"transaction {earlier.id}; a purchase is reversed once.")
            moment = occurred_at or utcnow()
            if moment < original.occurred_at:
                raise IngestError(400, f"'occurredAt' must not be before the transaction's own "
                                       f"({original.occurred_at.isoformat()}).")
            now = utcnow()
            reversal = Transaction(
                environment=env.value, kind=kind, card_id=original.card_id, holder_id=original.holder_id,
                establishment_id=original.establishment_id, amount_cents=original.amount_cents, occurred_at=moment,
                product_primary_id=original.product_primary_id,
                product_primary_description=original.product_primary_description,
                product_secondary_id=original.product_secondary_id,
                product_secondary_description=original.product_secondary_description,
                reverses_id=original.id, contains_promotions=False, created_at=now)
            session.add(reversal)
            await session.flush()
            claimed = await session.execute(update(Transaction).where(
                Transaction.id == original.id, Transaction.reversed_by_id.is_(None)
            ).values(reversed_by_id=reversal.id, contains_promotions=False))
            if claimed.rowcount != 1:  # type: ignore[attr-defined, unused-ignore]  # pragma: no cover - the lock and the unique reverses_id rule it out
                raise IngestError(400, f"Transaction {transaction_id} was already reversed.")
            await session.execute(update(TransactionReward).where(
                TransactionReward.transaction_id == original.id, TransactionReward.withdrawn_at.is_(None)
            ).values(withdrawn_at=now, withdrawn_reason=f"the purchase was {word} by transaction {reversal.id}"))
            audit.record(session, actor, "cancel" if kind == CANCELLATION else "undo", "transaction",
                         str(original.id), {"reversal": reversal.id})
            history = (await self._history(session, {pair})).get(pair, [])
            campaigns = await self._campaigns(session, {pair[1]})
            birthdates = await self._birthdates(session, {pair[0]})
            earned = engine.replay(history, campaigns.get(pair[1], ()), birthdates.get(pair[0]),
                                   since=original.occurred_at)
            await self._apply_recount(session, pair, original.occurred_at, earned, now,
                                      f"recounted after transaction {original.id} was {word}")
            return (await self._models(session, [(reversal.id, True)]))[0][0]

    # ---- reading ---------------------------------------------------------------------------

    async def _models(self, session, results: list[tuple[int, bool]]) -> list[tuple[dict, bool]]:
        ids = {row_id for row_id, _ in results}
        rows = {t.id: t for t in (await session.scalars(
            select(Transaction).where(self._db.sql.among(Transaction.id, ids)))).all()}
        rewards = defaultdict(list)
        for r in (await session.scalars(select(TransactionReward).where(
                self._db.sql.among(TransactionReward.transaction_id, ids)).order_by(TransactionReward.id))).all():
            rewards[r.transaction_id].append(r)
        return [(admin_model(rows[row_id], rewards[row_id]), created) for row_id, created in results]

    async def one(self, env: Environment, transaction_id: int) -> dict:
        async with self._db.read() as session:
            row = await session.get(Transaction, transaction_id)
            if row is None or row.environment != env.value:
                raise IngestError(404, f"There is no transaction {transaction_id} in {env.value}.")
            return (await self._models(session, [(row.id, False)]))[0][0]

    async def list_in(self, env: Environment, *, holder_id: int | None = None, card_id: int | None = None,
                      establishment_id: int | None = None, offset: int, limit: int) -> list[dict]:
        """The back office's list: ``env``'s transactions by id, of a holder, card or
        establishment when given, each with what it earned."""
        T = Transaction
        stmt = select(T.id).where(T.environment == env.value)
        for column, value in ((T.holder_id, holder_id), (T.card_id, card_id), (T.establishment_id, establishment_id)):
            if value is not None:
                stmt = stmt.where(column == value)
        async with self._db.read() as session:
            ids = (await session.scalars(stmt.order_by(T.id).offset(offset).limit(limit))).all()
        return await self.many(list(ids))

    async def many(self, ids: list[int]) -> list[dict]:
        """Transactions by id, in that order, each with what it earned."""
        if not ids:
            return []
        async with self._db.read() as session:
            return [model for model, _ in await self._models(session, [(i, False) for i in ids])]

    async def for_holder(self, holder_id: int, page: Page, start: datetime, end: datetime) -> tuple[list[dict], int]:
        """The holder's purchases in [start, end), newest first, each with its cancellation or
        undoing when there is one. The period's ids (newest first) are read once from the
        covering ix_transactions_holder and kept until the next commit, so a page deep in the
        period costs what the first one does (an OFFSET walks the index up to the page); then
        one statement reads the page's rows with their establishments and reversals. Core
        rows, single statements (on SQLite on the loop's own thread). The page as answered is
        kept too, until the next commit."""
        if self._pages is not None:
            return await self._pages.get_or_load((holder_id, page.offset, page.limit, start, end),
                                                 lambda: self._holder_page(holder_id, page, start, end))
        return await self._holder_page(holder_id, page, start, end)

    async def _holder_page(self, holder_id: int, page: Page, start: datetime, end: datetime) -> tuple[list[dict], int]:
        if self._periods is None:  # nothing is kept (caches off): count, and walk to the page
            period = await self._db.scalar(_holder_statements().count,
                                           {"holder": holder_id, "start": start, "end": end})
        else:
            period = await self._periods.get_or_load((holder_id, start, end),
                                                     lambda: self._period(holder_id, start, end))
        statements = _holder_statements()
        if isinstance(period, int):  # a period too long to keep: count, and walk to the page
            total = period
            if page.offset >= total:
                return [], total
            rows = await self._db.all(statements.page, {"holder": holder_id, "start": start, "end": end,
                                                        "offset": page.offset, "limit": page.limit})
        else:
            total = len(period)
            ids = list(period[page.offset:page.offset + page.limit])
            if not ids:
                return [], total
            position = {row_id: n for n, row_id in enumerate(ids)}
            rows = sorted(await self._db.all(statements.by_ids, {"ids": ids}), key=lambda row: position[row.id])
        items = []
        for row in rows:
            shop = establishment_model_of(row.establishment_id, row.fictitious_name, row.business_activity_id)
            body = holder_model(SimpleNamespace(**_columns(row, "")), shop)
            if row.r_id is not None:
                field = "transactionCancelled" if row.r_kind == CANCELLATION else "transactionUndone"
                body[field] = holder_model(SimpleNamespace(**_columns(row, "r_")), shop)
            items.append(body)
        return items, total

    async def _period(self, holder_id: int, start: datetime, end: datetime) -> array | int:
        """The period's purchase ids, newest first; or only their count past PERIOD_IDS."""
        values = {"holder": holder_id, "start": start, "end": end, "limit": PERIOD_IDS + 1}
        ids = array("q", (row[0] for row in await self._db.all(_holder_statements().ids, values)))
        if len(ids) <= PERIOD_IDS:
            return ids
        return await self._db.scalar(_holder_statements().count, values)


PERIOD_IDS = 20_000  # 160 KB of ids


_HOLDER_COLUMNS = ("id", "product_primary_id", "product_primary_description", "product_secondary_id",
                   "product_secondary_description", "contains_promotions")


def _columns(row, prefix: str) -> dict:
    return {name: getattr(row, prefix + name) for name in _HOLDER_COLUMNS}


class _HolderStatements(NamedTuple):
    count: Select  # type: ignore[assignment]  # (shadows tuple.count, which nothing here calls)
    ids: Select
    page: Select
    by_ids: Select


@lru_cache(maxsize=1)
def _holder_statements() -> _HolderStatements:
    """The statements of /me/transactions, built once with bound parameters: the period's
    count and ids come from the covering ix_transactions_holder alone; a page's rows, with
    their establishments and reversals, by ids or by offset."""
    t, e = Transaction.__table__, CommercialEstablishment.__table__
    r = t.alias("reversal")
    where = and_(t.c.holder_id == bindparam("holder"), t.c.kind == PURCHASE,
                 t.c.occurred_at >= bindparam("start"), t.c.occurred_at < bindparam("end"))
    newest_first = (t.c.occurred_at.desc(), t.c.id.desc())
    count = select(func.count()).select_from(t).where(where)
    ids = select(t.c.id).where(where).order_by(*newest_first).limit(bindparam("limit", type_=Integer))
    page_ids = (select(t.c.id).where(where).order_by(*newest_first)
                .offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer)).subquery("page"))
    columns = (*(t.c[name] for name in _HOLDER_COLUMNS), t.c.establishment_id, e.c.fictitious_name,
               e.c.business_activity_id, r.c.kind.label("r_kind"), *(r.c[name].label(f"r_{name}") for name in _HOLDER_COLUMNS))
    with_places = t.join(e, e.c.id == t.c.establishment_id).outerjoin(r, r.c.id == t.c.reversed_by_id)
    page = (select(*columns).select_from(page_ids.join(with_places, t.c.id == page_ids.c.id))
            .order_by(*newest_first))
    by_ids = select(*columns).select_from(with_places).where(t.c.id.in_(bindparam("ids", expanding=True)))
    return _HolderStatements(count, ids, page, by_ids)


class _Lookups(NamedTuple):
    cards: Select
    establishments: Select


@lru_cache(maxsize=4)  # one per database of the process
def _lookups(sql: Dialect) -> _Lookups:
    """A batch's cards (with their holders' birthdates) and establishments (with their campaign
    versions) by id (bound parameter "ids", see among_values), built once."""
    E = CommercialEstablishment
    return _Lookups(
        select(Card.id, Card.holder_id, Holder.birthdate, Card.environment).join(Holder, Holder.id == Card.holder_id)
        .where(sql.among_parameter(Card.id, "ids")),
        select(E.id, E.campaigns_version, E.environment).where(sql.among_parameter(E.id, "ids")))


@lru_cache(maxsize=4)  # one per database of the process
def _history_statement(sql: Dialect) -> Select:
    """The counted purchases of a list of (holder, establishment) pairs (bound parameters
    "pairs…", see pairs_values), each pair's oldest first, built once: it is the same for every
    batch (figures in docs/performance-history.md)."""
    T = Transaction
    return sql.rows_of_pairs("pairs", (T.id, T.holder_id, T.establishment_id, T.occurred_at, T.amount_cents),
                             T.holder_id, T.establishment_id, _counted(), (T.occurred_at, T.id))


def _counted():
    """The purchases that count (not cancelled or undone), as ix_transactions_counted's own
    condition: the kind a literal, not a bound parameter, so that a generic plan (PostgreSQL
    after five executions of a prepared statement) can still prove the index applies."""
    T = Transaction
    return and_(T.kind == literal_column(f"'{PURCHASE}'"), T.reversed_by_id.is_(None))


def _parse_all(raws, limit: int | None = MAX_BATCH) -> tuple[list[Item | None], list[dict]]:
    if not isinstance(raws, list) or not raws:
        raise IngestError(400, "'transactions' must be a non-empty array of transactions.")
    if limit is not None and len(raws) > limit:
        raise IngestError(400, f"A batch holds at most {limit} transactions; this one holds {len(raws)}.")
    items: list[Item | None] = []
    errors: list[dict] = []
    for index, raw in enumerate(raws):
        try:
            items.append(parse(raw))
        except ItemError as exc:
            items.append(None)
            errors.append({"index": index, "reason": str(exc)})
    return items, errors


def _pair(n: _New) -> tuple[int, int]:
    """The (holder, establishment) whose history a new purchase joins."""
    return n.holder_id, n.item.establishment_id


def _order(p: engine.Purchase):
    # stored purchases (positive ids) before new ones at the same instant, new ones in input order
    return (p.occurred_at, p.key < 0, p.key if p.key > 0 else -p.key)


def _refusal(errors: list[dict], count: int) -> str:
    if count == 1:
        return errors[0]["reason"][0].upper() + errors[0]["reason"][1:]
    return (f"{len(errors)} of the {count} transactions are invalid; nothing was ingested "
            f"(first: #{errors[0]['index']}: {errors[0]['reason']})")
