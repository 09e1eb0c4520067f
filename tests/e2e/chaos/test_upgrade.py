"""Upgrade safety, same-version restart baseline.

There is no earlier release yet, so a real N-1 -> N upgrade cannot be tested.
What matters already is the invariant such a test would check: a new operator
process taking over converged objects changes no pod template (no rollout, no
pod restarted) and writes nothing. This test pins it for the same version:
restart the operator over a converged mix of services and check that every
Deployment's and StatefulSet's ``metadata.generation``, pod template and
``pod-template-hash`` are unchanged and that the operator made zero writes.
Once a release exists, run the previous release here first and the current
code second (see docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

from microservice_operator.kube import KubeClient
from tests.e2e.chaos.conftest import operator_healthy
from tests.support.audit import AuditLog
from tests.support.microservices import microservice, wait_condition
from tests.support.operator import OperatorProcess

SERVICES: dict[str, dict[str, Any]] = {
    "plain": {"replicas": 2},
    "scaled": {"autoscaling": {"minReplicas": 1, "maxReplicas": 3}},
    "budgeted": {"replicas": 2, "disruptionBudget": {"maxUnavailable": 1}},
    "issuer": {"auth": {"issuer": True}},
    "caller": {"dependsOn": [{"name": "plain"}], "auth": {"issuerRef": {"name": "issuer"}}},
    "stateful": {"database": {"engine": "postgres"}},
    "monitored": {"monitoring": {"enabled": True}, "env": [{"name": "MODE", "value": "x"}]},
}


async def workloads(kube: KubeClient, namespace: str) -> dict[str, tuple[int, str, set[str]]]:
    """Per Deployment/StatefulSet: generation, pod template digest, pod-template-hashes."""
    out = {}
    hashes: dict[str, set[str]] = {}
    for rs in await kube.list("apps/v1", "ReplicaSet", namespace):
        for ref in rs["metadata"].get("ownerReferences") or []:
            if (rs.get("spec") or {}).get("replicas"):
                label = rs["metadata"]["labels"].get("pod-template-hash", "")
                hashes.setdefault(f"Deployment/{ref['name']}", set()).add(label)
    for kind in ("Deployment", "StatefulSet"):
        for item in await kube.list("apps/v1", kind, namespace):
            key = f"{kind}/{item['metadata']['name']}"
            template = json.dumps(item["spec"]["template"], sort_keys=True).encode()
            out[key] = (
                item["metadata"]["generation"],
                hashlib.sha256(template).hexdigest()[:16],
                hashes.get(key, {item.get("status", {}).get("updateRevision", "")}),
            )
    return out


@pytest.mark.timeout(240)
async def test_same_version_restart_baseline_changes_no_pod_template_and_writes_nothing(
    kube: KubeClient,
    namespace: str,
    operator: OperatorProcess,
    audit: AuditLog,
    volumes: Any,
    figures: dict[str, object],
) -> None:
    await volumes(namespace, ["data-stateful-db-0"])
    for name, spec in SERVICES.items():
        await kube.create(microservice(name, namespace, **spec))
    for name in SERVICES:
        await wait_condition(kube, namespace, name, timeout=120)
    await asyncio.sleep(2)  # let the last status writes and rollouts settle
    before = await workloads(kube, namespace)
    assert len(before) == len(SERVICES) + 1  # a Deployment each, one StatefulSet
    mark, inode = audit.mark(), audit.path.stat().st_ino

    operator.restart()  # the "new version": same code, fresh process, empty memory
    await asyncio.sleep(6)  # resync: every object listed, indexed and found unchanged
    for name in SERVICES:
        await wait_condition(kube, namespace, name, timeout=30)

    after = await workloads(kube, namespace)
    # kube-apiserver rotates its audit log at 100 MB: counting from an offset into a
    # rotated file would see nothing and pass for the wrong reason.
    assert audit.path.stat().st_ino == inode, "audit log rotated during the test; run it again"
    writes = audit.operator_writes(mark, namespace)
    figures["chaos: same-version restart baseline"] = (
        f"{len(before)} workloads, {sum(1 for k in before if before[k] != after.get(k))}"
        f" changed, {len(writes)} operator writes"
    )
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    assert not changed, f"pod templates changed by a restart: {changed}"
    assert writes == [], AuditLog.summary(writes)
    operator_healthy(operator)
