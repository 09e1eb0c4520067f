"""Smoke tests: the cluster under test is a real control plane, not a mock.

Each test exercises a different real component: the deployment and
replicaset controllers, the scheduler and kwok's node/pod simulation, the
garbage collector, CEL validation in the apiextensions server, PodSecurity
admission, and RBAC with a real ServiceAccount token.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from microservice_operator.kube import ApiError, Connection, KubeClient
from tests.support.cluster import Cluster, eventually

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
            },
        },
    }


async def pods_of(kube: KubeClient, namespace: str, app: str) -> list[dict[str, Any]]:
    return await kube.list("v1", "Pod", namespace, label_selector=f"app={app}")


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def test_server_reports_a_stamped_version(kube: KubeClient) -> None:
    info = await kube.request("GET", "/version")
    assert info["gitVersion"].startswith("v1."), info
    assert "0.0.0" not in info["gitVersion"]


async def test_deployment_pods_are_scheduled_on_kwok_nodes_and_become_ready(
    kube: KubeClient, namespace: str
) -> None:
    nodes = {n["metadata"]["name"] for n in await kube.list("v1", "Node")}
    assert len(nodes) >= 3
    manifest = deployment("web", replicas=3)
    manifest["metadata"]["namespace"] = namespace
    await kube.apply(manifest)

    async def all_ready() -> list[dict[str, Any]] | None:
        pods = await pods_of(kube, namespace, "web")
        return pods if len(pods) == 3 and all(is_ready(p) for p in pods) else None

    pods = await eventually(all_ready, timeout=60, what="3 Ready pods")
    assert {p["spec"]["nodeName"] for p in pods} <= nodes
    replicasets = await kube.list("apps/v1", "ReplicaSet", namespace, label_selector="app=web")
    assert len(replicasets) == 1
    assert replicasets[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"

    async def deployment_available() -> dict[str, Any] | None:
        live = await kube.get("apps/v1", "Deployment", "web", namespace)
        return live if live and live.get("status", {}).get("readyReplicas") == 3 else None

    await eventually(deployment_available, timeout=30, what="Deployment readyReplicas=3")


async def test_deleting_the_owner_garbage_collects_children(
    kube: KubeClient, namespace: str
) -> None:
    manifest = deployment("gc", replicas=1)
    manifest["metadata"]["namespace"] = namespace
    await kube.apply(manifest)

    async def one_pod() -> list[dict[str, Any]] | None:
        return await pods_of(kube, namespace, "gc") or None

    await eventually(one_pod, timeout=60, what="a pod")
    await kube.delete("apps/v1", "Deployment", "gc", namespace, propagation="Background")

    async def all_gone() -> bool:
        rs = await kube.list("apps/v1", "ReplicaSet", namespace, label_selector="app=gc")
        return not rs and not await pods_of(kube, namespace, "gc")

    await eventually(all_gone, timeout=60, what="ReplicaSet and pods garbage-collected")


async def test_crd_cel_rule_rejects_a_bad_object_with_its_message(
    kube: KubeClient, namespace: str
) -> None:
    group = f"smoke{uuid.uuid4().hex[:8]}.microservice-operator.dev"
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "min": {"type": "integer"},
                                        "max": {"type": "integer"},
                                    },
                                    "x-kubernetes-validations": [
                                        {
                                            "rule": "self.min <= self.max",
                                            "message": "min must not exceed max",
                                        }
                                    ],
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    await kube.apply(crd)
    try:

        async def established() -> bool:
            live = await kube.get(
                "apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"]
            )
            conditions = ((live or {}).get("status") or {}).get("conditions") or []
            return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

        await eventually(established, what="CRD Established")
        widget = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": namespace},
            "spec": {"min": 1, "max": 2},
        }

        async def created() -> dict[str, Any] | None:
            try:
                return await kube.create(widget)
            except ApiError as exc:
                if exc.not_found:  # discovery of the new kind can lag by a moment
                    return None
                raise

        await eventually(created, what="a valid Widget accepted")
        bad = {
            **widget,
            "metadata": {"name": "bad", "namespace": namespace},
            "spec": {"min": 5, "max": 2},
        }
        with pytest.raises(ApiError) as caught:
            await kube.create(bad)
        assert caught.value.status == 422
        assert "min must not exceed max" in caught.value.message
    finally:
        await kube.delete(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"]
        )


@pytest.mark.namespace_labels(RESTRICTED)
async def test_restricted_pod_security_rejects_a_privileged_pod(
    kube: KubeClient, namespace: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": namespace},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/app:1",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    with pytest.raises(ApiError) as caught:
        await kube.create(pod)
    assert caught.value.status == 403
    assert 'violates PodSecurity "restricted' in caught.value.message

    compliant = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ok", "namespace": namespace},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/app:1",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    assert (await kube.create(compliant))["metadata"]["name"] == "ok"


async def test_service_account_without_a_role_is_forbidden(
    kube: KubeClient, namespace: str, cluster: Cluster
) -> None:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "nobody", "namespace": namespace},
    }
    await kube.create(account)
    token_request = await kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/nobody/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 600},
        },
    )
    token = token_request["status"]["token"]
    admin = kube.connection
    as_nobody = Connection(
        server=admin.server, ca_file=admin.ca_file, insecure=admin.insecure, token=token
    )
    async with KubeClient(as_nobody) as client:
        who = await client.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        assert who["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:nobody"
        with pytest.raises(ApiError) as caught:
            await client.list("v1", "Secret", namespace)
        assert caught.value.status == 403
