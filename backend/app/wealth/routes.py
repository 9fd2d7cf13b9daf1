"""HTTP routes of the wealth domain (`/api/v1`)."""

from app.core.api import Blueprint

blp = Blueprint(
    "wealth",
    __name__,
    url_prefix="/api/v1",
    description="Linked broker accounts, wealth summary and exchange rates.",
)
