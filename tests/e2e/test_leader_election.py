"""High availability: two operator processes, one Lease, only the leader writes."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from microservice_operator.kube import KubeClient
from tests.support.audit import AuditLog
from tests.support.cluster import eventually
from tests.support.identity import ChartIdentity
from tests.support.microservices import microservice, wait_condition
from tests.support.operator import OperatorProcess

LEASE = ["--lease-duration", "6", "--renew-deadline", "4", "--retry-period", "1"]


@pytest.fixture
def solo_operator_paused(operator: OperatorProcess) -> Iterator[None]:
    """The session's single operator steps aside while replicas compete."""
    operator.stop()
    yield
    operator.start()


def replica(identity: ChartIdentity, tmp_path: Any, name: str) -> OperatorProcess:
    lease = ["--lease-namespace", identity.namespace, "--lease-name", identity.lease_name]
    return OperatorProcess(
        kubeconfig=identity.kubeconfig,
        log_dir=tmp_path,
        extra_args=["--leader-election", "--identity", name, *lease, *LEASE],
    )


async def holder(kube: KubeClient, identity: ChartIdentity) -> str:
    lease = await kube.get(
        "coordination.k8s.io/v1", "Lease", identity.lease_name, identity.namespace
    )
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def writers(events: list[dict[str, object]]) -> set[str]:
    out = set()
    for event in events:
        ref = event.get("objectRef") or {}
        assert isinstance(ref, dict)
        if ref.get("resource") == "leases":
            continue
        agent = str(event.get("userAgent", ""))
        out.add(agent[agent.find("(") + 1 : agent.find(")")] if "(" in agent else agent)
    return out


@pytest.mark.usefixtures("solo_operator_paused")
async def test_only_the_leader_writes_and_a_standby_takes_over_after_kill(
    kube: KubeClient,
    namespace: str,
    chart_identity: ChartIdentity,
    audit: AuditLog,
    tmp_path: Any,
    figures: dict[str, object],
) -> None:
    a = replica(chart_identity, tmp_path, "op-a")
    b = replica(chart_identity, tmp_path, "op-b")
    a.start()
    try:

        async def a_leads() -> bool:
            return await holder(kube, chart_identity) == "op-a"

        await eventually(a_leads, timeout=20, what="op-a holds the Lease")
        b.start()
        mark = audit.mark()
        await kube.create(microservice("first", namespace, replicas=2))
        await wait_condition(kube, namespace, "first", timeout=60)
        await asyncio.sleep(2)
        assert writers(audit.operator_writes(mark, namespace)) == {"op-a"}

        a.stop(signal.SIGKILL)
        killed = time.monotonic()

        async def b_leads() -> bool:
            return await holder(kube, chart_identity) == "op-b"

        await eventually(b_leads, timeout=30, interval=0.1, what="op-b takes the Lease")
        takeover = time.monotonic() - killed
        figures["leader failover after kill -9 (lease 6 s, retry 1 s), seconds"] = round(
            takeover, 2
        )
        assert takeover <= 6 + 1 + 2  # lease duration + one retry period + scheduling slack

        mark = audit.mark()
        await kube.create(microservice("second", namespace))
        await wait_condition(kube, namespace, "second", timeout=60)
        await asyncio.sleep(2)
        assert writers(audit.operator_writes(mark, namespace)) == {"op-b"}

        b.stop()  # graceful: the Lease is released at once

        async def released() -> bool:
            return await holder(kube, chart_identity) == ""

        await eventually(released, timeout=10, what="Lease released on shutdown")
    finally:
        a.stop(signal.SIGKILL)
        b.stop()
    crashes = a.crashes() + b.crashes()
    assert not crashes, crashes


async def test_the_chart_identity_is_denied_what_it_does_not_need(
    kube: KubeClient, namespace: str, chart_identity: ChartIdentity
) -> None:
    """Least privilege, shown from the other side: verbs the operator lacks are forbidden."""
    from microservice_operator.kube import ApiError
    from microservice_operator.kube import KubeClient as Client

    async with Client.connect(str(chart_identity.kubeconfig), user_agent="msop-tests") as op:
        # Allowed: what it uses.
        await op.list("apps/v1", "Deployment", namespace)
        # Forbidden: deleting MicroServices, touching RBAC, exec into pods, other Leases.
        for attempt in (
            op.delete("microservice-operator.dev/v1alpha1", "MicroService", "x", namespace),
            op.list("rbac.authorization.k8s.io/v1", "Role", namespace),
            op.request("POST", f"/api/v1/namespaces/{namespace}/pods/x/exec"),
            op.create(
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": "other", "namespace": namespace},
                    "spec": {},
                }
            ),
            op.list("v1", "Node"),
        ):
            with pytest.raises(ApiError) as caught:
                await attempt
            assert caught.value.status == 403, caught.value
