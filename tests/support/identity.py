"""Run the operator as the Helm chart's ServiceAccount: the chart's RBAC, nothing more.

The chart is rendered with helm, its ServiceAccount and RBAC objects are
applied, and a token of that ServiceAccount (TokenRequest, like
``kubectl create token``) goes into a kubeconfig of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hack.bench import identity as bench_identity

from microservice_operator.kube.config import from_kubeconfig
from tests.support.cluster import Cluster

RELEASE = "msop"
NAMESPACE = "msop-system"
FULLNAME = f"{RELEASE}-microservice-operator"
RBAC_KINDS = bench_identity.RBAC_KINDS


@dataclass(frozen=True)
class ChartIdentity:
    kubeconfig: Path
    namespace: str = NAMESPACE
    service_account: str = FULLNAME
    lease_name: str = FULLNAME


def render_chart(*values: str) -> list[dict[str, Any]]:
    return bench_identity.render_chart(RELEASE, NAMESPACE, *values)


def install_chart_identity(cluster: Cluster, directory: Path) -> ChartIdentity:
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    rbac = [doc for doc in render_chart() if doc.get("kind") in RBAC_KINDS]
    cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=msop-tests",
        "-f",
        "-",
        input=yaml.safe_dump_all(rbac),
    )
    token = cluster.kubectl("-n", NAMESPACE, "create", "token", FULLNAME, "--duration=6h").strip()
    config = bench_identity.kubeconfig_for(from_kubeconfig(cluster.kubeconfig), token)
    path = directory / "operator.kubeconfig"
    path.write_text(json.dumps(config), encoding="utf-8")
    path.chmod(0o600)
    return ChartIdentity(kubeconfig=path)
