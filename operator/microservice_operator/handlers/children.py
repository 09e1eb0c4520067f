"""The live children of every MicroService, kept as packed entries straight from the watch.

kopf runs the watch streams of the child kinds (listing in chunks, server-side label
selectors, reconnects, ``410 Gone``); ``kopf_stream`` hands each event to this store
instead of to kopf's per-object machinery. kopf would start a worker per object and
keep a few kilobytes of bookkeeping for each for good: at thousands of services that,
and the full bodies held while a restart lists them, are most of the process's memory.

The store keeps one packed entry (``state.pack``) per child, found by its owner, and
triggers the owner when a child changes. kopf still counts the child kinds as indexed:
it opens its handlers only after each kind's listing is over, and the store has every
listed object by then, so a restart reconciles over complete children (and writes
nothing). Changes seen before that are not triggered: every MicroService gets its own
first event once the listings are over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from microservice_operator.handlers.echoes import Echoes
from microservice_operator.handlers.state import Key, owner_key, pack, unpack

Kind = tuple[str, str]
"""(group, plural) of a child kind, as the watch streams name it."""
Trigger = Callable[[Key], None]


@dataclass(slots=True)
class _Entry:
    kind: Kind
    namespace: str
    owner: Key
    child: tuple[str, str]
    packed: bytes


@dataclass
class ChildStore:
    """Packed children by owner; ``trigger`` is called with an owner whose child changed."""

    trigger: Trigger | None = None
    """Set once the operator handles MicroServices (before that, changes are only stored)."""
    echoes: Echoes = field(default_factory=Echoes)
    """Our own applies: their echo is stored, but triggers nothing."""
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _by_owner: dict[Key, dict[tuple[str, str], bytes]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._entries)

    def children(self, key: Key) -> Iterable[dict[str, Any]]:
        """Every live child of one MicroService."""
        return [unpack(packed) for packed in (self._by_owner.get(key) or {}).values()]

    def put(self, kind: Kind, body: Mapping[str, Any]) -> None:
        """Store (or update) one child; trigger its owner when the entry changed."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        owner = owner_key(body)
        if owner is None:  # not (or no longer) a child of a MicroService
            self.remove(uid)
            return
        packed = pack(body)
        old = self._entries.get(uid)
        if old is not None and old.packed == packed:
            return
        if old is not None and old.owner != owner:
            self.remove(uid)
        child = (str(body.get("kind") or ""), str(meta.get("name") or ""))
        self._entries[uid] = _Entry(kind, str(meta.get("namespace") or ""), owner, child, packed)
        self._by_owner.setdefault(owner, {})[child] = packed
        if not self.echoes.is_echo(body):
            self._changed(owner)

    def remove(self, uid: str) -> None:
        """Forget one child (deleted); trigger its owner."""
        self.echoes.forget(uid)
        old = self._entries.pop(uid, None)
        if old is None:
            return
        siblings = self._by_owner.get(old.owner)
        if siblings is not None:
            siblings.pop(old.child, None)
            if not siblings:
                del self._by_owner[old.owner]
        self._changed(old.owner)

    def listed(self, kind: Kind, namespace: str | None, seen: set[str]) -> None:
        """A listing of ``kind`` (in ``namespace``, or everywhere) is over: forget the unseen."""
        gone = [
            uid
            for uid, entry in self._entries.items()
            if entry.kind == kind
            and (namespace is None or entry.namespace == namespace)
            and uid not in seen
        ]
        for uid in gone:
            self.remove(uid)

    def handle(self, kind: Kind, event_type: str | None, body: Mapping[str, Any]) -> str:
        """Apply one watch event; returns the object's uid."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if event_type == "DELETED":
            self.remove(uid)
        else:
            self.put(kind, body)
        return uid

    def _changed(self, owner: Key) -> None:
        if self.trigger is not None:
            self.trigger(owner)
