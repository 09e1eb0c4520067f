"""dependsOn and the JWT issuer, end to end: discovery, policies, readiness, cycles."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from microservice_operator.kube import KubeClient
from tests.support.cluster import eventually
from tests.support.microservices import (
    API_VERSION,
    condition,
    get_ms,
    microservice,
    wait_condition,
)

pytestmark = pytest.mark.usefixtures("operator")


async def env_of(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    deployment = await kube.get("apps/v1", "Deployment", name, namespace)
    assert deployment is not None
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


async def policy(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    found = await kube.get("networking.k8s.io/v1", "NetworkPolicy", name, namespace)
    assert found is not None, f"no NetworkPolicy {name}"
    spec: dict[str, Any] = found["spec"]
    return spec


def peers(rules: list[dict[str, Any]]) -> set[str]:
    return {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in rules
        for p in rule.get("from", rule.get("to", []))
        if "podSelector" in p
        and "app.kubernetes.io/name" in p["podSelector"].get("matchLabels", {})
    }


async def test_dependency_created_later_flips_readiness_without_touching_the_dependent(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(microservice("orders", namespace, dependsOn=[{"name": "products"}]))
    body = await wait_condition(kube, namespace, "orders", "DependenciesReady", "False")
    assert condition(body, "DependenciesReady")["reason"] == "DependencyMissing"
    assert "products (not found)" in condition(body, "DependenciesReady")["message"]
    assert condition(body, "Ready")["status"] == "False"
    assert (await env_of(kube, namespace, "orders"))[
        "PRODUCTS_URL"
    ] == f"http://products.{namespace}.svc:80"
    generation = body["metadata"]["generation"]

    await kube.create(microservice("products", namespace, port=8080))
    body = await wait_condition(kube, namespace, "orders", timeout=60)
    assert condition(body, "DependenciesReady")["status"] == "True"
    assert body["metadata"]["generation"] == generation  # orders itself was never touched

    products_policy = await policy(kube, namespace, "products")
    assert peers(products_policy["ingress"]) == {"orders"}
    orders_policy = await policy(kube, namespace, "orders")
    egress = [
        r
        for r in orders_policy["egress"]
        if r.get("to")
        and "podSelector" in r["to"][0]
        and "app.kubernetes.io/name" in r["to"][0]["podSelector"].get("matchLabels", {})
    ]
    assert peers(egress) == {"products"}
    assert egress[0]["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert "ingress" not in orders_policy  # nobody depends on orders
    assert any(r["ports"][0]["port"] == 53 for r in orders_policy["egress"])  # DNS

    await kube.delete(API_VERSION, "MicroService", "products", namespace)
    body = await wait_condition(kube, namespace, "orders", "DependenciesReady", "False", timeout=60)
    assert condition(body, "DependenciesReady")["reason"] == "DependencyMissing"


async def test_a_cycle_is_stalled_with_the_cycle_in_the_message(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(microservice("a", namespace, dependsOn=[{"name": "b"}]))
    await kube.create(microservice("b", namespace, dependsOn=[{"name": "a"}]))
    body = await wait_condition(kube, namespace, "a", "Stalled", "True", timeout=60)
    stalled = condition(body, "Stalled")
    assert stalled["reason"] == "DependencyCycle"
    assert "a → b → a" in stalled["message"]
    body = await wait_condition(kube, namespace, "b", "Stalled", "True", timeout=60)
    assert "b → a → b" in condition(body, "Stalled")["message"]
    # Breaking the cycle lets both converge.
    await kube.patch_merge(
        API_VERSION, "MicroService", "b", namespace, {"spec": {"dependsOn": None}}
    )
    await wait_condition(kube, namespace, "b", timeout=60)
    await wait_condition(kube, namespace, "a", timeout=60)


async def test_issuer_wiring(kube: KubeClient, namespace: str) -> None:
    await kube.create(microservice("auth", namespace, auth={"issuer": True}))
    await kube.create(microservice("products", namespace, auth={"issuerRef": {"name": "auth"}}))
    await wait_condition(kube, namespace, "auth", timeout=60)
    body = await wait_condition(kube, namespace, "products", timeout=60)
    assert condition(body, "DependenciesReady")["status"] == "True"

    auth_env = await env_of(kube, namespace, "auth")
    url = f"http://auth.{namespace}.svc:80"
    assert auth_env["JWT_ISSUER"] == url
    assert (
        auth_env["JWT_PRIVATE_KEY_FILE"] == "/var/run/secrets/microservice-operator/jwt/private.pem"
    )
    key = await kube.get("v1", "Secret", "auth-jwt", namespace)
    assert key is not None
    pem = base64.b64decode(key["data"]["private.pem"]).decode()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    deployment = await kube.get("apps/v1", "Deployment", "auth", namespace)
    assert deployment is not None
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["jwt-key"]["secret"]["secretName"] == "auth-jwt"

    products_env = await env_of(kube, namespace, "products")
    assert products_env["JWT_ISSUER"] == url
    assert products_env["JWKS_URL"] == f"{url}/.well-known/jwks.json"
    assert peers((await policy(kube, namespace, "auth"))["ingress"]) == {"products"}

    # The key is generated once: a reconcile never replaces it.
    await kube.patch_merge(
        API_VERSION, "MicroService", "auth", namespace, {"spec": {"replicas": 2}}
    )
    await wait_condition(kube, namespace, "auth", timeout=60)
    again = await kube.get("v1", "Secret", "auth-jwt", namespace)
    assert again is not None and again["data"] == key["data"]


async def test_first_rollout_waits_for_dependencies_when_asked(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(
        microservice("late", namespace, dependsOn=[{"name": "early"}], waitForDependencies=True)
    )
    body = await wait_condition(kube, namespace, "late", "DependenciesReady", "False")
    assert await kube.get("apps/v1", "Deployment", "late", namespace) is None
    assert condition(body, "Ready")["reason"] == "DependenciesNotReady"
    await kube.create(microservice("early", namespace))

    async def rolled_out() -> bool:
        return await kube.get("apps/v1", "Deployment", "late", namespace) is not None

    await eventually(rolled_out, timeout=60, what="Deployment created once the dependency is Ready")
    await wait_condition(kube, namespace, "late", timeout=60)


@pytest.mark.namespace_labels({"microservice-operator.dev/network-policies": "disabled"})
async def test_policies_can_be_switched_off_per_namespace_and_per_service(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(microservice("quiet", namespace))
    await wait_condition(kube, namespace, "quiet", timeout=60)
    assert await kube.list("networking.k8s.io/v1", "NetworkPolicy", namespace) == []


async def test_policies_switched_off_per_service_are_pruned(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(microservice("svc", namespace))
    await wait_condition(kube, namespace, "svc", timeout=60)
    assert await kube.get("networking.k8s.io/v1", "NetworkPolicy", "svc", namespace) is not None
    await kube.patch_merge(
        API_VERSION,
        "MicroService",
        "svc",
        namespace,
        {"spec": {"networkPolicy": {"enabled": False}}},
    )

    async def pruned() -> bool:
        return await kube.get("networking.k8s.io/v1", "NetworkPolicy", "svc", namespace) is None

    await eventually(pruned, what="NetworkPolicy pruned")
    live = await get_ms(kube, namespace, "svc")
    assert live is not None
