"""Kubernetes Events on meaningful transitions only (not one per reconcile)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from microservice_operator.kube import ApiError, KubeClient

logger = logging.getLogger(__name__)
COMPONENT = "microservice-operator"


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
) -> None:
    """Post an Event for each transition; failures to post are logged, never raised."""
    for type_, reason, message in transitions(previous, current):
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
