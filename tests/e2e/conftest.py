"""e2e fixtures: the CRD installed, the operator running as its own process."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.audit import AuditLog
from tests.support.cluster import ROOT, Cluster
from tests.support.identity import ChartIdentity, install_chart_identity
from tests.support.operator import OperatorProcess


@pytest.fixture(scope="session")
def crd_installed(cluster: Cluster) -> None:
    cluster.kubectl(
        "apply", "--server-side", "--field-manager=msop-tests", "-f", str(ROOT / "crds")
    )
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/microservices.microservice-operator.dev",
    )


@pytest.fixture(scope="session")
def chart_identity(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> ChartIdentity:
    """The chart's ServiceAccount, RBAC and a token: the operator's least privilege."""
    return install_chart_identity(cluster, tmp_path_factory.mktemp("identity"))


@pytest.fixture(scope="session")
def operator(
    chart_identity: ChartIdentity, crd_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator process, running as the Helm chart's ServiceAccount (its RBAC only)."""
    process = OperatorProcess(
        kubeconfig=chart_identity.kubeconfig, log_dir=tmp_path_factory.mktemp("operator")
    )
    process.start()
    yield process
    process.stop()
    crashes = process.crashes()
    assert not crashes, "operator logged unhandled exceptions:\n" + "\n".join(crashes)


@pytest.fixture
def audit(cluster: Cluster) -> AuditLog:
    if not cluster.local:
        pytest.skip(
            "write counting reads the local control plane's audit log; "
            "this cluster was given by --kubeconfig/KUBECONFIG"
        )
    name = os.environ.get("MSOP_CLUSTER_NAME", "msop")
    path = ROOT / ".cluster" / "kwok" / "clusters" / name / "logs" / "audit.log"
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.exists(), f"no audit log at {path.relative_to(ROOT)}"
    return AuditLog(Path(path))
