"""Count the operator's writes from the API server's audit log.

The local control plane logs every mutating request at Metadata level
(hack/cluster.sh). A write is any create, update, patch or delete, including
no-op server-side applies and status patches.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.support.operator import OPERATOR_AGENTS

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass
class AuditLog:
    path: Path

    def mark(self) -> int:
        """A position to count from (the log's current size)."""
        return self.path.stat().st_size if self.path.exists() else 0

    def operator_writes(self, since: int, namespace: str | None = None) -> list[dict[str, object]]:
        """Operator write requests logged after ``since``, optionally in one namespace."""
        events = []
        with self.path.open("rb") as handle:
            handle.seek(since)
            for raw in handle:
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if event.get("stage") != "ResponseComplete" or event.get("verb") not in WRITE_VERBS:
                    continue
                if not str(event.get("userAgent", "")).startswith(OPERATOR_AGENTS):
                    continue
                ref = event.get("objectRef") or {}
                if namespace is not None and ref.get("namespace") != namespace:
                    continue
                events.append(event)
        return events

    @staticmethod
    def summary(events: list[dict[str, object]]) -> Counter[str]:
        out: Counter[str] = Counter()
        for event in events:
            ref = event.get("objectRef") or {}
            assert isinstance(ref, dict)
            sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
            out[f"{event['verb']} {ref.get('resource')}{sub} {ref.get('name')}"] += 1
        return out
