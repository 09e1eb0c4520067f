"""The operator's async client against a real API server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from microservice_operator.kube import FIELD_MANAGER, ApiError, KubeClient
from microservice_operator.observability import REGISTRY
from tests.support.cluster import Cluster, eventually


def config_map(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


async def test_server_side_apply_creates_then_updates_with_our_field_manager(
    kube: KubeClient, namespace: str
) -> None:
    created = await kube.apply(config_map("cm", namespace, a="1"))
    updated = await kube.apply(config_map("cm", namespace, a="2"))
    assert created["metadata"]["uid"] == updated["metadata"]["uid"]
    assert updated["data"] == {"a": "2"}
    managers = {m["manager"] for m in updated["metadata"]["managedFields"]}
    assert managers == {FIELD_MANAGER}


async def test_apply_drops_fields_we_stop_declaring(kube: KubeClient, namespace: str) -> None:
    await kube.apply(config_map("cm", namespace, a="1", b="2"))
    live = await kube.apply(config_map("cm", namespace, a="1"))
    assert live["data"] == {"a": "1"}


async def test_get_missing_is_none_and_delete_missing_is_false(
    kube: KubeClient, namespace: str
) -> None:
    assert await kube.get("v1", "ConfigMap", "nope", namespace) is None
    assert await kube.delete("v1", "ConfigMap", "nope", namespace) is False


async def test_list_pages_through_chunks_and_filters_by_label(
    kube: KubeClient, namespace: str
) -> None:
    for i in range(7):
        body = config_map(f"cm{i}", namespace)
        body["metadata"]["labels"] = {"parity": "even" if i % 2 == 0 else "odd"}
        await kube.create(body)
    everything = [item async for item in kube.iterate("v1", "ConfigMap", namespace, chunk=2)]
    assert len([i for i in everything if i["metadata"]["name"].startswith("cm")]) == 7
    even = await kube.list("v1", "ConfigMap", namespace, label_selector="parity=even")
    assert sorted(i["metadata"]["name"] for i in even) == ["cm0", "cm2", "cm4", "cm6"]
    assert all(i["kind"] == "ConfigMap" for i in even)


async def test_errors_carry_status_reason_and_message(kube: KubeClient, namespace: str) -> None:
    await kube.create(config_map("dup", namespace))
    with pytest.raises(ApiError) as caught:
        await kube.create(config_map("dup", namespace))
    assert caught.value.conflict
    assert caught.value.reason == "AlreadyExists"
    assert '"dup" already exists' in caught.value.message


async def test_discovery_finds_kinds_outside_the_known_table(kube: KubeClient) -> None:
    resource = await kube.resource("scheduling.k8s.io/v1", "PriorityClass")
    assert resource.plural == "priorityclasses" and not resource.namespaced
    with pytest.raises(ApiError) as caught:
        await kube.resource("scheduling.k8s.io/v1", "NoSuchKind")
    assert caught.value.not_found


async def test_dry_run_writes_nothing(kube: KubeClient, namespace: str) -> None:
    await kube.apply(config_map("dry", namespace), dry_run=True)
    assert await kube.get("v1", "ConfigMap", "dry", namespace) is None


async def test_writes_are_counted_by_verb(kube: KubeClient, namespace: str) -> None:
    before = dict(kube.writes)
    await kube.apply(config_map("w", namespace))
    await kube.delete("v1", "ConfigMap", "w", namespace)
    assert kube.writes["PATCH"] == before.get("PATCH", 0) + 1
    assert kube.writes["DELETE"] == before.get("DELETE", 0) + 1


async def test_a_real_429_is_retried_with_backoff_then_raised(
    cluster: Cluster, kube: KubeClient, namespace: str
) -> None:
    # The Eviction API answers 429 while a PodDisruptionBudget allows no disruption:
    # a 429 from a real API server, without turning its request limits on.
    labels = {"app": "guarded"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "guarded", "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "registry.example/guarded:1"}]},
    }
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "guarded", "namespace": namespace},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
    }
    await kube.create(pod)
    await kube.create(budget)

    async def running() -> bool:
        live = await kube.get("v1", "Pod", "guarded", namespace)
        return bool(live and (live.get("status") or {}).get("phase") == "Running")

    async def guarding() -> bool:
        live = await kube.get("policy/v1", "PodDisruptionBudget", "guarded", namespace)
        status = (live or {}).get("status") or {}
        return bool(
            live
            and status.get("observedGeneration") == live["metadata"]["generation"]
            and status.get("currentHealthy") == 1
            and status.get("disruptionsAllowed") == 0
        )

    await eventually(running, what="the pod running")
    await eventually(guarding, what="the budget allowing no disruption")

    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "guarded", "namespace": namespace},
    }
    path = (await kube.resource("v1", "Pod")).path(namespace, "guarded") + "/eviction"

    def rejected() -> float:
        value = REGISTRY.get_sample_value(
            "rest_client_requests_total", {"method": "POST", "code": "429"}
        )
        return value or 0.0

    before = rejected()
    async with KubeClient.connect(str(cluster.kubeconfig), retries=2) as client:
        start = time.monotonic()
        with pytest.raises(ApiError) as caught:
            await client.request("POST", path, body=eviction)
        took = time.monotonic() - start
    assert caught.value.status == 429
    assert "disruption budget" in caught.value.message
    assert rejected() - before == 3  # the first try and two retries
    assert took >= 0.2 + 0.4  # the backoff (0.2 s, then 0.4 s) was waited, at least
    assert await kube.get("v1", "Pod", "guarded", namespace) is not None
