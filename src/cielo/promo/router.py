"""The Promotions API of one environment, assembled from its domains' routers (each domain's
routes are declared in its own ``router.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from cielo.promo.cards import router as cards
from cielo.promo.environments import Environment
from cielo.promo.establishments import router as establishments
from cielo.promo.holders import router as holders
from cielo.promo.oauth import router as oauth
from cielo.promo.promotions import router as promotions
from cielo.promo.subscriptions import router as subscriptions
from cielo.promo.transactions import router as transactions

DOMAINS = (oauth, holders, cards, transactions, establishments, promotions, subscriptions)


def routers(env: Environment) -> list[APIRouter]:
    """The environment's routers, in the order their routes are matched and documented."""
    return [domain.router(env) for domain in DOMAINS]
