"""Import every model so that the metadata (and Alembic) sees the whole schema."""

from app.auth.models import (  # noqa: F401
    AuthSession,
    BackupCode,
    EmailOutbox,
    OneTimeToken,
    User,
    UserRole,
)
from app.core.audit import AuditChainHead, AuditLog  # noqa: F401
