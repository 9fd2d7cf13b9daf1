"""Import every model so that the metadata (and Alembic) sees the whole schema."""

from app.auth.models import User, UserRole  # noqa: F401
from app.core.audit import AuditChainHead, AuditLog  # noqa: F401
