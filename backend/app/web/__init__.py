"""The web app: the built frontend (`frontend/dist`) served at `/` with its own CSP."""

from app.web.routes import init_app

__all__ = ["init_app"]
