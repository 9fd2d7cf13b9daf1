"""Configuration classes read from the environment.

`create_app(config_name)` picks one of these; every secret comes from the environment and
`ProductionConfig.validate()` refuses to start with a missing or default one.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from datetime import timedelta
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BACKEND_DIR / "instance"

# Development defaults: fine on a laptop, refused in production.
DEFAULT_SECRETS = {
    "SECRET_KEY": "dev-secret-key-change-me",
    "JWT_SECRET_KEY": "dev-jwt-secret-key-change-me-not-for-production",
    # 32 zero-ish bytes, base64: the development data-encryption key.
    "DATA_ENCRYPTION_KEYS": "dev:ZGV2LWRhdGEtZW5jcnlwdGlvbi1rZXktMzJieXRlcyE=",
    # Card keys are kept apart from the other data keys (docs/cards.md).
    "CARD_ENCRYPTION_KEYS": "dev:ZGV2LWNhcmQtcGFuLWVuY3J5cHRpb24ta2V5LTMyYiE=",
    "CARD_PAN_FINGERPRINT_KEY": "dev-card-pan-fingerprint-key-change-me-0001",
    "CARD_CVV_KEY": "dev-card-cvv-derivation-key-change-me-000001",
}


CARD_SECRETS = ("CARD_ENCRYPTION_KEYS", "CARD_PAN_FINGERPRINT_KEY", "CARD_CVV_KEY")

# Single sign-on (docs/sso.md): the bank's identity provider for staff, then the customers'.
OIDC_PROVIDERS = ("staff", "google", "microsoft", "github")
# The roles a staff identity provider's groups may grant.
SSO_STAFF_ROLES = ("compliance_officer", "admin")


# Points of each risk factor (docs/compliance.md, "Customer risk rating").
DEFAULT_RISK_WEIGHTS: dict[str, int] = {
    "country_high": 30,
    "country_medium": 15,
    "kyc_none": 20,
    "kyc_basic": 10,
    "kyc_full": 0,
    "product": 5,
    "products_max": 15,
    "alert": 10,
    "alerts_max": 30,
    "case": 20,
    "cases_max": 40,
    "pep": 60,
    "cash_posting": 2,
    "cash_max": 20,
}


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used safely."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalize_db_url(url: str) -> str:
    # Heroku-style "postgres://" is not accepted by SQLAlchemy 2.
    # psycopg 3 is the driver we ship: it prepares repeated statements on the server
    # (docs/performance.md), which psycopg2 cannot.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def parse_group_roles(spec: str | None) -> dict[str, str]:
    """Parse `group=role,…` (OIDC_STAFF_GROUP_ROLES); only staff roles may be granted."""
    mapping: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        group, sep, role = (item.strip() for item in part.partition("="))
        if not sep or not group or role not in SSO_STAFF_ROLES:
            raise ConfigError(
                "OIDC_STAFF_GROUP_ROLES entries must look like group=role, role one of "
                + ", ".join(SSO_STAFF_ROLES)
            )
        mapping[group] = role
    return mapping


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False

    def __init__(self) -> None:
        self.SECRET_KEY = _env("SECRET_KEY", DEFAULT_SECRETS["SECRET_KEY"])
        self.JWT_SECRET_KEY = _env("JWT_SECRET_KEY", DEFAULT_SECRETS["JWT_SECRET_KEY"])
        # "kid:base64key,kid2:base64key2" — the first key encrypts, all keys decrypt.
        self.DATA_ENCRYPTION_KEYS = _env(
            "DATA_ENCRYPTION_KEYS", DEFAULT_SECRETS["DATA_ENCRYPTION_KEYS"]
        )
        self.SQLALCHEMY_DATABASE_URI = normalize_db_url(
            _env("DATABASE_URL") or self.default_database_url()
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = self.engine_options(self.SQLALCHEMY_DATABASE_URI)
        # A streaming replica for the reads that tolerate lag (core/replica.py); unset, every
        # read goes to the primary. It is skipped while further behind than the lag setting,
        # which each process checks at most every REPLICA_CHECK_SECONDS.
        self.DATABASE_REPLICA_URL = _env("DATABASE_REPLICA_URL")
        self.REPLICA_MAX_LAG_SECONDS = float(_env("REPLICA_MAX_LAG_SECONDS", "30") or 30)
        self.REPLICA_CHECK_SECONDS = float(_env("REPLICA_CHECK_SECONDS", "5") or 5)
        self.REDIS_URL = _env("REDIS_URL")
        self.CORS_ORIGINS = [
            o.strip() for o in (_env("CORS_ORIGINS", "") or "").split(",") if o.strip()
        ]
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        self.LOG_JSON = _env_bool("LOG_JSON", True)
        # Without Redis, jobs run inline in the request that enqueued them (after commit).
        self.RQ_INLINE = self.REDIS_URL is None or _env_bool("RQ_INLINE", False)
        for group in (
            self._worker_settings,
            self._ratelimit_settings,
            self._token_settings,
            self._mail_settings,
            self._sso_settings,
            self._http_settings,
            self._money_settings,
            self._card_settings,
            self._wealth_settings,
            self._webhook_settings,
            self._events_settings,
        ):
            group()

    def _worker_settings(self) -> None:
        """RQ workers and the outbox (docs/reliability.md)."""
        # Workers heartbeat this often; a job whose worker died is requeued within 4 beats.
        self.WORKER_HEARTBEAT_SECONDS = _env_int("WORKER_HEARTBEAT_SECONDS", 10)
        # Outbox rows handed to RQ are kept this long (job owners are read from them).
        self.OUTBOX_RETENTION_SECONDS = _env_int("OUTBOX_RETENTION_SECONDS", 7 * 24 * 3600)
        # /health/detailed calls the outbox `lagging` when its oldest row is older than this.
        self.OUTBOX_LAG_ALERT_SECONDS = _env_int("OUTBOX_LAG_ALERT_SECONDS", 120)
        # This process among the deployment's (the scheduler lease names its holder by it).
        self.INSTANCE_ID = _env("INSTANCE_ID") or f"{socket.gethostname()}:{os.getpid()}"
        # The scheduler lease holder renews this often; a standby tries as often.
        self.SCHEDULER_LEASE_RENEW_SECONDS = _env_int("SCHEDULER_LEASE_RENEW_SECONDS", 2)
        # /health/detailed calls a holder silent this long `degraded`; twice this, it loses
        # the lease to a standby.
        self.SCHEDULER_LEASE_STALE_SECONDS = _env_int("SCHEDULER_LEASE_STALE_SECONDS", 15)
        # A row handed to RQ and not done this long after is pushed again (unless RQ holds it).
        self.OUTBOX_REDELIVER_AFTER_SECONDS = _env_int("OUTBOX_REDELIVER_AFTER_SECONDS", 30)
        # /health/detailed is `degraded` when a job is not done this long after it was decided.
        self.OUTBOX_UNDONE_ALERT_SECONDS = _env_int("OUTBOX_UNDONE_ALERT_SECONDS", 300)
        # RQ's worker maintenance (registry cleaning, taking a dead scheduler's lock) this often.
        self.WORKER_MAINTENANCE_SECONDS = _env_int("WORKER_MAINTENANCE_SECONDS", 10)

    def _ratelimit_settings(self) -> None:
        """Rate limits and where they count (docs/security.md)."""
        # Redis, failing over to PostgreSQL counters shared by every process (core.ratelimit).
        self.RATELIMIT_STORAGE_URI = f"flowlet+{self.REDIS_URL}" if self.REDIS_URL else "memory://"
        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = True
        # A Redis outage must not take logins down: counters move to the database (see
        # core.ratelimit); process memory is the last resort if the database fails too.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "flowlet") or "flowlet"
        self.RATELIMIT_LOGIN_PER_IP = _env("RATELIMIT_LOGIN_PER_IP", "20 per minute")
        self.RATELIMIT_LOGIN_PER_ACCOUNT = _env("RATELIMIT_LOGIN_PER_ACCOUNT", "10 per 15 minutes")
        self.RATELIMIT_AUTH_PER_IP = _env("RATELIMIT_AUTH_PER_IP", "30 per minute")
        # Magic sign-in links asked for one address, and from one client IP.
        self.MAGIC_LINK_RATE_LIMIT_PER_EMAIL = _env(
            "MAGIC_LINK_RATE_LIMIT_PER_EMAIL", "3 per 15 minutes"
        )
        self.MAGIC_LINK_RATE_LIMIT_PER_IP = _env("MAGIC_LINK_RATE_LIMIT_PER_IP", "10 per hour")

    def _token_settings(self) -> None:
        """Access and refresh tokens, sessions, lockout, one-time links (docs/security.md)."""
        self.JWT_ACCESS_TOKEN_EXPIRES = timedelta(
            seconds=_env_int("JWT_ACCESS_TOKEN_SECONDS", 15 * 60)
        )
        self.JWT_REFRESH_TOKEN_EXPIRES = timedelta(
            seconds=_env_int("JWT_REFRESH_TOKEN_SECONDS", 14 * 24 * 3600)
        )
        # A login (or step-up) token stays fresh this long; refreshed tokens are never fresh.
        self.JWT_FRESH_SECONDS = _env_int("JWT_FRESH_SECONDS", 5 * 60)
        # How long a process trusts a session it found live without asking the database again:
        # the longest a revocation written by another process takes to be seen (0: every
        # request asks; docs/security.md).
        self.AUTH_SESSION_CACHE_SECONDS = float(_env("AUTH_SESSION_CACHE_SECONDS", "5") or 0)
        # Identity and access
        self.POLICY_VERSION = _env("POLICY_VERSION", "2026-11-01")
        self.LOCKOUT_THRESHOLD = _env_int("LOCKOUT_THRESHOLD", 5)
        self.LOCKOUT_SECONDS = _env_int("LOCKOUT_SECONDS", 15 * 60)
        self.LOCKOUT_MAX_SECONDS = _env_int("LOCKOUT_MAX_SECONDS", 24 * 3600)
        self.MFA_TOKEN_SECONDS = _env_int("MFA_TOKEN_SECONDS", 5 * 60)
        self.EMAIL_VERIFICATION_SECONDS = _env_int("EMAIL_VERIFICATION_SECONDS", 48 * 3600)
        self.PASSWORD_RESET_SECONDS = _env_int("PASSWORD_RESET_SECONDS", 3600)
        # A magic sign-in link works once, this long, on the browser that asked for it.
        self.MAGIC_LINK_TTL_SECONDS = _env_int("MAGIC_LINK_TTL_SECONDS", 15 * 60)
        # Officers and admins sign in and use their tokens only from these networks
        # (comma-separated CIDRs; empty: anywhere). The client IP is the one ProxyFix finds
        # behind TRUSTED_PROXY_HOPS proxies.
        self.STAFF_ALLOWED_NETWORKS = _env("STAFF_ALLOWED_NETWORKS", "") or ""
        self.TOTP_ISSUER = _env("TOTP_ISSUER", "Flowlet")
        # Passkeys (WebAuthn): the relying party is a registrable domain or "localhost" (browsers
        # refuse an IP address), and the origins the browser may sign for (comma-separated).
        self.WEBAUTHN_RP_ID = _env("WEBAUTHN_RP_ID", "localhost")
        self.WEBAUTHN_RP_NAME = _env("WEBAUTHN_RP_NAME", "Flowlet")
        self.WEBAUTHN_ORIGINS = [
            o.strip().rstrip("/")
            for o in (
                _env("WEBAUTHN_ORIGINS", "http://localhost:5000,http://localhost:5173") or ""
            ).split(",")
            if o.strip()
        ]
        self.WEBAUTHN_CHALLENGE_SECONDS = _env_int("WEBAUTHN_CHALLENGE_SECONDS", 5 * 60)
        self.PAYMENT_CONFIRMATION_SECONDS = _env_int("PAYMENT_CONFIRMATION_SECONDS", 5 * 60)

    def _sso_settings(self) -> None:
        """Single sign-on with OpenID Connect (docs/sso.md); a provider without a client id
        is not offered."""
        self.OIDC_STAFF_ISSUER = _env("OIDC_STAFF_ISSUER")
        self.OIDC_STAFF_CLIENT_ID = _env("OIDC_STAFF_CLIENT_ID")
        self.OIDC_STAFF_CLIENT_SECRET = _env("OIDC_STAFF_CLIENT_SECRET")
        # "group=role,group2=role2": the provider's `groups` claim → Flowlet staff roles.
        self.OIDC_STAFF_GROUP_ROLES = parse_group_roles(_env("OIDC_STAFF_GROUP_ROLES", ""))
        self.OIDC_GOOGLE_ISSUER = _env("OIDC_GOOGLE_ISSUER", "https://accounts.google.com")
        self.OIDC_GOOGLE_CLIENT_ID = _env("OIDC_GOOGLE_CLIENT_ID")
        self.OIDC_GOOGLE_CLIENT_SECRET = _env("OIDC_GOOGLE_CLIENT_SECRET")
        # Microsoft's issuer names the tenant: https://login.microsoftonline.com/<tenant>/v2.0
        self.OIDC_MICROSOFT_ISSUER = _env("OIDC_MICROSOFT_ISSUER")
        self.OIDC_MICROSOFT_CLIENT_ID = _env("OIDC_MICROSOFT_CLIENT_ID")
        self.OIDC_MICROSOFT_CLIENT_SECRET = _env("OIDC_MICROSOFT_CLIENT_SECRET")
        # GitHub speaks OAuth 2 only: this is an OpenID Connect broker in front of it (Dex…).
        self.OIDC_GITHUB_ISSUER = _env("OIDC_GITHUB_ISSUER")
        self.OIDC_GITHUB_CLIENT_ID = _env("OIDC_GITHUB_CLIENT_ID")
        self.OIDC_GITHUB_CLIENT_SECRET = _env("OIDC_GITHUB_CLIENT_SECRET")
        # A sign-in must come back from the provider within this; its code is exchanged within
        # the second; calls to a provider give up after the third.
        self.OIDC_LOGIN_SECONDS = _env_int("OIDC_LOGIN_SECONDS", 600)
        self.OIDC_EXCHANGE_SECONDS = _env_int("OIDC_EXCHANGE_SECONDS", 60)
        self.OIDC_HTTP_TIMEOUT_SECONDS = _env_int("OIDC_HTTP_TIMEOUT_SECONDS", 5)
        # Discovery documents and signing keys are kept this long (an unknown key id refetches).
        self.OIDC_METADATA_CACHE_SECONDS = _env_int("OIDC_METADATA_CACHE_SECONDS", 3600)

    def _mail_settings(self) -> None:
        """The web client, and outgoing e-mail (docs/configuration.md)."""
        # Links in e-mails point at the web client.
        self.FRONTEND_URL = (_env("FRONTEND_URL", "http://127.0.0.1:5173") or "").rstrip("/")
        # The built web app served at `/` (`frontend/dist` after `npm run build`).
        self.WEB_DIST_DIR = _env("WEB_DIST_DIR") or str(BACKEND_DIR.parent / "frontend" / "dist")
        # Outgoing e-mail; without SMTP_HOST messages are logged (in full only in development).
        self.SMTP_HOST = _env("SMTP_HOST")
        self.SMTP_PORT = _env_int("SMTP_PORT", 587)
        self.SMTP_USERNAME = _env("SMTP_USERNAME")
        self.SMTP_PASSWORD = _env("SMTP_PASSWORD")
        self.SMTP_FROM = _env("SMTP_FROM", "Flowlet <no-reply@flowlet.local>")
        self.SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", True)
        self.SMTP_TIMEOUT = _env_int("SMTP_TIMEOUT", 10)

    def _http_settings(self) -> None:
        """HTTP: proxies, the OpenAPI document, request limits (docs/configuration.md)."""
        self.HSTS_ENABLED = False
        # How many reverse proxies in front of us may set X-Forwarded-For (0 = none trusted).
        self.TRUSTED_PROXY_HOPS = _env_int("TRUSTED_PROXY_HOPS", 0)
        # flask-smorest / OpenAPI
        self.API_TITLE = "Flowlet API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "/docs"
        # Swagger UI's assets come from the pinned swagger-ui-bundle package, served by us.
        self.OPENAPI_SWAGGER_UI_URL = "/docs/assets/"
        self.MAX_CONTENT_LENGTH = 1 * 1024 * 1024
        # The request head, answered 414/431 in our envelope (core/hygiene.py); gunicorn's own
        # limits are set above these in gunicorn.conf.py (docs/configuration.md).
        self.MAX_URL_LENGTH = _env_int("MAX_URL_LENGTH", 4096)
        self.MAX_HEADER_COUNT = _env_int("MAX_HEADER_COUNT", 100)
        self.MAX_HEADER_FIELD_SIZE = _env_int("MAX_HEADER_FIELD_SIZE", 8190)

    def _money_settings(self) -> None:
        """Accounts, ledger, limits and fraud rules (docs/configuration.md, docs/ledger.md)."""
        self.SUPPORTED_CURRENCIES = [
            c.strip().upper()
            for c in (_env("SUPPORTED_CURRENCIES", "USD,EUR,GBP,CHF,JPY") or "").split(",")
            if c.strip()
        ]
        # IBANs are generated for new accounts when a country is set (empty: no IBANs).
        self.IBAN_COUNTRY = (_env("IBAN_COUNTRY", "DE") or "").upper()
        self.IBAN_BANK_CODE = _env("IBAN_BANK_CODE", "99999999")
        self.IDEMPOTENCY_TTL_SECONDS = _env_int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600)
        # How often the workers purge expired idempotency keys (0 = leave it to cron).
        self.IDEMPOTENCY_PURGE_INTERVAL_SECONDS = _env_int(
            "IDEMPOTENCY_PURGE_INTERVAL_SECONDS", 3600
        )
        # Currency transaction report: a customer's cash deposits of a day over this amount (in
        # the account's currency; "10000,JPY=1500000" overrides per currency) are reported.
        self.CTR_CASH_THRESHOLD = _env("CTR_CASH_THRESHOLD", "10000")
        # How often the workers chain committed audit records (0 = only `flask audit seal`,
        # the verifier and the exporter do).
        self.AUDIT_SEAL_INTERVAL_SECONDS = float(_env("AUDIT_SEAL_INTERVAL_SECONDS", "5") or 0)
        # Key of the keyed digest over the personal values of audit records (default: derived
        # from SECRET_KEY). Changing it leaves old digests unverifiable, never the chain.
        self.AUDIT_PII_KEY = _env("AUDIT_PII_KEY", "")
        self._limit_settings()
        self._fraud_settings()
        self._compliance_settings()

    def _limit_settings(self) -> None:
        """Step-up, KYC limits, the movement cap, holds and statements (docs/ledger.md)."""
        # Amounts are decimals in the account's currency; "1000,JPY=150000" overrides per currency.
        self.STEP_UP_TRANSFER_THRESHOLD = _env("STEP_UP_TRANSFER_THRESHOLD", "1000,JPY=150000")
        # Outgoing limits per KYC status: {"status": {"per_transfer": amounts, "daily": amounts}}.
        self.TRANSFER_LIMITS = json.loads(
            _env("TRANSFER_LIMITS")
            or json.dumps(
                {
                    "none": {"per_transfer": "5000,JPY=750000", "daily": "10000,JPY=1500000"},
                    "basic": {"per_transfer": "10000,JPY=1500000", "daily": "25000,JPY=3750000"},
                    "full": {"per_transfer": "50000,JPY=7500000", "daily": "100000,JPY=15000000"},
                    "approved": {
                        "per_transfer": "50000,JPY=7500000",
                        "daily": "100000,JPY=15000000",
                    },
                }
            )
        )
        # Deposits per KYC status: {"status": {"per_deposit": amounts, "daily": amounts}}; a
        # status mapped to null (or absent, with no "none" entry) may not deposit: kyc_required.
        self.DEPOSIT_LIMITS = json.loads(
            _env("DEPOSIT_LIMITS")
            or json.dumps(
                {
                    "none": {"per_deposit": "10000,JPY=1500000", "daily": "20000,JPY=3000000"},
                    "pending": {"per_deposit": "10000,JPY=1500000", "daily": "20000,JPY=3000000"},
                    "approved": {
                        "per_deposit": "100000,JPY=15000000",
                        "daily": "250000,JPY=37500000",
                    },
                    "rejected": None,
                }
            )
        )
        # No single movement carries more than this many minor units, whatever the limits say
        # (far below the 64-bit range the ledger stores, so sums never overflow).
        self.MAX_MOVEMENT_MINOR_UNITS = _env_int("MAX_MOVEMENT_MINOR_UNITS", 10**13)
        # A hold placed without an expiry of its own (an IBAN transfer awaiting settlement) and
        # a review's hold expire after this long; the expiry job releases them.
        self.HOLD_EXPIRY_SECONDS = _env_int("HOLD_EXPIRY_SECONDS", 7 * 24 * 3600)
        # A PDF statement with more lines than this is built by a job and downloaded when ready.
        self.STATEMENT_PDF_INLINE_LINES = _env_int("STATEMENT_PDF_INLINE_LINES", 2000)

    def _fraud_settings(self) -> None:
        """The transfer fraud rules (docs/ledger.md)."""
        self.FRAUD_REVIEW_THRESHOLD = _env_int("FRAUD_REVIEW_THRESHOLD", 50)
        self.FRAUD_VELOCITY_MAX = _env_int("FRAUD_VELOCITY_MAX", 10)
        self.FRAUD_VELOCITY_WINDOW_SECONDS = _env_int("FRAUD_VELOCITY_WINDOW_SECONDS", 600)
        self.FRAUD_AMOUNT_MULTIPLIER = _env_int("FRAUD_AMOUNT_MULTIPLIER", 5)
        self.FRAUD_AMOUNT_MIN_HISTORY = _env_int("FRAUD_AMOUNT_MIN_HISTORY", 3)
        self.FRAUD_NEW_BENEFICIARY_AMOUNT = _env("FRAUD_NEW_BENEFICIARY_AMOUNT", "1000,JPY=150000")
        self.FRAUD_SECURITY_CHANGE_WINDOW_SECONDS = _env_int(
            "FRAUD_SECURITY_CHANGE_WINDOW_SECONDS", 24 * 3600
        )

    def _compliance_settings(self) -> None:
        """KYC, sanctions screening, AML monitoring, settlement refusals (docs/compliance.md)."""
        self.KYC_MIN_AGE = _env_int("KYC_MIN_AGE", 18)
        self.SANCTIONS_MATCH_THRESHOLD = float(_env("SANCTIONS_MATCH_THRESHOLD", "0.80") or 0.8)
        # A new version of a list with more than this share fewer entries than the active one
        # of the same source is refused as cut short unless loaded with --force.
        self.SANCTIONS_MAX_SHRINK = float(_env("SANCTIONS_MAX_SHRINK", "0.1") or 0)
        self.SANCTIONS_BENEFICIARY_DAYS = _env_int("SANCTIONS_BENEFICIARY_DAYS", 365)
        self.SANCTIONS_SOURCES = _env("SANCTIONS_SOURCES", "") or ""
        self.SANCTIONS_FETCH_CRON = _env("SANCTIONS_FETCH_CRON", "30 */6 * * *") or ""
        self.SANCTIONS_FETCH_TIMEOUT = float(_env("SANCTIONS_FETCH_TIMEOUT", "60") or 60)
        self.SANCTIONS_FETCH_MAX_BYTES = _env_int("SANCTIONS_FETCH_MAX_BYTES", 200_000_000)
        self.AML_CASH_THRESHOLD = _env("AML_CASH_THRESHOLD", "10000,JPY=1500000")
        self.AML_STRUCTURING_DAYS = _env_int("AML_STRUCTURING_DAYS", 7)
        self.AML_STRUCTURING_NEAR = float(_env("AML_STRUCTURING_NEAR", "0.8") or 0.8)
        self.AML_STRUCTURING_MIN_COUNT = _env_int("AML_STRUCTURING_MIN_COUNT", 3)
        self.AML_RAPID_HOURS = _env_int("AML_RAPID_HOURS", 24)
        self.AML_RAPID_RATIO = float(_env("AML_RAPID_RATIO", "0.8") or 0.8)
        self.AML_RAPID_MIN_AMOUNT = _env("AML_RAPID_MIN_AMOUNT", "5000,JPY=750000")
        self.AML_VELOCITY_HOURS = _env_int("AML_VELOCITY_HOURS", 24)
        self.AML_VELOCITY_MAX_COUNT = _env_int("AML_VELOCITY_MAX_COUNT", 10)
        self.AML_ROUND_UNIT = _env("AML_ROUND_UNIT", "1000,JPY=100000")
        self.AML_ROUND_DAYS = _env_int("AML_ROUND_DAYS", 7)
        self.AML_ROUND_MIN_COUNT = _env_int("AML_ROUND_MIN_COUNT", 3)
        self.AML_HIGH_RISK_COUNTRIES = [
            c.strip().upper()
            for c in (_env("AML_HIGH_RISK_COUNTRIES", "IR,KP,MM") or "").split(",")
            if c.strip()
        ]
        self.AML_DORMANT_DAYS = _env_int("AML_DORMANT_DAYS", 180)
        self._risk_settings()
        self.AML_WINDOW_MAX_ROWS = _env_int("AML_WINDOW_MAX_ROWS", 500)
        # The rules' approved versions, cached per process: seconds between checks for a new one.
        self.AML_RULES_CACHE_SECONDS = _env_int("AML_RULES_CACHE_SECONDS", 5)
        # A backtest: its longest period, and how many alerts each list of its result names.
        self.AML_BACKTEST_MAX_DAYS = _env_int("AML_BACKTEST_MAX_DAYS", 400)
        self.AML_BACKTEST_LISTED = _env_int("AML_BACKTEST_LISTED", 200)
        # IBAN countries the outbound payment rail does not serve: their settlement fails.
        self.SETTLEMENT_REJECTED_COUNTRIES = [
            c.strip().upper()
            for c in (_env("SETTLEMENT_REJECTED_COUNTRIES", "") or "").split(",")
            if c.strip()
        ]

    def _risk_settings(self) -> None:
        """Customer risk rating, periodic reviews, enhanced due diligence (docs/compliance.md)."""
        # Countries that add the medium country weight (AML_HIGH_RISK_COUNTRIES add the high).
        self.RISK_MEDIUM_RISK_COUNTRIES = [
            c.strip().upper()
            for c in (_env("RISK_MEDIUM_RISK_COUNTRIES", "") or "").split(",")
            if c.strip()
        ]
        # Points per factor; a JSON object overrides the named keys of the default.
        self.RISK_WEIGHTS = {**DEFAULT_RISK_WEIGHTS, **json.loads(_env("RISK_WEIGHTS") or "{}")}
        # The lowest score of each level above low.
        self.RISK_LEVEL_CUTOFFS = _env("RISK_LEVEL_CUTOFFS", "medium=30,high=60")
        # Days from the last review (or the first rating) to the next, by level.
        self.RISK_REVIEW_INTERVAL_DAYS = _env(
            "RISK_REVIEW_INTERVAL_DAYS", "high=365,medium=730,low=1095"
        )
        # A review still open this many days after it fell due is overdue.
        self.RISK_REVIEW_GRACE_DAYS = _env_int("RISK_REVIEW_GRACE_DAYS", 30)
        # What an overdue review does to the customer: block_outgoing or none.
        self.RISK_OVERDUE_ACTION = _env("RISK_OVERDUE_ACTION", "block_outgoing")
        # Cash-like activity: postings of these channels over this many days.
        self.RISK_CASH_CHANNELS = [
            c.strip().lower()
            for c in (_env("RISK_CASH_CHANNELS", "cash,atm") or "").split(",")
            if c.strip()
        ]
        self.RISK_CASH_WINDOW_DAYS = _env_int("RISK_CASH_WINDOW_DAYS", 90)
        # Alerts and escalated cases count over this many days.
        self.RISK_HISTORY_DAYS = _env_int("RISK_HISTORY_DAYS", 365)

    def _card_settings(self) -> None:
        """Cards: keys, the BIN, default controls, authorization holds (docs/cards.md)."""
        for name in CARD_SECRETS:
            setattr(self, name, _env(name, DEFAULT_SECRETS[name]))
        self.CARD_BIN = _env("CARD_BIN", "400012")
        self.CARD_VALIDITY_YEARS = _env_int("CARD_VALIDITY_YEARS", 3)
        # Where the bank issues: payments elsewhere are international (the card's switch).
        self.CARD_HOME_COUNTRY = (_env("CARD_HOME_COUNTRY", self.IBAN_COUNTRY) or "DE").upper()
        self.CARD_MAX_ACTIVE_PER_USER = _env_int("CARD_MAX_ACTIVE_PER_USER", 10)
        self.CARD_REQUIRE_KYC = _env_bool("CARD_REQUIRE_KYC", True)
        # Default limits of a new card (amounts in the account's currency; empty = none).
        self.CARD_DEFAULT_DAILY_LIMIT = _env("CARD_DEFAULT_DAILY_LIMIT", "2500,JPY=375000")
        self.CARD_DEFAULT_MONTHLY_LIMIT = _env("CARD_DEFAULT_MONTHLY_LIMIT", "10000,JPY=1500000")
        # An authorization neither captured nor reversed releases its hold after this long.
        self.CARD_AUTHORIZATION_HOLD_SECONDS = _env_int(
            "CARD_AUTHORIZATION_HOLD_SECONDS", 7 * 24 * 3600
        )
        self.CARD_REVEAL_RATE_LIMIT = _env("CARD_REVEAL_RATE_LIMIT", "10 per hour")
        # Wrong CVVs in a day after which a card is frozen (0: never).
        self.CARD_CVV_FAILURES_BEFORE_FREEZE = _env_int("CARD_CVV_FAILURES_BEFORE_FREEZE", 5)

    def _wealth_settings(self) -> None:
        """Broker sync and exchange rates (docs/wealth.md)."""
        # A Frankfurter-compatible rates service (https://frankfurter.dev).
        self.EXCHANGE_RATES_URL = _env("EXCHANGE_RATES_URL", "https://api.frankfurter.dev/v1")
        self.EXCHANGE_RATES_TIMEOUT = _env_int("EXCHANGE_RATES_TIMEOUT", 10)
        # FinTS product registration number (Deutsche Kreditwirtschaft) sent to banks.
        self.FINTS_PRODUCT_ID = _env("FINTS_PRODUCT_ID")
        # A failed broker sync is retried this many times, after base × 4^n seconds
        # (exponential backoff: 15 s, 1 min, 4 min by default).
        self.WEALTH_SYNC_RETRIES = _env_int("WEALTH_SYNC_RETRIES", 3)
        self.WEALTH_SYNC_RETRY_BASE_SECONDS = _env_int("WEALTH_SYNC_RETRY_BASE_SECONDS", 15)

    def _webhook_settings(self) -> None:
        """Webhooks to partners' URLs (docs/webhooks.md)."""
        # Seconds one delivery (connect, send, the answer's status) may take.
        self.WEBHOOK_TIMEOUT_SECONDS = _env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
        # A delivery not answered 2xx is retried this long after the event, then failed.
        self.WEBHOOK_MAX_AGE_SECONDS = _env_int("WEBHOOK_MAX_AGE_SECONDS", 86400)
        # Retry n waits base × 2^(n-1) seconds (at most an hour), with ±50 % jitter.
        self.WEBHOOK_RETRY_BASE_SECONDS = _env_int("WEBHOOK_RETRY_BASE_SECONDS", 20)
        # An endpoint is disabled after this many deliveries failed in a row (0: never).
        self.WEBHOOK_DISABLE_AFTER_FAILURES = _env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 5)
        # After a rotation the previous secret also signs for this long.
        self.WEBHOOK_SECRET_OVERLAP_SECONDS = _env_int("WEBHOOK_SECRET_OVERLAP_SECONDS", 86400)
        # Private networks (CIDRs, comma-separated) webhooks may reach anyway; default none.
        self.WEBHOOK_ALLOW_PRIVATE_NETWORKS = _env("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "")
        # Seconds between two runs of the fan-out and delivery job.
        self.WEBHOOK_POLL_SECONDS = _env_int("WEBHOOK_POLL_SECONDS", 5)
        # Delivered and failed deliveries (and their attempts) are deleted after this long.
        self.WEBHOOK_RETENTION_SECONDS = _env_int("WEBHOOK_RETENTION_SECONDS", 30 * 86400)

    def _events_settings(self) -> None:
        """The live event stream and the events' retention (docs/events.md)."""
        # A stream ticket (POST /events/ticket) opens one stream within this many seconds.
        self.EVENTS_TICKET_SECONDS = _env_int("EVENTS_TICKET_SECONDS", 60)
        # An open stream sends a comment this often, so proxies and clients see it alive.
        self.EVENTS_HEARTBEAT_SECONDS = float(_env("EVENTS_HEARTBEAT_SECONDS", "15") or 15)
        # The stream server reads new events on every Redis wake-up and at least this often.
        self.EVENTS_POLL_SECONDS = float(_env("EVENTS_POLL_SECONDS", "5") or 5)
        # The in-app stream (no stream server: `make run`) reads new events this often.
        self.EVENTS_FALLBACK_POLL_SECONDS = float(_env("EVENTS_FALLBACK_POLL_SECONDS", "1") or 1)
        # A stream ends after this long; the client reconnects with a new ticket (and so
        # proves again that its login is live) and resumes where it was.
        self.EVENTS_STREAM_MAX_SECONDS = _env_int("EVENTS_STREAM_MAX_SECONDS", 3600)
        # Open streams whose login was revoked (or whose user was disabled or locked) end
        # within this many seconds: one check per stream server for all its streams.
        self.EVENTS_SESSION_CHECK_SECONDS = float(_env("EVENTS_SESSION_CHECK_SECONDS", "30") or 30)
        # The `retry:` hint: how long a browser waits before reconnecting on its own.
        self.EVENTS_RETRY_MS = _env_int("EVENTS_RETRY_MS", 3000)
        # Events older than this are deleted by the daily purge (and with them, the history a
        # stream can resume over).
        self.EVENTS_RETENTION_DAYS = _env_int("EVENTS_RETENTION_DAYS", 30)
        # Where `flask events serve` listens.
        self.EVENTS_HOST = _env("EVENTS_HOST", "127.0.0.1")
        self.EVENTS_PORT = _env_int("EVENTS_PORT", 5001)

    def default_database_url(self) -> str:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{INSTANCE_DIR / 'flowlet.db'}"

    @staticmethod
    def engine_options(url: str) -> dict:
        if url.startswith("sqlite"):
            return {"connect_args": {"timeout": 30}}
        # No ping before every checkout (a round trip each): a connection the server dropped
        # fails its request once, and SQLAlchemy then recycles every older pooled connection.
        # DB_POOL_PRE_PING=true buys that one request back at a round trip per checkout.
        # psycopg prepares a statement on the server once it has run it this many times on a
        # connection; PostgreSQL then skips parsing and (after a few runs) planning it. 0 turns
        # it off, as a transaction-pooling PgBouncer older than 1.21 needs.
        prepare = _env_int("DB_PREPARE_THRESHOLD", 5)
        return {
            "connect_args": {"prepare_threshold": prepare if prepare > 0 else None},
            "pool_pre_ping": _env_bool("DB_POOL_PRE_PING", False),
            "pool_size": _env_int("DB_POOL_SIZE", 10),
            "max_overflow": _env_int("DB_MAX_OVERFLOW", 20),
            "pool_recycle": 1800,
        }

    # gunicorn refuses a request line (method, URL, protocol) over 8190 bytes with its own
    # plain-text answer; the app's URL limit stays below it so that it answers first.
    GUNICORN_MAX_REQUEST_LINE = 8190

    def validate(self) -> None:
        """Check the settings before the app starts; raise ConfigError when unusable."""
        if not 0 < self.MAX_URL_LENGTH <= self.GUNICORN_MAX_REQUEST_LINE - 64:
            raise ConfigError(
                f"MAX_URL_LENGTH must be between 1 and {self.GUNICORN_MAX_REQUEST_LINE - 64}"
            )
        for cidr in (self.WEBHOOK_ALLOW_PRIVATE_NETWORKS or "").split(","):
            try:
                if cidr.strip():
                    ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError as exc:
                raise ConfigError(
                    f"WEBHOOK_ALLOW_PRIVATE_NETWORKS: {cidr.strip()!r} is not a network"
                ) from exc
        # The first retry comes within a minute (the retry's wait, jittered, and one poll).
        if self.WEBHOOK_RETRY_BASE_SECONDS * 1.5 + self.WEBHOOK_POLL_SECONDS > 60:
            raise ConfigError(
                "WEBHOOK_RETRY_BASE_SECONDS × 1.5 + WEBHOOK_POLL_SECONDS must not exceed 60"
            )


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)

    def default_database_url(self) -> str:
        return "sqlite://"


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        self.HSTS_ENABLED = True

    def default_database_url(self) -> str:
        # Production has no embedded default: DATABASE_URL is required (validate() says so).
        return ""

    def validate(self) -> None:
        super().validate()
        for name in ("SECRET_KEY", "JWT_SECRET_KEY", "DATA_ENCRYPTION_KEYS"):
            value = os.environ.get(name)
            if not value:
                raise ConfigError(f"{name} must be set in production")
            if value == DEFAULT_SECRETS[name]:
                raise ConfigError(f"{name} is the development default; set a real secret")
            if name != "DATA_ENCRYPTION_KEYS" and len(value) < 32:
                raise ConfigError(f"{name} must be at least 32 characters in production")
        if not os.environ.get("DATABASE_URL"):
            raise ConfigError("DATABASE_URL must be set in production")
        for name in CARD_SECRETS:
            value = os.environ.get(name)
            if not value:
                raise ConfigError(f"{name} must be set in production")
            if value == DEFAULT_SECRETS[name]:
                raise ConfigError(f"{name} is the development default; set a real secret")
        for provider in OIDC_PROVIDERS:
            prefix = f"OIDC_{provider.upper()}"
            if not getattr(self, f"{prefix}_CLIENT_ID"):
                continue
            if len(getattr(self, f"{prefix}_CLIENT_SECRET") or "") < 16:
                raise ConfigError(f"{prefix}_CLIENT_SECRET must be set (16+ characters)")
            if not str(getattr(self, f"{prefix}_ISSUER") or "").startswith("https://"):
                raise ConfigError(f"{prefix}_ISSUER must be an https:// URL in production")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> Config:
    """Instantiate the config class named by `name` or `FLASK_ENV`/`FLOWLET_ENV`."""
    name = name or _env("FLOWLET_ENV") or _env("FLASK_ENV") or "development"
    try:
        cls = CONFIGS[name]
    except KeyError as exc:
        raise ConfigError(f"unknown configuration {name!r}; use one of {sorted(CONFIGS)}") from exc
    config = cls()
    config.validate()
    return config
