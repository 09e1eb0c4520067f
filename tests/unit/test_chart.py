"""The Helm chart: lint, a default-render snapshot, schema, RBAC and Pod Security.

These tests run the project's helm (``.tools/bin/helm``, from ``make tools``);
they render only, no cluster. Refresh the snapshot after an intended change with
``pytest tests/unit --update-golden`` and review the diff.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hack.versions import kubernetes_version

from microservice_operator.api.crd import crd
from microservice_operator.api.crd_chart import chart_crd_template, escape_template
from microservice_operator.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "microservice-operator"
HELM = ROOT / ".tools" / "bin" / "helm"
GOLDEN = Path(__file__).parent / "golden" / "chart" / "default.yaml"
RELEASE, NAMESPACE = "msop", "microservice-operator"
WATCHED = ["--set-json", 'watchNamespaces=["shop","billing"]']
RENDERS = {
    "default": [],
    "watch-namespaces": WATCHED,
    "ha": ["--set", "replicaCount=3"],
    "everything-on": [
        *WATCHED,
        "--set-json",
        'podLabels={"team":"platform"}',
        "--set",
        "metrics.serviceMonitor.enabled=true,replicaCount=2,priorityClassName=high",
        "--set",
        "image.digest=sha256:" + "a" * 64 + ",leaderElection.namespace=leases",
    ],
    "minimal": ["--set", "metrics.enabled=false,crds.enabled=false,leaderElection.enabled=false"],
}
NAMESPACED_RESOURCES = {
    ("microservice-operator.dev", "microservices"): {"get", "list", "watch", "patch"},
    ("microservice-operator.dev", "microservices/status"): {"get", "patch", "update"},
    **{
        (group, resource): {"get", "list", "watch", "create", "update", "patch", "delete"}
        for group, resource in [
            ("apps", "deployments"),
            ("apps", "statefulsets"),
            ("", "services"),
            ("", "serviceaccounts"),
            ("", "secrets"),
            ("", "configmaps"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("policy", "poddisruptionbudgets"),
            ("networking.k8s.io", "networkpolicies"),
            ("monitoring.coreos.com", "servicemonitors"),
            ("monitoring.coreos.com", "prometheusrules"),
            ("postgresql.cnpg.io", "clusters"),
            ("postgresql.cnpg.io", "databases"),
        ]
    },
    ("", "persistentvolumeclaims"): {"get", "list", "watch", "delete"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
}
CLUSTER_RESOURCES = {
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
    ("", "namespaces"): {"get", "list", "watch"},
}
LEASE_RESOURCES = {("coordination.k8s.io", "leases"): {"get", "create", "update"}}
Manifest = dict[str, Any]
Grants = dict[tuple[str, str], set[str]]


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"{HELM.relative_to(ROOT)} is missing: run `make tools` to build helm")
    result = subprocess.run([str(HELM), *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


@cache
def template_text(*flags: str) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    return helm(*args, "--kube-version", kubernetes_version(), *flags).stdout


def render(*flags: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(template_text(*flags)) if doc]


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def grants(rules: list[Manifest]) -> Grants:
    out: Grants = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


@cache
def chart_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_docs", ROOT / "hack" / "chart-docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_helm_lint_strict_is_clean() -> None:
    for flags in ([], WATCHED):
        result = helm("lint", "--strict", str(CHART), *flags)
        assert "0 chart(s) failed" in result.stdout
        assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_default_render_matches_golden(request: pytest.FixtureRequest) -> None:
    # The CRD's schema is pinned by test_crd_template_has_no_drift, not here: an API change
    # needs `make generate`, not a new snapshot.
    docs = template_text().split("\n---\n")
    for i, doc in enumerate(docs):
        if "# Source: microservice-operator/templates/crd.yaml" in doc:
            docs[i] = doc.split("\nspec:\n")[0] + "\nspec: {}  # elided: see templates/crd.yaml"
    text = "\n---\n".join(docs)
    if request.config.getoption("--update-golden"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no chart snapshot: run pytest tests/unit --update-golden"
    assert text == GOLDEN.read_text(encoding="utf-8"), "chart render changed: --update-golden"


def test_default_render_has_one_of_each_object() -> None:
    kinds = sorted(d["kind"] for d in render())
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]
    assert all(d["metadata"].get("namespace") in (None, NAMESPACE) for d in render())


def test_watch_namespaces_use_roles_and_a_cluster_role_only_for_cluster_scoped_reads() -> None:
    docs = render(*WATCHED)
    (cluster_role,) = of_kind(docs, "ClusterRole")
    assert grants(cluster_role["rules"]) == CLUSTER_RESOURCES
    roles = {r["metadata"]["namespace"]: r for r in of_kind(docs, "Role")}
    for namespace in ("shop", "billing"):
        assert grants(roles[namespace]["rules"]) == NAMESPACED_RESOURCES
    bindings = {
        (b["metadata"]["namespace"], b["roleRef"]["name"]) for b in of_kind(docs, "RoleBinding")
    }
    assert {
        ("shop", "msop-microservice-operator"),
        ("billing", "msop-microservice-operator"),
    } <= bindings
    for binding in of_kind(docs, "RoleBinding") + of_kind(docs, "ClusterRoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "msop-microservice-operator", "namespace": NAMESPACE}
        ]
    (deployment,) = of_kind(docs, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-4:] == ["--namespace", "shop", "--namespace", "billing"]


def test_default_rbac_grants_exactly_what_the_operator_needs() -> None:
    docs = render()
    (cluster_role,) = of_kind(docs, "ClusterRole")
    assert grants(cluster_role["rules"]) == NAMESPACED_RESOURCES | CLUSTER_RESOURCES
    (lease_role,) = of_kind(docs, "Role")
    assert lease_role["metadata"]["namespace"] == NAMESPACE
    assert grants(lease_role["rules"]) == LEASE_RESOURCES
    named = [r for r in lease_role["rules"] if "resourceNames" in r]
    assert named == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["msop-microservice-operator"],
            "verbs": ["get", "update"],
        }
    ]


@pytest.mark.parametrize("name", RENDERS)
def test_no_rule_has_a_wildcard(name: str) -> None:
    for role in [d for d in render(*RENDERS[name]) if d["kind"] in ("ClusterRole", "Role")]:
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule
            for field in ("verbs", "resources", "apiGroups"):
                assert not any("*" in item for item in rule[field]), (role["metadata"], rule)


@pytest.mark.parametrize("name", RENDERS)
def test_every_pod_passes_restricted_pod_security(name: str) -> None:
    deployments = of_kind(render(*RENDERS[name]), "Deployment")
    assert deployments
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext", {})
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(flag)
        assert all(
            set(v) - {"name"} <= {"emptyDir", "secret", "configMap", "projected"}
            for v in pod.get("volumes", [])
        )
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True
            assert sc.get("runAsUser", pod_sc.get("runAsUser")) == 10001
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") in ("RuntimeDefault", "Localhost")
            assert sc["allowPrivilegeEscalation"] is False
            assert not sc.get("privileged")
            assert "ALL" in sc["capabilities"]["drop"]
            assert set(sc["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}
            assert sc["readOnlyRootFilesystem"] is True
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
            assert not any(p.get("hostPort") for p in container.get("ports", []))


def test_deployment_runs_the_operator_with_leader_election_settings() -> None:
    (deployment,) = of_kind(render(), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/microservice-operator/microservice-operator:0.1.0"
    assert container["args"] == [
        "run", "--log-format", "json", "--liveness", "http://0.0.0.0:8080/healthz",
        "--workers", "64",
    ]  # fmt: skip
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert {k: v for k, v in env.items() if k.startswith("MSOP_")} == {
        "MSOP_LEADER_ELECTION": "true",
        "MSOP_LEASE_DURATION": "12s",
        "MSOP_RENEW_DEADLINE": "8s",
        "MSOP_RETRY_PERIOD": "2s",
        "MSOP_LEASE_NAMESPACE": NAMESPACE,
        "MSOP_LEASE_NAME": "msop-microservice-operator",
    }
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"healthz": 8080, "metrics": 9090}


def test_replicas_above_one_need_leader_election_and_get_a_budget() -> None:
    assert not of_kind(render(), "PodDisruptionBudget")
    (pdb,) = of_kind(render("--set", "replicaCount=2"), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1 and "maxUnavailable" not in pdb["spec"]
    flags = ("--set", "replicaCount=2,podDisruptionBudget.maxUnavailable=50%")
    (pdb,) = of_kind(render(*flags), "PodDisruptionBudget")
    assert pdb["spec"] == {"selector": pdb["spec"]["selector"], "maxUnavailable": "50%"}
    args = ["template", "x", str(CHART), "--kube-version", kubernetes_version()]
    failed = helm(*args, "--set", "replicaCount=2,leaderElection.enabled=false", check=False)
    assert failed.returncode != 0 and "requires leaderElection.enabled=true" in failed.stderr


def test_service_monitor_is_optional_and_scrapes_the_metrics_service() -> None:
    assert not of_kind(render(), "ServiceMonitor")
    docs = render("--set", "metrics.serviceMonitor.enabled=true")
    (monitor,) = of_kind(docs, "ServiceMonitor")
    (service,) = of_kind(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


@pytest.mark.parametrize(
    "flags",
    [
        ["--set", "surprise=1"],
        ["--set", "image.registry=quay.io"],
        ["--set", "metrics.serviceMonitor.honorLabels=true"],
        ["--set", "resources.requests.gpu=1"],
        ["--set", "logFormat=xml"],
        ["--set", "workers=0"],
        ["--set", "leaderElection.leaseDuration=soon"],
        ["--set-json", 'watchNamespaces=["Not_A_Namespace"]'],
    ],
    ids=lambda flags: flags[1],
)
def test_schema_rejects_unknown_or_invalid_values(flags: list[str]) -> None:
    args = ["template", "x", str(CHART), "--kube-version", kubernetes_version(), *flags]
    result = helm(*args, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr


def test_schema_closes_every_object_and_matches_values_yaml() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    values_text = (CHART / "values.yaml").read_text(encoding="utf-8")
    values = yaml.safe_load(values_text)
    documented = [key for key, _ in chart_docs().documented_values(values_text)]
    sections = {key.rpartition(".")[0] for key in documented}  # "" is the root
    passthrough = {
        "global",
        "affinity.nodeAffinity",
        "affinity.podAffinity",
        "affinity.podAntiAffinity",
    }

    def walk(node: dict[str, Any], path: str, value: Any) -> None:
        if node.get("type") == "object" and path not in passthrough:
            assert "additionalProperties" in node, f"{path or '<root>'} is open to any key"
        if "properties" in node:
            assert node["additionalProperties"] is False, path
            if path in sections:  # every key of a section has a default in values.yaml
                assert set(value) == set(node["properties"]), f"{path}: values.yaml differs"
            for key, child in node["properties"].items():
                sub = value.get(key) if isinstance(value, dict) else None
                walk(child, f"{path}.{key}".lstrip("."), sub)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]", None)

    walk(schema, "", values)


def test_crd_is_gated_and_kept_by_default() -> None:
    (definition,) = of_kind(render(), "CustomResourceDefinition")
    assert definition["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert definition["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    (unkept,) = of_kind(render("--set", "crds.keep=false"), "CustomResourceDefinition")
    assert "annotations" not in unkept["metadata"]
    assert not of_kind(render("--set", "crds.enabled=false"), "CustomResourceDefinition")


def test_crd_template_has_no_drift(tmp_path: Path) -> None:
    template = CHART / "templates" / "crd.yaml"
    assert template.read_text(encoding="utf-8") == chart_crd_template(), (
        f"{template.relative_to(ROOT)} is stale: run `make generate`"
    )
    assert main(["crd", "--chart", "-o", str(template), "--check"]) == 0
    (rendered,) = of_kind(render(), "CustomResourceDefinition")
    assert rendered["spec"] == crd()["spec"]
    assert rendered["metadata"]["name"] == crd()["metadata"]["name"]
    stale = tmp_path / "crd.yaml"
    assert main(["crd", "--chart", "-o", str(stale), "--check"]) == 1
    assert main(["crd", "--chart", "-o", str(stale)]) == 0
    assert main(["crd", "--chart", "-o", str(stale), "--check"]) == 0


def test_template_text_in_the_crd_stays_literal() -> None:
    assert escape_template("a {{ .Values.x }} b") == 'a {{ "{{" }} .Values.x }} b'
    assert escape_template("no braces } {") == "no braces } {"


def test_readme_documents_every_value() -> None:
    docs = chart_docs()
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "chart-docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    rows = docs.documented_values((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert len(rows) >= 30
    for key, description in rows:
        assert f"| `{key}` |" in readme and description, key
