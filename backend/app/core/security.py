"""Security headers on every response; no cookie session."""

from __future__ import annotations

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface, SessionMixin

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# /docs: Swagger UI from our own origin (swagger-ui-bundle); its page has one inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HSTS = "max-age=63072000; includeSubDomains; preload"


def _header_set(*, csp: str, api: bool, hsts: bool) -> tuple[tuple[str, str, str], ...]:
    """(lower-case name, name, value) of each header a response of that kind gets."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Content-Security-Policy", csp),
    ]
    if api:
        headers.append(("Cache-Control", "no-store"))
    if hsts:
        headers.append(("Strict-Transport-Security", HSTS))
    return tuple((name.lower(), name, value) for name, value in headers)


class NoCookieSession(SessionInterface):
    """The API authenticates with bearer tokens and keeps nothing in cookies: Flask's session
    is never read from a request or written to a response (writing to it raises)."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return None  # Flask then hands out its null session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def init_app(app: Flask) -> None:
    app.session_interface = NoCookieSession()
    # The sets are built once per app; a header the view already set is kept.
    hsts = bool(app.config.get("HSTS_ENABLED"))
    api_set = _header_set(csp=API_CSP, api=True, hsts=hsts)
    docs_set = _header_set(csp=DOCS_CSP, api=False, hsts=hsts)
    other_set = _header_set(csp=API_CSP, api=False, hsts=hsts)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        path = request.path
        if path.startswith("/api/"):
            wanted = api_set
        elif path.startswith("/docs"):
            wanted = docs_set
        else:
            wanted = other_set
        headers = response.headers
        present = {key.lower() for key, _ in headers.items()}
        headers.extend([(name, value) for low, name, value in wanted if low not in present])
        return response
