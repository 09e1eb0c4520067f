"""Chaos tier: tests that break things (operator crashes, control-plane faults, fuzzing).

Size comes from ``MSOP_CHAOS_SCALE``: ``small`` (the default, part of
``make test``) or ``full`` (``make test-chaos``). Every chaos test leaves
evidence (credential values, Events, MicroService statuses) in a session-wide
store before its namespace goes, and the security scan (``test_security.py``,
ordered last) checks that no credential leaked into any of it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from microservice_operator.kube import ApiError, KubeClient
from tests.e2e.chaos.controlplane import ControlPlane
from tests.support.cluster import ROOT, Cluster
from tests.support.microservices import API_VERSION, condition
from tests.support.operator import OperatorProcess

T = TypeVar("T")
X = TypeVar("X")
R = TypeVar("R")
SCALE = os.environ.get("MSOP_CHAOS_SCALE", "small")
if SCALE not in ("small", "full"):
    raise pytest.UsageError(f"MSOP_CHAOS_SCALE must be small or full, not {SCALE!r}")
MANAGED = "app.kubernetes.io/managed-by=microservice-operator"


def sized(small: T, full: T) -> T:
    """The value for the current scale."""
    return full if SCALE == "full" else small


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the security scan after the other chaos tests, so it sees their evidence."""
    scan = [i for i in items if "chaos/test_security.py" in i.nodeid.replace("\\", "/")]
    if not scan:
        return
    rest = [i for i in items if i not in scan]
    chaos = [n for n, i in enumerate(rest) if "/chaos/" in i.nodeid.replace("\\", "/")]
    at = (chaos[-1] + 1) if chaos else len(rest)
    items[:] = [*rest[:at], *scan, *rest[at:]]


# ------------------------------------------------------------------ evidence


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {
        k: base64.b64decode(v).decode(errors="replace")
        for k, v in (secret.get("data") or {}).items()
    }


def secret_values(secret: dict[str, Any]) -> list[str]:
    """The credential values of a `<name>-db` or `<name>-jwt` Secret worth searching for."""
    data = decoded(secret)
    found = []
    if "DB_PASSWORD" in data:
        found.append(data["DB_PASSWORD"])
    url = data.get("DATABASE_URL", "")
    if "://" in url and "@" in url:
        userinfo = url.split("://", 1)[1].rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    for key, value in data.items():
        if "PRIVATE KEY" in value:  # the issuer's PEM: any line of its body identifies it
            found.extend(
                line for line in value.splitlines() if len(line) >= 40 and "-----" not in line
            )
        elif key == "password":  # an admin Secret of an external server
            found.append(value)
    return [v for v in found if len(v) >= 8]


@dataclass
class Evidence:
    """What the chaos tests saw: credentials to look for, and where they must not appear."""

    credentials: dict[str, str] = field(default_factory=dict)
    """value -> where it came from (namespace/secret)."""
    events: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    namespaces: set[str] = field(default_factory=set)

    async def collect(self, kube: KubeClient, namespace: str) -> None:
        """Record the namespace's credentials, Events and MicroService statuses."""
        self.namespaces.add(namespace)
        for secret in await kube.list("v1", "Secret", namespace):
            for value in secret_values(secret):
                self.credentials[value] = f"{namespace}/{secret['metadata']['name']}"
        seen = {e["metadata"]["uid"] for e in self.events}
        self.events += [
            e for e in await kube.list("v1", "Event", namespace) if e["metadata"]["uid"] not in seen
        ]
        for ms in await kube.list(API_VERSION, "MicroService", namespace):
            self.statuses.append(
                {"namespace": namespace, "name": ms["metadata"]["name"], **ms.get("status", {})}
            )


EVIDENCE = Evidence()


@pytest.fixture
def evidence() -> Evidence:
    return EVIDENCE


# ------------------------------------------------------------------ helpers


def operator_healthy(operator: OperatorProcess) -> None:
    """The process is alive and no log has an unhandled exception."""
    assert operator.process is not None and operator.process.poll() is None, "operator died"
    crashes = operator.crashes()
    assert not crashes, "operator logged unhandled exceptions:\n" + "\n".join(crashes[:20])


async def gather_limited(
    limit: int, items: Iterable[X], job: Callable[[X], Awaitable[R]]
) -> list[R]:
    """``job(item)`` for every item, at most ``limit`` at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(item: X) -> R:
        async with gate:
            return await job(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


def is_ready(body: dict[str, Any]) -> bool:
    current = body.get("status", {}).get("observedGeneration") == body["metadata"]["generation"]
    return current and condition(body, "Ready").get("status") == "True"


async def wait_all_ready(
    kube: KubeClient, namespace: str, expected: int, *, timeout: float
) -> float:
    """Poll with one LIST until ``expected`` MicroServices are Ready; seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    last: list[str] = []
    while time.monotonic() < deadline:
        try:
            items = await kube.list(API_VERSION, "MicroService", namespace)
        except (ApiError, OSError, TimeoutError):
            items = []
        ready = [i for i in items if is_ready(i)]
        if len(items) == expected and len(ready) == expected:
            return time.monotonic() - start
        last = [
            f"{i['metadata']['name']}: {condition(i, 'Ready').get('reason')}"
            for i in items
            if not is_ready(i)
        ][:10]
        await asyncio.sleep(0.25)
    raise AssertionError(
        f"not all {expected} MicroServices Ready after {timeout:.0f} s; not ready: {last}"
    )


@pytest.fixture
async def volumes(kube: KubeClient) -> AsyncIterator[Callable[[str, list[str]], Any]]:
    """HostPath PersistentVolumes pre-bound (claimRef) to given claims, deleted afterwards.

    Pre-binding keeps these volumes away from other tests' claims on a shared cluster.
    """
    created: list[str] = []

    async def make(namespace: str, claims: list[str]) -> None:
        async def one(claim: str) -> None:
            name = f"pv-{uuid.uuid4().hex[:10]}"
            await kube.create(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {
                        "name": name,
                        "labels": {"microservice-operator.dev/test": "chaos"},
                    },
                    "spec": {
                        "capacity": {"storage": "5Gi"},
                        "accessModes": ["ReadWriteOnce"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "hostPath": {"path": f"/tmp/msop-chaos/{name}"},
                        "claimRef": {"namespace": namespace, "name": claim},
                    },
                }
            )
            created.append(name)

        await gather_limited(16, claims, one)

    yield make
    await gather_limited(16, created, lambda n: kube.delete("v1", "PersistentVolume", n))


# ------------------------------------------------------------------ control plane


@pytest.fixture
def control_plane(cluster: Cluster, figures: dict[str, object]) -> Iterator[ControlPlane]:
    """The local control plane's components; whatever a test breaks is restored after it."""
    if not cluster.local:
        pytest.skip(
            "control-plane faults need the local control plane (kwokctl), not a given cluster"
        )
    workdir = ROOT / ".cluster" / "kwok" / "clusters" / os.environ.get("MSOP_CLUSTER_NAME", "msop")
    assert (workdir / "kwok.yaml").exists(), (
        f"no kwokctl cluster state in {workdir.relative_to(ROOT)}"
    )
    plane = ControlPlane(cluster=cluster, workdir=Path(workdir))
    missing = plane.missing()
    assert not missing, f"control plane incomplete before the test: {missing}"
    plane.supervise()
    try:
        yield plane
    finally:
        plane.unsupervise()
        if plane.supervised:
            figures.setdefault("chaos: components restarted by the supervisor during a fault", [])
            restarted = figures["chaos: components restarted by the supervisor during a fault"]
            assert isinstance(restarted, list)
            restarted.extend(plane.supervised)
        brought_back = plane.restore()
        if brought_back:
            figures.setdefault("chaos: components restarted by the fixture after a fault", [])
            listed = figures["chaos: components restarted by the fixture after a fault"]
            assert isinstance(listed, list)
            listed.extend(brought_back)
        assert plane.ready(), "API server /readyz not ok after restore"
        assert not plane.missing(), f"components still missing: {plane.missing()}"
