"""Relations between MicroServices: dependsOn and the JWT issuer.

One declaration drives three things: discovery (``<NAME>_URL``,
``JWT_ISSUER``, ``JWKS_URL``), network access (NetworkPolicies that let a
service reach exactly its dependencies, issuer, database and DNS, and be
reached only by the services that depend on it) and readiness
(``DependenciesReady``). The graph is resolved by the reconciler; everything
here is pure.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from microservice_operator.api.v1alpha1 import DatabaseMode
from microservice_operator.builders.common import (
    SERVICE_PORT,
    Manifest,
    Owner,
    metadata,
    selector_labels,
)
from microservice_operator.builders.database import (
    DATABASE_OF,
    DB_COMPONENT,
    ENGINES,
    server_name,
)

JWT_KEY_FILE = "/var/run/secrets/microservice-operator/jwt/private.pem"
JWT_KEY_KEY = "private.pem"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
POLICY_SWITCH = "microservice-operator.dev/network-policies"
OPERATOR_PODS = {
    "namespaceSelector": {},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "microservice-operator"}},
}
"""The operator's own pods (the Helm chart's selector label), in any namespace."""


@dataclass(frozen=True)
class Peer:
    """Another MicroService as seen from this one."""

    name: str
    namespace: str
    exists: bool = False
    ready: bool = False
    container_port: int | None = None
    service_port: int = SERVICE_PORT

    @property
    def url(self) -> str:
        """In-cluster base URL."""
        return f"http://{self.name}.{self.namespace}.svc:{self.service_port}"


@dataclass(frozen=True)
class Relations:
    """The resolved neighbourhood of one MicroService."""

    dependencies: list[Peer] = field(default_factory=list)
    issuer: Peer | None = None
    dependents: list[Peer] = field(default_factory=list)
    """Services that depend on this one or trust it as their issuer (may connect to it)."""
    cycle: list[str] | None = None
    policies_enabled: bool = True


def env_name(service: str) -> str:
    """`products` -> `PRODUCTS_URL`, `order-history` -> `ORDER_HISTORY_URL`."""
    return service.upper().replace("-", "_").replace(".", "_") + "_URL"


def jwt_secret_name(owner: Owner) -> str:
    """Secret with the issuer's generated signing key."""
    return f"{owner.name}-jwt"


def relation_env(owner: Owner, relations: Relations) -> list[dict[str, Any]]:
    """Env for discovery and JWT wiring."""
    env = [{"name": env_name(dep.name), "value": dep.url} for dep in relations.dependencies]
    auth = owner.spec.auth
    if auth is not None and auth.issuer:
        own = Peer(owner.name, owner.namespace)
        env += [
            {"name": "JWT_ISSUER", "value": own.url},
            {"name": "JWT_PRIVATE_KEY_FILE", "value": JWT_KEY_FILE},
        ]
    elif relations.issuer is not None:
        env += [
            {"name": "JWT_ISSUER", "value": relations.issuer.url},
            {"name": "JWKS_URL", "value": f"{relations.issuer.url}/.well-known/jwks.json"},
        ]
    return env


def issuer_volume(owner: Owner) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts) carrying the issuer's signing key, or nothing."""
    if owner.spec.auth is None or not owner.spec.auth.issuer:
        return [], []
    volume = {
        "name": "jwt-key",
        "secret": {
            "secretName": jwt_secret_name(owner),
            "defaultMode": 0o400,
            "items": [{"key": JWT_KEY_KEY, "path": JWT_KEY_KEY}],
        },
    }
    mount = {"name": "jwt-key", "mountPath": JWT_KEY_FILE.rsplit("/", 1)[0], "readOnly": True}
    return [volume], [mount]


def _pods_of(peer: Peer) -> dict[str, Any]:
    return {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": peer.name,
                "app.kubernetes.io/managed-by": "microservice-operator",
            }
        },
        "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: peer.namespace}},
    }


def _tcp(port: int | None) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port}] if port else [{"protocol": "TCP"}]


def _dns_rule() -> dict[str, Any]:
    return {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def _database_egress(owner: Owner) -> list[dict[str, Any]]:
    database = owner.spec.database
    if database is None:
        return []
    port = ENGINES[database.engine].port
    if database.mode is DatabaseMode.DEDICATED:
        peer = {"podSelector": {"matchLabels": {DATABASE_OF: owner.name}}}
        return [{"to": [peer], "ports": _tcp(port)}]
    if database.mode is DatabaseMode.CLOUDNATIVEPG:
        peer = {"podSelector": {"matchLabels": {"cnpg.io/cluster": server_name(owner)}}}
        return [{"to": [peer], "ports": _tcp(port)}]
    ref = database.server_ref
    target_port = (ref.port if ref else None) or port
    try:
        block = ipaddress.ip_network(ref.host if ref else "", strict=False)
    except ValueError:  # a DNS name: any address, that port only
        return [{"ports": _tcp(target_port)}]
    return [{"to": [{"ipBlock": {"cidr": str(block)}}], "ports": _tcp(target_port)}]


def _policy_spec(
    selector: dict[str, Any], ingress: list[dict[str, Any]], egress: list[dict[str, Any]]
) -> dict[str, Any]:
    """Both directions isolated; empty rule lists are left out (the API server drops them)."""
    spec: dict[str, Any] = {"podSelector": selector, "policyTypes": ["Ingress", "Egress"]}
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return spec


def build_network_policies(owner: Owner, relations: Relations) -> list[Manifest]:
    """The service's own policy, and its dedicated database's."""
    if not relations.policies_enabled:
        return []
    spec = owner.spec
    extra = spec.network_policy
    ingress: list[dict[str, Any]] = []
    if relations.dependents:
        ingress.append(
            {"from": [_pods_of(p) for p in relations.dependents], "ports": _tcp(spec.port)}
        )
    if extra and extra.ingress and extra.ingress.namespaces:
        peers = [
            {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: ns}}}
            for ns in extra.ingress.namespaces
        ]
        ingress.append({"from": peers, "ports": _tcp(spec.port)})
    if extra and extra.ingress and extra.ingress.cidrs:
        ingress.append(
            {
                "from": [{"ipBlock": {"cidr": c}} for c in extra.ingress.cidrs],
                "ports": _tcp(spec.port),
            }
        )
    egress: list[dict[str, Any]] = [_dns_rule()]
    for peer in [*relations.dependencies, *([relations.issuer] if relations.issuer else [])]:
        egress.append({"to": [_pods_of(peer)], "ports": _tcp(peer.container_port)})
    egress += _database_egress(owner)
    if extra and extra.egress:
        if extra.egress.namespaces:
            egress.append(
                {
                    "to": [
                        {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: ns}}}
                        for ns in extra.egress.namespaces
                    ]
                }
            )
        if extra.egress.cidrs:
            rule: dict[str, Any] = {"to": [{"ipBlock": {"cidr": c}} for c in extra.egress.cidrs]}
            if extra.egress.ports:
                rule["ports"] = [p for port in extra.egress.ports for p in _tcp(port)]
            egress.append(rule)
    policies = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(owner),
            "spec": _policy_spec({"matchLabels": selector_labels(owner)}, ingress, egress),
        }
    ]
    if spec.database is not None and spec.database.mode is DatabaseMode.DEDICATED:
        port = ENGINES[spec.database.engine].port
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": metadata(owner, server_name(owner), DB_COMPONENT),
                "spec": _policy_spec(
                    {"matchLabels": {DATABASE_OF: owner.name}},
                    [
                        {
                            "from": [
                                {"podSelector": {"matchLabels": selector_labels(owner)}},
                                OPERATOR_PODS,  # credential rotation connects from the operator
                            ],
                            "ports": _tcp(port),
                        }
                    ],
                    [],
                ),
            }
        )
    return policies


def find_cycle(
    start: tuple[str, str], edges: dict[tuple[str, str], list[tuple[str, str]]]
) -> list[str] | None:
    """A dependency cycle through ``start`` as names (``a → b → a``), or None."""
    path: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def visit(node: tuple[str, str]) -> list[str] | None:
        if node == start and path:
            return [n for _, n in [*path, start]]
        if node in seen:
            return None
        seen.add(node)
        path.append(node)
        for nxt in edges.get(node, []):
            found = visit(nxt)
            if found:
                return found
        path.pop()
        return None

    return visit(start)
