"""The one level-based, idempotent reconcile of a MicroService.

build (pure) -> apply what differs (server-side apply) -> prune what is no
longer wanted -> write status only if it changed. Nothing changed means no
write at all, which also makes an operator restart free.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pydantic

from microservice_operator.api import v1alpha1
from microservice_operator.api.v1alpha1 import DatabaseMode, DeletionPolicy
from microservice_operator.builders import PRUNABLE_KINDS, Injection, Owner, build_children
from microservice_operator.builders.compare import stamped, up_to_date
from microservice_operator.builders.relations import (
    build_network_policies,
    issuer_volume,
    relation_env,
)
from microservice_operator.builders.status import (
    Problem,
    build_status,
    invalid_spec_status,
    is_ready,
)
from microservice_operator.handlers.database import AdminSecretMissingError, DatabaseManager
from microservice_operator.handlers.events import announce_transitions, post_event_quietly
from microservice_operator.handlers.monitoring import monitoring_children
from microservice_operator.handlers.queue import Requeue
from microservice_operator.handlers.relations import (
    cycle_problem,
    dependencies_gate,
    ensure_signing_key,
    resolve,
)
from microservice_operator.handlers.state import Key, State, trim
from microservice_operator.kube import ApiError

logger = logging.getLogger(__name__)
STALLED_RETRY = 60.0
CONFLICT_RETRY = 10.0
FINALIZER = f"{v1alpha1.GROUP}/external-database"


def now() -> str:
    """The current time as metav1.Time (RFC 3339, seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def reconcile(state: State, key: Key) -> None:
    """Bring one MicroService's children and status in line with its spec."""
    body = state.microservice(key)
    if body is None:
        state.progress.release(key)
        return  # gone: owner references let the garbage collector clean up
    if body["metadata"].get("deletionTimestamp"):
        await finalize(state, body)
        return
    previous = state.freshest_status(key, body)
    try:
        owner = Owner.from_body(body)
    except pydantic.ValidationError as exc:
        message = "; ".join(
            f"spec.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        meta = body["metadata"]
        status = invalid_spec_status(
            meta["name"],
            meta["namespace"],
            int(meta.get("generation", 0)),
            previous,
            now(),
            message,
        )
        await write_status(state, key, body, previous, status)
        return

    live = state.fresher_children(
        key,
        {
            (c["kind"], c["metadata"]["name"]): c
            for c in state.children(key)
            if _owned_by(c, owner.uid)
        },
    )
    relations = await resolve(state, owner)
    try:
        await ensure_finalizer(state, body, owner)
        database = await DatabaseManager(state).ensure(owner, live)
        await ensure_signing_key(state, owner, live)
    except ApiError as exc:
        if _namespace_terminating(exc):
            return
        raise
    problem: Problem | None = cycle_problem(relations) or (database.problem if database else None)
    gate = dependencies_gate(owner, relations)
    holding = bool(
        owner.spec.wait_for_dependencies
        and gate is not None
        and not gate.ready
        and ("Deployment", owner.name) not in live
    )
    monitoring, monitored, monitoring_retry = await monitoring_children(state, owner)
    volumes, mounts = issuer_volume(owner)
    injection = Injection(
        env=[*(database.env if database else []), *relation_env(owner, relations)],
        pod_annotations=database.pod_annotations if database else {},
        children=[
            *(database.children if database else []),
            *build_network_policies(owner, relations),
            *monitoring,
        ],
        volumes=volumes,
        volume_mounts=mounts,
        deployment=not holding,
    )
    deployment: dict[str, Any] | None = live.get(("Deployment", owner.name))
    wanted: set[tuple[str, str]] = set()
    for manifest in [] if problem else build_children(owner, injection):
        desired = stamped(manifest)
        child_key = (desired["kind"], desired["metadata"]["name"])
        wanted.add(child_key)
        if up_to_date(live.get(child_key), desired):
            continue
        if child_key not in live:
            problem = await _conflict(state, owner, desired)
            if problem is not None:
                break
        try:
            applied = await state.client.apply(desired)
        except ApiError as exc:
            if _namespace_terminating(exc):
                return  # the namespace is being deleted: everything in it goes
            if not _permanent(exc):
                raise
            problem = Problem(_reason(exc), f"{desired['kind']} {child_key[1]}: {exc.message}")
            break
        logger.info("applied %s %s/%s", desired["kind"], owner.namespace, child_key[1])
        state.remember_applied(key, applied)
        state.echoes.expect(applied)
        if child_key[0] == "Deployment":
            deployment = applied

    if problem is None:
        for (kind, name), child in live.items():
            if kind in PRUNABLE_KINDS and (kind, name) not in wanted:
                await state.client.delete(child["apiVersion"], kind, name, owner.namespace)
                logger.info("pruned %s %s/%s", kind, owner.namespace, name)

    db_state = database.state if database else None
    informational = {"MonitoringReady": monitored} if monitored else None
    status = build_status(
        owner, deployment, previous, now(), problem, db_state, gate, informational
    )
    held = state.progress.hold(key, owner.generation, status) if status != previous else None
    if held is not None:  # the Deployment's next change brings us back; at the latest, then
        waits = [held, database.retry_after if database else 0.0, monitoring_retry or 0.0]
        raise Requeue(min(w for w in waits if w), "rollout progress held", urgent=True)
    await write_status(state, key, body, previous, status)
    if problem is not None:
        retry = CONFLICT_RETRY if problem.reason == "ChildConflict" else STALLED_RETRY
        raise Requeue(retry, problem.message)
    if database is not None and database.retry_after:
        raise Requeue(database.retry_after, "database not ready")
    if monitoring_retry:
        raise Requeue(monitoring_retry, "waiting for prometheus-operator CRDs")


def _owned_by(child: dict[str, Any], uid: str) -> bool:
    refs = child.get("metadata", {}).get("ownerReferences") or []
    if not refs:  # kept on purpose without an owner (Retain): found by its labels
        return True
    return any(ref.get("uid") == uid and ref.get("controller") for ref in refs)


def needs_finalizer(owner: Owner) -> bool:
    """Only an external database with deletionPolicy Delete needs cleanup the cluster can't do."""
    database = owner.spec.database
    return (
        database is not None
        and database.mode is DatabaseMode.EXTERNAL
        and database.deletion_policy is DeletionPolicy.DELETE
    )


async def ensure_finalizer(state: State, body: dict[str, Any], owner: Owner) -> None:
    """Add or remove our finalizer so it is there exactly when needed."""
    finalizers = list(body["metadata"].get("finalizers") or [])
    has = FINALIZER in finalizers
    if has == needs_finalizer(owner):
        return
    wanted = [*finalizers, FINALIZER] if not has else [f for f in finalizers if f != FINALIZER]
    await _patch_finalizers(state, body, wanted)


async def _patch_finalizers(state: State, body: dict[str, Any], finalizers: list[str]) -> None:
    meta = body["metadata"]
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}}
    await state.client.patch_merge(
        v1alpha1.API_VERSION, v1alpha1.KIND, meta["name"], meta["namespace"], patch
    )


async def finalize(state: State, body: dict[str, Any]) -> None:
    """On deletion: drop what only we can drop, then let the object go."""
    if FINALIZER not in (body["metadata"].get("finalizers") or []):
        return
    try:
        owner = Owner.from_body(body)
    except pydantic.ValidationError:
        owner = None
    if owner is not None and needs_finalizer(owner):
        try:
            await DatabaseManager(state).drop_external(owner)  # other errors: retried with backoff
        except AdminSecretMissingError as exc:
            # Nothing can log in to drop it: say so loudly rather than block deletion forever.
            message = f"external database not dropped: {exc}; drop it by hand"
            logger.warning("%s/%s: %s", owner.namespace, owner.name, message)
            await post_event_quietly(state, body, "Warning", "DatabaseNotDropped", message)
    remaining = [f for f in body["metadata"].get("finalizers") or [] if f != FINALIZER]
    await _patch_finalizers(state, body, remaining)


async def _conflict(state: State, owner: Owner, desired: dict[str, Any]) -> Problem | None:
    """A same-named object we do not control must not be taken over silently."""
    meta = desired["metadata"]
    # From the API server's cache: an object made a moment ago may be missed, as it
    # could be between any read and our apply; a quorum read costs etcd for every child.
    existing = await state.client.get(
        desired["apiVersion"], desired["kind"], meta["name"], meta["namespace"], cached=True
    )
    if existing is None:
        return None
    for ref in existing["metadata"].get("ownerReferences") or []:
        if (
            ref.get("controller")
            and ref.get("kind") == v1alpha1.KIND
            and ref.get("name") == owner.name
        ):
            return None  # ours, or left by an earlier MicroService of the same name: adopt it
    return Problem(
        "ChildConflict",
        f"{desired['kind']} {meta['name']} already exists and is not managed by this MicroService;"
        " delete or rename it",
    )


def _namespace_terminating(exc: ApiError) -> bool:
    return exc.status == 403 and "being terminated" in exc.message


def _same_but_status(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether only the status changed between the body reconciled and the one written.

    Both as the reconciler reads them (``trim``): other annotations (kubectl's
    last-applied configuration, say) never reach a reconcile.
    """

    def essence(body: dict[str, Any]) -> tuple[Any, ...]:
        meta = trim(body)["metadata"]
        return tuple(
            meta.get(field)
            for field in ("generation", "labels", "annotations", "deletionTimestamp", "finalizers")
        )

    return essence(before) == essence(after)


def _permanent(exc: ApiError) -> bool:
    """Errors a retry cannot fix (including the API server's 500 on unconvertible content)."""
    if exc.status in (400, 403, 422):
        return True
    # The API server answers 500 for content it cannot convert or type (e.g. an unknown
    # field inside a free-form env block): retrying the same body cannot help.
    return exc.status == 500 and ("convert" in exc.message or "typed patch" in exc.message)


def _reason(exc: ApiError) -> str:
    return {400: "ApplyRejected", 403: "Forbidden", 422: "ChildInvalid"}.get(
        exc.status, "ApplyFailed"
    )


async def write_status(
    state: State, key: Key, body: dict[str, Any], previous: dict[str, Any], status: dict[str, Any]
) -> None:
    """Patch status only when it differs; announce transitions as Events."""
    if status == previous:
        return
    try:
        patched = await state.client.patch_merge(
            v1alpha1.API_VERSION,
            v1alpha1.KIND,
            key[1],
            key[0],
            {"status": {**{k: None for k in previous if k not in status}, **status}},
            subresource="status",
        )
    except ApiError as exc:
        if exc.not_found:
            return  # deleted while we worked: nothing left to report on
        raise
    state.remember_status(key, patched)
    if _same_but_status(body, patched):
        state.echoes.expect(patched)  # its event brings nothing this pass did not see
    logger.debug("status of %s/%s: ready=%s", key[0], key[1], is_ready(status))
    await announce_transitions(state.client, body, previous, patched.get("status") or status)
