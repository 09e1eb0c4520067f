"""What is applied: the MicroServices, and the direct-apply lower bound of their children.

The baseline builds the very manifests the operator builds (the pure builders,
stamped with the same hash annotation), in the same order per service, with
the same field manager and the same concurrency bounds as the operator (64
services at a time, 32 requests in flight), but without an operator: no
watches, no status writes, no no-op detection.
"""

from __future__ import annotations

import asyncio
import importlib
import secrets
from typing import Any

from microservice_operator.api.v1alpha1 import API_VERSION, KIND, DatabaseEngine, DatabaseMode
from microservice_operator.builders import Injection, Owner, build_children
from microservice_operator.builders.compare import stamped
from microservice_operator.builders.database import (
    CHECKSUM_ANNOTATION,
    ENGINES,
    Credentials,
    build_credentials_secret,
    build_database_service,
    build_database_statefulset,
    credentials_checksum,
    database_env,
    dedicated_host,
    identifier,
    secret_data,
    server_name,
)
from microservice_operator.kube import KubeClient

IMAGE = "registry.example/bench/svc:1.0.0"
SERVICE_CONCURRENCY = 64
"""Services reconciled at once by the operator's work queue (handlers/queue.py)."""

Body = dict[str, Any]


def names(n: int) -> list[str]:
    """Service names svc-00000 … (sorted like their numbers)."""
    return [f"svc-{i:05d}" for i in range(n)]


def microservice(name: str, namespace: str, *, database: bool) -> Body:
    """The MicroService the benchmark applies: an image, and optionally a dedicated PostgreSQL."""
    spec: dict[str, Any] = {"image": IMAGE, "port": 8000}
    if database:
        spec["database"] = {"engine": "postgres"}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def claim_name(name: str) -> str:
    """The PVC the dedicated database's StatefulSet asks for."""
    return f"data-{name}-db-0"


def network_policies(owner: Owner) -> list[Body]:
    """The default NetworkPolicies of a service with no neighbours (when the operator has them)."""
    try:
        relations = importlib.import_module("microservice_operator.builders.relations")
    except ImportError:
        return []
    policies: list[Body] = relations.build_network_policies(owner, relations.Relations())
    return policies


def children(body: Body) -> tuple[Body | None, list[Body]]:
    """(credentials Secret or None, stamped children in apply order) as the operator builds.

    Mirrors handlers/reconcile.py: database children, then NetworkPolicies, go between
    the Service and the Deployment.
    """
    owner = Owner.from_body(body)
    database = owner.spec.database
    if database is None:
        injection = Injection(children=network_policies(owner))
        return None, [stamped(m) for m in build_children(owner, injection)]
    assert database.mode is DatabaseMode.DEDICATED
    engine = ENGINES[database.engine]
    ident = identifier(owner)
    creds = Credentials(dedicated_host(owner), engine.port, ident, ident, secrets.token_urlsafe(24))
    data = secret_data(DatabaseEngine(database.engine), creds, database.mode)
    injection = Injection(
        env=database_env(owner),
        pod_annotations={CHECKSUM_ANNOTATION: credentials_checksum(data)},
        children=[
            build_database_statefulset(owner),
            build_database_service(owner),
            *network_policies(owner),
        ],
    )
    secret = build_credentials_secret(owner, creds)
    return secret, [stamped(m) for m in build_children(owner, injection)]


async def create_microservices(
    api: KubeClient, namespace: str, n: int, *, database: bool
) -> list[Body]:
    """POST n MicroServices (the bench client's own concurrency bound); the created bodies."""
    return list(
        await asyncio.gather(
            *(api.create(microservice(m, namespace, database=database)) for m in names(n))
        )
    )


async def direct_apply(
    bench: KubeClient, baseline: KubeClient, namespace: str, n: int, *, database: bool
) -> None:
    """The lower bound: create each MicroService, then apply its children directly."""
    slots = asyncio.Semaphore(SERVICE_CONCURRENCY)

    async def one(name: str) -> None:
        body = await bench.create(microservice(name, namespace, database=database))
        async with slots:
            secret, manifests = children(body)
            if secret is not None:
                await baseline.create(secret)  # the operator POSTs the Secret once, too
            for manifest in manifests:
                await baseline.apply(manifest)

    await asyncio.gather(*(one(m) for m in names(n)))


def database_server(name: str) -> str:
    """The dedicated server's StatefulSet name."""
    return server_name(Owner.from_body(microservice(name, "x", database=True)))
