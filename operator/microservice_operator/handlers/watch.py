"""kopf registrations: indexes and event handlers that feed the work queue.

Handlers never do work themselves: they record the latest body (indexes)
and trigger the owning MicroService's key. Only ``on.event`` handlers are
used, so kopf adds no finalizers and writes no annotations of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import kopf

from microservice_operator.api import v1alpha1
from microservice_operator.builders import CHILD_KINDS
from microservice_operator.builders.common import LABEL_MANAGED_BY, MANAGED_BY
from microservice_operator.databases import ProvisioningError
from microservice_operator.handlers import kopf_discovery, kopf_fixes, kopf_stream
from microservice_operator.handlers.children import ChildStore
from microservice_operator.handlers.database import CNPG_CRD
from microservice_operator.handlers.leader import LeaderElector, LeaseConfig
from microservice_operator.handlers.memory import trim_after_bursts
from microservice_operator.handlers.monitoring import CRDS as MONITORING_CRDS
from microservice_operator.handlers.queue import URGENT, WorkQueue
from microservice_operator.handlers.reconcile import reconcile
from microservice_operator.handlers.relations import DEPENDENTS_INDEX, references
from microservice_operator.handlers.state import (
    MICROSERVICE_INDEX,
    Key,
    State,
    child_index_id,
    owner_key,
    pack,
)
from microservice_operator.kube import ApiError, KubeClient, load_connection
from microservice_operator.kube.client import USER_AGENT
from microservice_operator.observability import REGISTRY, ConditionCollector, serve_metrics

logger = logging.getLogger(__name__)


def _plural(api_version: str, kind: str) -> tuple[str, str, str]:
    from microservice_operator.kube.resources import KNOWN

    res = KNOWN[(api_version, kind)]
    group, _, version = api_version.rpartition("/")
    return group, version, res.plural


def _exit_on_lost_lease() -> None:
    # Another replica may already be writing: stop now, restart clean.
    logger.critical("lost the leader Lease: exiting")
    os._exit(1)


class NoDiffBase(kopf.DiffBaseStorage):
    """No diff base: kopf would deep-copy every body on every event to build one.

    Only event and index handlers are registered (see ``register``), and neither
    reads a diff base; change detection is the reconciler's own (applied-hash
    annotation and field comparison). About 7 % of the operator's CPU per event.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        """An empty essence, without copying the body."""
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        """Nothing was stored."""
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Store nothing (storing would be a write)."""


def configure(settings: kopf.OperatorSettings) -> None:
    """Kopf settings: server-side label selectors, chunked lists, quiet logging."""
    selector = f"{LABEL_MANAGED_BY}={MANAGED_BY}"
    for api_version, kind in CHILD_KINDS:
        group, _version, plural = _plural(api_version, kind)
        settings.watching.label_selectors[group, plural] = selector
    settings.watching.chunk_size = 500
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.posting.enabled = False  # Events are posted by the reconciler, on transitions only
    settings.persistence.diffbase_storage = NoDiffBase()


OPTIONAL_CRDS = (CNPG_CRD, *MONITORING_CRDS)
"""CRDs used when present; a change to one reconciles the MicroServices that need it."""


def uses_crd(name: str, spec: Mapping[str, Any]) -> bool:
    """Whether a MicroService with this spec needs the optional CRD ``name``."""
    if name == CNPG_CRD:
        return bool((spec.get("database") or {}).get("mode") == "cloudnativepg")
    if name in MONITORING_CRDS:
        monitoring = spec.get("monitoring")
        return monitoring is not None and monitoring.get("enabled", True) is not False
    return False


def on_crd_change(state: State, queue: WorkQueue[Key]) -> Callable[[str, bool], None]:
    """Reconcile the MicroServices that need an optional CRD when it comes or goes."""

    def changed(name: str, served: bool) -> None:
        if name not in OPTIONAL_CRDS or state.crds_served.get(name) == served:
            return
        state.crds_served[name] = served
        state.crds_seen.clear()
        waiting = [
            (body["metadata"].get("namespace", ""), body["metadata"]["name"])
            for body in state.all_microservices()
            if uses_crd(name, body.get("spec") or {})
        ]
        logger.info(
            "CRD %s %s: reconciling %d MicroService(s)",
            name,
            "served" if served else "gone",
            len(waiting),
        )
        for key in waiting:
            queue.trigger(key)

    return changed


@dataclass(frozen=True)
class Options:
    """How this operator process runs."""

    leader_election: LeaseConfig | None = None
    """None: this process reconciles alone (one replica, or local development)."""
    metrics_port: int = 0
    """Serve Prometheus metrics on this port (0: off)."""
    workers: int = 64
    """MicroServices reconciled at once (the work queue's slots)."""


def register(registry: kopf.OperatorRegistry, options: Options | None = None) -> None:
    """Register every handler on ``registry``.

    Only ``on.event`` and ``index`` handlers: ``NoDiffBase`` relies on it.
    """
    opts = options or Options()
    if not kopf_fixes.apply():
        logger.warning("kopf %s: its toggle-set fix is not applied", kopf_fixes.KOPF_VERSION)
    sunk = kopf_stream.apply([_plural(a, k)[::2] for a, k in CHILD_KINDS])
    if not sunk:
        logger.warning(
            "kopf %s: children are kept in kopf indexes (more memory per object)",
            kopf_fixes.KOPF_VERSION,
        )
    if not kopf_discovery.apply():
        logger.warning("kopf %s: its discovery mend is not applied", kopf_fixes.KOPF_VERSION)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        # One source of truth for credentials: kopf's watches use what our client uses.
        conn = load_connection()
        return kopf.ConnectionInfo(
            server=conn.server,
            ca_path=conn.ca_file,
            insecure=conn.insecure,
            token=conn.bearer_token(),
            certificate_path=conn.cert_file,
            private_key_path=conn.key_file,
            default_namespace=conn.default_namespace,
        )

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
        configure(settings)
        election = opts.leader_election
        agent = f"{USER_AGENT} ({election.identity})" if election else USER_AGENT
        client = KubeClient.connect(user_agent=agent)
        names = [
            MICROSERVICE_INDEX,
            DEPENDENTS_INDEX,
            *(child_index_id(a, k) for a, k in CHILD_KINDS),
        ]
        indexes = {name: kwargs[name] for name in names}
        state = State(client=client, indexes=indexes)
        if sunk:
            state.store = kopf_stream.sink = ChildStore(echoes=state.echoes)
        memo["state"] = state
        if opts.metrics_port:
            REGISTRY.register(ConditionCollector(lambda: state.all_microservices()))
            serve_metrics(opts.metrics_port)
        gate = None
        if election is not None:
            elector = LeaderElector(client, election, on_lost=_exit_on_lost_lease)
            memo["elector"] = elector
            memo["elector_task"] = asyncio.create_task(elector.run())
            gate = elector.leading
        queue = memo["queue"] = WorkQueue[Key](
            work=lambda key: reconcile(state, key),
            concurrency=opts.workers,
            gate=gate,
            expected=(ApiError, ProvisioningError, aiohttp.ClientError, TimeoutError),
        )
        state.progress.saturated = lambda: queue.saturated
        memo["crd_listener"] = on_crd_change(state, queue)
        kopf_discovery.listen(memo["crd_listener"])
        memo["trim_task"] = asyncio.create_task(
            trim_after_bursts(lambda: queue.completed, lambda: queue.in_flight)
        )

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        memo["trim_task"].cancel()
        kopf_stream.sink = None
        kopf_discovery.unlisten(memo["crd_listener"])
        elector: LeaderElector | None = memo.get("elector")
        if elector is not None:
            memo["elector_task"].cancel()
            if elector.leading.is_set():
                elector.leading.clear()  # stop starting new work
                await memo["queue"].drain()
                elector.leading.set()
                await elector.release()
        await memo["queue"].drain()
        await memo["state"].client.close()

    @kopf.index(
        v1alpha1.GROUP, v1alpha1.VERSION, v1alpha1.PLURAL, id=MICROSERVICE_INDEX, registry=registry
    )
    # Index functions are async on purpose: they do no I/O, and kopf runs sync
    # handlers in a thread pool, which costs CPU on every event.
    async def microservices_index(
        body: kopf.Body, namespace: str | None, name: str, **_: Any
    ) -> dict[Key, Any]:
        return {(namespace or "", name): pack(body)}

    @kopf.index(
        v1alpha1.GROUP, v1alpha1.VERSION, v1alpha1.PLURAL, id=DEPENDENTS_INDEX, registry=registry
    )
    async def dependents_index(
        body: kopf.Body, namespace: str | None, name: str, **_: Any
    ) -> dict[Key, Key] | None:
        refs = references(dict(body))
        return {ref: (namespace or "", name) for ref in refs} or None

    @kopf.on.event(v1alpha1.GROUP, v1alpha1.VERSION, v1alpha1.PLURAL, registry=registry)
    async def microservice_event(
        body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **_: Any
    ) -> None:
        key = (namespace or "", name)
        queue: WorkQueue[Key] = memo["queue"]
        state: State = memo["state"]
        if state.store is not None and state.store.trigger is None:
            # kopf calls this only once every kind is listed: from now on, child changes count.
            state.store.trigger = lambda owner: queue.trigger(owner, URGENT)
        if not state.echoes.is_echo(body):  # our own status write needs no second look
            queue.trigger(key)
        # Relations: dependents re-check readiness and policies; dependencies (current and
        # former) update who may connect to them.
        dependents = state.indexes[DEPENDENTS_INDEX].get(key) or []
        current = set(references(dict(body)))
        for other in current | state.last_references.pop(key, set()) | set(dependents):
            queue.trigger(other)
        if current:
            state.last_references[key] = current

    for api_version, kind in CHILD_KINDS:
        group, version, plural = _plural(api_version, kind)
        index_id = child_index_id(api_version, kind)

        async def child_index(body: kopf.Body, **_: Any) -> dict[Key, Any] | None:
            key = owner_key(body)
            # Only without kopf_stream: with it, child events go to the ChildStore.
            return {key: pack(body)} if key else None

        async def child_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
            key = owner_key(body)
            if key is not None and "queue" in memo and not memo["state"].echoes.is_echo(body):
                memo["queue"].trigger(key, URGENT)

        kopf.index(group, version, plural, id=index_id, registry=registry)(child_index)
        kopf.on.event(group, version, plural, id=f"{index_id}_event", registry=registry)(
            child_event
        )
