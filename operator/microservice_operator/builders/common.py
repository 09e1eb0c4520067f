"""What every child shares: names, labels, owner references."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from microservice_operator.api import v1alpha1

MANAGED_BY = "microservice-operator"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_COMPONENT = "app.kubernetes.io/component"
ANNOTATION_PREFIX = "microservice-operator.dev"
SERVICE_PORT = 80

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """The MicroService a child belongs to: identity plus typed spec."""

    name: str
    namespace: str
    uid: str
    spec: v1alpha1.MicroServiceSpec
    labels: dict[str, str]
    generation: int = 0
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Owner:
        """Parse a MicroService body (raises pydantic.ValidationError on a bad spec)."""
        meta = body.get("metadata", {})
        return cls(
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta.get("uid", ""),
            spec=v1alpha1.MicroServiceSpec.model_validate(body.get("spec") or {}),
            labels=dict(meta.get("labels") or {}),
            generation=int(meta.get("generation") or 0),
            annotations=dict(meta.get("annotations") or {}),
        )


def selector_labels(owner: Owner) -> dict[str, str]:
    """Labels that select the service's pods; stable for the object's lifetime."""
    return {LABEL_NAME: owner.name, LABEL_MANAGED_BY: MANAGED_BY}


def selector_string(owner: Owner) -> str:
    """The pod selector as a string (status.selector, for the scale subresource)."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector_labels(owner).items()))


def labels(owner: Owner, component: str | None = None) -> dict[str, str]:
    """Labels on every child."""
    out = selector_labels(owner)
    part_of = owner.labels.get(LABEL_PART_OF)
    if part_of:
        out[LABEL_PART_OF] = part_of
    if component:
        out[LABEL_COMPONENT] = component
    return out


def owner_reference(owner: Owner) -> dict[str, Any]:
    """A controller owner reference: children are garbage-collected with the MicroService."""
    return {
        "apiVersion": v1alpha1.API_VERSION,
        "kind": v1alpha1.KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(owner: Owner, name: str | None = None, component: str | None = None) -> dict[str, Any]:
    """Standard child metadata."""
    return {
        "name": name or owner.name,
        "namespace": owner.namespace,
        "labels": labels(owner, component),
        "ownerReferences": [owner_reference(owner)],
    }


def service_url(owner: Owner) -> str:
    """The in-cluster URL of the service."""
    return f"http://{owner.name}.{owner.namespace}.svc:{SERVICE_PORT}"
