"""CRDs installed while the operator runs: a mend to kopf 1.45's discovery, and a signal.

kopf re-reads the API's discovery for a group on every event of a CRD in it, and
watches what discovery lists. The API server adds an Established CRD to discovery
asynchronously, a moment after the CRD's last event; when kopf's re-read wins
that race, kopf never learns the resource is served, no further event of the CRD
comes, and the resource is never watched (for this operator: a CloudNativePG
Cluster's readiness would go unseen until a restart).

The mend re-reads discovery, with growing pauses, until an Established CRD that
one of the operator's handlers selects is listed, then lets kopf revise its
watches. It also tells listeners whether each CRD is now served, so the operator
can reconcile the MicroServices waiting for it at once instead of at their next
recheck.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from kopf._cogs.clients import scanning
from kopf._cogs.structs import references
from kopf._core.intents import registries
from kopf._core.reactor import observation

from microservice_operator.handlers.kopf_fixes import KOPF_VERSION, PATCHED_KOPF
from microservice_operator.kube.resources import crd_established

logger = logging.getLogger(__name__)

DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
"""Pauses between discovery re-reads for an Established CRD that is not listed yet (15.7 s)."""

Listener = Callable[[str, bool], None]
"""Called with a CRD's name and whether its resource is now served."""

_listeners: list[Listener] = []
_original = observation.process_discovered_resource_event


def listen(listener: Listener) -> None:
    """Call ``listener`` after every change kopf sees to a CRD (not the initial listing)."""
    if listener not in _listeners:
        _listeners.append(listener)


def unlisten(listener: Listener) -> None:
    """Stop calling ``listener``."""
    if listener in _listeners:
        _listeners.remove(listener)


def is_listed(resources: Iterable[references.Resource], crd: Mapping[str, Any]) -> bool:
    """Discovery lists the CRD's resource at one of its served versions."""
    spec = crd.get("spec") or {}
    plural = (spec.get("names") or {}).get("plural")
    versions = {v.get("name") for v in spec.get("versions") or [] if v.get("served", True)}
    return any(
        r.group == spec.get("group") and r.plural == plural and r.version in versions
        for r in resources
    )


def is_selected(selectors: Iterable[references.Selector], crd: Mapping[str, Any]) -> bool:
    """One of the operator's handlers asks for the CRD's resource."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    known = {names.get("plural"), names.get("kind"), names.get("singular")}
    known |= set(names.get("shortNames") or [])
    return any(
        s.group == spec.get("group") and (s.plural in known or s.any_name in known)
        for s in selectors
    )


def _selectors(registry: registries.OperatorRegistry) -> Collection[references.Selector]:
    return (
        registry._indexing.get_all_selectors()
        | registry._watching.get_all_selectors()
        | registry._spawning.get_all_selectors()
        | registry._changing.get_all_selectors()
    )


def _known(insights: references.Insights) -> set[references.Resource]:
    return insights.watched_resources | insights.indexed_resources


async def _until_listed(
    crd: Mapping[str, Any],
    *,
    settings: Any,
    registry: registries.OperatorRegistry,
    insights: references.Insights,
) -> bool:
    group = crd["spec"]["group"]
    for delay in DELAYS:
        await asyncio.sleep(delay)
        resources = await scanning.scan_resources(groups={group}, settings=settings, logger=logger)
        if is_listed(resources, crd):
            async with insights.revised:
                observation.revise_resources(
                    resources=resources, insights=insights, registry=registry, group=group
                )
                await insights.backbone.fill(resources=resources)
                insights.revised.notify_all()
            logger.info("discovery lists %s after a re-read", crd["metadata"]["name"])
            return True
    logger.warning(
        "CRD %s is Established but discovery does not list it after %.0f s",
        crd["metadata"]["name"],
        sum(DELAYS),
    )
    return False


async def process_discovered_resource_event(
    *,
    raw_event: Any,
    settings: Any,
    registry: registries.OperatorRegistry,
    insights: references.Insights,
    **rest: Any,
) -> None:
    """Handle a CRD event as kopf does, then re-read discovery if needed and signal."""
    await _original(
        raw_event=raw_event, settings=settings, registry=registry, insights=insights, **rest
    )
    if raw_event["type"] is None:  # the initial listing: kopf's first scan covered it
        return
    crd = raw_event["object"]
    served = raw_event["type"] != "DELETED" and crd_established(crd)
    if served and is_selected(_selectors(registry), crd) and not is_listed(_known(insights), crd):
        served = await _until_listed(crd, settings=settings, registry=registry, insights=insights)
    for listener in list(_listeners):
        listener(crd["metadata"]["name"], served)


def apply() -> bool:
    """Route kopf's CRD events through the mend, for the kopf releases it was written for."""
    if not KOPF_VERSION.startswith(PATCHED_KOPF):
        return False
    observation.process_discovered_resource_event = process_discovered_resource_event
    return True
