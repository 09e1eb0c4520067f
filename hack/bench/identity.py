"""Identities the API server's priority and fairness limits apply to.

The benchmark's kubeconfig is the cluster admin's, in the group ``system:masters``,
which API Priority and Fairness exempts from every limit: a run "with limits on"
as that user could never see a 429. So such a run gives the operator the Helm
chart's ServiceAccount and RBAC (what it has in a real install) and the
direct-apply script a ServiceAccount bound to ``cluster-admin`` (a deploy job's
usual identity); both then fall under the ``service-accounts`` flow schema.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hack.versions import kubernetes_version

from microservice_operator.kube import ApiError, KubeClient
from microservice_operator.kube.config import Connection

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "msop-bench-identity"
RELEASE = "msop-bench"
"""Not the tests' release name: the chart's ClusterRoles and bindings are cluster-wide."""
BASELINE_SA = "baseline"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
TOKEN_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Identities:
    """A kubeconfig for each side of the comparison."""

    operator: Path
    baseline: Path


def render_chart(release: str, namespace: str, *values: str) -> list[dict[str, Any]]:
    """The operator's Helm chart rendered by helm (CRDs left out), ``--set`` ``values``."""
    args = [
        str(ROOT / ".tools" / "bin" / "helm"),
        "template",
        release,
        str(ROOT / "charts" / "microservice-operator"),
        "--namespace",
        namespace,
        "--kube-version",
        kubernetes_version(),
        "--set",
        "crds.enabled=false",
    ]
    for value in values:
        args += ["--set", value]
    rendered = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(rendered) if d]


def chart_rbac() -> list[dict[str, Any]]:
    """The chart's ServiceAccount and RBAC objects."""
    return [d for d in render_chart(RELEASE, NAMESPACE) if d.get("kind") in RBAC_KINDS]


def baseline_rbac() -> list[dict[str, Any]]:
    """A ServiceAccount bound to cluster-admin."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": BASELINE_SA, "namespace": NAMESPACE},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"msop-bench-{BASELINE_SA}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": BASELINE_SA, "namespace": NAMESPACE}],
        },
    ]


def kubeconfig_for(conn: Connection, token: str) -> dict[str, Any]:
    """A kubeconfig of the same cluster as ``conn`` with a bearer token as its user."""
    cluster: dict[str, Any] = {"server": conn.server}
    if conn.ca_file:  # inline: the loader's copy of inline data is a temporary file
        ca = Path(conn.ca_file).read_bytes()
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    if conn.insecure:
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "bench",
        "clusters": [{"name": "bench", "cluster": cluster}],
        "users": [{"name": "bench", "user": {"token": token}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
    }


async def _token(admin: KubeClient, service_account: str) -> str:
    """A TokenRequest, like `kubectl create token`."""
    answer = await admin.request(
        "POST",
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{service_account}/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": TOKEN_SECONDS},
        },
    )
    return str(answer["status"]["token"])


async def service_accounts(admin: KubeClient, work: Path) -> Identities:
    """Create both identities (idempotent) and write their kubeconfigs into ``work``."""
    try:
        await admin.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
    except ApiError as exc:
        if not exc.conflict:
            raise
    chart = chart_rbac()
    for doc in [*chart, *baseline_rbac()]:
        await admin.apply(doc)
    operator_sa = next(d["metadata"]["name"] for d in chart if d["kind"] == "ServiceAccount")
    paths = []
    for sa, name in ((operator_sa, "operator"), (BASELINE_SA, "baseline")):
        path = work / f"{name}-sa.kubeconfig"
        path.write_text(
            json.dumps(kubeconfig_for(admin.connection, await _token(admin, sa))), "utf-8"
        )
        path.chmod(0o600)
        paths.append(path)
    return Identities(operator=paths[0], baseline=paths[1])
