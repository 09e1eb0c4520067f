"""The operator's async client against a real API server."""

from __future__ import annotations

from typing import Any

import pytest

from microservice_operator.kube import FIELD_MANAGER, ApiError, KubeClient


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
