"""What the operator knows: kopf indexes of MicroServices and their children.

kopf fills every index from the initial LIST before any handler runs, so the
first reconcile after a (re)start already sees every live child and can
prove that nothing needs writing. Bodies are trimmed to what the reconciler
compares, which keeps memory flat at thousands of objects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from microservice_operator.api import v1alpha1
from microservice_operator.builders import CHILD_KINDS
from microservice_operator.builders.common import (
    ANNOTATION_PREFIX,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    MANAGED_BY,
)
from microservice_operator.handlers.echoes import Echoes
from microservice_operator.handlers.progress import ProgressHold
from microservice_operator.kube import KubeClient
from microservice_operator.kube.resources import crd_established

if TYPE_CHECKING:
    from microservice_operator.handlers.children import ChildStore

Key = tuple[str, str]
"""(namespace, name) of a MicroService."""

_KEEP_META = (
    "finalizers",
    "name",
    "namespace",
    "uid",
    "generation",
    "resourceVersion",
    "labels",
    "ownerReferences",
    "deletionTimestamp",
)


def trim(body: Mapping[str, Any]) -> dict[str, Any]:
    """A light copy of a body: identity, labels, our hash annotation, spec and status."""
    meta = body.get("metadata", {})
    out_meta = {k: meta[k] for k in _KEEP_META if k in meta}
    ours = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(ANNOTATION_PREFIX)
    }
    if ours:
        out_meta["annotations"] = ours
    out: dict[str, Any] = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": out_meta,
    }
    for key in ("spec", "status", "automountServiceAccountToken", "data"):
        if key in body:
            out[key] = _plain(body[key])
    return out


def pack(body: Mapping[str, Any]) -> bytes:
    """An index entry: the trimmed body as compact JSON.

    About a sixth of the memory of the same body as Python objects (a Deployment:
    2.2 KiB against 13.4 KiB), which is what lets thousands of services fit; an entry
    is unpacked only when its MicroService is reconciled (about 20 µs).
    """
    return json.dumps(trim(body), separators=(",", ":")).encode()


def unpack(entry: bytes) -> dict[str, Any]:
    """The body an index entry was packed from."""
    body: dict[str, Any] = json.loads(entry)
    return body


def _plain(value: Any) -> Any:
    """Deep-copy kopf's mapping views into plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _version(body: Mapping[str, Any]) -> int:
    try:
        return int(body.get("metadata", {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def owner_key(body: Mapping[str, Any]) -> Key | None:
    """The MicroService of a child: its controller owner reference, else its labels.

    Children kept after deletion on purpose (credentials with Retain) have no
    owner reference; their ``app.kubernetes.io/name`` label still names it.
    """
    meta = body.get("metadata", {})
    labels = meta.get("labels") or {}
    refs = meta.get("ownerReferences") or []
    if not refs and labels.get(LABEL_MANAGED_BY) == MANAGED_BY and labels.get(LABEL_NAME):
        name = labels[LABEL_NAME]
        # a database server's own labels name it "<ms>-db"; the owner is in the Secret's labels
        return (meta.get("namespace", ""), name)
    for ref in refs:
        if (
            ref.get("controller")
            and ref.get("kind") == v1alpha1.KIND
            and ref.get("apiVersion", "").startswith(v1alpha1.GROUP + "/")
        ):
            return (meta.get("namespace", ""), ref["name"])
    return None


def child_index_id(api_version: str, kind: str) -> str:
    """Kopf handler id of the index for one child kind."""
    return f"children_{api_version.replace('/', '_').replace('.', '_')}_{kind.lower()}"


MICROSERVICE_INDEX = "microservices_index"
REMEMBER_SECONDS = 5.0
"""How long an apply's answer may stand in for a child the watch has not delivered yet."""


@dataclass
class State:
    """Shared by all handlers of one operator process (kept in kopf's memo)."""

    client: KubeClient
    indexes: Mapping[str, Any] = field(default_factory=dict)
    store: ChildStore | None = None
    """Live children straight from the watch (``kopf_stream``); else kopf's child indexes."""
    db_provisioned: dict[Key, str] = field(default_factory=dict)
    """External databases provisioned by this process, by credentials fingerprint."""
    namespace_switches: dict[str, tuple[float, bool]] = field(default_factory=dict)
    """Per namespace: when its network-policy label was read, and whether policies are on."""
    last_references: dict[Key, set[Key]] = field(default_factory=dict)
    """What each MicroService referenced when last seen (to update former dependencies)."""
    statuses: dict[Key, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    """Statuses as we wrote them (resourceVersion, status), until the watch catches up."""
    applied: dict[Key, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    """Children as returned by our last apply, until the watch catches up."""
    crds_seen: dict[tuple[str, ...], tuple[float, bool]] = field(default_factory=dict)
    """Optional CRDs: when each set was last looked up, and whether all were served."""
    crds_served: dict[str, bool] = field(default_factory=dict)
    """Optional CRDs: whether each was served at its last change seen by the watch."""
    echoes: Echoes = field(default_factory=Echoes)
    """Our own writes: their watch events need no reconcile (shared with ``store``)."""
    progress: ProgressHold = field(default_factory=ProgressHold)
    """Rollout progress held back while the work queue is saturated."""

    def microservice(self, key: Key) -> dict[str, Any] | None:
        """The latest MicroService body, or None when it is gone."""
        store = self.indexes[MICROSERVICE_INDEX].get(key)
        entry = next(iter(store), None) if store else None
        return unpack(entry) if entry is not None else None

    def remember_applied(self, key: Key, body: Mapping[str, Any]) -> None:
        """Keep what an apply returned until the watch delivers it (no second apply meanwhile)."""
        child = trim(body)
        child["_remembered_at"] = time.monotonic()
        self.applied.setdefault(key, {})[(child["kind"], child["metadata"]["name"])] = child

    def fresher_children(
        self, key: Key, live: dict[tuple[str, str], dict[str, Any]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Live children, each the newer of the index's copy and the last apply's answer."""
        remembered = self.applied.get(key)
        if not remembered:
            return live
        for child_key, child in list(remembered.items()):
            seen = live.get(child_key)
            stale = time.monotonic() - float(child["_remembered_at"]) > REMEMBER_SECONDS
            if (seen is not None and _version(seen) >= _version(child)) or stale:
                del remembered[child_key]  # the index caught up (or the object went away)
            else:
                live[child_key] = child
        if not remembered:
            self.applied.pop(key, None)
        return live

    def remember_status(self, key: Key, body: Mapping[str, Any]) -> None:
        """Keep the status we just wrote until the watch delivers it."""
        self.statuses[key] = (_version(body), _plain(body.get("status") or {}))

    def freshest_status(self, key: Key, body: Mapping[str, Any]) -> dict[str, Any]:
        """The index's status, or the one we wrote when the index has not seen it yet."""
        remembered = self.statuses.get(key)
        if remembered is not None:
            if _version(body) >= remembered[0]:
                del self.statuses[key]
            else:
                return dict(remembered[1])
        return dict(body.get("status") or {})

    async def crds_installed(self, *names: str, ttl: float = 10.0) -> bool:
        """Whether every named CRD is Established (looked up at most every ``ttl`` seconds).

        A CRD change seen by the watch clears the memory (``crds_seen``), so a CRD
        installed while the operator runs is used at once.
        """
        checked, present = self.crds_seen.get(names, (0.0, False))
        if time.monotonic() - checked < ttl:
            return present
        present = True
        for name in names:
            crd = await self.client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
            if not crd_established(crd):
                present = False
                break
        self.crds_seen[names] = (time.monotonic(), present)
        return present

    def all_microservices(self) -> list[dict[str, Any]]:
        """Every MicroService body known to this process."""
        index = self.indexes.get(MICROSERVICE_INDEX) or {}
        return [unpack(entry) for store in list(index.values()) for entry in store]

    def children(self, key: Key) -> Iterable[dict[str, Any]]:
        """Every live child of one MicroService, all kinds."""
        if self.store is not None:
            yield from self.store.children(key)
            return
        for api_version, kind in CHILD_KINDS:
            store = self.indexes[child_index_id(api_version, kind)].get(key)
            if store:
                yield from map(unpack, store)
