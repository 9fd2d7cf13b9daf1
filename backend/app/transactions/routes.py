"""HTTP routes of the transactions domain (`/api/v1/transactions`)."""

from app.core.api import Blueprint

blp = Blueprint(
    "transactions",
    __name__,
    url_prefix="/api/v1/transactions",
    description="Money movements: deposits, withdrawals, transfers, history.",
)
