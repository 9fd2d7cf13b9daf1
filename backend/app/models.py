"""Every model of every package: the metadata (and Alembic) sees the whole schema."""

from sqlalchemy.orm import configure_mappers

from app.accounts.models import StatementDocument
from app.auth.models import (
    AuthSession,
    BackupCode,
    EmailOutbox,
    MagicLink,
    OneTimeToken,
    Passkey,
    PaymentConfirmation,
    User,
    UserRole,
    WebauthnChallenge,
)
from app.cards.models import Card, CardAuthorization
from app.compliance.models import (
    AlertNote,
    AlertTransaction,
    AmlRuleBacktest,
    AmlRuleVersion,
    ComplianceAlert,
    KycCase,
    MonitoredPosting,
    SanctionsEntry,
    SanctionsList,
)
from app.compliance.risk_models import CustomerRisk, EddReview, RiskReview
from app.core.audit import AuditChainHead, AuditLog, AuditSeal
from app.core.events import Event
from app.core.idempotency import IdempotencyKey
from app.core.outbox import JobOutbox
from app.core.ratelimit import RateLimitCounter
from app.events.models import EventTicket
from app.events.webhooks_models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookFanoutCursor,
)
from app.ledger.accounts import Account
from app.ledger.models import Hold, JournalTransaction, LedgerEntry
from app.privacy.models import ErasureRequest
from app.transactions.models import DailyCounter, Payee, RecentActivity
from app.wealth.models import (
    Broker,
    ExchangeRate,
    LinkedAccount,
    UserDataKey,
    WealthPosition,
    WealthSnapshot,
)

MODELS = (
    StatementDocument,
    AuthSession,
    BackupCode,
    EmailOutbox,
    MagicLink,
    OneTimeToken,
    Passkey,
    PaymentConfirmation,
    User,
    UserRole,
    WebauthnChallenge,
    Card,
    CardAuthorization,
    AlertNote,
    AlertTransaction,
    AmlRuleBacktest,
    AmlRuleVersion,
    ComplianceAlert,
    KycCase,
    MonitoredPosting,
    SanctionsEntry,
    SanctionsList,
    CustomerRisk,
    EddReview,
    RiskReview,
    AuditChainHead,
    AuditLog,
    AuditSeal,
    Event,
    EventTicket,
    IdempotencyKey,
    JobOutbox,
    RateLimitCounter,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookFanoutCursor,
    Account,
    Hold,
    JournalTransaction,
    LedgerEntry,
    ErasureRequest,
    DailyCounter,
    Payee,
    RecentActivity,
    Broker,
    ExchangeRate,
    LinkedAccount,
    UserDataKey,
    WealthPosition,
    WealthSnapshot,
)


def configure() -> None:
    """Resolve every relationship between the models now, at app creation (a model that names
    one missing fails here, not at its first query)."""
    configure_mappers()
