"""Admin routes for customer accounts (`/api/v1/admin/accounts`)."""

from app.accounts import services
from app.accounts.schemas import AccountSchema, AdminAccountUpdateSchema
from app.auth.permissions import require
from app.core.api import Blueprint
from app.core.extensions import db

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
def update_account(data, account_id):
    """Change an account's status or credit limit."""
    return services.admin_update_account(db.session, account_id=account_id, **data)
