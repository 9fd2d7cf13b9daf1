"""Flowlet: the application factory."""

from __future__ import annotations

import logging

from flask import Flask
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

from app import (
    accounts,
    auth,
    cards,
    compliance,
    events,
    jobs,
    ledger,
    models,
    privacy,
    transactions,
    wealth,
)
from app.accounts.admin_routes import blp as admin_accounts_blp
from app.accounts.routes import blp as accounts_blp
from app.admin.routes import blp as admin_blp
from app.audit.routes import blp as audit_blp
from app.auth.models import User
from app.auth.permissions import init_jwt
from app.auth.routes import blp as auth_blp
from app.cards.routes import blp as cards_blp
from app.cli import register_cli
from app.compliance.routes import blp as compliance_blp
from app.config import BACKEND_DIR, Config, get_config
from app.core import (
    context,
    errors,
    health,
    hygiene,
    idempotency_purge,
    reads,
    replica,
    security,
    uow,
)
from app.core import db as db_helpers
from app.core.api import Api
from app.core.audit import jobs as audit_jobs
from app.core.extensions import cors, db, jwt, limiter, migrate
from app.core.health import blp as health_blp
from app.core.logging import configure_logging
from app.events.routes import blp as events_blp
from app.events.webhook_routes import blp as admin_webhooks_blp
from app.jobs.routes import blp as jobs_blp
from app.ledger import owners
from app.privacy.routes import blp as privacy_blp
from app.privacy.routes import officer_blp as privacy_decisions_blp
from app.transactions.routes import blp as transactions_blp
from app.wealth.routes import blp as wealth_blp
from app.web import init_app as init_web


def create_app(config_name: str | Config | None = None) -> Flask:
    """Build the WSGI application for `development`, `testing` or `production`."""
    config = config_name if isinstance(config_name, Config) else get_config(config_name)

    app = Flask(__name__, instance_path=str(BACKEND_DIR / "instance"))
    app.config.from_object(config)
    app.config["FLOWLET_ENV"] = config.ENV_NAME

    configure_logging(app.config["LOG_LEVEL"], json=app.config["LOG_JSON"])

    trusted_hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if trusted_hops:
        # Flask's documented way to wrap its WSGI callable; its types declare it a method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=trusted_hops, x_proto=trusted_hops
        )

    _init_extensions(app)
    _register_blueprints(app)
    init_web(app)

    register_cli(app)
    logging.getLogger("flowlet").info(
        "app created", extra={"env": config.ENV_NAME, "inline_jobs": app.config["RQ_INLINE"]}
    )
    return app


def _init_extensions(app: Flask) -> None:
    models.configure()  # the schema is complete before anything maps
    uow.install_guard()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        db_helpers.convert_long_statements_once()
    reads.configure(app)
    replica.configure(app)
    db.init_app(app)
    replica.init_app(app)
    migrate.init_app(app, db, directory=str(BACKEND_DIR / "migrations"), compare_type=True)
    jwt.init_app(app)
    limiter.init_app(app)
    # One Limiter object serves every app of the process, and it remembers a storage that
    # failed (then counts in memory) across init_app: a new app starts with its own storage
    # taken as alive. (flask-limiter has no public switch for this.)
    limiter._storage_dead = False
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        expose_headers=["X-Request-ID", "Idempotent-Replayed", "Retry-After"],
        supports_credentials=False,
    )
    app.extensions["flowlet_redis"] = (
        Redis.from_url(app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2)
        if app.config["REDIS_URL"]
        else None
    )
    api = Api()
    api.init_app(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
            "security": [{"bearerAuth": []}],
        },
    )
    app.extensions["flowlet_api"] = api
    init_jwt(app)
    errors.register_error_handlers(app)
    context.init_app(app)
    security.init_app(app)
    hygiene.init_app(app)
    health.init_metrics(app)
    idempotency_purge.init_app(app)
    audit_jobs.init_app(app)  # the sealer, booked after the purge
    _init_domains(app)


def _init_domains(app: Flask) -> None:
    """Domains plug into the registries: the movement engine's policies and observers, the
    personal-data sections (`core.personal_data`), the periodic jobs (`core.schedule`) and the
    audit log's masks."""
    owners.register(app, User)  # users own the customer accounts: the ledger locks them
    ledger.init_app(app)
    auth.init_app(app)
    accounts.init_app(app)
    transactions.init_app(app)
    compliance.init_app(app)
    cards.init_app(app)
    wealth.init_app(app)
    privacy.init_app(app)
    events.init_app(app)
    jobs.init_app(app)


def _register_blueprints(app: Flask) -> None:
    api = app.extensions["flowlet_api"]
    for blp in (
        health_blp,
        auth_blp,
        accounts_blp,
        transactions_blp,
        cards_blp,
        compliance_blp,
        audit_blp,
        privacy_blp,
        privacy_decisions_blp,
        wealth_blp,
        jobs_blp,
        events_blp,
        admin_blp,
        admin_accounts_blp,
        admin_webhooks_blp,
    ):
        api.register_blueprint(blp)
