"""deploy/compose.yaml: `docker-compose config` accepts it, and it says what the deployment
needs (a replica, the migration step first, two web processes behind the proxy, the pairs)."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, require_tool

COMPOSE = DEPLOY / "compose.yaml"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-from-env-file",
    "REPLICATION_PASSWORD": "replication-from-env-file",
    "REDIS_PASSWORD": "redis-from-env-file",
    "SECRET_KEY": "secret-key-from-env-file",
    "JWT_SECRET_KEY": "jwt-key-from-env-file",
    "DATA_ENCRYPTION_KEYS": "k1:data-key-from-env-file",
    "CARD_ENCRYPTION_KEYS": "c1:card-key-from-env-file",
    "CARD_PAN_FINGERPRINT_KEY": "fingerprint-from-env-file",
    "CARD_CVV_KEY": "cvv-from-env-file",
    "FRONTEND_URL": "https://bank.example",
}
APP_SERVICES = {
    "web-1", "web-2", "events-1", "events-2", "worker-1", "worker-2", "scheduler-1",
    "scheduler-2",
}  # fmt: skip


def _config(tmp_path, values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return subprocess.run(
        [require_tool("docker-compose", "docker-compose"), "-f", str(COMPOSE),
         "--env-file", str(env_file), "config"],
        capture_output=True, text=True, timeout=60, check=False,
        # Only the env file speaks: none of the runner's own variables leak in.
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)},
    )  # fmt: skip


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    result = _config(tmp_path_factory.mktemp("compose"), SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_services(config):
    assert set(config["services"]) == {
        "db", "db-replica", "redis", "migrate", "proxy", *APP_SERVICES,
    }  # fmt: skip


def test_the_migration_runs_once_before_every_app_process(config):
    migrate = config["services"]["migrate"]
    assert migrate["command"] == ["flask", "--app", "main", "init-db"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        service = config["services"][name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["read_only"] is True
        assert service["environment"]["FLOWLET_ENV"] == "production"


def test_the_replica_is_cloned_from_the_primary(config):
    replica = config["services"]["db-replica"]
    assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    script = (DEPLOY / "postgres" / "replica-entrypoint.sh").read_text()
    assert "pg_basebackup" in script and "--write-recovery-conf" in script
    assert replica["entrypoint"] == ["/usr/local/bin/replica-entrypoint.sh"]
    primary = (DEPLOY / "postgres" / "primary-init.sh").read_text()
    assert "host replication replicator" in primary


def test_two_web_processes_behind_the_proxy(config):
    proxy = config["services"]["proxy"]
    assert {"web-1", "web-2"} <= set(proxy["depends_on"])
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert re.findall(r"server (web-\d):5000", nginx) == ["web-1", "web-2"]
    assert "proxy_pass http://flowlet_web;" in nginx
    for name in ("web-1", "web-2"):
        assert config["services"][name]["environment"]["TRUSTED_PROXY_HOPS"] == "1"
        assert "command" not in config["services"][name]  # the image's: gunicorn main:app


def test_the_event_stream_servers_behind_the_proxy(config):
    proxy = config["services"]["proxy"]
    assert {"events-1", "events-2"} <= set(proxy["depends_on"])
    for name in ("events-1", "events-2"):
        service = config["services"][name]
        assert service["command"][:5] == ["flask", "--app", "main", "events", "serve"]
        assert service["environment"]["PORT"] == "5001"
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert re.findall(r"server (events-\d):5001", nginx) == ["events-1", "events-2"]
    stream = nginx.split("location = /api/v1/events/stream {", 1)[1].split("}", 1)[0]
    assert "proxy_pass http://flowlet_events;" in stream
    assert "proxy_buffering off;" in stream
    assert "access_log /dev/stdout stream;" in stream  # the ticket stays out of the log
    assert "$request " not in nginx.split("log_format stream", 1)[1].split(";", 1)[0]


def test_the_scheduler_and_worker_pairs(config):
    for name in ("scheduler-1", "scheduler-2"):
        assert config["services"][name]["command"] == ["flask", "--app", "main", "scheduler"]
        assert config["services"][name]["environment"]["TZ"] == "UTC"
    for name in ("worker-1", "worker-2"):
        assert config["services"][name]["command"] == ["flask", "--app", "main", "worker"]


def test_secrets_come_from_the_env_file_only(config, tmp_path):
    # Every secret in the file is a required variable, without a default…
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert re.search(rf"\$\{{{name}:\?", text), name
        assert not re.search(rf"\$\{{{name}:?-", text), f"{name} has a default"
    # …that reached the services from the env file…
    env = config["services"]["web-1"]["environment"]
    assert env["SECRET_KEY"] == SECRETS["SECRET_KEY"]
    assert SECRETS["POSTGRES_PASSWORD"] in env["DATABASE_URL"]
    # …and without which docker-compose refuses the file.
    missing = _config(tmp_path, {k: v for k, v in SECRETS.items() if k != "SECRET_KEY"})
    assert missing.returncode != 0
    assert "set SECRET_KEY in deploy/.env" in missing.stderr
