"""Memory: the trim after bursts, packed entries, slimmed watch events, the child store."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kopf._cogs.clients import watching
from kopf._cogs.structs import references

from microservice_operator.handlers import kopf_stream, memory
from microservice_operator.handlers.children import ChildStore
from microservice_operator.handlers.state import pack, trim, unpack

OWNER = {
    "apiVersion": "microservice-operator.dev/v1alpha1",
    "kind": "MicroService",
    "controller": True,
}


def test_glibc_malloc_trim_is_found() -> None:
    trim = memory._malloc_trim()
    assert trim is not None and trim() in (0, 1)


async def test_trims_once_after_a_burst_and_quiet_not_while_busy_or_idle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=memory.__name__)
    done = [0]
    busy = [1]
    task = asyncio.create_task(memory.trim_after_bursts(lambda: done[0], lambda: busy[0], 0.05))
    await asyncio.sleep(0)  # it counts from here
    done[0] = memory.BURST + 1
    await asyncio.sleep(0.2)
    assert not caplog.records  # work still in flight
    busy[0] = 0
    await asyncio.sleep(0.2)
    assert len(caplog.records) == 1 and "after a burst" in caplog.records[0].getMessage()
    await asyncio.sleep(0.2)
    assert len(caplog.records) == 1  # idle since: nothing more to give back
    task.cancel()


def test_index_entries_pack_what_the_reconciler_reads_and_nothing_else() -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "orders",
            "namespace": "shop",
            "uid": "u1",
            "resourceVersion": "42",
            "labels": {"app.kubernetes.io/name": "orders"},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "managedFields": [{"manager": "microservice-operator", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app"}]}}},
        "status": {"readyReplicas": 2},
    }
    entry = pack(body)
    assert isinstance(entry, bytes)
    unpacked = unpack(entry)
    assert unpacked == trim(body)
    assert unpacked["spec"] == body["spec"] and unpacked["status"] == body["status"]
    assert "managedFields" not in unpacked["metadata"]
    assert "annotations" not in unpacked["metadata"]
    assert len(entry) < len(json.dumps(body))


def test_watch_events_lose_managed_fields_and_the_client_side_apply_copy() -> None:
    assert kopf_stream.apply() is True
    event = {
        "type": "MODIFIED",
        "object": {
            "metadata": {
                "name": "orders",
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": '{"spec": {}}',
                    "team": "shop",
                },
            },
            "spec": {"image": "x"},
        },
    }
    slimmed = kopf_stream.slim(event)
    assert slimmed["object"] == {
        "metadata": {"name": "orders", "annotations": {"team": "shop"}},
        "spec": {"image": "x"},
    }
    assert kopf_stream.slim(None) is None  # kopf's bookmarks pass through
    assert kopf_stream.slim({"type": "BOOKMARK", "object": {"metadata": {}}})["type"] == "BOOKMARK"


async def test_child_kinds_go_to_the_sink_and_kopf_sees_only_the_end_of_each_listing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def deployment(name: str, uid: str, replicas: int) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "uid": uid,
                "ownerReferences": [OWNER | {"name": name}],
                "managedFields": [{"manager": "microservice-operator"}],
            },
            "spec": {"replicas": replicas},
        }

    relist = [False]

    async def stream(**_: Any) -> AsyncIterator[Any]:
        if not relist[0]:
            yield {"type": None, "object": deployment("orders", "u1", 2)}
            yield {"type": None, "object": deployment("auth", "u2", 1)}
            yield watching.Bookmark.LISTED
            yield {"type": "MODIFIED", "object": deployment("orders", "u1", 3)}
            yield {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}
        else:  # after a 410 Gone: auth was deleted meanwhile
            yield {"type": None, "object": deployment("orders", "u1", 3)}
            yield watching.Bookmark.LISTED

    monkeypatch.setattr(kopf_stream, "_original", stream)
    store = ChildStore()
    triggered: list[tuple[str, str]] = []
    monkeypatch.setattr(kopf_stream, "sink", store)
    assert kopf_stream.apply([("apps", "deployments")])
    apps = references.Resource(group="apps", version="v1", plural="deployments")

    seen_by_kopf = [e async for e in kopf_stream.continuous_watch(resource=apps, namespace=None)]
    assert seen_by_kopf == [watching.Bookmark.LISTED]
    [orders] = store.children(("shop", "orders"))
    assert orders["spec"] == {"replicas": 3} and "managedFields" not in orders["metadata"]
    assert len(store) == 2

    store.trigger = triggered.append
    relist[0] = True
    assert [e async for e in kopf_stream.continuous_watch(resource=apps, namespace=None)] == [
        watching.Bookmark.LISTED
    ]
    assert list(store.children(("shop", "auth"))) == [] and len(store) == 1
    assert triggered == [("shop", "auth")]  # orders is unchanged: no trigger

    core = references.Resource(group="", version="v1", plural="services")

    async def services(**_: Any) -> AsyncIterator[Any]:
        yield {"type": "ADDED", "object": deployment("orders", "u3", 1)}

    monkeypatch.setattr(kopf_stream, "_original", services)
    [event] = [e async for e in kopf_stream.continuous_watch(resource=core, namespace=None)]
    assert "managedFields" not in event["object"]["metadata"]  # other kinds reach kopf, slimmed
    assert len(store) == 1


def test_the_store_follows_owners_deletions_and_kept_children() -> None:
    store = ChildStore()
    triggered: list[tuple[str, str]] = []
    store.trigger = triggered.append
    secret = {
        "kind": "Secret",
        "metadata": {
            "name": "orders-db",
            "namespace": "shop",
            "uid": "s1",
            # kept after its MicroService on purpose (Retain): found by its labels
            "labels": {
                "app.kubernetes.io/managed-by": "microservice-operator",
                "app.kubernetes.io/name": "orders",
            },
        },
        "data": {"password": "c2VjcmV0"},
    }
    store.handle(("", "secrets"), "ADDED", secret)
    assert [c["data"] for c in store.children(("shop", "orders"))] == [secret["data"]]
    store.handle(("", "secrets"), "MODIFIED", secret)  # unchanged: no second trigger
    foreign = {"kind": "Secret", "metadata": {"name": "x", "namespace": "shop", "uid": "s2"}}
    store.handle(("", "secrets"), "ADDED", foreign)
    assert len(store) == 1
    store.handle(("", "secrets"), "DELETED", secret)
    assert len(store) == 0 and list(store.children(("shop", "orders"))) == []
    assert triggered == [("shop", "orders"), ("shop", "orders")]
