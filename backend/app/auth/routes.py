"""HTTP routes of the auth domain (`/api/v1/auth`)."""

from app.core.api import Blueprint

blp = Blueprint(
    "auth", __name__, url_prefix="/api/v1/auth", description="Registration, login, tokens, 2FA."
)
