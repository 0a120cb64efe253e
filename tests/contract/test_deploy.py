"""deploy/k8s/: every manifest is well formed, every Deployment is probed and sized, and no
secret value is written in the repository."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
NAMESPACE = "qaloop"
SERVICES = {"audit": 8001, "feedback": 8002, "complaints": 8003, "reporting": 8000, "notifier": 8005}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$|_URL$")


def manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def test_every_document_has_api_version_kind_and_name() -> None:
    docs = manifests()
    assert docs, "deploy/k8s/ has no manifests"
    for filename, doc in docs:
        assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], filename
        assert isinstance(doc.get("kind"), str) and doc["kind"], filename
        assert isinstance(doc.get("metadata", {}).get("name"), str), filename
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{filename}: {doc['kind']}"


def test_namespace_config_and_one_deployment_and_service_per_service() -> None:
    assert set(of_kind("Namespace")) == {NAMESPACE}
    assert "qaloop-config" in of_kind("ConfigMap")
    assert set(of_kind("Deployment")) == set(SERVICES)
    assert set(of_kind("Service")) == set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_deployment_is_probed_sized_and_runs_the_one_image(name: str) -> None:
    deployment = of_kind("Deployment")[name]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    (container,) = pod["containers"]
    assert container["args"] == ["run", name]
    assert container["image"].split(":")[0].endswith("qaloop")
    assert {"name": "http", "containerPort": SERVICES[name]} in container["ports"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    requests = container["resources"]["requests"]
    assert requests["cpu"] and requests["memory"]
    assert container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    sources = container["envFrom"]
    assert {"configMapRef": {"name": "qaloop-config"}} in sources
    assert {"secretRef": {"name": "qaloop-secrets"}} in sources
    # least privilege: its own role and user, from its own Secret, which wins (listed last)
    assert sources[-1] == {"secretRef": {"name": f"qaloop-{name}-secrets"}}


def test_setup_job_creates_the_roles_and_users_before_the_services() -> None:
    """Least privilege: the Job runs shared/roles.py as the admins, from its own Secret."""
    (job,) = of_kind("Job").values()
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "shared.roles"]
    assert container["image"].split(":")[0].endswith("qaloop")
    assert {"secretRef": {"name": "qaloop-setup-secrets"}} in container["envFrom"]
    assert {"secretRef": {"name": "qaloop-secrets"}} not in container["envFrom"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["restartPolicy"] in ("OnFailure", "Never")
    for name in SERVICES:
        (service_container,) = of_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"]
        assert {"secretRef": {"name": "qaloop-setup-secrets"}} not in service_container["envFrom"], name


def test_reporting_runs_one_replica_and_strands_can_scale() -> None:
    deployments = of_kind("Deployment")
    assert deployments["reporting"]["spec"]["replicas"] == 1
    assert deployments["reporting"]["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    for name in ("audit", "feedback", "complaints"):
        assert deployments[name]["spec"]["replicas"] >= 2


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_selects_its_deployment(name: str) -> None:
    service = of_kind("Service")[name]
    labels = of_kind("Deployment")[name]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_no_secret_values_in_the_manifests() -> None:
    assert not of_kind("Secret"), "Secrets are created out of band (deploy/README.md), never committed"
    for filename, doc in manifests():
        if doc["kind"] == "ConfigMap":
            for key in doc.get("data", {}):
                assert not SECRET_NAME.search(key), f"{filename}: {key} belongs in qaloop-secrets"
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                for env in container.get("env", []):
                    assert "value" not in env or not SECRET_NAME.search(env["name"]), (
                        f"{filename}: {env['name']} must come from a secretKeyRef"
                    )
    text = "\n".join(p.read_text() for p in K8S.glob("*.yaml"))
    assert not re.search(r"://[^/\s:@]+:[^@\s]+@", text), "credentials in a URL"
