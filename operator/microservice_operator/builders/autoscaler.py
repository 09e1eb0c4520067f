"""The HorizontalPodAutoscaler (autoscaling/v2) on CPU and memory."""

from __future__ import annotations

from typing import Any

from microservice_operator.builders.common import Manifest, Owner, metadata


def build_autoscaler(owner: Owner) -> Manifest | None:
    """An HPA targeting the Deployment, or None when autoscaling is off."""
    scaling = owner.spec.autoscaling
    if scaling is None or not scaling.enabled:
        return None
    metrics: list[dict[str, Any]] = []
    for resource, target in (
        ("cpu", scaling.target_cpu_utilization_percentage),
        ("memory", scaling.target_memory_utilization_percentage),
    ):
        if target is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": resource,
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(owner),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": owner.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": metrics,
        },
    }
