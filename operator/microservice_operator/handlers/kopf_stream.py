"""Lighter watch streams for kopf 1.45: what kopf holds per object, cut as events arrive.

When the operator starts, kopf lists every watched object, starts a worker for each
and holds its raw event until every index is filled (see ``kopf_fixes``): thousands
of full bodies alive at once, interleaved on the heap with the bookkeeping kopf
keeps per object for good, so that the memory they free afterwards stays with the
process. Two cuts, made in each stream before kopf sees an event:

- every object loses the API server's ``managedFields`` and a client-side apply's
  copy of the whole object (an annotation): no handler reads them;
- the events of the operator's child kinds go to a sink (``children.ChildStore``)
  instead of to kopf: kopf runs those streams (chunked listing, server-side label
  selectors, reconnects, ``410 Gone``) and sees only the end of each listing, which
  still opens its handlers only once every child kind is listed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Any, Protocol

from kopf._cogs.clients import watching

from microservice_operator.handlers.kopf_fixes import KOPF_VERSION, PATCHED_KOPF

DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

_original = watching.continuous_watch


class Sink(Protocol):
    """Where the events of the sunk kinds go."""

    def handle(self, kind: tuple[str, str], event_type: str | None, body: Any) -> str:
        """Apply one event; return the object's uid."""
        ...

    def listed(self, kind: tuple[str, str], namespace: str | None, seen: set[str]) -> None:
        """A listing is over; ``seen`` holds the uids it had."""
        ...


_sunk_kinds: set[tuple[str, str]] = set()
sink: Sink | None = None
"""Set by the operator at start-up, before kopf starts its watch streams."""


def slim(raw_event: Any) -> Any:
    """Drop ``managedFields`` and a client-side apply's annotation from an event's object."""
    if not isinstance(raw_event, dict):
        return raw_event  # kopf's own bookmarks
    meta = (raw_event.get("object") or {}).get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if annotations:
            for name in DROPPED_ANNOTATIONS:
                annotations.pop(name, None)
    return raw_event


async def continuous_watch(**kwargs: Any) -> AsyncIterator[Any]:
    """One listing and watch of kopf's; events slimmed, or sent to the sink for sunk kinds."""
    resource = kwargs.get("resource")
    kind = (resource.group, resource.plural) if resource is not None else ("", "")
    target = sink if kind in _sunk_kinds else None
    seen: set[str] = set()
    event: Any
    async for event in _original(**kwargs):
        raw_event: Any = event
        if target is None or not isinstance(raw_event, dict):
            if event is watching.Bookmark.LISTED and target is not None:
                target.listed(kind, kwargs.get("namespace"), seen)
                seen.clear()
            yield slim(raw_event)
            continue
        event_type = raw_event.get("type")
        if event_type in ("BOOKMARK", "ERROR"):
            continue  # kopf has tracked the resource version already
        uid = target.handle(kind, event_type, slim(raw_event)["object"])
        if event_type is None:
            seen.add(uid)


def apply(sunk_kinds: Collection[tuple[str, str]] = ()) -> bool:
    """Route kopf's watch streams through the cuts, for the kopf releases they fit.

    Events of ``sunk_kinds`` ((group, plural) pairs) go to ``sink`` once it is set.
    """
    if not KOPF_VERSION.startswith(PATCHED_KOPF):
        return False
    _sunk_kinds.clear()
    _sunk_kinds.update(sunk_kinds)
    watching.continuous_watch = continuous_watch
    return True
