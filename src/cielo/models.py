"""Imports every domain's tables, so metadata (and Alembic) sees them all."""

from cielo.audit.models import AuditRecord
from cielo.auth.models import ApiToken
from cielo.db.changes import TableWrite
from cielo.promo.cards.models import Card, CardPartner, CardRequest
from cielo.promo.developer.models import (
    AppAccessToken,
    Application,
    Developer,
    DeveloperSession,
)
from cielo.promo.establishments.models import (
    CommercialEstablishment,
    EstablishmentGrant,
)
from cielo.promo.holders.models import Holder, HolderDevice
from cielo.promo.oauth.models import (
    AuthorizationCode,
    AuthorizationRequest,
    Grant,
    HolderToken,
)
from cielo.promo.partners.models import Partner
from cielo.promo.promotions.models import Promotion
from cielo.promo.sandbox.models import SandboxSeed
from cielo.promo.subscriptions.models import (
    EstablishmentSubscription,
    SubscriptionRequest,
)
from cielo.promo.transactions.models import Transaction, TransactionReward
from cielo.whitelabel.models import WhiteLabelAccount

# Every column holding values of the secret keys (security/secrets.py), re-encrypted by
# `cielo admin rotate-keys` (security/rotation.py) before the old keys are dropped.
ENCRYPTED_COLUMNS = (
    WhiteLabelAccount.__table__.c.api_secret_encrypted,
    AppAccessToken.__table__.c.secret_encrypted,
    Holder.__table__.c.cpf_encrypted,
    AuthorizationRequest.__table__.c.prefill_encrypted,
    SandboxSeed.__table__.c.document_encrypted,
)

__all__ = [
    "ENCRYPTED_COLUMNS",
    "ApiToken",
    "AppAccessToken",
    "Application",
    "AuditRecord",
    "Developer",
    "DeveloperSession",
    "Card",
    "CardPartner",
    "CardRequest",
    "CommercialEstablishment",
    "EstablishmentGrant",
    "Grant",
    "Partner",
    "Promotion",
    "SandboxSeed",
    "EstablishmentSubscription",
    "SubscriptionRequest",
    "TableWrite",
    "Holder",
    "HolderDevice",
    "HolderToken",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Transaction",
    "TransactionReward",
    "WhiteLabelAccount",
]
