"""The sample shop runs on exactly what the operator generated.

The three sample MicroServices are applied as shipped; then the services start as
local processes with the environment of the generated Deployments (Secret values,
the mounted signing key, service and database addresses mapped to 127.0.0.1), a
local PostgreSQL and FerretDB initialised from the generated database Secrets, and
the shop flow must succeed: register, log in, admin adds a product, order, stock.
This is `make demo`'s last step, as a test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from microservice_operator.kube import KubeClient
from tests.support.cluster import ROOT, Cluster
from tests.support.microservices import wait_condition
from tests.support.volumes import persistent_volumes

pytestmark = pytest.mark.usefixtures("operator")
SERVICES = ("auth", "products", "orders")
UV = ROOT / ".tools" / "bin" / "uv"


@pytest.fixture
async def three_volumes(kube: KubeClient) -> AsyncIterator[None]:
    """One PersistentVolume per dedicated database (the local cluster has no provisioner)."""
    async with persistent_volumes(kube, len(SERVICES), storage="2Gi"):
        yield


def shop(cluster: Cluster, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`shoptools/local.py` in the workspace environment, against the test cluster."""
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "KUBECTL": str(ROOT / ".tools" / "bin" / "kubectl"),
        "MSOP_SAMPLES_DIR": str(state),
    }
    command = [str(UV), "run", "--frozen", "--all-packages", "python"]
    if not UV.exists():  # the test environment itself, when run outside make
        command = [sys.executable]
    return subprocess.run(
        [*command, str(ROOT / "sample-services" / "shoptools" / "local.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.usefixtures("three_volumes")
async def test_the_shop_flow_succeeds_on_the_generated_environment(
    kube: KubeClient, namespace: str, cluster: Cluster, tmp_path: Path
) -> None:
    cluster.kubectl(
        "-n", namespace, "create", "secret", "generic", "shop-admin",
        "--from-literal=password=admin-" + uuid.uuid4().hex,
    )  # fmt: skip
    for name in SERVICES:
        path = ROOT / "sample-services" / name / "deploy" / "microservice.yaml"
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
        manifest["metadata"]["namespace"] = namespace
        await kube.create(manifest)
    for name in SERVICES:
        await wait_condition(kube, namespace, name, timeout=120)

    state = tmp_path / "shop"
    try:
        up = await asyncio.to_thread(shop, cluster, state, "up", "--from-cluster", namespace)
        assert up.returncode == 0, up.stdout + up.stderr
        # Every cluster address the services use was mapped to a local one.
        for target in (f"auth.{namespace}.svc:80", f"products.{namespace}.svc:80"):
            assert f"{target}" in up.stdout
        for target in ("auth-db", "products-db", "orders-db"):
            assert f"{target}.{namespace}.svc:" in up.stdout
        flow = await asyncio.to_thread(shop, cluster, state, "flow")
        assert flow.returncode == 0, flow.stdout + flow.stderr
        steps = [line.split()[1] for line in flow.stdout.splitlines() if line.strip()]
        assert steps == ["register", "login", "admin", "product", "order", "stock", "history"]
        # The token carries the issuer the operator generated, not a local address.
        assert f"iss=http://auth.{namespace}.svc:80" in flow.stdout
    finally:
        down = await asyncio.to_thread(shop, cluster, state, "down")
        assert down.returncode == 0, down.stdout + down.stderr
