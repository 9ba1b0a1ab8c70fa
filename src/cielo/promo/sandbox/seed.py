"""`cielo sandbox seed`: realistic Brazilian test data in the sandbox (API.md §0).

Made with Faker pt_BR from a fixed seed: partners, establishments in real cities at plausible
coordinates (a dense cluster around Avenida Paulista), promotions of all nine campaign types
with valid rules and accepted subscriptions, holders with cards, and a sandbox application
with its Access-Token whose redirect URL is the sandbox's callback page on the address the
service is reached at (``--public-url``; a new address is added when the seed runs again), and
one active promotion its establishment has not subscribed to yet (``subscribable``: the pair a
subscription request accepts). ``--size large`` adds 1,000,000 establishments clustered as real ones
are (dense in city centres), by bulk insert (COPY on PostgreSQL)."""

from __future__ import annotations

import math
import random
import secrets
from datetime import date, datetime, timedelta

import orjson
from faker import Faker
from sqlalchemy import select
from stdnum import luhn
from stdnum.br import cnpj as stdnum_cnpj

from cielo.audit.service import Actor
from cielo.auth.models import ApiToken
from cielo.config import local_url
from cielo.db import Database, utcnow
from cielo.promo.cards.brands import brand_of
from cielo.promo.cards.models import Card, CardPartner
from cielo.promo.cards.service import CardService
from cielo.promo.developer.models import Application, Developer
from cielo.promo.developer.service import API_GROUPS, MAX_REDIRECT_URLS, TokenProfile, new_access_token
from cielo.promo.environments import Environment
from cielo.promo.establishments.models import CommercialEstablishment
from cielo.promo.holders.models import Holder, HolderDevice
from cielo.promo.localtime import SAO_PAULO
from cielo.promo.partners.models import Partner
from cielo.promo.promotions import rules as campaign_rules
from cielo.promo.promotions.models import Promotion
from cielo.promo.sandbox.callback import callback_url
from cielo.promo.sandbox.models import SandboxSeed
from cielo.promo.subscriptions.models import (
    EstablishmentSubscription,
    SubscriptionRequest,
)
from cielo.promo.transactions.service import TransactionService
from cielo.security import passwords, tokens
from cielo.security.secrets import SecretBox
from cielo.security.signing import SigningKeys

SANDBOX = Environment.SANDBOX.value
PAULISTA = (-23.5614, -46.6559)
# (city, latitude, longitude, share of the establishments, spread of the city in km)
CITIES = [
    ("São Paulo", -23.5505, -46.6333, 0.30, 9.0), ("Rio de Janeiro", -22.9068, -43.1729, 0.15, 8.0),
    ("Belo Horizonte", -19.9167, -43.9345, 0.07, 5.0), ("Brasília", -15.7939, -47.8828, 0.05, 6.0),
    ("Salvador", -12.9777, -38.5016, 0.05, 5.0), ("Fortaleza", -3.7319, -38.5267, 0.05, 5.0),
    ("Curitiba", -25.4284, -49.2733, 0.05, 4.5), ("Recife", -8.0476, -34.8770, 0.04, 4.0),
    ("Porto Alegre", -30.0346, -51.2177, 0.04, 4.5), ("Manaus", -3.1190, -60.0217, 0.03, 5.0),
    ("Campinas", -22.9099, -47.0626, 0.03, 4.0), ("Goiânia", -16.6869, -49.2648, 0.03, 4.0),
]
ACTIVITIES = [5812, 5814, 5411, 5912, 5651, 5541, 7230, 5942, 5499, 5311]
ACTIVITY_WORDS = {5812: "Restaurante", 5814: "Lanchonete", 5411: "Mercado", 5912: "Farmácia", 5651: "Moda",
                  5541: "Posto", 7230: "Salão", 5942: "Livraria", 5499: "Empório", 5311: "Magazine"}
EXAMPLE_RULES = {
    "A": {"amount": "150.00", "windowDays": 30}, "B": {"daysBefore": 0, "daysAfter": 7},
    "E": {"dates": ["2026-12-24", "2026-12-31", "2027-02-14"]}, "F": {"visits": 4, "windowDays": 30},
    "G": {}, "P": {"every": 3}, "R": {"weekdays": [1, 2, 3], "startTime": "11:00", "endTime": "14:00"},
    "X": {"daysAway": 60}, "W": {},
}
PREMIUMS = {"A": "R$ 20 de desconto", "B": "Sobremesa de aniversário", "E": "Brinde de fim de ano",
            "F": "Café grátis na 4ª visita", "G": "5% de desconto", "P": "A 3ª compra sai pela metade",
            "R": "Almoço executivo com 15% off", "X": "Volte e ganhe 10%", "W": "Boas-vindas: 10% off"}
PRODUCTS = [{"id": 1, "description": "Crédito à vista"}, {"id": 2, "description": "Débito"},
            {"id": 3, "description": "Crédito parcelado"}, {"id": 4, "description": "Pix no cartão"}]
TEST_CARDS = ["4111111111111111", "5555555555554444", "6362970000457013", "378282246310005", "6062825624254001"]


def _point(rng: random.Random, lat: float, lon: float, sigma_km: float) -> tuple[float, float]:
    dlat = rng.gauss(0, sigma_km) / 111.32
    dlon = rng.gauss(0, sigma_km) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _card_number(test_number: str, holder: int, card: int) -> str:
    """A number of the test card's brand (same BIN and length) of its own for each card, so
    that a number names one card."""
    body = test_number[:6] + f"{holder:03d}{card:02d}" + test_number[11:-1]
    return body + luhn.calc_check_digit(body)


def EVENT_DAYS(today: date) -> list[date]:  # a constant (hence the capitals) that depends on the day of seeding
    return [today - timedelta(days=40), today - timedelta(days=9), date(today.year, 12, 24), date(today.year, 12, 31)]


# A prize earned over several purchases (REDEEMED_LATER) may be redeemed this long after the
# promotion's end.
REDEMPTION_DAYS = 30


def seed_fields(kind: str, rules: dict, end_date: date) -> dict:
    """The promotion model's fields the campaign type uses beyond its rules (API.md §3.5), so
    that a partner's parser meets every one in the sandbox."""
    return {"campaign_model": campaign_rules.CAMPAIGN_MODELS[kind],
            "transaction_days": campaign_rules.transaction_days(kind, rules),
            "validity_redemption": (end_date + timedelta(days=REDEMPTION_DAYS)
                                    if kind in campaign_rules.REDEEMED_LATER else None)}


def _cnpj(rng: random.Random) -> str:
    base = f"{rng.randrange(10**8):08d}{rng.randrange(1, 10):04d}"
    return base + stdnum_cnpj.calc_check_digits(base)


class Seeder:
    def __init__(self, db: Database, box: SecretBox, signing: SigningKeys) -> None:
        self._db = db
        self._box = box
        self._signing = signing

    async def existing(self, size: str) -> dict | None:
        async with self._db.read() as session:
            row = await session.scalar(select(SandboxSeed).where(SandboxSeed.size == size))
        return orjson.loads(self._box.decrypt(row.document_encrypted)) if row else None

    async def seed(self, size: str = "small", progress=None, public_url: str = local_url()) -> tuple[dict, bool]:
        """The document of the seed of this size, and whether it was created just now.

        Each step can be run again after a failure: the small seed's rows and its record
        commit together, its purchases carry externalIds (ingesting them again changes
        nothing), and the large seed's record is written last. A seed made before brings its
        client's redirect URLs to ``public_url`` and gains what later versions added."""
        found = await self.existing(size)
        if found is not None and "purchases" in found:
            if await self._follow(found, public_url):
                await self._record(size, found)
            return found, False
        document = await self.existing("small") or await self._small(public_url)
        if "purchases" not in document:
            document["purchases"] = await self._purchases(document, random.Random(20261125), date.today())
        await self._follow(document, public_url)
        await self._record("small", document)
        if size == "large":
            if found is None:
                await self._large(progress)
            await self._record("large", document)
        await self._db.analyze()
        return document, True  # made, or completed after a failure

    async def _follow(self, document: dict, public_url: str) -> bool:
        """The seeded client's redirect URL on ``public_url`` (added to those it has, the oldest
        dropped past the panel's limit), and a subscribable pair; whether the document changed."""
        url = callback_url(public_url)
        changed = False
        async with self._db.write() as session:
            app = await session.scalar(select(Application).where(Application.client_id == document["client"]["client_id"]))
            assert app is not None  # the seed's own client
            if url not in app.redirect_urls:
                app.redirect_urls = [*app.redirect_urls, url][-MAX_REDIRECT_URLS:]
            if document["client"]["redirect_url"] != url:
                document["client"]["redirect_url"] = url
                changed = True
            if "subscribable" not in document:
                document["subscribable"] = await self._unsubscribed_promotion(session, document)
                changed = True
        return changed

    @staticmethod
    async def _unsubscribed_promotion(session, document: dict) -> dict:
        """A new active promotion of the first establishment, which no request subscribed it to."""
        establishment_id = document["commercial_establishments"][0]["id"]
        today = date.today()
        promotion = Promotion(environment=SANDBOX, establishment_id=establishment_id, title="Novidade: café em dobro",
                              description="Campanha G aguardando a adesão do estabelecimento", campaign_type="G",
                              premium="Café em dobro", start_date=today - timedelta(days=1),
                              end_date=today + timedelta(days=365), active=True, rules=campaign_rules.validate("G", {}),
                              shareable=False)
        session.add(promotion)
        await session.flush()
        document["promotions"].append({"id": promotion.id, "commercial_establishment_id": establishment_id,
                                       "campaignType": "G", "active": True})
        return {"commercial_establishment_id": establishment_id, "promotion_id": promotion.id}

    async def _record(self, size: str, document: dict) -> None:
        sealed = self._box.encrypt(orjson.dumps(document).decode())
        async with self._db.write() as session:
            existing = await session.scalar(select(SandboxSeed).where(SandboxSeed.size == size))
            if existing is None:
                session.add(SandboxSeed(size=size, document_encrypted=sealed))
            else:
                existing.document_encrypted = sealed

    async def _small(self, public_url: str) -> dict:
        fake = Faker("pt_BR")
        fake.seed_instance(20261124)
        rng = random.Random(20261124)
        now = utcnow()
        today = date.today()
        admin = tokens.issue("cielo")
        app_secret = secrets.token_urlsafe(32)
        document: dict = {"admin_token": admin.token}
        async with self._db.write() as session:
            session.add(ApiToken(public_id=admin.public_id, secret_digest=admin.secret_digest, name="sandbox seed",
                                 scope="admin"))
            developer = Developer(name="Sandbox", email=f"sandbox-{secrets.token_hex(4)}@cielo.example",
                                  password_hash=passwords.hash_password(secrets.token_urlsafe(24)))
            session.add(developer)
            await session.flush()
            partners = [
                Partner(environment=SANDBOX, name=name, description=desc, term_url=f"https://{slug}.example.com/termos",
                        association_type=kind)
                for name, desc, slug, kind in [
                    ("Clube Vantagens", "Programa de pontos do varejo", "clubevantagens", "AUTOMATIC"),
                    ("Cashback Já", "Dinheiro de volta nas compras", "cashbackja", "AUTOMATIC"),
                    ("Milhas Brasil", "Troque compras por milhas", "milhasbrasil", "MANUAL"),
                ]
            ]
            session.add_all(partners)
            await session.flush()
            app = Application(developer_id=developer.id, environment=SANDBOX, name="Sandbox app",
                              client_id="sbx_" + secrets.token_hex(12), client_secret_digest=tokens.digest(app_secret),
                              redirect_urls=[callback_url(public_url)], partner_id=partners[0].id)
            session.add(app)
            await session.flush()
            app_token_row, app_token = new_access_token(self._box, app, "sandbox", TokenProfile(
                requests_per_minute=6000, max_page_size=100, max_body_bytes=65536, api_groups=API_GROUPS))
            session.add(app_token_row)
            document["client"] = {"client_id": app.client_id, "client_secret": app_secret,
                                  "access_token": app_token, "redirect_url": callback_url(public_url)}

            establishments = []
            for i in range(60):
                if i < 20:
                    # within about 2 km of Avenida Paulista
                    lat, lon = _point(rng, *PAULISTA, 0.7)
                    city = "São Paulo"
                else:
                    city, clat, clon, _, spread = CITIES[i % len(CITIES)]
                    lat, lon = _point(rng, clat, clon, spread / 2)
                activity = ACTIVITIES[i % len(ACTIVITIES)]
                use_cpf = i % 10 == 9
                doc = fake.cpf().replace(".", "").replace("-", "") if use_cpf else _cnpj(rng)
                establishments.append(CommercialEstablishment(
                    environment=SANDBOX, document_type="CPF" if use_cpf else "CNPJ", document=doc,
                    cnpj_root=None if use_cpf else doc[:8],
                    fictitious_name=f"{ACTIVITY_WORDS[activity]} {fake.last_name()}"[:100],
                    business_activity_id=activity, latitude=lat, longitude=lon,
                    address={"street": fake.street_name(), "number": fake.building_number(), "city": city,
                             "zipCode": fake.postcode()}))
            session.add_all(establishments)
            await session.flush()
            document["commercial_establishments"] = [
                {"id": e.id, ("cpf" if e.document_type == "CPF" else "cnpj"): e.document, "latitude": e.latitude,
                 "longitude": e.longitude} for e in establishments]

            promotions = []
            for i, establishment in enumerate(establishments):
                for j, kind in enumerate(campaign_rules.PARAMS):
                    if (i + j) % 3:
                        continue  # three types per establishment, every type many times
                    example = ({"dates": [d.isoformat() for d in EVENT_DAYS(today)]} if kind == "E"
                               else EXAMPLE_RULES[kind])
                    rules = campaign_rules.validate(kind, example)
                    end = today + timedelta(days=365)
                    promotions.append(Promotion(
                        environment=SANDBOX, establishment_id=establishment.id, title=f"{PREMIUMS[kind]}"[:100],
                        description=f"Campanha {kind} de {establishment.fictitious_name}", campaign_type=kind,
                        premium=PREMIUMS[kind], start_date=today - timedelta(days=180),
                        end_date=end, active=(i + j) % 11 != 0, rules=rules,
                        shareable=j % 2 == 0, **seed_fields(kind, rules, end)))
            session.add_all(promotions)
            await session.flush()
            for promotion in promotions:
                request = SubscriptionRequest(environment=SANDBOX, application_id=app.id,
                                              establishment_id=promotion.establishment_id, promotion_id=promotion.id,
                                              action="S", requested_at=now - timedelta(days=179),
                                              processed_at=now - timedelta(days=179), status=1)
                session.add(request)
                await session.flush()
                session.add(EstablishmentSubscription(establishment_id=promotion.establishment_id,
                                                      promotion_id=promotion.id, subscribed=True,
                                                      changed_at=request.processed_at, request_id=request.id))
            document["promotions"] = [{"id": p.id, "commercial_establishment_id": p.establishment_id,
                                       "campaignType": p.campaign_type, "active": p.active} for p in promotions]

            holders = []
            for i in range(5):
                password = f"sandbox-{secrets.token_hex(6)}"
                cpf = fake.cpf().replace(".", "").replace("-", "")
                born = fake.date_of_birth(minimum_age=18, maximum_age=80)
                if i == 0:  # a birthday three weeks ago: the seeded purchases include a birthday treat
                    recent = today - timedelta(days=21)
                    born = date(today.year - 34, recent.month, min(recent.day, 28))
                holder = Holder(environment=SANDBOX, cpf_fingerprint=self._signing.mac("cpf", f"{SANDBOX}:{cpf}".encode()),
                                cpf_encrypted=self._box.encrypt(cpf), name=fake.name(), email=fake.email(),
                                birthdate=born, gender=rng.choice(["FEMALE", "MALE"]), phone_area_code=11,
                                phone_number=900000000 + rng.randrange(10**8),
                                password_hash=passwords.hash_password(password))
                session.add(holder)
                await session.flush()
                # every field of /me: the phones it signed in from (the first holder has two)
                for kind in (["ANDROID", "IOS"] if i == 0 else [("ANDROID", "IOS")[i % 2]]):
                    session.add(HolderDevice(holder_id=holder.id, type=kind, cookie_digest=tokens.digest(tokens.link_id())))
                cards = []
                for k in range(2):
                    number = _card_number(TEST_CARDS[(i + k) % len(TEST_CARDS)], i, k)
                    card = Card(environment=SANDBOX, holder_id=holder.id,
                                brand=brand_of(number),
                                last4=number[-4:], pan_length=len(number),
                                fingerprint=self._signing.mac("card-number", f"{SANDBOX}:{number}".encode()),
                                expiry_month=12, expiry_year=today.year + 3, holder_name=holder.name.upper()[:100],
                                nickname=None if k else "Principal", type=["CREDIT", "DEBIT", "MULTIPLE"][(i + k) % 3],
                                status="STRONG", verified_at=now)
                    session.add(card)
                    await session.flush()
                    session.add(CardPartner(card_id=card.id, partner_id=partners[k].id, status_association=True))
                    cards.append({"id": card.id, "brand": card.brand, "last4": card.last4})
                holders.append({"id": holder.id, "cpf": cpf, "password": password, "name": holder.name,
                                "email": holder.email, "birthdate": born.isoformat(), "cards": cards})
            document["holders"] = holders
            session.add(SandboxSeed(size="small", document_encrypted=self._box.encrypt(orjson.dumps(document).decode())))
        return document

    async def _purchases(self, document: dict, rng: random.Random, today: date) -> int:
        """Months of plausible purchases of each holder, mostly at a few favourite places near
        Avenida Paulista, ingested through the campaign engine like any others — so that some
        earn promotions of every type. Returns how many."""
        service = TransactionService(self._db, CardService(self._db, self._signing))
        with_promotions = {p["commercial_establishment_id"] for p in document["promotions"] if p["active"]}
        near = [e["id"] for e in document["commercial_establishments"][:20] if e["id"] in with_promotions]

        def offering(kind: str) -> list[int]:
            ids = {p["commercial_establishment_id"] for p in document["promotions"] if p["active"]
                   and p["campaignType"] == kind}
            return [e for e in near if e in ids]

        first_day = today - timedelta(days=170)
        items: list[dict] = []

        def purchase(card: int, establishment: int, day: date, hour: int, minute: int, amount: float) -> None:
            moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=SAO_PAULO)
            items.append({"cardId": card, "commercialEstablishmentId": establishment, "amount": f"{amount:.2f}",
                          "occurredAt": moment.isoformat(), "productPrimary": rng.choice(PRODUCTS),
                          "externalId": f"sandbox-{len(items) + 1}"})

        for holder in document["holders"]:
            cards = [c["id"] for c in holder["cards"]]
            favourites = rng.sample(near, 4)
            for offset in range(170):
                day = first_day + timedelta(days=offset)
                if rng.random() < 0.3:
                    place = rng.choices(favourites[:3], weights=[5, 3, 2])[0]
                    hour = rng.choice([8, 9, 12, 12, 13, 13, 19, 20, 21])
                    purchase(rng.choice(cards), place, day, hour, rng.randrange(60), rng.lognormvariate(3.4, 0.7))
            # a regular who stays away for months, then comes back (RFM recency)
            away = rng.choice([e for e in offering("X") if e not in favourites[:3]] or offering("X"))
            purchase(cards[0], away, first_day + timedelta(days=3), 12, 30, 42.0)
            purchase(cards[0], away, today - timedelta(days=12), 13, 5, 38.5)
            # a birthday treat, when the birthday fell in the period
            born = date.fromisoformat(holder["birthdate"])
            for year in (today.year - 1, today.year):
                try:
                    birthday = born.replace(year=year)
                except ValueError:
                    birthday = date(year, 2, 28)
                if first_day <= birthday < today:
                    purchase(cards[-1], rng.choice(offering("B")), birthday, 20, 15, 120.0)
            # the event days of the sandbox's E promotions
            for day in EVENT_DAYS(today):
                if first_day <= day < today:
                    purchase(cards[0], rng.choice(favourites[:3]), day, 18, 40, 65.0)
        for start in range(0, len(items), 500):
            await service.ingest(Environment.SANDBOX, items[start:start + 500], Actor(None, "sandbox seed"))
        return len(items)

    async def _large(self, progress=None, total: int = 1_000_000, chunk: int = 20_000) -> None:
        """``total`` establishments, and a promotion of a random campaign type for one in ten."""
        rng = random.Random(1_000_000)
        today = date.today()
        kinds = list(campaign_rules.PARAMS)
        promo_columns = ["environment", "establishment_id", "title", "description", "campaign_type", "premium",
                         "start_date", "end_date", "shareable", "active", "rules", "created_at", "updated_at",
                         "campaign_model", "transaction_days", "validity_redemption"]
        start, end = today - timedelta(days=30), today + timedelta(days=335)
        # what a promotion of each type carries besides its establishment and active flag, made once
        by_kind: dict[str, tuple[tuple, str, tuple]] = {}
        for kind in kinds:
            rules = campaign_rules.validate(kind, EXAMPLE_RULES[kind])
            fields = seed_fields(kind, rules, end)
            by_kind[kind] = ((PREMIUMS[kind], "", kind, PREMIUMS[kind], start, end, False), orjson.dumps(rules).decode(),
                             (fields["campaign_model"], fields["transaction_days"], fields["validity_redemption"]))
        weights = [c[3] for c in CITIES]
        now = utcnow()
        columns = ["environment", "document_type", "document", "cnpj_root", "fictitious_name", "business_activity_id",
                   "latitude", "longitude", "address", "active", "created_at", "updated_at"]
        done = 0
        while done < total:
            rows: list[tuple] = []
            for _ in range(min(chunk, total - done)):
                # About 10,000 establishments end up within 2 km of Avenida Paulista (~800 per
                # km², a dense commercial centre), a thousand of them with a promotion.
                if rng.random() < 0.004:  # the Paulista cluster
                    lat, lon = _point(rng, *PAULISTA, 1.0)
                else:
                    _, clat, clon, _, spread = rng.choices(CITIES, weights)[0]
                    # dense centres, sparse outskirts: half the points near the centre
                    lat, lon = _point(rng, clat, clon, spread * (0.8 if rng.random() < 0.5 else 2.0))
                doc = _cnpj(rng)
                activity = ACTIVITIES[rng.randrange(len(ACTIVITIES))]
                rows.append((SANDBOX, "CNPJ", doc, doc[:8], f"{ACTIVITY_WORDS[activity]} {done + len(rows)}",
                             activity, lat, lon, "{}", True, now, now))
            first_id = await self._bulk(columns, rows)
            promotions = []
            for offset in range(0, len(rows), 10):
                common, rules_json, extra = by_kind[kinds[rng.randrange(len(kinds))]]
                promotions.append((SANDBOX, first_id + offset, *common, rng.random() < 0.9, rules_json, now, now, *extra))
            await self._bulk(promo_columns, promotions, table="promotions")
            done += len(rows)
            if progress is not None:
                progress(len(rows))

    async def _bulk(self, columns: list[str], rows: list[tuple], table: str = "commercial_establishments") -> int:
        """Insert rows in one transaction; returns the first new id (ids of one bulk insert are
        consecutive: SQLite's rowids under its single writer, PostgreSQL's under the table
        lock taken here)."""
        model = {"commercial_establishments": CommercialEstablishment, "promotions": Promotion}[table]
        return await self._db.sql.bulk_insert(model.__table__, columns, rows, json_columns=frozenset({"address", "rules"}))
