"""Kubernetes Events on meaningful transitions only (not one per reconcile), within a budget."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from microservice_operator.kube import ApiError, KubeClient
from microservice_operator.observability import EVENTS_DROPPED

logger = logging.getLogger(__name__)
COMPONENT = "microservice-operator"


class EventBudget:
    """A token bucket for Normal Events: ``burst`` at once, then ``rate`` per second.

    Events are best-effort; the status conditions are the record. When thousands of
    services are created (or become Ready) together, one Event each would add a write
    per service to the API server's busiest minute, so Normal Events beyond the
    budget are dropped and counted (``microservice_operator_events_dropped_total``).
    Warnings are always posted: they are rare, and they are what people look for.
    """

    def __init__(
        self, rate: float = 2.0, burst: int = 50, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


BUDGET = EventBudget()


def _condition(status: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def transitions(
    previous: dict[str, Any] | None, current: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events a status change deserves."""
    out: list[tuple[str, str, str]] = []
    old_ready, new_ready = _condition(previous, "Ready"), _condition(current, "Ready")
    old_stalled, new_stalled = _condition(previous, "Stalled"), _condition(current, "Stalled")
    if new_stalled.get("status") == "True" and (
        old_stalled.get("status") != "True"
        or old_stalled.get("message") != new_stalled.get("message")
    ):
        out.append(
            ("Warning", new_stalled.get("reason", "Stalled"), new_stalled.get("message", ""))
        )
    if new_ready.get("status") == "True" and old_ready.get("status") != "True":
        out.append(("Normal", "Ready", new_ready.get("message", "")))
    elif old_ready.get("status") == "True" and new_ready.get("status") != "True":
        out.append(("Normal", "NotReady", new_ready.get("message", "")))
    return out


async def post_event_quietly(
    state: Any, body: dict[str, Any], type_: str, reason: str, message: str
) -> None:
    """Post one Event; never raise (the namespace may be going away)."""
    try:
        await post_event(state.client, body, type_, reason, message)
    except ApiError as exc:
        logger.debug("could not post event %s: %s", reason, exc)


async def announce_transitions(
    client: KubeClient,
    body: dict[str, Any],
    previous: dict[str, Any] | None,
    current: dict[str, Any],
    budget: EventBudget = BUDGET,
) -> None:
    """Post an Event for each transition; failures to post are logged, never raised."""
    for type_, reason, message in transitions(previous, current):
        if type_ == "Normal" and not budget.take():
            EVENTS_DROPPED.labels(reason).inc()
            continue
        try:
            await post_event(client, body, type_, reason, message)
        except ApiError as exc:
            terminating = exc.status == 403 and "being terminated" in exc.message
            log = logger.debug if terminating or exc.not_found else logger.warning
            log("could not post event %s: %s", reason, exc)


async def post_event(
    client: KubeClient, body: dict[str, Any], type_: str, reason: str, message: str
) -> None:
    """Post one core/v1 Event about a MicroService."""
    meta = body["metadata"]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{uuid.uuid4().hex[:12]}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "action": "Reconcile",
            "firstTimestamp": stamp[:19] + "Z",
            "lastTimestamp": stamp[:19] + "Z",
            "eventTime": stamp,
            "count": 1,
        }
    )
