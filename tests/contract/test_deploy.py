"""deploy/kustomize/: each overlay renders with `kubectl kustomize`; every rendered document is
valid against the vendored Kubernetes JSON schemas and the operators' CRD schemas
(deploy/schemas/README.md); every Deployment is probed and sized on the port that
shared/settings.py gives its service; the broker topology and users are shared/bus.py's and
shared/roles.py's; the database cluster has its backups and roles; the network policies let a
service reach only the broker, the database and DNS; and no secret value is in the repository.
All offline: no cluster, no network."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shared.bus import CONSUMER_QUEUES, DLX, EXCHANGE, QueueSpec, queue_arguments
from shared.roles import SERVICES as ROLE_SERVICES
from shared.roles import MqPermissions, migrator_role, mq_permissions, mq_user, pg_role
from shared.settings import Settings

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE = REPO / "deploy" / "kustomize"
SCHEMAS = REPO / "deploy" / "schemas"
KUBERNETES_SCHEMAS = SCHEMAS / "kubernetes" / "v1.33.0-local-strict"
OVERLAYS = ("dev", "production")
NAMESPACE = "qaloop"
PREFIX = "qaloop"
BROKER, DATABASE = "qaloop-rabbitmq", "qaloop-db"
INGRESS_NAMESPACE = "ingress-nginx"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$|_URL$")
STRANDS = ("audit", "feedback", "complaints", "workforce")


def service_port(name: str) -> int:
    field = Settings.model_fields.get(f"{name}_port")
    assert field is not None, f"shared/settings.py has no {name}_port"
    return int(field.default)


SERVICES = {
    name: service_port(name) for name in ("audit", "feedback", "complaints", "workforce", "reporting", "notifier")
}


# --------------------------------------------------------------------------- rendering


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        message = "kubectl (with kustomize v5) is needed to render deploy/kustomize/overlays/*"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": the machine image provides it (apt package kubectl)")
        pytest.skip(message)
    result = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl kustomize overlays/{overlay}: {result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in rendered(overlay) if doc["kind"] == kind}


def spec_of(overlay: str, kind: str, name: str) -> dict[str, Any]:
    documents = of_kind(overlay, kind)
    assert name in documents, f"overlays/{overlay}: no {kind} {name}"
    spec: dict[str, Any] = documents[name]["spec"]
    return spec


def pod_labels(overlay: str, name: str) -> dict[str, str]:
    labels: dict[str, str] = spec_of(overlay, "Deployment", name)["template"]["metadata"]["labels"]
    return labels


# --------------------------------------------------------------------------- schemas


def strict(schema: Any) -> Any:
    """An OpenAPI v3 schema of a CRD made strict the way the Kubernetes files are: an object
    that lists its properties accepts no others (unless it says it preserves unknown fields)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        if not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in sorted((SCHEMAS / "crds").rglob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            if version["served"]:
                api_version = f"{crd['spec']['group']}/{version['name']}"
                schemas[(api_version, crd["spec"]["names"]["kind"])] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


@functools.cache
def kubernetes_registry() -> Registry[Any]:
    """`_definitions.json` under its own `$id`, where the kinds' `$ref`s resolve."""
    definitions = json.loads((KUBERNETES_SCHEMAS / "_definitions.json").read_text())
    return Resource.from_contents(definitions, default_specification=DRAFT202012) @ Registry()


def kubernetes_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    group, _, version = api_version.rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    path = KUBERNETES_SCHEMAS / f"{kind.lower()}{suffix}.json"
    return json.loads(path.read_text()) if path.exists() else None


def schema_errors(doc: dict[str, Any]) -> list[str]:
    key = (doc["apiVersion"], doc["kind"])
    schema = crd_schemas().get(key) or kubernetes_schema(*key)
    if schema is None:
        return [f"no schema vendored for {key} (deploy/schemas/README.md says how to add one)"]
    validator = validator_for(schema)(schema, registry=kubernetes_registry())
    return [f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_document_matches_its_schema(overlay: str) -> None:
    failures = {
        f"{doc['kind']}/{doc['metadata']['name']}": errors
        for doc in rendered(overlay)
        if (errors := schema_errors(doc))
    }
    assert not failures, f"overlays/{overlay}: {json.dumps(failures, indent=2)}"


def test_the_schemas_are_strict() -> None:
    """A misspelt field fails, in a Kubernetes kind and in a custom resource alike."""
    deployment = {**of_kind("production", "Deployment")["audit"]}
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    assert any("replica" in error for error in schema_errors(deployment))
    cluster = {**of_kind("production", "Cluster")[DATABASE]}
    cluster["spec"] = {**cluster["spec"], "instance": 3}
    assert any("instance" in error for error in schema_errors(cluster))
    cluster["spec"] = {**cluster["spec"], "postgresql": {"synchronous": {"method": "any", "numbr": 1}}}
    assert any("numbr" in error for error in schema_errors(cluster))


# --------------------------------------------------------------------------- the services


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_document_is_named_and_in_the_namespace(overlay: str) -> None:
    for doc in rendered(overlay):
        assert isinstance(doc["metadata"].get("name"), str), doc
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc['kind']}/{doc['metadata']['name']}"
    assert set(of_kind(overlay, "Namespace")) == {NAMESPACE}
    assert "qaloop-config" in of_kind(overlay, "ConfigMap")
    assert set(of_kind(overlay, "Deployment")) == set(SERVICES)
    assert set(of_kind(overlay, "Service")) == set(SERVICES)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_deployment_is_probed_sized_and_runs_the_one_image(overlay: str, name: str) -> None:
    spec = spec_of(overlay, "Deployment", name)
    pod = spec["template"]["spec"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels(overlay, name).items()
    (container,) = pod["containers"]
    assert container["args"] == ["run", name]
    assert container["image"].split(":")[0].endswith("qaloop")
    assert {"name": "http", "containerPort": SERVICES[name]} in container["ports"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    requests = container["resources"]["requests"]
    assert requests["cpu"] and requests["memory"]
    assert container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    sources = container["envFrom"]
    assert {"configMapRef": {"name": "qaloop-config"}} in sources
    assert {"secretRef": {"name": "qaloop-secrets"}} in sources
    # least privilege: its own role and user, from its own Secret, which wins (listed last)
    assert sources[-1] == {"secretRef": {"name": f"qaloop-{name}-secrets"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_selects_its_deployment_on_the_settings_port(overlay: str, name: str) -> None:
    spec = spec_of(overlay, "Service", name)
    assert spec["selector"].items() <= pod_labels(overlay, name).items()
    ((port),) = spec["ports"]
    assert (port["port"], port["targetPort"]) == (SERVICES[name], "http")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_reporting_runs_one_replica_and_the_strands_autoscale(overlay: str) -> None:
    reporting = spec_of(overlay, "Deployment", "reporting")
    assert reporting["replicas"] == 1
    assert reporting["strategy"]["rollingUpdate"]["maxSurge"] == 0
    assert set(of_kind(overlay, "HorizontalPodAutoscaler")) == set(STRANDS)
    least = 2 if overlay == "production" else 1
    for name in STRANDS:
        assert "replicas" not in spec_of(overlay, "Deployment", name), f"{name}: its autoscaler owns replicas"
        hpa = spec_of(overlay, "HorizontalPodAutoscaler", name)
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert least <= hpa["minReplicas"] < hpa["maxReplicas"]
        assert hpa["metrics"][0]["resource"]["name"] == "cpu"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against a pod's labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if not {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]:
            return False
    return True


def test_production_keeps_a_strand_serving_through_a_drain() -> None:
    budgets = of_kind("production", "PodDisruptionBudget").values()
    for name in STRANDS:
        (budget,) = [b for b in budgets if selects(b["spec"]["selector"], pod_labels("production", name))]
        assert budget["spec"]["minAvailable"] >= 1, name
    for name in ("reporting", "notifier"):  # one replica on purpose: a budget would block drains
        assert not [b for b in budgets if selects(b["spec"]["selector"], pod_labels("production", name))], name


# --------------------------------------------------------------------------- network policies


BROKER_PODS = {"app.kubernetes.io/name": BROKER, "app.kubernetes.io/component": "rabbitmq"}
DATABASE_PODS = {"cnpg.io/cluster": DATABASE, "cnpg.io/instanceRole": "primary"}


def policies_for(overlay: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    return [p["spec"] for p in of_kind(overlay, "NetworkPolicy").values() if selects(p["spec"]["podSelector"], labels)]


def peer_is(peer: dict[str, Any], pods: dict[str, str], namespace: str | None = None) -> bool:
    """The peer names exactly these pods: in this policy's namespace when `namespace` is None,
    else in that namespace (and no ipBlock)."""
    if "ipBlock" in peer or "podSelector" not in peer or not selects(peer["podSelector"], pods):
        return False
    if namespace is None:
        return "namespaceSelector" not in peer
    return peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": namespace}


def allowed_egress(peer: dict[str, Any]) -> bool:
    return (
        peer_is(peer, BROKER_PODS)
        or peer_is(peer, DATABASE_PODS)
        or peer_is(peer, {"k8s-app": "kube-dns"}, "kube-system")
    )


def rules(policies: list[dict[str, Any]], direction: str) -> Iterator[dict[str, Any]]:
    for policy in policies:
        yield from policy.get(direction, [])


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_service_reaches_only_the_broker_the_database_and_dns(overlay: str, name: str) -> None:
    policies = policies_for(overlay, pod_labels(overlay, name))
    assert any({"Ingress", "Egress"} <= set(p["policyTypes"]) for p in policies), f"{name}: not isolated"
    egress = list(rules(policies, "egress"))
    assert egress, f"{name}: no egress allowed at all"
    for rule in egress:
        assert rule.get("to") and all(allowed_egress(peer) for peer in rule["to"]), f"{name}: egress {rule}"
        assert rule.get("ports"), f"{name}: egress {rule} is not limited to ports"
    reaches = {json.dumps(peer, sort_keys=True) for rule in egress for peer in rule["to"]}
    assert any(peer_is(json.loads(p), BROKER_PODS) for p in reaches)
    assert any(peer_is(json.loads(p), DATABASE_PODS) for p in reaches)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_service_http_is_reached_only_from_the_ingress(overlay: str, name: str) -> None:
    ingress = list(rules(policies_for(overlay, pod_labels(overlay, name)), "ingress"))
    assert ingress, f"{name}: unreachable"
    controller = {"app.kubernetes.io/name": "ingress-nginx"}
    for rule in ingress:
        assert rule.get("from") and all(peer_is(p, controller, INGRESS_NAMESPACE) for p in rule["from"]), rule
        assert rule.get("ports") == [{"protocol": "TCP", "port": "http"}], rule


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_broker_and_database_accept_the_services_and_no_other_namespace_but_their_operators(overlay: str) -> None:
    for pods, operators in ((BROKER_PODS, "rabbitmq-system"), (DATABASE_PODS, "cnpg-system")):
        ingress = list(rules(policies_for(overlay, pods), "ingress"))
        assert ingress, f"{pods}: no policy limits who connects"
        for rule in ingress:
            for peer in rule["from"]:
                assert "ipBlock" not in peer, rule
                if "namespaceSelector" in peer:
                    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": operators}
        service_peers = [p for r in ingress for p in r["from"] if "namespaceSelector" not in p]
        for name in SERVICES:
            assert any(selects(p["podSelector"], pod_labels(overlay, name)) for p in service_peers), (pods, name)


# --------------------------------------------------------------------------- the broker


def test_production_broker_is_a_three_node_cluster_with_a_budget() -> None:
    assert spec_of("production", "RabbitmqCluster", BROKER)["replicas"] == 3
    (budget,) = [
        b for b in of_kind("production", "PodDisruptionBudget").values() if selects(b["spec"]["selector"], BROKER_PODS)
    ]
    assert budget["spec"]["maxUnavailable"] == 1


def consumer_queues() -> tuple[QueueSpec, ...]:
    """shared/bus.py's queues (reporting.events takes `workforce.#` too)."""
    return CONSUMER_QUEUES


def by_spec_name(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    specs = [doc["spec"] for doc in of_kind(overlay, kind).values()]
    assert all(s["rabbitmqClusterReference"] == {"name": BROKER} and s.get("vhost", "/") == "/" for s in specs)
    return {s["name"]: s for s in specs}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_topology_is_shared_bus(overlay: str) -> None:
    exchanges = by_spec_name(overlay, "Exchange")
    assert set(exchanges) == {EXCHANGE, DLX}
    assert all(e["type"] == "topic" and e["durable"] and not e["autoDelete"] for e in exchanges.values())
    limit = int(of_kind(overlay, "ConfigMap")["qaloop-config"]["data"]["QALOOP_DELIVERY_LIMIT"])
    expected_queues = {q.name: queue_arguments(q, limit) for q in consumer_queues()}
    expected_queues |= {q.dlq: {"x-queue-type": "quorum"} for q in consumer_queues()}
    queues = by_spec_name(overlay, "Queue")
    assert {name: q["arguments"] for name, q in queues.items()} == expected_queues
    assert all(q["durable"] and not q["autoDelete"] for q in queues.values())
    expected_bindings = {(EXCHANGE, q.name, key) for q in consumer_queues() for key in q.bindings}
    expected_bindings |= {(DLX, q.dlq, q.name) for q in consumer_queues()}
    bindings = [doc["spec"] for doc in of_kind(overlay, "Binding").values()]
    assert all(b["destinationType"] == "queue" and b["rabbitmqClusterReference"] == {"name": BROKER} for b in bindings)
    assert {(b["source"], b["destination"], b["routingKey"]) for b in bindings} == expected_bindings


def broker_users() -> dict[str, MqPermissions]:
    users = {service: mq_permissions(service) for service in (*ROLE_SERVICES, "cms")}
    if "workforce" not in users:  # until the workforce strand (issue 15) lands in shared/roles.py
        users["workforce"] = MqPermissions("^$", r"^qa\.events$", "^$", {"qa.events": r"^workforce\."})
    return users


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_broker_users_and_permissions_are_shared_roles(overlay: str) -> None:
    expected = {mq_user(PREFIX, service): permissions for service, permissions in broker_users().items()}
    users = of_kind(overlay, "User")
    assert set(users) == set(expected)
    for name, user in users.items():
        service = name.removeprefix(f"{PREFIX}-")
        assert user["spec"]["importCredentialsSecret"] == {"name": f"qaloop-mq-{service}"}
    permissions = {p["spec"]["userReference"]["name"]: p["spec"] for p in of_kind(overlay, "Permission").values()}
    assert set(permissions) == set(expected)
    topic = {
        (t["spec"]["userReference"]["name"], t["spec"]["permissions"]["exchange"]): t["spec"]
        for t in of_kind(overlay, "TopicPermission").values()
    }
    assert set(topic) == {(user, exchange) for user, p in expected.items() for exchange in p.topic_write}
    for user, p in expected.items():
        assert permissions[user]["permissions"] == {"configure": p.configure, "write": p.write, "read": p.read}, user
        for exchange, write in p.topic_write.items():
            assert topic[(user, exchange)]["permissions"] == {"exchange": exchange, "write": write, "read": ".*"}


# --------------------------------------------------------------------------- the database


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_database_roles_are_shared_roles(overlay: str) -> None:
    spec = spec_of(overlay, "Cluster", DATABASE)
    assert spec["bootstrap"]["initdb"]["owner"] == migrator_role(PREFIX)
    assert spec["bootstrap"]["initdb"]["secret"] == {"name": "qaloop-db-migrator"}
    services = {*ROLE_SERVICES, "workforce"}
    roles = {role["name"]: role for role in spec["managed"]["roles"]}
    assert set(roles) == {pg_role(PREFIX, service) for service in services}
    for service in services:
        role = roles[pg_role(PREFIX, service)]
        assert role["login"] is True and role.get("ensure", "present") == "present"
        assert role["passwordSecret"] == {"name": f"qaloop-db-{service}"}
        assert not any(role.get(flag) for flag in ("superuser", "createdb", "createrole", "replication", "bypassrls"))


def test_production_database_has_three_instances_and_nightly_backups() -> None:
    spec = spec_of("production", "Cluster", DATABASE)
    assert spec["instances"] == 3
    store = spec["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    assert {
        ref["name"] for ref in (store["s3Credentials"]["accessKeyId"], store["s3Credentials"]["secretAccessKey"])
    } == {"qaloop-db-backup"}
    assert re.fullmatch(r"[1-9][0-9]*[dwm]", spec["backup"]["retentionPolicy"])
    (scheduled,) = of_kind("production", "ScheduledBackup").values()
    assert scheduled["spec"]["cluster"] == {"name": DATABASE}
    assert len(scheduled["spec"]["schedule"].split()) == 6  # CloudNativePG's schedule starts with seconds


def test_production_database_commits_on_a_replica_before_it_answers() -> None:
    """docs/operations.md "PostgreSQL primary lost (failover)": nothing is lost only when a commit
    is on a replica before it returns. `0 < number < instances` is CloudNativePG's CEL rule and
    its admission webhook's, which the schema extract does not carry."""
    spec = spec_of("production", "Cluster", DATABASE)
    synchronous = spec["postgresql"]["synchronous"]
    assert synchronous == {"method": "any", "number": 1, "dataDurability": "required"}
    assert 0 < synchronous["number"] < spec["instances"]


def test_dev_is_one_of_each_without_backups() -> None:
    assert spec_of("dev", "RabbitmqCluster", BROKER)["replicas"] == 1
    assert spec_of("dev", "Cluster", DATABASE)["instances"] == 1
    assert "backup" not in spec_of("dev", "Cluster", DATABASE)
    assert "synchronous" not in spec_of("dev", "Cluster", DATABASE).get("postgresql", {}), "no replica to wait for"
    assert not of_kind("dev", "ScheduledBackup")


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_in_the_manifests(overlay: str) -> None:
    assert not of_kind(overlay, "Secret"), "Secrets are created out of band (deploy/README.md), never committed"
    for key in of_kind(overlay, "ConfigMap")["qaloop-config"]["data"]:
        assert not SECRET_NAME.search(key), f"{key} belongs in a Secret"
    for name in SERVICES:
        for container in spec_of(overlay, "Deployment", name)["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                assert "value" not in env or not SECRET_NAME.search(env["name"]), f"{name}: {env['name']}"
    text = "\n".join(p.read_text() for p in KUSTOMIZE.rglob("*.yaml"))
    assert not re.search(r"://[^/\s:@]+:[^@\s]+@", text), "credentials in a URL"
