"""A NetworkPolicy evaluator: which pod may open a connection to which pod and port.

Implements the Kubernetes semantics the operator relies on: a pod is
isolated in a direction once any policy selecting it lists that direction in
policyTypes; a connection needs the source's egress and the destination's
ingress to allow it; a peer with only a podSelector means the policy's own
namespace; rules without ``to``/``from`` match every peer; rules without
``ports`` match every port. ipBlock peers never match pods here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NAMESPACE_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: dict[str, Any], policy_ns: str, pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False
    ns_selector = peer.get("namespaceSelector")
    pod_selector = peer.get("podSelector")
    if ns_selector is None:
        in_namespace = pod.namespace == policy_ns
    else:
        in_namespace = _matches(ns_selector, {NAMESPACE_LABEL: pod.namespace})
    return in_namespace and (pod_selector is None or _matches(pod_selector, pod.labels))


def _port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(
        p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports
    )


def _direction_allows(
    policies: list[dict[str, Any]],
    subject: Pod,
    other: Pod,
    port: int,
    protocol: str,
    direction: str,
) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and _matches(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                _peer_matches(peer, policy["metadata"]["namespace"], other) for peer in peers
            )
            if peer_ok and _port_matches(rule, port, protocol):
                return True
    return False


def allowed(
    policies: list[dict[str, Any]], src: Pod, dst: Pod, port: int, protocol: str = "TCP"
) -> bool:
    """True when ``src`` may connect to ``dst`` on ``port``."""
    return _direction_allows(policies, src, dst, port, protocol, "Egress") and _direction_allows(
        policies, dst, src, port, protocol, "Ingress"
    )
