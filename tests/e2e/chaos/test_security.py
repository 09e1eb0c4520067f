"""Security checks, run after the other chaos tests (and in the small slice of `make test`).

- No credential value (DB_PASSWORD, the password in DATABASE_URL, an issuer's
  JWT private key, an external server's admin password) appears in the
  operator's logs, in any Event of the test namespaces or in any MicroService
  status.
- Every pod the operator causes passes the ``restricted`` Pod Security Standard:
  in an enforcing namespace the ReplicaSet and the StatefulSet create their pods.
- The RBAC the operator runs with (the chart's, as installed) has no wildcard.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from microservice_operator.kube import KubeClient
from tests.e2e.chaos.conftest import (
    Evidence,
    decoded,
    operator_healthy,
    secret_values,
)
from tests.support.cluster import eventually
from tests.support.identity import ChartIdentity
from tests.support.microservices import condition, microservice, wait_condition
from tests.support.operator import OperatorProcess

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
ADMIN_PASSWORD = "scan-admin-Pa55word-never-logged"


def leaks(credentials: dict[str, str], text: str, where: str) -> list[str]:
    return [
        f"{where} contains the credential of {origin}"
        for value, origin in credentials.items()
        if value in text
    ]


@pytest.mark.timeout(240)
async def test_no_credential_in_operator_logs_events_or_status(
    kube: KubeClient,
    namespace: str,
    operator: OperatorProcess,
    volumes: Any,
    evidence: Evidence,
    figures: dict[str, object],
) -> None:
    # A service of each kind that has secrets: dedicated database, JWT issuer,
    # external database whose server is unreachable (errors get logged and reported).
    await volumes(namespace, ["data-store-db-0"])
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "pg-admin", "namespace": namespace},
            "stringData": {"username": "postgres", "password": ADMIN_PASSWORD},
        }
    )
    await kube.create(microservice("store", namespace, database={"engine": "postgres"}))
    await kube.create(microservice("issuer", namespace, auth={"issuer": True}))
    await kube.create(
        microservice(
            "remote",
            namespace,
            database={
                "engine": "postgres",
                "mode": "external",
                "serverRef": {"host": "127.0.0.1", "port": 1, "adminSecretName": "pg-admin"},
            },
        )
    )
    await wait_condition(kube, namespace, "store", timeout=120)
    await wait_condition(kube, namespace, "issuer", timeout=60)
    remote = await wait_condition(kube, namespace, "remote", "DatabaseReady", "False", timeout=60)
    assert "127.0.0.1:1" in condition(remote, "DatabaseReady")["message"]

    jwt = await kube.get("v1", "Secret", "issuer-jwt", namespace)
    assert jwt is not None and any("PRIVATE KEY" in v for v in decoded(jwt).values())
    for name in ("store-db", "remote-db", "issuer-jwt", "pg-admin"):
        secret = await kube.get("v1", "Secret", name, namespace)
        assert secret is not None, name
        assert secret_values(secret), f"nothing to look for in {name}"
    await evidence.collect(kube, namespace)
    kinds = {
        origin.rsplit("/", 1)[1].rsplit("-", 1)[-1] for origin in evidence.credentials.values()
    }
    assert {"db", "jwt", "admin"} <= kinds, kinds

    found = []
    log_bytes = 0
    for log in operator.logs:
        text = log.read_text(errors="replace")
        log_bytes += len(text)
        found += leaks(evidence.credentials, text, f"operator log {log.name}")
    for event in evidence.events:
        found += leaks(
            evidence.credentials,
            json.dumps({k: event.get(k) for k in ("message", "reason", "note", "involvedObject")}),
            f"Event {event['metadata']['namespace']}/{event['metadata']['name']}",
        )
    for status in evidence.statuses:
        found += leaks(
            evidence.credentials,
            json.dumps(status),
            f"status of {status['namespace']}/{status['name']}",
        )
    figures["chaos: credential scan"] = (
        f"{len(evidence.credentials)} credential values from {len(evidence.namespaces)} namespaces"
        f" searched in {len(operator.logs)} operator logs ({log_bytes // 1024} KiB),"
        f" {len(evidence.events)} Events, {len(evidence.statuses)} MicroService statuses:"
        f" {len(found)} found"
    )
    assert not found, "\n".join(found[:20])
    operator_healthy(operator)


@pytest.mark.namespace_labels(RESTRICTED)
@pytest.mark.timeout(180)
async def test_generated_pods_pass_restricted_pod_security(
    kube: KubeClient, namespace: str, volumes: Any
) -> None:
    await volumes(namespace, ["data-strict-db-0"])
    await kube.create(
        microservice(
            "strict",
            namespace,
            database={"engine": "postgres"},
            autoscaling={"minReplicas": 2, "maxReplicas": 3},
            auth={"issuer": True},
        )
    )
    await wait_condition(kube, namespace, "strict", timeout=120)

    async def pods_of(owner_kind: str) -> list[dict[str, Any]]:
        pods = await kube.list("v1", "Pod", namespace)
        return [
            p
            for p in pods
            if any(r["kind"] == owner_kind for r in p["metadata"].get("ownerReferences") or [])
        ]

    async def all_created() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        app, db = await pods_of("ReplicaSet"), await pods_of("StatefulSet")
        return (app, db) if len(app) == 2 and len(db) == 1 else None

    await eventually(all_created, timeout=60, what="2 ReplicaSet pods and 1 StatefulSet pod")
    events = await kube.list("v1", "Event", namespace)
    failed = [
        f"{e['involvedObject']['name']}: {e['message']}"
        for e in events
        if e["reason"] == "FailedCreate"
    ]
    assert not failed, failed
    violations = [e["message"] for e in events if "violates PodSecurity" in e.get("message", "")]
    assert not violations, violations


async def test_installed_operator_rbac_has_no_wildcard(
    kube: KubeClient, chart_identity: ChartIdentity
) -> None:
    subject = (chart_identity.namespace, chart_identity.service_account)
    rules: list[dict[str, Any]] = []
    bound = 0
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for binding in await kube.list("rbac.authorization.k8s.io/v1", kind):
            subjects = {
                (s.get("namespace"), s.get("name"))
                for s in binding.get("subjects") or []
                if s.get("kind") == "ServiceAccount"
            }
            if subject not in subjects:
                continue
            ref = binding["roleRef"]
            role = await kube.get(
                "rbac.authorization.k8s.io/v1",
                ref["kind"],
                ref["name"],
                None if ref["kind"] == "ClusterRole" else binding["metadata"]["namespace"],
            )
            assert role is not None, f"{kind} {binding['metadata']['name']} -> missing {ref}"
            rules += role.get("rules") or []
            bound += 1
    assert bound >= 1 and rules
    wild = [
        r
        for r in rules
        if any("*" in str(v) for k in ("verbs", "resources", "apiGroups") for v in r.get(k, []))
        or r.get("nonResourceURLs")
    ]
    assert not wild, wild
