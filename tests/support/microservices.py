"""Helpers to create MicroServices and wait for their status."""

from __future__ import annotations

from typing import Any

from microservice_operator.kube import KubeClient
from tests.support.cluster import eventually

API_VERSION = "microservice-operator.dev/v1alpha1"


def microservice(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "MicroService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"image": "registry.example/shop/app:1.0.0", **spec},
    }


def condition(body: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == type_:
            return dict(cond)
    return {}


async def get_ms(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.get(API_VERSION, "MicroService", name, namespace)


async def wait_condition(
    kube: KubeClient,
    namespace: str,
    name: str,
    type_: str = "Ready",
    status: str = "True",
    *,
    timeout: float = 60,
) -> dict[str, Any]:
    """Wait until the condition holds for the current generation."""
    seen: list[dict[str, Any] | None] = [None]

    async def probe() -> dict[str, Any] | None:
        body = seen[0] = await get_ms(kube, namespace, name)
        if body is None:
            return None
        cond = condition(body, type_)
        generation = body["metadata"]["generation"]
        current = body.get("status", {}).get("observedGeneration") == generation
        return body if current and cond.get("status") == status else None

    try:
        return await eventually(probe, timeout=timeout, what=f"{name} {type_}={status}")
    except AssertionError as error:
        body = seen[0] or {}
        raise AssertionError(
            f"{error}; generation {body.get('metadata', {}).get('generation')},"
            f" status {body.get('status')!r}"
        ) from None
