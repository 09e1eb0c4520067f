"""Test harness shared by all three tiers.

Tiers are markers applied by directory (tests/unit, tests/integration,
tests/e2e). Cluster-backed tiers use the cluster named by ``--kubeconfig`` or
``$KUBECONFIG`` when given (so the same suite runs on kind), and otherwise
start the project's local control plane (hack/cluster.sh). Each test gets a
fresh namespace, deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from microservice_operator.kube import KubeClient
from tests.support.cluster import Cluster

ROOT = Path(__file__).resolve().parent.parent
TIERS = ("unit", "integration", "e2e")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kubeconfig",
        default=None,
        help="use this cluster instead of the local control plane (default: $KUBECONFIG)",
    )
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite golden files under tests/unit/golden/ instead of comparing",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in tests/{{{','.join(TIERS)}}}/")
        item.add_marker(getattr(pytest.mark, tier))


FIGURES: dict[str, object] = {}


@pytest.fixture
def figures() -> dict[str, object]:
    """Measured figures (timings, write counts) printed at the end of the run."""
    return FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("measured figures")
        for key, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{key}: {value}")


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A running cluster: the given kubeconfig, or the local control plane."""
    given = request.config.getoption("--kubeconfig") or os.environ.get("KUBECONFIG")
    if given:
        yield Cluster(kubeconfig=Path(given), local=False)
        return
    local = Cluster(kubeconfig=ROOT / ".cluster" / "kubeconfig", local=True)
    started_here = not local.is_healthy()
    if started_here:
        subprocess.run([str(ROOT / "hack" / "cluster.sh"), "up"], check=True)
    yield local
    if started_here and not os.environ.get("MSOP_KEEP_CLUSTER"):
        subprocess.run([str(ROOT / "hack" / "cluster.sh"), "down"], check=True)


@pytest.fixture(scope="session")
def databases() -> Iterator[dict[str, str]]:
    """A real PostgreSQL and a real MongoDB-wire server (FerretDB) on 127.0.0.1."""
    script = ROOT / "hack" / "databases.sh"
    result = subprocess.run([str(script), "start"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"hack/databases.sh start failed:\n{result.stderr}")
    env_file = Path(result.stdout.strip().splitlines()[-1])
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    yield values
    subprocess.run([str(script), "stop", values["MSOP_DB_DIR"]], check=False)


@pytest.fixture
async def kube(cluster: Cluster) -> AsyncIterator[KubeClient]:
    """An async client for the test cluster (admin credentials)."""
    async with KubeClient.connect(str(cluster.kubeconfig), user_agent="msop-tests") as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    labels = {"microservice-operator.dev/test": "true"}
    marker = request.node.get_closest_marker("namespace_labels")
    if marker:
        labels.update(marker.args[0])
    await kube.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    )
    yield name
    await kube.delete("v1", "Namespace", name)
