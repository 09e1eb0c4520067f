"""Resolve a MicroService's neighbourhood from the indexes; the issuer's signing key."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from microservice_operator.builders import Owner
from microservice_operator.builders.common import labels, owner_reference
from microservice_operator.builders.relations import (
    JWT_KEY_KEY,
    POLICY_SWITCH,
    Peer,
    Relations,
    find_cycle,
    jwt_secret_name,
)
from microservice_operator.builders.status import Gate, Problem
from microservice_operator.handlers.state import Key, State
from microservice_operator.kube import ApiError

logger = logging.getLogger(__name__)
DEPENDENTS_INDEX = "dependents_index"
NAMESPACE_TTL = 30.0


def references(body: dict[str, Any]) -> list[Key]:
    """(namespace, name) of every dependency and the issuer named by a MicroService body."""
    meta = body.get("metadata", {})
    namespace = meta.get("namespace", "")
    spec = body.get("spec") or {}
    out = [
        (d.get("namespace") or namespace, d["name"])
        for d in spec.get("dependsOn") or []
        if d.get("name")
    ]
    ref = (spec.get("auth") or {}).get("issuerRef")
    if ref and ref.get("name"):
        out.append((ref.get("namespace") or namespace, ref["name"]))
    return out


def _is_ready(body: dict[str, Any] | None) -> bool:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _peer(state: State, key: Key, service_port: int | None = None) -> Peer:
    body = state.microservice(key)
    port = int(((body or {}).get("spec") or {}).get("port") or 8000)
    return Peer(
        key[1],
        key[0],
        exists=body is not None,
        ready=_is_ready(body),
        container_port=port,
        service_port=service_port or 80,
    )


def _edges(state: State, start: Key) -> dict[Key, list[Key]]:
    edges: dict[Key, list[Key]] = {}
    todo = [start]
    while todo:
        node = todo.pop()
        if node in edges:
            continue
        body = state.microservice(node)
        spec = (body or {}).get("spec") or {}
        deps = [(d.get("namespace") or node[0], d["name"]) for d in spec.get("dependsOn") or []]
        edges[node] = deps
        todo.extend(deps)
    return edges


async def _policies_enabled(state: State, owner: Owner) -> bool:
    if owner.spec.network_policy is not None and not owner.spec.network_policy.enabled:
        return False
    cached = state.namespace_switches.get(owner.namespace)
    if cached is None or time.monotonic() - cached[0] > NAMESPACE_TTL:
        ns = await state.client.get("v1", "Namespace", owner.namespace)
        value = ((ns or {}).get("metadata", {}).get("labels") or {}).get(POLICY_SWITCH, "")
        cached = (time.monotonic(), value != "disabled")
        state.namespace_switches[owner.namespace] = cached
    return cached[1]


async def resolve(state: State, owner: Owner) -> Relations:
    """Dependencies, issuer, dependents and any dependsOn cycle of ``owner``."""
    key = (owner.namespace, owner.name)
    deps = [
        _peer(state, (d.namespace or owner.namespace, d.name), d.port)
        for d in owner.spec.depends_on or []
    ]
    issuer = None
    auth = owner.spec.auth
    if auth is not None and auth.issuer_ref is not None:
        issuer = _peer(state, (auth.issuer_ref.namespace or owner.namespace, auth.issuer_ref.name))
    store = state.indexes.get(DEPENDENTS_INDEX, {}).get(key) or []
    dependents = sorted({(ns, name) for ns, name in store})
    cycle = find_cycle(key, _edges(state, key)) if owner.spec.depends_on else None
    return Relations(
        dependencies=deps,
        issuer=issuer,
        dependents=[_peer(state, k) for k in dependents],
        cycle=cycle,
        policies_enabled=await _policies_enabled(state, owner),
    )


def cycle_problem(relations: Relations) -> Problem | None:
    """Stalled: a dependsOn cycle can never become Ready."""
    if not relations.cycle:
        return None
    return Problem("DependencyCycle", "dependsOn forms a cycle: " + " → ".join(relations.cycle))


def dependencies_gate(owner: Owner, relations: Relations) -> Gate | None:
    """DependenciesReady, when the service has dependencies or an issuer."""
    peers = [*relations.dependencies, *([relations.issuer] if relations.issuer else [])]
    if not peers:
        return None
    missing = [f"{p.name} (not found)" for p in peers if not p.exists]
    waiting = [f"{p.name} (not Ready)" for p in peers if p.exists and not p.ready]
    if missing or waiting:
        reason = "DependencyMissing" if missing else "DependencyNotReady"
        return Gate(False, reason, "waiting for " + ", ".join(missing + waiting))
    return Gate(
        True, "DependenciesReady", "all dependencies are Ready: " + ", ".join(p.name for p in peers)
    )


def new_signing_key() -> str:
    """A fresh RSA-2048 private key, PEM (PKCS#8)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


async def ensure_signing_key(state: State, owner: Owner, live: dict[tuple[str, str], Any]) -> None:
    """Create the issuer's key Secret once; an existing key is never replaced."""
    if owner.spec.auth is None or not owner.spec.auth.issuer:
        return
    name = jwt_secret_name(owner)
    if ("Secret", name) in live:
        return
    if await state.client.get("v1", "Secret", name, owner.namespace) is not None:
        return
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": owner.namespace,
            "labels": labels(owner, "jwt-issuer"),
            "ownerReferences": [owner_reference(owner)],
        },
        "type": "Opaque",
        "stringData": {JWT_KEY_KEY: new_signing_key()},
    }
    try:
        await state.client.create(secret)
        logger.info("created JWT signing key Secret %s/%s", owner.namespace, name)
    except ApiError as exc:
        if not exc.conflict:
            raise


def neighbours(body: dict[str, Any], dependents: Iterable[Key]) -> set[Key]:
    """Keys whose reconcile depends on this MicroService: its references and its dependents."""
    return {*references(body), *dependents}
