"""kill -9 the operator at random moments while many MicroServices converge.

Afterwards every MicroService is Ready, every generated credential Secret is
byte-identical to the first version ever observed (same data, same
resourceVersion), every MicroService has exactly the children it should (no
duplicate, none missing, names as expected) and every labelled object has a
live owner. Deleting everything leaves only what ``deletionPolicy: Retain``
promises to keep: the ``<name>-db`` Secrets and the database volume claims.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from microservice_operator.builders import CHILD_KINDS as OPERATOR_KINDS
from microservice_operator.kube import ApiError, KubeClient
from tests.e2e.chaos.conftest import (
    MANAGED,
    SCALE,
    Evidence,
    gather_limited,
    operator_healthy,
    sized,
    wait_all_ready,
)
from tests.support.cluster import eventually
from tests.support.microservices import API_VERSION, microservice
from tests.support.operator import OperatorProcess

N = sized(24, 300)
DATABASE_OF = "microservice-operator.dev/database-of"
ROUNDS = sized(3, 20)
# What the operator creates, except kinds whose CRDs this cluster lacks, and the claims
# its StatefulSets make.
OPTIONAL_GROUPS = ("postgresql.cnpg.io/v1", "monitoring.coreos.com/v1")
CHILD_KINDS = (
    *(kind for kind in OPERATOR_KINDS if kind[0] not in OPTIONAL_GROUPS),
    ("v1", "PersistentVolumeClaim"),
)


def shape(i: int) -> str:
    """A third with a dedicated database; the rest plain, autoscaled or budgeted."""
    return ("db", "budget", "autoscaled")[i % 3]


def spec_of(i: int) -> dict[str, Any]:
    # At full scale some workloads run no pod: the test cluster's 3 kwok nodes hold
    # 330 pods, and every database and autoscaled service needs one (250 in all).
    replicas = sized(1, 0 if shape(i) == "db" else i % 2)
    kind = shape(i)
    if kind == "db":
        return {"database": {"engine": "postgres"}, "replicas": replicas}
    if kind == "budget":
        return {"replicas": replicas, "disruptionBudget": {"maxUnavailable": 1}}
    return {"autoscaling": {"minReplicas": 1, "maxReplicas": 3}}


def expected_children(name: str, kind: str) -> set[str]:
    out = {
        f"ServiceAccount/{name}",
        f"Service/{name}",
        f"Deployment/{name}",
        f"NetworkPolicy/{name}",
    }
    if kind == "db":
        out |= {
            f"StatefulSet/{name}-db",
            f"Service/{name}-db",
            f"Secret/{name}-db",
            f"NetworkPolicy/{name}-db",
            f"PersistentVolumeClaim/data-{name}-db-0",
        }
    if kind == "budget":
        out.add(f"PodDisruptionBudget/{name}")
    if kind == "autoscaled":
        out.add(f"HorizontalPodAutoscaler/{name}")
    return out


async def labelled(kube: KubeClient, namespace: str) -> list[dict[str, Any]]:
    found = []
    for api_version, kind in CHILD_KINDS:
        found += await kube.list(api_version, kind, namespace, label_selector=MANAGED)
    return found


class SecretRecorder:
    """Records each credential Secret the first time it is seen (data + resourceVersion)."""

    def __init__(self, kube: KubeClient, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.first: dict[str, tuple[dict[str, str], str]] = {}
        self.changed: list[str] = []

    async def poll(self) -> None:
        try:
            secrets = await self.kube.list("v1", "Secret", self.namespace, label_selector=MANAGED)
        except (ApiError, OSError, TimeoutError):
            return
        for secret in secrets:
            name = secret["metadata"]["name"]
            if not name.endswith("-db"):
                continue
            seen = (secret.get("data") or {}, secret["metadata"]["resourceVersion"])
            if name not in self.first:
                self.first[name] = seen
            elif seen != self.first[name] and name not in self.changed:
                self.changed.append(name)

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(0.2)


@pytest.fixture
async def service_range(kube: KubeClient) -> AsyncIterator[None]:
    """Room for 300 ClusterIPs: the local control plane's Service range is a /24 (254 IPs).

    An extra ServiceCIDR (networking.k8s.io/v1) widens it while the test runs; deleted
    afterwards, it goes once no Service holds one of its addresses.
    """
    if N < 200:
        yield
        return
    name = f"msop-chaos-{uuid.uuid4().hex[:6]}"
    await kube.create(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "ServiceCIDR",
            "metadata": {"name": name},
            "spec": {"cidrs": ["10.0.16.0/20"]},
        }
    )

    async def ready() -> bool:
        live = await kube.get("networking.k8s.io/v1", "ServiceCIDR", name)
        conditions = ((live or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    await eventually(ready, timeout=30, what=f"ServiceCIDR {name} Ready")
    yield
    await kube.delete("networking.k8s.io/v1", "ServiceCIDR", name)


@pytest.mark.timeout(sized(300, 2400))
@pytest.mark.usefixtures("service_range")
async def test_operator_killed_at_random_moments_converges_without_damage(
    kube: KubeClient,
    namespace: str,
    operator: OperatorProcess,
    volumes: Any,
    evidence: Evidence,
    figures: dict[str, object],
) -> None:
    seed = int(os.environ.get("MSOP_CHAOS_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    names = [f"c{i:03d}" for i in range(N)]
    kinds = {name: shape(i) for i, name in enumerate(names)}
    with_db = [n for n in names if kinds[n] == "db"]
    await volumes(namespace, [f"data-{n}-db-0" for n in with_db])

    recorder = SecretRecorder(kube, namespace)
    watcher = asyncio.create_task(recorder.run())
    start = time.monotonic()
    await gather_limited(
        32,
        list(enumerate(names)),
        lambda item: kube.create(microservice(item[1], namespace, **spec_of(item[0]))),
    )
    kills = []
    try:
        for round_ in range(ROUNDS):
            # Keep work in flight: change the env of a few services (a new rollout each).
            for name in rng.sample(names, k=max(1, N // 20)):
                await kube.patch_merge(
                    API_VERSION,
                    "MicroService",
                    name,
                    namespace,
                    {"spec": {"env": [{"name": "ROUND", "value": str(round_)}]}},
                )
            moment = rng.uniform(0.1, sized(2.5, 5.0))
            await asyncio.sleep(moment)
            await recorder.poll()
            operator.stop(signal.SIGKILL)
            kills.append(round(moment, 2))
            await asyncio.to_thread(operator.start)
        after_last = await wait_all_ready(kube, namespace, N, timeout=sized(180, 900))
        total = time.monotonic() - start
        await asyncio.sleep(1)
        await recorder.poll()
    finally:
        watcher.cancel()
    figures[f"chaos[{SCALE}]: operator kill -9 rounds survived"] = (
        f"{ROUNDS} rounds over {N} MicroServices ({len(with_db)} with a dedicated database),"
        f" seed {seed}, kills at {kills} s after each restart"
    )
    figures[f"chaos[{SCALE}]: all Ready after the last restart, seconds"] = round(after_last, 1)
    figures[f"chaos[{SCALE}]: create to all Ready through the kills, seconds"] = round(total, 1)

    # Credentials: generated once, never overwritten.
    assert not recorder.changed, f"credential Secrets changed after first seen: {recorder.changed}"
    for name in with_db:
        live = await kube.get("v1", "Secret", f"{name}-db", namespace)
        assert live is not None, f"{name}-db missing"
        data, version = recorder.first[f"{name}-db"]
        assert live["data"] == data, f"{name}-db data changed"
        assert live["metadata"]["resourceVersion"] == version, f"{name}-db was rewritten"

    # No duplicate, none missing, no orphan.
    objects = await labelled(kube, namespace)
    services = {
        ms["metadata"]["name"]: ms for ms in await kube.list(API_VERSION, "MicroService", namespace)
    }
    uids = {ms["metadata"]["uid"] for ms in services.values()}
    by_owner: dict[str, set[str]] = {n: set() for n in names}
    counts: Counter[str] = Counter()
    orphans = []
    for obj in objects:
        meta = obj["metadata"]
        ident = f"{obj['kind']}/{meta['name']}"
        counts[ident] += 1
        labels = meta.get("labels") or {}
        # Volume claims carry the StatefulSet's selector: name <ms>-db, database-of <ms>.
        owner_name = labels.get(DATABASE_OF) or labels.get("app.kubernetes.io/name", "?")
        by_owner.setdefault(owner_name, set()).add(ident)
        refs = meta.get("ownerReferences") or []
        if refs:
            if not any(r.get("uid") in uids and r.get("controller") for r in refs):
                orphans.append(ident)
        elif not (
            (obj["kind"] == "Secret" and meta["name"].endswith("-db"))
            or obj["kind"] == "PersistentVolumeClaim"
        ):
            orphans.append(f"{ident} (no owner)")
    assert not orphans, f"orphaned children: {orphans[:20]}"
    assert [k for k, c in counts.items() if c > 1] == []
    wrong = {
        name: (sorted(by_owner.get(name, set()) ^ expected_children(name, kinds[name])))
        for name in names
        if by_owner.get(name, set()) != expected_children(name, kinds[name])
    }
    assert not wrong, (
        f"children differ from expected (symmetric difference): {dict(list(wrong.items())[:10])}"
    )
    assert set(by_owner) == set(names), f"children of unknown owners: {set(by_owner) - set(names)}"
    operator_healthy(operator)
    await evidence.collect(kube, namespace)

    # Delete everything: only what Retain promises stays.
    await gather_limited(
        32, names, lambda n: kube.delete(API_VERSION, "MicroService", n, namespace)
    )
    kept = {f"Secret/{n}-db" for n in with_db} | {
        f"PersistentVolumeClaim/data-{n}-db-0" for n in with_db
    }

    async def only_retained() -> set[str] | None:
        left = {f"{o['kind']}/{o['metadata']['name']}" for o in await labelled(kube, namespace)}
        left |= {
            f"Pod/{p['metadata']['name']}"
            for p in await kube.list("v1", "Pod", namespace, label_selector=MANAGED)
        }
        remaining = await kube.list(API_VERSION, "MicroService", namespace)
        return left if left == kept and not remaining else None

    try:
        await eventually(
            only_retained, timeout=sized(120, 600), interval=1, what="only Retain left"
        )
    except AssertionError:
        left = {f"{o['kind']}/{o['metadata']['name']}" for o in await labelled(kube, namespace)}
        raise AssertionError(
            f"left behind: {sorted(left - kept)[:20]};"
            f" retained but gone: {sorted(kept - left)[:20]}"
        ) from None
    for name in with_db:  # the kept credentials are still the first ones
        live = await kube.get("v1", "Secret", f"{name}-db", namespace)
        assert (
            live is not None
            and live["metadata"]["resourceVersion"] == recorder.first[f"{name}-db"][1]
        )
    await evidence.collect(kube, namespace)
    operator_healthy(operator)
