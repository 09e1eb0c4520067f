"""e2e fixtures: the CRD installed, the operator running as its own process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.audit import AuditLog
from tests.support.cluster import ROOT, Cluster
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
def operator(
    cluster: Cluster, crd_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        kubeconfig=cluster.kubeconfig, log_dir=tmp_path_factory.mktemp("operator")
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
    path = ROOT / ".cluster" / "kwok" / "clusters" / "msop" / "logs" / "audit.log"
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.exists(), f"no audit log at {path.relative_to(ROOT)}"
    return AuditLog(Path(path))
