"""MicroService status from what is observed: pure, so it is unit-tested.

Conditions follow metav1.Condition and kstatus: ``Reconciling=True`` means
in progress, ``Stalled=True`` means failed, ``Ready=True`` means current.
A condition's ``lastTransitionTime`` only moves when its status changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microservice_operator.builders.common import Owner, selector_string, service_url

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
DATABASE_READY = "DatabaseReady"
DEPENDENCIES_READY = "DependenciesReady"


@dataclass(frozen=True)
class Problem:
    """Why the operator cannot make progress (becomes Stalled=True)."""

    reason: str
    message: str


@dataclass(frozen=True)
class Gate:
    """Something Ready waits for, reported as its own condition."""

    ready: bool
    reason: str
    message: str


@dataclass(frozen=True)
class DatabaseState:
    """Whether the service's database is usable (becomes DatabaseReady and status.database)."""

    ready: bool
    reason: str
    message: str
    secret_name: str | None
    host: str | None

    def status(self) -> dict[str, Any]:
        """The ``status.database`` object (never a credential)."""
        out: dict[str, Any] = {"ready": self.ready}
        if self.secret_name:
            out["secretName"] = self.secret_name
        if self.host:
            out["host"] = self.host
        return out


@dataclass(frozen=True)
class Rollout:
    """The Deployment's progress, read from its status."""

    desired: int
    replicas: int
    ready: int
    updated: int
    available: int
    observed: bool
    image: str | None

    @classmethod
    def from_deployment(cls, deployment: dict[str, Any] | None) -> Rollout | None:
        """Read a live Deployment (None when it does not exist yet)."""
        if deployment is None:
            return None
        spec = deployment.get("spec", {})
        status = deployment.get("status", {})
        containers = spec.get("template", {}).get("spec", {}).get("containers", [])
        return cls(
            desired=int(spec.get("replicas", 1)),
            replicas=int(status.get("replicas", 0)),
            ready=int(status.get("readyReplicas", 0)),
            updated=int(status.get("updatedReplicas", 0)),
            available=int(status.get("availableReplicas", 0)),
            observed=status.get("observedGeneration", -1)
            >= deployment.get("metadata", {}).get("generation", 0),
            image=containers[0].get("image") if containers else None,
        )

    @property
    def complete(self) -> bool:
        """All pods updated and available, no old pods left."""
        return (
            self.observed
            and self.updated >= self.desired
            and self.replicas == self.updated
            and self.available >= self.desired
        )


def condition(
    type_: str, status: bool | None, reason: str, message: str, generation: int
) -> dict[str, Any]:
    """A condition without its transition time (filled in by ``merge_conditions``)."""
    return {
        "type": type_,
        "status": "Unknown" if status is None else ("True" if status else "False"),
        "observedGeneration": generation,
        "reason": reason,
        "message": message,
    }


def merge_conditions(
    previous: list[dict[str, Any]] | None, new: list[dict[str, Any]], now: str
) -> list[dict[str, Any]]:
    """Keep each condition's lastTransitionTime unless its status changed."""
    before = {c.get("type"): c for c in previous or []}
    merged = []
    for cond in new:
        old = before.get(cond["type"])
        keep = (
            old is not None
            and old.get("status") == cond["status"]
            and old.get("lastTransitionTime")
        )
        merged.append(
            {**cond, "lastTransitionTime": old["lastTransitionTime"] if keep and old else now}
        )
    return merged


def build_status(
    owner: Owner,
    deployment: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    now: str,
    problem: Problem | None = None,
    database: DatabaseState | None = None,
    dependencies: Gate | None = None,
    informational: dict[str, Gate] | None = None,
) -> dict[str, Any]:
    """The full status object for ``owner``."""
    generation = owner.generation
    rollout = Rollout.from_deployment(deployment)
    waiting_for_db = database is not None and not database.ready
    if problem is not None:
        conditions = [
            condition(READY, False, problem.reason, problem.message, generation),
            condition(
                RECONCILING, False, problem.reason, "the operator cannot make progress", generation
            ),
            condition(STALLED, True, problem.reason, problem.message, generation),
        ]
    elif dependencies is not None and not dependencies.ready:
        message = f"dependencies not ready: {dependencies.message}"
        conditions = [
            condition(READY, False, "DependenciesNotReady", message, generation),
            condition(RECONCILING, True, "DependenciesNotReady", message, generation),
            condition(STALLED, False, "Progressing", "", generation),
        ]
    elif rollout is None:
        conditions = [
            condition(READY, False, "Creating", "creating the Deployment", generation),
            condition(RECONCILING, True, "Creating", "creating the Deployment", generation),
            condition(STALLED, False, "Progressing", "", generation),
        ]
    elif not rollout.complete:
        message = (
            f"rollout in progress: {rollout.updated}/{rollout.desired} updated,"
            f" {rollout.available}/{rollout.desired} available"
        )
        conditions = [
            condition(READY, False, "RollingOut", message, generation),
            condition(RECONCILING, True, "RollingOut", message, generation),
            condition(STALLED, False, "Progressing", "", generation),
        ]
    elif waiting_for_db and database is not None:
        message = f"database not ready: {database.message}"
        conditions = [
            condition(READY, False, "DatabaseNotReady", message, generation),
            condition(RECONCILING, True, "DatabaseNotReady", message, generation),
            condition(STALLED, False, "Progressing", "", generation),
        ]
    else:
        reason, message = (
            ("ScaledToZero", "scaled to zero replicas")
            if rollout.desired == 0
            else ("Available", f"{rollout.ready}/{rollout.desired} replicas ready")
        )
        conditions = [
            condition(READY, True, reason, message, generation),
            condition(RECONCILING, False, "Reconciled", "", generation),
            condition(STALLED, False, "Reconciled", "", generation),
        ]
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "selector": selector_string(owner),
        "url": service_url(owner),
        "replicas": rollout.replicas if rollout else 0,
        "readyReplicas": rollout.ready if rollout else 0,
    }
    if rollout and rollout.image:
        status["image"] = rollout.image
    if dependencies is not None:
        conditions.append(
            condition(
                DEPENDENCIES_READY,
                dependencies.ready,
                dependencies.reason,
                dependencies.message,
                generation,
            )
        )
    for type_, info in (informational or {}).items():  # reported, never gating Ready
        conditions.append(condition(type_, info.ready, info.reason, info.message, generation))
    if database is not None:
        status["database"] = database.status()
        conditions.append(
            condition(DATABASE_READY, database.ready, database.reason, database.message, generation)
        )
    status["conditions"] = merge_conditions((previous or {}).get("conditions"), conditions, now)
    return status


ROLLING_OUT = frozenset({"Creating", "RollingOut"})
"""Reasons of a Reconciling condition that only wait for the Deployment to move."""


def rolling_out(status: dict[str, Any]) -> bool:
    """Whether ``status`` reports nothing but a rollout under way (no problem, no wait)."""
    return any(
        c.get("type") == RECONCILING
        and c.get("status") == "True"
        and c.get("reason") in ROLLING_OUT
        for c in status.get("conditions") or []
    )


def invalid_spec_status(
    name: str,
    namespace: str,
    generation: int,
    previous: dict[str, Any] | None,
    now: str,
    message: str,
) -> dict[str, Any]:
    """Status for a spec the operator cannot parse (schema passed, semantics did not)."""
    conditions = [
        condition(READY, False, "InvalidSpec", message, generation),
        condition(
            RECONCILING, False, "InvalidSpec", "the operator cannot make progress", generation
        ),
        condition(STALLED, True, "InvalidSpec", message, generation),
    ]
    return {
        **{
            k: v
            for k, v in (previous or {}).items()
            if k not in ("conditions", "observedGeneration")
        },
        "observedGeneration": generation,
        "conditions": merge_conditions((previous or {}).get("conditions"), conditions, now),
    }


def is_ready(status: dict[str, Any] | None) -> bool | None:
    """The Ready condition's status (None when absent or Unknown)."""
    for cond in (status or {}).get("conditions", []):
        if cond.get("type") == READY:
            return {"True": True, "False": False}.get(cond.get("status", ""))
    return None
