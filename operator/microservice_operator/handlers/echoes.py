"""Our own writes, coming back on the watch: no reason to reconcile again.

Every write of a reconcile (a child's apply, the MicroService's status) comes back
as a watch event a moment later. The pass that wrote it already used what the API
server answered (the applied Deployment for readiness, the written status), so that
event alone brings nothing new, yet each one used to trigger a full pass that found
nothing to do: on a burst of creations, several no-op passes per service.

An echo is recognised exactly: the event's object has the very resourceVersion the
API server gave our write. Any other change, before or after, has another version
and triggers as usual. A write whose version never comes back (the object was
deleted, or a relisting skipped it) is forgotten after ``FORGET_AFTER`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORGET_AFTER = 120.0
"""Seconds an expected echo is kept."""
SWEEP_EVERY = 1024
"""Expectations added between two sweeps of the forgotten ones."""


def _identity(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")


@dataclass
class Echoes:
    """The resourceVersion of our last write to each object (by uid), until it is seen."""

    _expected: dict[str, tuple[str, float]] = field(default_factory=dict)
    _added: int = 0

    def __len__(self) -> int:
        return len(self._expected)

    def expect(self, written: Mapping[str, Any]) -> None:
        """The API server's answer to one of our writes: its echo needs no reconcile."""
        uid, version = _identity(written)
        if not uid or not version:
            return
        now = time.monotonic()
        self._expected[uid] = (version, now)
        self._added += 1
        if self._added >= SWEEP_EVERY:
            self._added = 0
            self._expected = {k: v for k, v in self._expected.items() if now - v[1] <= FORGET_AFTER}

    def is_echo(self, body: Mapping[str, Any]) -> bool:
        """Whether this watched object is exactly what our last write to it returned."""
        uid, version = _identity(body)
        expected = self._expected.get(uid)
        if expected is None:
            return False
        if expected[0] == version:
            del self._expected[uid]
            return True
        return False

    def forget(self, uid: str) -> None:
        """The object is gone."""
        self._expected.pop(uid, None)
