"""HTTP routes of the cards domain (`/api/v1/cards`)."""

from app.core.api import Blueprint

blp = Blueprint(
    "cards", __name__, url_prefix="/api/v1/cards", description="Payment cards and their controls."
)
