"""HTTP routes of the admin domain (`/api/v1/admin`)."""

from app.core.api import Blueprint

blp = Blueprint(
    "admin", __name__, url_prefix="/api/v1/admin", description="User and account administration."
)
