"""The PodDisruptionBudget for voluntary disruptions."""

from __future__ import annotations

from typing import Any

from microservice_operator.builders.common import Manifest, Owner, metadata, selector_labels


def build_disruption_budget(owner: Owner) -> Manifest | None:
    """A PDB, or None when no budget is asked for."""
    budget = owner.spec.disruption_budget
    if budget is None or not budget.enabled:
        return None
    spec: dict[str, Any] = {"selector": {"matchLabels": selector_labels(owner)}}
    if budget.max_unavailable is not None:
        spec["maxUnavailable"] = budget.max_unavailable
    if budget.min_available is not None:
        spec["minAvailable"] = budget.min_available
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(owner),
        "spec": spec,
    }
