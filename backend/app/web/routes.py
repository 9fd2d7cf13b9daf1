"""Serve the single-page web app at `/` and every path that is not the API's.

The app is built by Vite into `WEB_DIST_DIR` (default `frontend/dist`). Hashed files under
`/assets/` are cached for a year; `index.html` is revalidated on every load so a new build is
picked up at once. Paths under `/api`, `/health`, `/metrics`, `/docs` and `/openapi.json` never
reach this blueprint (the converter refuses them), so unknown API paths keep their JSON 404 and
wrong methods their 405.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, send_from_directory
from werkzeug.routing import PathConverter

# Scripts, styles, fonts and API calls come from this origin only: no inline script or style,
# no eval. Images may be data: URIs (the 2FA QR code is shown as an <img>).
HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'none'"
)
NOT_BUILT = (
    "<!doctype html><title>Flowlet</title><h1>The web app is not built</h1>"
    "<p>Run <code>make run</code> (or <code>npm ci &amp;&amp; npm run build</code> in "
    "<code>frontend/</code>). The API is at <a href='/docs'>/docs</a>.</p>"
)
ASSET_MAX_AGE = 365 * 24 * 3600


class AppPathConverter(PathConverter):
    """A path that belongs to the web app: anything but the API and the operations routes."""

    regex = r"(?!(?:api|health|metrics|docs)(?:/|$)|openapi\.json$)[^/].*?"


blp = Blueprint("web", __name__)


def _dist() -> Path:
    return Path(current_app.config["WEB_DIST_DIR"])


def _html(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = HTML_CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


def _index() -> Response:
    dist = _dist()
    if not (dist / "index.html").is_file():
        return _html(Response(NOT_BUILT, status=503, mimetype="text/html"))
    return _html(send_from_directory(dist, "index.html", max_age=0))


@blp.get("/")
def index() -> Response:
    """The web app's shell."""
    return _index()


@blp.get("/assets/<path:filename>")
def asset(filename: str) -> Response:
    """A built, content-hashed asset (cached for a year)."""
    response = send_from_directory(_dist() / "assets", filename, max_age=ASSET_MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE}, immutable"
    return response


@blp.get("/<app_path:path>")
def app_path(path: str) -> Response:
    """A file at the root of the build (favicon), or the shell for a client-side route."""
    dist = _dist()
    if "/" not in path and path != "index.html" and (dist / path).is_file():
        return send_from_directory(dist, path, max_age=3600)
    return _index()


def init_app(app: Flask) -> None:
    app.url_map.converters["app_path"] = AppPathConverter
    app.register_blueprint(blp)
