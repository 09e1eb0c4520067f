"""The control plane fails under the operator: an API server restart, an etcd pause.

Mid-run (MicroServices still converging) a component is faulted and brought
back. The operator must reconnect on its own: everything becomes Ready, a
MicroService created after the fault is reconciled and a deleted child is
restored (so its watches are live again, not just its retries), and its logs
show no unhandled exception. The ``control_plane`` fixture restores every
component and checks ``/readyz`` whatever happens.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest

from microservice_operator.kube import ApiError, KubeClient
from tests.e2e.chaos.conftest import (
    SCALE,
    Evidence,
    gather_limited,
    is_ready,
    operator_healthy,
    sized,
)
from tests.e2e.chaos.controlplane import ControlPlane
from tests.support.cluster import eventually
from tests.support.microservices import API_VERSION, microservice, wait_condition
from tests.support.operator import OperatorProcess

N = sized(12, 60)
RECOVERY_AIM = 30.0
"""Seconds from the control plane answering again to every MicroService Ready."""


async def start_converging(kube: KubeClient, namespace: str) -> list[str]:
    names = [f"f{i:02d}" for i in range(N)]
    specs: list[dict[str, Any]] = [
        {"replicas": 1},
        {"autoscaling": {"minReplicas": 1, "maxReplicas": 2}},
        {"replicas": 1, "disruptionBudget": {"minAvailable": 1}},
    ]
    await gather_limited(
        16,
        list(enumerate(names)),
        lambda item: kube.create(microservice(item[1], namespace, **specs[item[0] % 3])),
    )
    await asyncio.sleep(1.0)  # mid-run: some are Ready, most are not yet
    return names


async def still_works(kube: KubeClient, namespace: str) -> None:
    """New objects and drift are handled: the operator's watches are live again."""
    await kube.create(microservice("after", namespace))
    await wait_condition(kube, namespace, "after", timeout=60)
    old = await kube.get("apps/v1", "Deployment", "after", namespace)
    assert old is not None
    await kube.delete("apps/v1", "Deployment", "after", namespace)

    async def restored() -> bool:
        live = await kube.get("apps/v1", "Deployment", "after", namespace)
        return live is not None and live["metadata"]["uid"] != old["metadata"]["uid"]

    await eventually(restored, timeout=30, what="deleted Deployment restored after the fault")


async def phases(kube: KubeClient, namespace: str, since: float) -> dict[str, float]:
    """Seconds from ``since`` until the Deployment controller caught up, and until all Ready.

    The first phase is the cluster's (a kube-controller-manager that lost its leader
    Lease must be restarted and win the Lease back); the gap between the two is the
    operator's own lag.
    """
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and "ready" not in seen:
        try:
            deployments = await kube.list("apps/v1", "Deployment", namespace)
            services = await kube.list(API_VERSION, "MicroService", namespace)
        except (ApiError, OSError, TimeoutError):
            await asyncio.sleep(0.25)
            continue
        now = time.monotonic() - since
        rolled = [
            d
            for d in deployments
            if (d.get("status") or {}).get("observedGeneration") == d["metadata"]["generation"]
            and (d.get("status") or {}).get("readyReplicas", 0) >= d["spec"].get("replicas", 1)
        ]
        if len(deployments) >= N and len(rolled) == len(deployments):
            seen.setdefault("deployments", now)
        if len(services) == N and all(is_ready(ms) for ms in services):
            seen.setdefault("deployments", now)
            seen["ready"] = now
        await asyncio.sleep(0.25)
    assert "ready" in seen, f"not all {N} MicroServices Ready 180 s after recovery: {seen}"
    return seen


async def assert_recovered(
    kube: KubeClient,
    namespace: str,
    operator: OperatorProcess,
    recovered_at: float,
    label: str,
    figures: dict[str, object],
) -> None:
    seen = await phases(kube, namespace, recovered_at)
    lag = seen["ready"] - seen["deployments"]
    figures[f"chaos[{SCALE}]: {label}: recovery to all {N} Ready, seconds"] = round(
        seen["ready"], 1
    )
    figures[f"chaos[{SCALE}]: {label}: of which waiting for Deployments to roll out, seconds"] = (
        round(seen["deployments"], 1)
    )
    await still_works(kube, namespace)
    operator_healthy(operator)
    assert lag <= RECOVERY_AIM, f"{label}: operator {lag:.1f} s behind the Deployment controller"


@pytest.mark.timeout(300)
async def test_operator_rides_out_an_api_server_restart(
    kube: KubeClient,
    namespace: str,
    operator: OperatorProcess,
    control_plane: ControlPlane,
    evidence: Evidence,
    figures: dict[str, object],
) -> None:
    await start_converging(kube, namespace)
    down = time.monotonic()
    # SIGTERM, then SIGKILL after 10 s: kube-apiserver stops listening at once but can
    # take over a minute to drain long-running requests (a kubelet would not wait that long).
    graceful = await asyncio.to_thread(
        control_plane.stop, "kube-apiserver", signal.SIGTERM, timeout=10
    )
    stopped = time.monotonic()
    await asyncio.sleep(2)  # the operator sees refused connections, not just a blip
    await asyncio.to_thread(control_plane.start, "kube-apiserver")
    recovered_at = await asyncio.to_thread(control_plane.wait_ready)
    figures[f"chaos[{SCALE}]: API server restart: stop (graceful?), unavailable, seconds"] = (
        f"{stopped - down:.1f} ({'exited' if graceful else 'killed after 10 s'}),"
        f" {recovered_at - down:.1f}"
    )
    await assert_recovered(kube, namespace, operator, recovered_at, "API server restart", figures)
    figures[f"chaos[{SCALE}]: API server restart: components that exited and were restarted"] = (
        control_plane.supervised or "none"
    )
    await evidence.collect(kube, namespace)


@pytest.mark.timeout(300)
async def test_operator_rides_out_an_etcd_pause(
    kube: KubeClient,
    namespace: str,
    operator: OperatorProcess,
    control_plane: ControlPlane,
    evidence: Evidence,
    figures: dict[str, object],
) -> None:
    await start_converging(kube, namespace)
    pid = control_plane.pause("etcd")
    await asyncio.sleep(10)
    control_plane.resume(pid)
    resumed = time.monotonic()
    recovered_at = await asyncio.to_thread(control_plane.wait_ready)
    figures[f"chaos[{SCALE}]: etcd pause (SIGSTOP 10 s): /readyz again after SIGCONT, seconds"] = (
        round(recovered_at - resumed, 1)
    )
    await assert_recovered(kube, namespace, operator, resumed, "etcd pause", figures)
    figures[f"chaos[{SCALE}]: etcd pause: components that exited and were restarted"] = (
        control_plane.supervised or "none"
    )
    await evidence.collect(kube, namespace)
