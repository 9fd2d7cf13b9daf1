"""deploy/k8s: every manifest is valid for Kubernetes 1.30 (kubernetes-validate, its bundled
schemas, strict), and every workload follows the house rules: two replicas, probes on the web
pods, secrets referenced never inlined, requests and limits, a non-root user without privilege
escalation or capabilities, a read-only root with an emptyDir at /tmp."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import DEPLOY

K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30.0"
SECRET_KEYS = {
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "JWT_SECRET_KEY", "DATA_ENCRYPTION_KEYS",
    "CARD_ENCRYPTION_KEYS", "CARD_PAN_FINGERPRINT_KEY", "CARD_CVV_KEY",
}  # fmt: skip


def _documents():
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path.name, document


DOCUMENTS = list(_documents())
WORKLOADS = [d for _, d in DOCUMENTS if d["kind"] in {"Deployment", "Job"}]
DEPLOYMENTS = {d["metadata"]["name"]: d for d in WORKLOADS if d["kind"] == "Deployment"}


def _ids(documents):
    return [f"{d['kind']}/{d['metadata']['name']}" for d in documents]


@pytest.mark.parametrize("document", [d for _, d in DOCUMENTS], ids=_ids([d for _, d in DOCUMENTS]))
def test_the_manifest_is_valid(document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_bad_manifest():
    document = yaml.safe_load((K8S / "worker.yaml").read_text())
    document["spec"]["replica"] = document["spec"].pop("replicas")  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_objects():
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in DOCUMENTS}
    assert {
        ("Deployment", "flowlet-web"), ("Deployment", "flowlet-worker"),
        ("Deployment", "flowlet-scheduler"), ("Job", "flowlet-migrate"),
        ("HorizontalPodAutoscaler", "flowlet-web"), ("Service", "flowlet-web"),
        ("Deployment", "flowlet-events"), ("Service", "flowlet-events"),
        ("NetworkPolicy", "default-deny"),
    } <= kinds  # fmt: skip
    assert {"Secret"}.isdisjoint(d["kind"] for _, d in DOCUMENTS), "a Secret is never committed"
    assert all(d["metadata"].get("namespace") == "flowlet" for _, d in DOCUMENTS
               if d["kind"] != "Namespace")  # fmt: skip


@pytest.mark.parametrize(
    "name", ["flowlet-web", "flowlet-worker", "flowlet-scheduler", "flowlet-events"]
)
def test_two_replicas_and_a_disruption_budget(name):
    deployment = DEPLOYMENTS[name]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    budgets = [
        d for _, d in DOCUMENTS if d["kind"] == "PodDisruptionBudget"
        and d["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]  # fmt: skip
    assert len(budgets) == 1


def test_the_web_autoscaler():
    (hpa,) = [d for _, d in DOCUMENTS if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "flowlet-web",
    }  # fmt: skip
    assert hpa["spec"]["minReplicas"] == 2 < hpa["spec"]["maxReplicas"]


def test_the_web_probes():
    (container,) = DEPLOYMENTS["flowlet-web"]["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/detailed"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 5000}
    assert container["readinessProbe"]["httpGet"]["port"] == "http"


def test_the_event_stream_pods():
    (container,) = DEPLOYMENTS["flowlet-events"]["spec"]["template"]["spec"]["containers"]
    assert container["command"][:5] == ["flask", "--app", "main", "events", "serve"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 5001}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    policies = [
        d for _, d in DOCUMENTS if d["kind"] == "NetworkPolicy"
        and d["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
        == "events"
    ]  # fmt: skip
    assert [rule["ports"] for p in policies for rule in p["spec"]["ingress"]] == [
        [{"protocol": "TCP", "port": 5001}]
    ]


def test_the_migration_job():
    (job,) = [d for d in WORKLOADS if d["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["command"] == ["flask", "--app", "main", "init-db"]


def test_the_namespace_is_closed_by_default():
    deny = next(d for _, d in DOCUMENTS if d["metadata"]["name"] == "default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]


@pytest.mark.parametrize("workload", WORKLOADS, ids=_ids(WORKLOADS))
def test_every_workload_follows_the_rules(workload):
    pod = workload["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    tmp = [v["name"] for v in pod["volumes"] if "emptyDir" in v]
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] > 0
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert context["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts.get("/tmp") in tmp
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}
        # Secrets are referenced, never written down.
        env = {e["name"]: e for e in container["env"]}
        for name in SECRET_KEYS:
            assert env[name]["valueFrom"]["secretKeyRef"] == {
                "name": "flowlet-secrets", "key": name,
            }  # fmt: skip
        assert all("value" not in e for e in container["env"])
        assert container["envFrom"] == [{"configMapRef": {"name": "flowlet-config"}}]


def test_the_config_map_holds_no_secret():
    (config,) = [d for _, d in DOCUMENTS if d["kind"] == "ConfigMap"]
    assert SECRET_KEYS.isdisjoint(config["data"])
    assert config["data"]["FLOWLET_ENV"] == "production"


def test_the_image_runs_as_the_user_the_pods_name():
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.MULTILINE)
    for workload in WORKLOADS:
        context = workload["spec"]["template"]["spec"]["securityContext"]
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user
