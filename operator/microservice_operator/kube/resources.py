"""Kinds the operator talks to, and how their REST paths are formed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    """One API resource: group/version, plural and scope."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        """The API group ('' for the core group)."""
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection or object path, e.g. ``/apis/apps/v1/namespaces/ns/deployments/x``."""
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [root]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name:
            parts.append(quote(name, safe=""))
        return "/".join(parts)


KNOWN: dict[tuple[str, str], Resource] = {
    (r.api_version, r.kind): r
    for r in (
        Resource("v1", "Namespace", "namespaces", namespaced=False),
        Resource("v1", "Node", "nodes", namespaced=False),
        Resource("v1", "Pod", "pods"),
        Resource("v1", "Service", "services"),
        Resource("v1", "ServiceAccount", "serviceaccounts"),
        Resource("v1", "Secret", "secrets"),
        Resource("v1", "ConfigMap", "configmaps"),
        Resource("v1", "Event", "events"),
        Resource("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
        Resource("apps/v1", "Deployment", "deployments"),
        Resource("apps/v1", "ReplicaSet", "replicasets"),
        Resource("apps/v1", "StatefulSet", "statefulsets"),
        Resource("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        Resource("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        Resource("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
        Resource("coordination.k8s.io/v1", "Lease", "leases"),
        Resource("events.k8s.io/v1", "Event", "events"),
        Resource("rbac.authorization.k8s.io/v1", "Role", "roles"),
        Resource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
        Resource("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
        Resource(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            namespaced=False,
        ),
        Resource(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            namespaced=False,
        ),
        Resource("microservice-operator.dev/v1alpha1", "MicroService", "microservices"),
        Resource("postgresql.cnpg.io/v1", "Cluster", "clusters"),
        Resource("monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors"),
        Resource("monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules"),
        Resource("postgresql.cnpg.io/v1", "Database", "databases"),
    )
}


def crd_established(crd: Mapping[str, Any] | None) -> bool:
    """A CRD exists, is not being deleted and is Established (its resource is served)."""
    if not crd or (crd.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
