"""HTTP routes of the accounts domain (`/api/v1/accounts`)."""

from app.core.api import Blueprint

blp = Blueprint(
    "accounts",
    __name__,
    url_prefix="/api/v1/accounts",
    description="Customer accounts: opening, renaming, closing, statements.",
)
