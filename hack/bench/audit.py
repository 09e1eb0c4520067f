"""The operator's writes, from the API server's audit log (every write at Metadata level)."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPERATOR_AGENTS = ("microservice-operator/", "kopf/")
"""User-Agent prefixes of the operator's requests (its own client and kopf's)."""
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
Mark = tuple[int, int, float]
"""(inode, offset, wall time) of the audit log when counting started."""
EXCLUDED_RESOURCES = frozenset({"leases"})
"""Leader-election Lease renewals are not reconcile writes (and are off by default)."""


@dataclass
class AuditLog:
    """The audit log of one local cluster."""

    path: Path

    def mark(self) -> Mark:
        """A position to count from: (inode, offset) of the current file, and the time."""
        if not self.path.exists():
            return (0, 0, time.time())
        stat = self.path.stat()
        return (stat.st_ino, stat.st_size, time.time())

    def _files(self, since: Mark) -> list[tuple[Path, int]]:
        """The file current at ``since`` (from its offset) and every file rotated in after it.

        The API server renames the full log (audit-<time>.log) and starts a new one.
        """
        inode, offset, when = since  # a rotated file keeps its inode under its new name
        out = []
        for path in sorted(self.path.parent.glob("audit*.log"), key=lambda p: p.stat().st_mtime):
            stat = path.stat()
            if stat.st_ino == inode:
                out.append((path, offset))
            elif stat.st_mtime >= when:  # rotated in (or created) after the mark
                out.append((path, 0))
        return out

    def writes(
        self, since: Mark, agents: tuple[str, ...] = OPERATOR_AGENTS
    ) -> list[dict[str, Any]]:
        """Completed write requests by ``agents`` logged after ``since`` (leases excluded)."""
        out = []
        for path, offset in self._files(since):
            out += self._read(path, offset, agents)
        return out

    @staticmethod
    def _read(path: Path, offset: int, agents: tuple[str, ...]) -> list[dict[str, Any]]:
        out = []
        with path.open("rb") as handle:
            handle.seek(offset)
            for raw in handle:
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if event.get("stage") != "ResponseComplete":
                    continue
                if event.get("verb") not in WRITE_VERBS:
                    continue
                if not str(event.get("userAgent", "")).startswith(agents):
                    continue
                ref = event.get("objectRef") or {}
                if ref.get("resource") in EXCLUDED_RESOURCES:
                    continue
                out.append(event)
        return out

    @staticmethod
    def by_kind(events: list[dict[str, Any]]) -> dict[str, int]:
        """Counts by "verb resource[/subresource]"."""
        counts: Counter[str] = Counter()
        for event in events:
            ref = event.get("objectRef") or {}
            sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
            counts[f"{event['verb']} {ref.get('resource')}{sub}"] += 1
        return dict(sorted(counts.items()))
