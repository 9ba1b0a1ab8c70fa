"""The services of one application, made once by ``create_app``, and the one typed way a route
reaches them: ``services(request)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

if TYPE_CHECKING:  # the annotations only: importing this module imports no domain (no cycles)
    from redis.asyncio import Redis

    from cielo.auth.service import Authenticator
    from cielo.cache import CacheRegistry
    from cielo.config import Settings
    from cielo.db import Database
    from cielo.promo.access import Access
    from cielo.promo.cards.service import CardService
    from cielo.promo.developer.service import ApplicationService, DeveloperService
    from cielo.promo.establishments.service import EstablishmentService
    from cielo.promo.holders.service import HolderService
    from cielo.promo.oauth.service import OAuthService
    from cielo.promo.partners.service import PartnerService
    from cielo.promo.promotions.service import PromotionService
    from cielo.promo.subscriptions.service import SubscriptionService
    from cielo.promo.transactions.service import TransactionService
    from cielo.ratelimit import RateLimiter
    from cielo.security.binding import FlowBinding
    from cielo.security.csrf import Csrf
    from cielo.security.secrets import SecretBox
    from cielo.security.signing import SigningKeys
    from cielo.whitelabel.service import WhiteLabelService


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    redis: Redis | None
    caches: CacheRegistry
    secret_box: SecretBox
    signing: SigningKeys
    csrf: Csrf
    binding: FlowBinding
    limiter: RateLimiter
    authenticator: Authenticator
    whitelabel: WhiteLabelService
    developers: DeveloperService
    applications: ApplicationService
    access: Access
    oauth: OAuthService
    holders: HolderService
    cards: CardService
    partners: PartnerService
    establishments: EstablishmentService
    promotions: PromotionService
    subscriptions: SubscriptionService
    transactions: TransactionService


def services(connection: HTTPConnection) -> Services:
    """The application's services, for a route (or a FastAPI dependency: ``Depends(services)``)."""
    return connection.app.state.services
