"""Pure builders: typed MicroService -> child manifests. No kopf, no client.

``build_children`` is the whole desired state of one MicroService; kinds it
may omit (autoscaler, budget) are listed in ``OPTIONAL_KINDS`` so the
reconciler can prune them when they are switched off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from microservice_operator.builders.autoscaler import build_autoscaler
from microservice_operator.builders.common import Manifest, Owner, selector_string, service_url
from microservice_operator.builders.deployment import autoscaling_enabled, build_deployment
from microservice_operator.builders.disruption import build_disruption_budget
from microservice_operator.builders.service import build_service
from microservice_operator.builders.serviceaccount import build_service_account

CHILD_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "ServiceAccount"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Secret"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("v1", "ConfigMap"),
)
"""Kinds the operator creates and watches (server-side label selector)."""

PRUNABLE_KINDS = frozenset(
    {
        "ServiceAccount",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "StatefulSet",
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    }
)
"""Kinds deleted when no longer wanted. Never Secrets or database clusters: they hold data."""


@dataclass(frozen=True)
class Injection:
    """What other parts (database, relations) add to the workload."""

    env: list[dict[str, Any]] = field(default_factory=list)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    children: list[Manifest] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = field(default_factory=list)
    deployment: bool = True
    """False holds the first rollout back (waiting for dependencies)."""


def build_children(owner: Owner, injection: Injection | None = None) -> list[Manifest]:
    """Every child the MicroService should have, in apply order."""
    extra = injection or Injection()
    children = [build_service_account(owner), build_service(owner), *extra.children]
    if extra.deployment:
        children.append(
            build_deployment(
                owner, extra.env, extra.pod_annotations, extra.volumes, extra.volume_mounts
            )
        )
    for optional in (build_autoscaler(owner), build_disruption_budget(owner)):
        if optional is not None:
            children.append(optional)
    return children


__all__ = [
    "CHILD_KINDS",
    "PRUNABLE_KINDS",
    "Injection",
    "Manifest",
    "Owner",
    "autoscaling_enabled",
    "build_children",
    "selector_string",
    "service_url",
]
