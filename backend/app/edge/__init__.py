"""The HTTP edge: what turns a request into a service call that knows no request —
idempotency keys (`@idempotent()`). Who may call a route is auth's (`auth.permissions`).
Domains' routes import from here; `core` and services never do."""

from app.edge.idempotency import idempotent

__all__ = ["idempotent"]
