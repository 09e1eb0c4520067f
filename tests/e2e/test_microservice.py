"""The operator process against a real API server: create, change, scale, delete, repair."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from microservice_operator.kube import ApiError, KubeClient
from tests.support.cluster import Cluster, eventually
from tests.support.microservices import (
    API_VERSION,
    condition,
    get_ms,
    microservice,
    wait_condition,
)
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.usefixtures("operator")
MANAGED = "app.kubernetes.io/managed-by=microservice-operator"


async def children(kube: KubeClient, namespace: str) -> dict[str, dict[str, Any]]:
    out = {}
    for api_version, kind in (
        ("v1", "ServiceAccount"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
    ):
        for item in await kube.list(api_version, kind, namespace, label_selector=MANAGED):
            out[f"{kind}/{item['metadata']['name']}"] = item
    return out


async def test_create_becomes_ready_with_every_child_correct(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(
        microservice("web", namespace, replicas=2, disruptionBudget={"maxUnavailable": 1})
    )
    body = await wait_condition(kube, namespace, "web")
    status = body["status"]
    assert status["readyReplicas"] == 2
    assert status["url"] == f"http://web.{namespace}.svc:80"
    assert (
        status["selector"]
        == "app.kubernetes.io/managed-by=microservice-operator,app.kubernetes.io/name=web"
    )
    assert condition(body, "Reconciling")["status"] == "False"
    assert condition(body, "Stalled")["status"] == "False"

    kids = await children(kube, namespace)
    assert set(kids) == {
        "ServiceAccount/web",
        "Service/web",
        "Deployment/web",
        "PodDisruptionBudget/web",
    }
    for child in kids.values():
        ref = child["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "MicroService",
            "web",
            body["metadata"]["uid"],
            True,
        )
    pod = kids["Deployment/web"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert kids["Service/web"]["spec"]["ports"][0]["port"] == 80
    assert kids["PodDisruptionBudget/web"]["spec"]["maxUnavailable"] == 1
    pods = await kube.list("v1", "Pod", namespace, label_selector="app.kubernetes.io/name=web")
    assert len(pods) == 2 and all(p["spec"]["nodeName"] for p in pods)


async def test_kubectl_wait_for_ready_works(
    kube: KubeClient, namespace: str, cluster: Cluster
) -> None:
    await kube.create(microservice("waited", namespace))
    out = cluster.kubectl(
        "-n", namespace, "wait", "--for=condition=Ready", "ms/waited", "--timeout=60s"
    )
    assert "condition met" in out
    table = cluster.kubectl("-n", namespace, "get", "msvc", "waited")
    assert "READY" in table and "True" in table and "http://waited." in table


async def test_image_change_rolls_out_and_status_follows(kube: KubeClient, namespace: str) -> None:
    await kube.create(microservice("roll", namespace, replicas=2))
    await wait_condition(kube, namespace, "roll")
    await kube.patch_merge(
        API_VERSION,
        "MicroService",
        "roll",
        namespace,
        {"spec": {"image": "registry.example/shop/app:2.0.0"}},
    )
    body = await wait_condition(kube, namespace, "roll")
    assert body["status"]["image"] == "registry.example/shop/app:2.0.0"
    deployment = await kube.get("apps/v1", "Deployment", "roll", namespace)
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2.0.0")


async def test_kubectl_scale_uses_the_scale_subresource(
    kube: KubeClient, namespace: str, cluster: Cluster
) -> None:
    await kube.create(microservice("scaled", namespace, replicas=1))
    await wait_condition(kube, namespace, "scaled")
    cluster.kubectl("-n", namespace, "scale", "ms/scaled", "--replicas=3")
    body = await wait_condition(kube, namespace, "scaled")

    async def three_ready() -> dict[str, Any] | None:
        live = await get_ms(kube, namespace, "scaled")
        return live if live and live["status"].get("readyReplicas") == 3 else None

    body = await eventually(three_ready, timeout=60, what="3 ready replicas")
    assert body["spec"]["replicas"] == 3
    scale = await kube.request(
        "GET", f"/apis/{API_VERSION}/namespaces/{namespace}/microservices/scaled/scale"
    )
    assert scale["status"]["replicas"] == 3
    assert scale["status"]["selector"].startswith("app.kubernetes.io/managed-by")


async def test_autoscaling_creates_an_hpa_and_switching_it_off_prunes_it(
    kube: KubeClient, namespace: str
) -> None:
    autoscaling = {"minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 70}
    await kube.create(microservice("auto", namespace, replicas=1, autoscaling=autoscaling))

    async def hpa() -> dict[str, Any] | None:
        return await kube.get("autoscaling/v2", "HorizontalPodAutoscaler", "auto", namespace)

    found = await eventually(hpa, what="HPA")
    assert (found["spec"]["minReplicas"], found["spec"]["maxReplicas"]) == (2, 6)
    assert found["spec"]["scaleTargetRef"]["name"] == "auto"
    deployment = await kube.get("apps/v1", "Deployment", "auto", namespace)
    assert deployment is not None
    managers = {m["manager"]: m for m in deployment["metadata"]["managedFields"]}
    assert "f:replicas" not in str(managers["microservice-operator"]["fieldsV1"].get("f:spec", {}))

    await kube.patch_merge(
        API_VERSION, "MicroService", "auto", namespace, {"spec": {"autoscaling": None}}
    )

    async def hpa_gone() -> bool:
        return await hpa() is None

    await eventually(hpa_gone, what="HPA pruned")
    await wait_condition(kube, namespace, "auto")
    deployment = await kube.get("apps/v1", "Deployment", "auto", namespace)
    assert deployment is not None and deployment["spec"]["replicas"] == 1


async def test_delete_garbage_collects_children(kube: KubeClient, namespace: str) -> None:
    await kube.create(microservice("gone", namespace))
    await wait_condition(kube, namespace, "gone")
    await kube.delete(API_VERSION, "MicroService", "gone", namespace)

    async def nothing_left() -> bool:
        return not await children(kube, namespace)

    await eventually(nothing_left, timeout=60, what="children garbage-collected")


async def test_deleted_or_edited_child_is_restored_quickly(
    kube: KubeClient, namespace: str, figures: dict[str, object]
) -> None:
    await kube.create(microservice("heal", namespace, replicas=2))
    await wait_condition(kube, namespace, "heal")
    timings = []
    for kind, api_version in (
        ("Deployment", "apps/v1"),
        ("Service", "v1"),
        ("ServiceAccount", "v1"),
    ):
        old = await kube.get(api_version, kind, "heal", namespace)
        assert old is not None
        start = time.monotonic()
        await kube.delete(api_version, kind, "heal", namespace)

        async def restored(
            api_version: str = api_version, kind: str = kind, uid: str = old["metadata"]["uid"]
        ) -> bool:
            live = await kube.get(api_version, kind, "heal", namespace)
            return live is not None and live["metadata"]["uid"] != uid

        await eventually(restored, timeout=10, interval=0.02, what=f"{kind} restored")
        timings.append(time.monotonic() - start)
    figures["drift repair (delete Deployment, Service, ServiceAccount), seconds"] = [
        round(t, 3) for t in timings
    ]
    assert max(timings) < 2.0, timings

    await kube.patch_merge("apps/v1", "Deployment", "heal", namespace, {"spec": {"replicas": 5}})

    async def reverted() -> bool:
        live = await kube.get("apps/v1", "Deployment", "heal", namespace)
        return live is not None and live["spec"]["replicas"] == 2

    await eventually(reverted, timeout=10, what="edited replicas reverted")
    await wait_condition(kube, namespace, "heal")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "minReplicas must not exceed"),
        ({"port": 70000}, "spec.port"),
        ({"image": ""}, "spec.image"),
        ({"disruptionBudget": {"maxUnavailable": 1, "minAvailable": 1}}, "exactly one of"),
        ({"replicas": "two"}, "spec.replicas"),
        (
            {"database": {"engine": "mongodb", "mode": "cloudnativepg"}},
            "needs database.engine postgres",
        ),
        ({"database": {"engine": "postgres", "mode": "external"}}, "serverRef is required"),
        (
            {"env": [{"name": "MODE", "value": "a"}, {"name": "MODE", "value": "b"}]},
            "spec.env[1]: Duplicate value",
        ),
    ],
)
async def test_invalid_spec_is_rejected_by_the_api_server(
    kube: KubeClient, namespace: str, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await kube.create(microservice("bad", namespace, **spec))
    assert caught.value.status == 422
    assert message in caught.value.message


async def test_name_too_long_for_children_is_rejected(kube: KubeClient, namespace: str) -> None:
    with pytest.raises(ApiError) as caught:
        await kube.create(microservice("a" * 53, namespace))
    assert "at most 52 characters" in caught.value.message


async def test_database_engine_is_immutable(kube: KubeClient, namespace: str) -> None:
    await kube.create(microservice("db", namespace, database={"engine": "postgres"}))
    with pytest.raises(ApiError) as caught:
        await kube.patch_merge(
            API_VERSION,
            "MicroService",
            "db",
            namespace,
            {"spec": {"database": {"engine": "mongodb"}}},
        )
    assert "database.engine is immutable" in caught.value.message


async def test_a_foreign_object_in_the_way_is_stalled_not_taken_over(
    kube: KubeClient, namespace: str
) -> None:
    foreign = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "taken", "namespace": namespace},
        "spec": {"ports": [{"port": 1234}], "selector": {"app": "someone-else"}},
    }
    await kube.create(foreign)
    await kube.create(microservice("taken", namespace))
    body = await wait_condition(kube, namespace, "taken", "Stalled", "True")
    stalled = condition(body, "Stalled")
    assert stalled["reason"] == "ChildConflict"
    assert (
        "Service taken already exists and is not managed by this MicroService" in stalled["message"]
    )
    assert condition(body, "Ready")["status"] == "False"
    service = await kube.get("v1", "Service", "taken", namespace)
    assert service is not None and service["spec"]["ports"][0]["port"] == 1234  # untouched

    await kube.delete("v1", "Service", "taken", namespace)
    body = await wait_condition(kube, namespace, "taken", timeout=60)
    assert condition(body, "Stalled")["status"] == "False"

    async def both_events() -> bool:  # Events are posted right after the status write
        events = await kube.list("v1", "Event", namespace)
        reasons = {e["reason"] for e in events if e["involvedObject"]["name"] == "taken"}
        return {"ChildConflict", "Ready"} <= reasons

    await eventually(both_events, timeout=10, what="ChildConflict and Ready Events")


async def test_bad_quantity_is_rejected_by_cel(kube: KubeClient, namespace: str) -> None:
    with pytest.raises(ApiError) as caught:
        await kube.create(microservice("qty", namespace, resources={"requests": {"cpu": "lots"}}))
    assert caught.value.status == 422
    assert "must be a Kubernetes quantity" in caught.value.message


async def test_no_change_means_zero_writes(
    kube: KubeClient, namespace: str, audit: Any, figures: dict[str, object]
) -> None:
    mark = audit.mark()
    await kube.create(microservice("calm", namespace, replicas=2))
    await wait_condition(kube, namespace, "calm")
    await asyncio.sleep(2)
    created = audit.operator_writes(mark, namespace)
    figures["operator writes to create one MicroService"] = (
        f"{len(created)} {dict(audit.summary(created))}"
    )
    assert 3 <= len(created) <= 10

    mark = audit.mark()
    # A metadata-only change triggers a full reconcile that must find nothing to do.
    await kube.patch_merge(
        API_VERSION,
        "MicroService",
        "calm",
        namespace,
        {"metadata": {"annotations": {"touched": "yes"}}},
    )
    await asyncio.sleep(3)
    writes = audit.operator_writes(mark, namespace)
    assert writes == [], audit.summary(writes)


async def test_operator_restart_over_converged_objects_makes_zero_writes(
    kube: KubeClient, namespace: str, audit: Any, operator: OperatorProcess
) -> None:
    for name in ("r1", "r2", "r3"):
        await kube.create(microservice(name, namespace, autoscaling={"maxReplicas": 3}))
    for name in ("r1", "r2", "r3"):
        await wait_condition(kube, namespace, name)
    await asyncio.sleep(2)
    mark = audit.mark()
    operator.restart()
    await asyncio.sleep(5)
    writes = audit.operator_writes(mark, namespace)
    assert writes == [], audit.summary(writes)
