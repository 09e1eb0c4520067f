"""Our own writes coming back on the watch trigger nothing; anything else still does."""

from __future__ import annotations

from typing import Any

import pytest

from microservice_operator.handlers import echoes
from microservice_operator.handlers.children import ChildStore
from microservice_operator.handlers.echoes import Echoes

pytestmark = pytest.mark.unit

OWNER = {
    "apiVersion": "microservice-operator.dev/v1alpha1",
    "kind": "MicroService",
    "name": "orders",
    "uid": "ms-1",
    "controller": True,
}


def deployment(version: int, ready: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "orders",
            "namespace": "shop",
            "uid": "d-1",
            "resourceVersion": str(version),
            "ownerReferences": [OWNER],
        },
        "spec": {"replicas": 1},
        "status": {"readyReplicas": ready},
    }


def test_only_the_exact_version_written_is_an_echo() -> None:
    seen = Echoes()
    seen.expect(deployment(5))
    assert not seen.is_echo(deployment(4))  # older than our write: a real change
    assert seen.is_echo(deployment(5))
    assert not seen.is_echo(deployment(5))  # once only
    seen.expect({"metadata": {"uid": "x"}})  # no version: nothing to recognise
    assert len(seen) == 0


def test_forgotten_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("microservice_operator.handlers.echoes.time.monotonic", lambda: clock[0])
    seen = Echoes()
    seen.expect(deployment(5))  # never comes back (deleted, or a relisting skipped it)
    clock[0] += echoes.FORGET_AFTER + 1
    for i in range(echoes.SWEEP_EVERY):
        seen.expect({"metadata": {"uid": f"u{i}", "resourceVersion": "1"}})
    assert len(seen) == echoes.SWEEP_EVERY  # the old one is swept, the fresh ones kept
    assert not seen.is_echo(deployment(5))


def test_the_store_keeps_an_echo_without_triggering_and_triggers_the_rest() -> None:
    store = ChildStore()
    triggered: list[tuple[str, str]] = []
    store.trigger = triggered.append
    store.echoes.expect(deployment(7))  # what our apply returned

    store.put(("apps", "deployments"), deployment(7))
    assert triggered == []  # our own apply: the pass that made it has seen it
    [kept] = store.children(("shop", "orders"))
    assert kept["metadata"]["resourceVersion"] == "7"

    store.put(("apps", "deployments"), deployment(8, ready=1))  # the rollout moved on
    assert triggered == [("shop", "orders")]

    store.echoes.expect(deployment(9))
    store.remove("d-1")  # deleted before its echo came: forgotten, and the owner told
    assert triggered == [("shop", "orders")] * 2
    assert len(store.echoes) == 0


def test_a_status_write_is_an_echo_only_when_nothing_else_changed() -> None:
    from microservice_operator.handlers.reconcile import _same_but_status

    read = {  # as the reconciler reads a MicroService: trimmed
        "metadata": {"name": "orders", "generation": 2, "labels": {"team": "shop"}},
        "spec": {"image": "x:1"},
    }
    meta: dict[str, Any] = {
        "name": "orders",
        "generation": 2,
        "labels": {"team": "shop"},
        "resourceVersion": "9",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
    }
    written = {"metadata": meta, "spec": {"image": "x:1"}, "status": {"observedGeneration": 2}}
    assert _same_but_status(read, written)  # annotations the reconciler never reads
    for change in ({"generation": 3}, {"labels": {"team": "ops"}}, {"deletionTimestamp": "now"}):
        assert not _same_but_status(read, {**written, "metadata": {**meta, **change}}), change
