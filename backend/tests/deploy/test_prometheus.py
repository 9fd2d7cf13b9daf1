"""deploy/prometheus/alerts.yml passes `promtool check rules` and its unit tests
(`promtool test rules`), and it and the Grafana dashboard use only the metrics the app
exports, but for the two named ahead of their exporters."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess

import yaml

from tests.deploy.conftest import DEPLOY, require_tool

PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "flowlet.json"
APP = DEPLOY.parent / "backend" / "app"
# Every metric the rules and the dashboard name is exported.
NOT_YET_EXPORTED: set[str] = set()
METRIC_CLASSES = {"Counter", "Gauge", "Histogram", "Summary", "GaugeMetricFamily", "_gauge"}
SUFFIXES = {"Counter": ("",), "Histogram": ("_bucket", "_sum", "_count")}


def _exported() -> set[str]:
    """The metric names the app's code declares: `Counter("flowlet_…", …)` and the like."""
    names = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in METRIC_CLASSES
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("flowlet_")
            ):
                for suffix in SUFFIXES.get(node.func.id, ("",)):
                    names.add(node.args[0].value + suffix)
    return names


def _used(exprs) -> set[str]:
    return {name for expr in exprs for name in re.findall(r"\bflowlet_[a-z0-9_]+\b", expr)}


def _promtool(*args: str, cwd=PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool", "prometheus"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _alert_exprs() -> dict[str, str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def test_the_rules_pass_promtool_check():
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_the_rules_pass_their_unit_tests():
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_catch_a_changed_threshold(tmp_path):
    for name in ("alerts.yml", "alerts_test.yml"):
        shutil.copy(PROMETHEUS / name, tmp_path / name)
    rules = tmp_path / "alerts.yml"
    old = "max(flowlet_outbox_oldest_age_seconds) > 300"
    assert old in rules.read_text()
    rules.write_text(rules.read_text().replace(old, old + "0"))
    result = _promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "FlowletOutboxBacklogOld" in result.stdout + result.stderr


def test_every_issue_of_the_runbook_has_an_alert():
    exprs = _alert_exprs()
    wanted = {
        "flowlet_outbox_oldest_age_seconds", "flowlet_audit_unsealed_oldest_age_seconds",
        "flowlet_replica_lag_seconds", "flowlet_http_requests_total",
        "flowlet_http_request_duration_seconds_bucket", "flowlet_queue_depth",
        "flowlet_scheduler_lease_age_seconds",
    }  # fmt: skip
    assert _used(exprs.values()) == wanted
    assert 'status=~"5.."' in exprs["FlowletHighErrorRate"]
    assert "histogram_quantile(0.99" in exprs["FlowletSlowRequests"]


def test_the_alerts_use_the_metrics_the_app_exports():
    exported = _exported()
    assert {"flowlet_http_requests_total", "flowlet_queue_depth"} <= exported
    assert NOT_YET_EXPORTED.isdisjoint(exported), "exported now: drop it from NOT_YET_EXPORTED"
    assert _used(_alert_exprs().values()) <= exported | NOT_YET_EXPORTED


def test_the_dashboard_is_json_whose_panels_query_those_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "flowlet" and dashboard["panels"]
    exprs = []
    for panel in dashboard["panels"]:
        assert panel["title"] and panel["targets"], panel
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        exprs.extend(target["expr"] for target in panel["targets"])
    used = _used(exprs)
    assert used <= _exported() | NOT_YET_EXPORTED, used - _exported()
    # Every metric an alert watches has a panel.
    assert _used(_alert_exprs().values()) <= used
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_lease_and_replica_metrics_are_exported_and_explained():
    head = (PROMETHEUS / "alerts.yml").read_text().split("groups:")[0]
    for name in ("flowlet_scheduler_lease_age_seconds", "flowlet_replica_lag_seconds"):
        assert name in _exported() and name in head
