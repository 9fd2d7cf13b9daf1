"""Admin routes for customer accounts (`/api/v1/admin/accounts`)."""

from __future__ import annotations

import uuid
from typing import Any

from app.accounts import services
from app.accounts.schemas import AccountSchema, AdminAccountUpdateSchema
from app.auth.permissions import require
from app.core.api import Blueprint
from app.core.extensions import db
from app.ledger.accounts import Account

blp = Blueprint(
    "admin_accounts",
    __name__,
    url_prefix="/api/v1/admin/accounts",
    description="Account administration: freeze, unfreeze, close, credit limits.",
)


@blp.route("/<uuid:account_id>", methods=["PATCH"])
@require("admin:accounts")
@blp.arguments(AdminAccountUpdateSchema)
@blp.response(200, AccountSchema)
def update_account(data: dict[str, Any], account_id: uuid.UUID) -> Account:
    """Change an account's status or credit limit."""
    return services.admin_update_account(db.session(), account_id=account_id, **data)
