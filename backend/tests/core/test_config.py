import pytest

from app import create_app
from app.config import DEFAULT_SECRETS, ConfigError, get_config

STRONG = "x" * 48


@pytest.fixture
def prod_env(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG + "y")
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", "k1:c2VjcmV0LWtleS1mb3ItdGVzdHMtMzItYnl0ZXMhISE=")
    monkeypatch.setenv("DATABASE_URL", "postgresql://flowlet@127.0.0.1:1/flowlet")
    monkeypatch.setenv("CARD_ENCRYPTION_KEYS", "c1:Y2FyZC1rZXktZm9yLXRlc3RzLTMyLWJ5dGVzLWxvbmc=")
    monkeypatch.setenv("CARD_PAN_FINGERPRINT_KEY", STRONG + "f")
    monkeypatch.setenv("CARD_CVV_KEY", STRONG + "c")
    return monkeypatch


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY", "DATA_ENCRYPTION_KEYS"])
def test_production_refuses_a_missing_secret_and_names_it(prod_env, name):
    prod_env.delenv(name)
    with pytest.raises(ConfigError, match=name):
        create_app("production")


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY", "DATA_ENCRYPTION_KEYS"])
def test_production_refuses_the_development_default(prod_env, name):
    prod_env.setenv(name, DEFAULT_SECRETS[name])
    with pytest.raises(ConfigError, match=f"{name} is the development default"):
        create_app("production")


def test_production_refuses_a_short_secret(prod_env):
    prod_env.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="SECRET_KEY must be at least 32"):
        create_app("production")


def test_production_requires_a_database_url(prod_env):
    prod_env.delenv("DATABASE_URL")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app("production")


def test_production_starts_with_real_secrets_and_sends_hsts(prod_env):
    app = create_app("production")
    assert app.config["FLOWLET_ENV"] == "production"
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_development_uses_embedded_sqlite_and_inline_jobs(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = get_config("development")
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.SQLALCHEMY_DATABASE_URI.endswith("backend/instance/flowlet.db")
    assert config.RQ_INLINE is True
    assert config.RATELIMIT_STORAGE_URI == "memory://"


def test_environment_switches_to_postgres_and_redis(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db:5432/flowlet")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com, https://admin.example.com")
    config = get_config("development")
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@db:5432/flowlet"
    assert config.RQ_INLINE is False
    # Redis first, PostgreSQL counters while Redis is down (core.ratelimit).
    assert config.RATELIMIT_STORAGE_URI == "flowlet+redis://cache:6379/0"
    assert config.CORS_ORIGINS == ["https://app.example.com", "https://admin.example.com"]


def test_unknown_config_name_is_refused():
    with pytest.raises(ConfigError, match="unknown configuration"):
        get_config("staging-typo")
