"""HTTP routes of the privacy domain (`/api/v1/privacy`)."""

from app.core.api import Blueprint

blp = Blueprint(
    "privacy",
    __name__,
    url_prefix="/api/v1/privacy",
    description="Personal data export and erasure requests.",
)
