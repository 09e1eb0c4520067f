"""Cluster helpers for the benchmark: namespaces, waiting on watches, volumes.

Everything goes through the operator's own async client (plain dicts), with a
User-Agent of its own so the audit log tells benchmark writes from operator writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from hack.bench.prometheus import samples, total

from microservice_operator.kube import ApiError, KubeClient

BENCH_AGENT = "msop-bench/1"
BASELINE_AGENT = "msop-bench-baseline/1"
PV_LABEL = "bench.microservice-operator.dev/pv"

Body = dict[str, Any]


def client(kubeconfig: Path, agent: str = BENCH_AGENT, concurrency: int = 32) -> KubeClient:
    """A client of the benchmark cluster."""
    return KubeClient.connect(str(kubeconfig), user_agent=agent, max_concurrency=concurrency)


async def ensure_namespace(api: KubeClient, name: str) -> None:
    """Create a namespace (waiting out a previous one of the same name that is terminating)."""
    deadline = time.monotonic() + 900
    while True:
        existing = await api.get("v1", "Namespace", name)
        if existing is None:
            break
        if not existing["metadata"].get("deletionTimestamp"):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"namespace {name} still terminating")
        await asyncio.sleep(1)
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    await api.create(body)
    for _ in range(1500):  # pods need the namespace's default ServiceAccount
        if await api.get("v1", "ServiceAccount", "default", name) is not None:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no default ServiceAccount in {name}")


# What a benchmark namespace holds in bulk, swept alongside the namespace controller.
SWEPT = (
    ("v1", "Pod"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
)


async def delete_namespace(api: KubeClient, name: str, give_up: float = 900) -> float:
    """Delete a namespace and wait until it is gone; seconds taken.

    The namespace controller empties a namespace one kind and one object at a time,
    and kwok deletes pods gracefully at about six a second: a namespace of 5,000
    services with databases took 25 minutes to go. So each bulk kind is swept in
    parallel with a delete-collection request every few seconds (grace period 0,
    which spares kwok the pods), until the namespace is gone; what a controller
    recreates meanwhile goes in the next sweep.
    """
    start = time.monotonic()
    await api.delete("v1", "Namespace", name)
    paths = [(await api.resource(v, k)).path(name) for v, k in SWEPT]
    sweeps = [asyncio.create_task(_sweep(api, path)) for path in paths]
    try:
        while await api.get("v1", "Namespace", name) is not None:
            if time.monotonic() - start > give_up:
                raise TimeoutError(f"namespace {name} not gone after {give_up} s")
            await asyncio.sleep(1)
    finally:
        for sweep in sweeps:  # a delete-collection may still be running: drop it
            sweep.cancel()
        await asyncio.gather(*sweeps, return_exceptions=True)
    return time.monotonic() - start


async def _sweep(api: KubeClient, path: str) -> None:
    force = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
    while True:  # until cancelled
        with contextlib.suppress(ApiError, TimeoutError, aiohttp.ClientError):
            await api.request("DELETE", path, body=force)
        await asyncio.sleep(5)


async def wait_for(
    api: KubeClient,
    api_version: str,
    kind: str,
    namespace: str,
    n: int,
    ready: Callable[[Body], bool],
    *,
    give_up: float,
) -> float:
    """Wait until ``n`` objects are ``ready``; the monotonic time that became true.

    One LIST, then a watch: polling with a LIST of every object would cost the API
    server (and this driver) in proportion to N times the time taken, and so weigh
    more on the slower of two measured phases.
    """
    path = (await api.resource(api_version, kind)).path(namespace)
    async with asyncio.timeout(give_up):
        while True:  # a watch that ends or expires (410) starts again from a fresh LIST
            listing = await api.request("GET", path)
            done = {o["metadata"]["name"] for o in listing["items"] if ready(o)}
            if len(done) >= n:
                return time.monotonic()
            events = watch(api, path, listing["metadata"]["resourceVersion"])
            async with contextlib.aclosing(events):
                async for type_, obj in events:
                    if type_ == "ERROR":
                        break
                    if type_ in ("ADDED", "MODIFIED") and ready(obj):
                        done.add(obj["metadata"]["name"])
                        if len(done) >= n:
                            return time.monotonic()
                    elif type_ != "BOOKMARK":
                        done.discard(obj["metadata"]["name"])


def condition_true(body: Body, type_: str) -> bool:
    """True when the object's status has condition ``type_`` = True for its generation."""
    status = body.get("status") or {}
    if status.get("observedGeneration") != body["metadata"].get("generation"):
        return False
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or []
    )


def workload_ready(body: Body) -> bool:
    """A Deployment or StatefulSet whose rollout is complete and every replica ready."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    want = int(spec.get("replicas", 1))
    return (
        status.get("observedGeneration") == body["metadata"].get("generation")
        and int(status.get("readyReplicas") or 0) >= want
        and int(status.get("updatedReplicas") or 0) >= want
    )


def _session(
    api: KubeClient, accept: str, timeout: aiohttp.ClientTimeout = aiohttp.client.DEFAULT_TIMEOUT
) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    """A session of its own to the API server (streams and text), and its headers."""
    conn = api.connection
    headers = {"Accept": accept, "User-Agent": BENCH_AGENT}
    token = conn.bearer_token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connector = aiohttp.TCPConnector(ssl=conn.ssl_context())
    return aiohttp.ClientSession(
        base_url=conn.server, connector=connector, timeout=timeout
    ), headers


async def watch(
    api: KubeClient, path: str, resource_version: str
) -> AsyncGenerator[tuple[str, Body]]:
    """Stream (type, object) from a watch, starting after ``resource_version``."""
    params = {
        "watch": "1",
        "resourceVersion": resource_version,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "3600",
    }
    session, headers = _session(
        api, "application/json", aiohttp.ClientTimeout(total=None, sock_read=None)
    )
    async with session as http, http.get(path, params=params, headers=headers) as response:
        response.raise_for_status()
        async for line in response.content:
            if line.strip():
                event = json.loads(line)
                yield str(event["type"]), event["object"]


async def server_metrics(api: KubeClient) -> str:
    """The API server's /metrics (Prometheus text)."""
    session, headers = _session(api, "text/plain")
    async with session as http, http.get("/metrics", headers=headers) as response:
        response.raise_for_status()
        return await response.text()


def rejections(text: str) -> dict[str, Any]:
    """429 answers so far: all of them, and those priority and fairness gave, by flow schema."""
    by_schema: Counter[str] = Counter()
    for labels, value in samples(text, "apiserver_flowcontrol_rejected_requests_total"):
        by_schema[labels.get("flow_schema", "?")] += int(value)
    return {
        "code_429": int(total(text, "apiserver_request_total", code="429")),
        "by_flow_schema": dict(by_schema),
    }


def concurrency_limits(text: str) -> dict[str, int]:
    """Seats of each priority level (empty: priority and fairness is off)."""
    return {
        labels.get("priority_level", "?"): int(value)
        for labels, value in samples(text, "apiserver_flowcontrol_nominal_limit_seats")
    }


def rejections_since(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The difference of two ``rejections`` readings."""
    schemas = set(before["by_flow_schema"]) | set(after["by_flow_schema"])
    by_schema = {
        s: after["by_flow_schema"].get(s, 0) - before["by_flow_schema"].get(s, 0) for s in schemas
    }
    return {
        "code_429": after["code_429"] - before["code_429"],
        "by_flow_schema": {s: n for s, n in sorted(by_schema.items()) if n},
    }


SERVICE_CIDR = "10.128.0.0/16"


async def ensure_service_cidr(api: KubeClient) -> None:
    """Add a /16 for Services: kwokctl gives a /24 (254 ClusterIPs), N reaches 1000+."""
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "ServiceCIDR",
        "metadata": {"name": "msop-bench"},
        "spec": {"cidrs": [SERVICE_CIDR]},
    }
    try:
        await api.create(body)
    except ApiError as exc:
        if not exc.conflict:
            raise
    for _ in range(100):
        got = await api.get("networking.k8s.io/v1", "ServiceCIDR", "msop-bench")
        conditions = ((got or {}).get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("ServiceCIDR msop-bench not ready")


async def create_volumes(api: KubeClient, namespace: str, claims: list[str], size: str) -> None:
    """Static provisioning: one hostPath PersistentVolume pre-bound to each named claim."""

    async def one(claim: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{namespace}-{claim}", "labels": {PV_LABEL: namespace}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": f"/tmp/msop-bench/{namespace}/{claim}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        }
        try:
            await api.create(body)
        except ApiError as exc:
            if not exc.conflict:
                raise

    await asyncio.gather(*(one(c) for c in claims))


async def delete_volumes(api: KubeClient, namespace: str) -> None:
    """Delete the PersistentVolumes made for ``namespace``."""
    for pv in await api.list("v1", "PersistentVolume", label_selector=f"{PV_LABEL}={namespace}"):
        await api.delete("v1", "PersistentVolume", pv["metadata"]["name"])
