"""Card registration (API.md §3.1 /cards) and the holder's cards (§3.2).

The full number is checked (Luhn via python-stdnum, brand from the BIN table), turned into a
keyed fingerprint (HMAC-SHA256 under a key derived from the server's signing key), and
dropped: only brand, last four digits and length are stored; the CVV is never stored.

Verification (WEAK → STRONG): a zero-amount authorisation of the card is simulated at
registration. It approves when the number is valid, not expired and the CVV has the brand's
length, except the documented test value CVV ``000``, which the simulator always declines,
so testers can produce a WEAK card in either environment. (No acquirer is connected to this
deployment; the simulator stands where that call would be.)
"""

from __future__ import annotations

import builtins
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from stdnum import luhn

from cielo.cache import CacheRegistry
from cielo.db import Database, utcnow
from cielo.db.batching import GroupWriter
from cielo.db.pruning import delete_where
from cielo.promo.cards.brands import brand_of, cvv_length
from cielo.promo.cards.models import Card, CardPartner, CardRequest
from cielo.promo.developer.models import Application
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError
from cielo.promo.oauth.service import FlowStarts, LoginError, registered_redirect_url
from cielo.promo.pagination import Page
from cielo.promo.partners.models import Partner
from cielo.security import tokens
from cielo.security.signing import SigningKeys

REQUEST_LIFETIME = timedelta(minutes=15)
# What the card page says when its link cannot be used: where to go for a fresh one.
FRESH_LINK = "Go back to the application and open the card page again from there: it opens a fresh link."
LINK_INVALID = "This card registration link is not valid. " + FRESH_LINK
LINK_EXPIRED = (f"This card registration link has expired (a link works for {REQUEST_LIFETIME.seconds // 60} "
                "minutes). " + FRESH_LINK)
LINK_USED = "This card registration link has already been used (a link works once). " + FRESH_LINK
TYPES = ("DEBIT", "CREDIT", "MULTIPLE")
DECLINING_TEST_CVV = "000"
KEPT = ("expiry_month", "expiry_year", "holder_name", "nickname", "type")  # never the card number or the CVV


def kept_fields(form) -> dict:
    """What the card page shows again after a refusal, as typed: every field but the number and
    the security code, and the partners ticked."""
    if form is None:
        return {"partners": []}
    return {**{name: str(form.get(name, "")) for name in KEPT}, "partners": [str(p) for p in form.getlist("partner")]}


# The columns a card's wire model is made of.
_CARD_COLUMNS = (Card.id, Card.brand, Card.pan_length, Card.last4, Card.type, Card.status, Card.nickname)


class NewCardRequest(NamedTuple):
    """A /cards call's row as written (a CardRequest's columns; its id not read back)."""

    public_id: str
    environment: str
    application_id: int
    holder_id: int
    redirect_url: str
    expires_at: datetime


class CardService:
    def __init__(self, db: Database, signing: SigningKeys, caches: CacheRegistry | None = None,
                 starts: FlowStarts | None = None) -> None:
        self._db = db
        self._signing = signing
        self._starts = starts  # counts /cards calls (the command line's ingestion makes none)
        # /cards' rows, written with the others arriving meanwhile (group commit, db/batching.py)
        self._new_requests: GroupWriter[NewCardRequest, NewCardRequest] = GroupWriter.adding_rows(db, CardRequest)
        # Exact read caches (emptied by any commit anywhere, cielo.cache): a holder's pages of
        # cards and single cards, as answered. Without a registry (ingestion from the command
        # line) nothing is kept.
        caches = caches or CacheRegistry(db.watcher, enabled=False)
        self._lists = caches.cache("promo-holder-card-lists", 20_000)
        self._cards = caches.cache("promo-holder-cards", 20_000)

    def fingerprint(self, env: Environment, digits: str) -> str:
        return self._signing.mac("card-number", f"{env.value}:{digits}".encode())

    # ---- GET /cards and the registration page -------------------------------------------

    async def start(self, env: Environment, holder_id: int, app: Application, redirect_url: str | None,
                    client_ip: str) -> NewCardRequest:
        redirect_url = registered_redirect_url(app, redirect_url)
        if self._starts is not None:
            await self._starts.admit("cards", app, client_ip)
        row = NewCardRequest(tokens.link_id(), env.value, app.id, holder_id, redirect_url, utcnow() + REQUEST_LIFETIME)
        return await self._new_requests.write(row)

    async def context(self, env: Environment, public_id: str | None) -> tuple[CardRequest, Application, list[Partner]]:
        if not tokens.is_link_id(public_id):
            raise LoginError(LINK_INVALID)
        async with self._db.read() as session:
            row = await session.scalar(select(CardRequest).where(CardRequest.public_id == public_id))
            if row is None or row.environment != env.value:
                raise LoginError(LINK_INVALID)
            if row.completed_at is not None:
                raise LoginError(LINK_USED)
            if row.expires_at <= utcnow():
                raise LoginError(LINK_EXPIRED)
            app = await session.get(Application, row.application_id)
            partners = list((await session.scalars(
                select(Partner).where(Partner.environment == env.value, Partner.active.is_(True))
                .order_by(Partner.name, Partner.id)
            )).all())
        if app is None:  # pragma: no cover - a request's application is never deleted
            raise LoginError(LINK_INVALID)
        return row, app, partners

    async def register(self, env: Environment, request: CardRequest, partners: list[Partner], form) -> tuple[Card, str]:
        """Validate the form, simulate the zero-amount check, store the card; returns the card
        and the URL to send the browser to."""
        number = "".join(str(form.get("card_number", "")).split()).replace("-", "")
        if not number.isdigit() or not 12 <= len(number) <= 19:
            raise LoginError("Enter the card number: 12 to 19 digits.")
        if not luhn.is_valid(number):
            raise LoginError("This card number is not valid (its check digit does not match).")
        brand = brand_of(number)
        if brand is None:
            raise LoginError("This card's brand is not accepted (Visa, Mastercard, Elo, Amex, Hipercard, Diners, JCB, Discover).")
        try:
            month = int(str(form.get("expiry_month", "")).strip())
            year = int(str(form.get("expiry_year", "")).strip())
        except ValueError:
            raise LoginError("Enter the expiry month and year as numbers.") from None
        if year < 100:
            year += 2000
        if not 1 <= month <= 12 or not 2000 <= year <= 2100:
            raise LoginError("Enter a valid expiry month (1-12) and year.")
        today = date.today()
        if (year, month) < (today.year, today.month):
            raise LoginError("This card has expired.")
        cvv = str(form.get("cvv", "")).strip()
        if not cvv.isdigit() or len(cvv) != cvv_length(brand):
            raise LoginError(f"Enter the card's security code ({cvv_length(brand)} digits).")
        holder_name = " ".join(str(form.get("holder_name", "")).split())
        if not holder_name or len(holder_name) > 100:
            raise LoginError("Enter the name printed on the card (up to 100 characters).")
        nickname = " ".join(str(form.get("nickname", "")).split()) or None
        if nickname is not None and len(nickname) > 50:
            raise LoginError("The nickname must have at most 50 characters.")
        card_type = str(form.get("type", ""))
        if card_type not in TYPES:
            raise LoginError("Choose the card type: debit, credit or multiple.")
        by_id = {str(p.id): p for p in partners}
        chosen = form.getlist("partner")
        if any(str(value) not in by_id for value in chosen):
            raise LoginError("Choose partners among those listed.")

        approved = cvv != DECLINING_TEST_CVV  # the simulated zero-amount authorisation
        now = utcnow()
        card = Card(
            environment=env.value, holder_id=request.holder_id, brand=brand, last4=number[-4:], pan_length=len(number),
            fingerprint=self.fingerprint(env, number), expiry_month=month, expiry_year=year, holder_name=holder_name,
            nickname=nickname, type=card_type, status="STRONG" if approved else "WEAK",
            verified_at=now if approved else None,
        )
        del number, cvv  # nothing below may keep them
        try:
            async with self._db.write() as session:
                done = await session.get(CardRequest, request.id, with_for_update=True)
                if done is None or done.completed_at is not None:
                    raise LoginError(LINK_USED)
                done.completed_at = now
                session.add(card)
                await session.flush()
                for value in dict.fromkeys(str(v) for v in chosen):
                    partner = by_id[value]
                    session.add(CardPartner(card_id=card.id, partner_id=partner.id,
                                            status_association=partner.association_type == "AUTOMATIC"))
        except IntegrityError:
            raise LoginError("This card is already registered in your account.") from None
        from cielo.promo.oauth.service import with_query

        return card, with_query(request.redirect_url, {"card_id": str(card.id)})

    # ---- /me/cards ------------------------------------------------------------------------

    async def list(self, holder_id: int, page: Page, expand: bool) -> tuple[list[dict], int]:
        async def load() -> tuple[list[dict], int]:
            cards, total = await self._db.page(
                select(*_CARD_COLUMNS).where(Card.holder_id == holder_id).order_by(Card.id), page.offset, page.limit)
            partners = await self._partners([card.id for card in cards]) if expand else {}
            return [self._model(card, partners.get(card.id, []) if expand else None) for card in cards], total

        return await self._lists.get_or_load((holder_id, page.offset, page.limit, expand), load)

    async def one(self, holder_id: int, card_id: int, expand: bool) -> dict:
        async def load() -> dict:
            card = await self._db.first(select(*_CARD_COLUMNS).where(Card.id == card_id, Card.holder_id == holder_id))
            if card is None:
                raise PromoError(404, f"There is no card {card_id} among this holder's cards.")
            partners = await self._partners([card.id]) if expand else {}
            return self._model(card, partners.get(card.id, []) if expand else None)

        return await self._cards.get_or_load((holder_id, card_id, expand), load)

    async def _partners(self, card_ids: builtins.list[int]) -> dict[int, builtins.list[dict]]:
        if not card_ids:
            return {}
        rows = await self._db.all(
            select(CardPartner.card_id, CardPartner.status_association, Partner.id, Partner.name, Partner.description,
                   Partner.term_url, Partner.association_type)
            .join(Partner, Partner.id == CardPartner.partner_id)
            .where(CardPartner.card_id.in_(card_ids)).order_by(Partner.id))
        result: dict[int, builtins.list[dict]] = {}
        for row in rows:
            result.setdefault(row.card_id, []).append({
                "id": row.id, "name": row.name, "description": row.description, "term": row.term_url,
                "associationType": row.association_type, "statusAssociation": row.status_association,
            })
        return result

    @staticmethod
    def _model(card, partners: builtins.list[dict] | None) -> dict:
        body = {"id": card.id, "brand": card.brand, "maskedPan": "*" * (card.pan_length - 4) + card.last4,
                "type": card.type, "status": card.status}
        if card.nickname:
            body["nickname"] = card.nickname
        if partners is not None:
            body["partners"] = partners
        return body


async def prune(db: Database, horizon: datetime) -> dict[str, int]:
    """Delete the card registration requests that expired before ``horizon`` (promo/expiry.py)."""
    return {"card requests": await delete_where(db, CardRequest, CardRequest.expires_at < horizon)}
