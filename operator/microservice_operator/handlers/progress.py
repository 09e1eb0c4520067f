"""Rollout progress held back while the operator is saturated.

Every status write is a write to a custom resource, one of the dearer requests an
API server serves (its schema, validation and managed fields: about three times a
ServiceAccount's apply, measured on the benchmark's cluster). Under a burst (every
worker busy, more services waiting), a new service would get two: "rolling out"
right after its children are applied, then "Ready" when the Deployment is. The
first tells nothing that cannot wait: the Deployment's next change triggers
another pass anyway. So while the work queue is saturated, a status whose news is
only that a rollout is under way is held, for at most ``HOLD_MAX`` seconds from
the first pass that held it (the pass that falls due then goes ahead of new work
in the queue); Ready, Stalled, a database or a dependency waited for, and
anything outside a burst, are written at once.

A held MicroService keeps its previous status, whose ``observedGeneration`` is
behind its ``generation``: kstatus, ``kubectl wait`` and Argo CD read that as in
progress, which it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from microservice_operator.builders.status import rolling_out

Key = tuple[str, str]
"""(namespace, name) of a MicroService."""

HOLD_MAX = 30.0
"""Seconds a rollout's progress may go unreported while the operator is saturated."""


_clock = time.monotonic


def _never() -> bool:
    return False


@dataclass
class ProgressHold:
    """Which MicroServices' progress is being held, since when, and for which generation."""

    saturated: Callable[[], bool] = _never
    """Whether the work queue has more services waiting than workers (set at start-up)."""
    _since: dict[Key, tuple[int, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._since)

    def hold(self, key: Key, generation: int, status: dict[str, Any]) -> float | None:
        """Seconds until this status must be written at the latest, or None: write it now."""
        if not rolling_out(status):
            self.release(key)
            return None
        now = _clock()
        since = self._since.get(key)
        if since is None or since[0] != generation:
            if not self.saturated():
                return None
            since = self._since[key] = (generation, now)
        left = HOLD_MAX - (now - since[1])
        if left <= 0 or not self.saturated():
            self.release(key)
            return None
        return left

    def release(self, key: Key) -> None:
        """Its status is written (or it is gone): nothing held any more."""
        self._since.pop(key, None)
