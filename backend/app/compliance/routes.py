"""HTTP routes of the compliance domain (`/api/v1/compliance`)."""

from app.core.api import Blueprint

blp = Blueprint(
    "compliance",
    __name__,
    url_prefix="/api/v1/compliance",
    description="KYC, AML alerts, reviews, audit trail and regulatory reports.",
)
