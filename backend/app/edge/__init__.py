"""The HTTP edge: what turns a request into a service call (authentication, permissions,
idempotency keys). Domains' routes import from here; `core` and services never do."""

from app.edge.idempotency import idempotent
from app.edge.permissions import current_user, current_user_id, require, token_is_fresh

__all__ = ["current_user", "current_user_id", "idempotent", "require", "token_is_fresh"]
