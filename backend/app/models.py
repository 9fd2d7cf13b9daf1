"""Import every model so that the metadata (and Alembic) sees the whole schema."""

from app.accounts.models import StatementDocument  # noqa: F401
from app.auth.models import (  # noqa: F401
    AuthSession,
    BackupCode,
    EmailOutbox,
    OneTimeToken,
    User,
    UserRole,
)
from app.cards.models import Card, CardAuthorization  # noqa: F401
from app.compliance.models import (  # noqa: F401
    AlertNote,
    AlertTransaction,
    ComplianceAlert,
    KycCase,
    MonitoredPosting,
    SanctionsEntry,
    SanctionsList,
)
from app.core.audit import AuditChainHead, AuditLog, AuditSeal  # noqa: F401
from app.core.idempotency import IdempotencyKey  # noqa: F401
from app.core.outbox import JobOutbox  # noqa: F401
from app.core.ratelimit import RateLimitCounter  # noqa: F401
from app.ledger.accounts import Account  # noqa: F401
from app.ledger.models import Hold, JournalTransaction, LedgerEntry  # noqa: F401
from app.privacy.models import ErasureRequest  # noqa: F401
from app.transactions.models import DailyCounter, Payee, RecentActivity  # noqa: F401
from app.wealth.models import (  # noqa: F401
    Broker,
    ExchangeRate,
    LinkedAccount,
    UserDataKey,
    WealthPosition,
    WealthSnapshot,
)
