from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from microservice_operator.builders.compare import (
    HASH_ANNOTATION,
    contains,
    manifest_hash,
    quantity,
    stamped,
    up_to_date,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1", Decimal(1)),
        ("1Gi", Decimal(2**30)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1k", Decimal(1000)),
        (2, Decimal(2)),
        ("1e3", Decimal(1000)),
    ],
)
def test_quantity_parses_kubernetes_notation(text: str | int, value: Decimal) -> None:
    assert quantity(text) == value


@pytest.mark.parametrize("text", ["abc", "1Xi", "", True, None])
def test_quantity_rejects_non_quantities(text: object) -> None:
    assert quantity(text) is None


def test_contains_ignores_server_defaults_but_not_changed_values() -> None:
    desired = {"spec": {"replicas": 2, "template": {"containers": [{"name": "a", "image": "x:1"}]}}}
    live: dict[str, Any] = {
        "spec": {
            "replicas": 2,
            "progressDeadlineSeconds": 600,
            "template": {
                "containers": [{"name": "a", "image": "x:1", "imagePullPolicy": "IfNotPresent"}]
            },
        }
    }
    assert contains(live, desired)
    live["spec"]["template"]["containers"][0]["image"] = "x:2"
    assert not contains(live, desired)


def test_contains_compares_quantities_by_value() -> None:
    desired = {"resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}}}
    assert contains({"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}, desired)
    assert not contains({"resources": {"requests": {"cpu": "600m", "memory": "1Gi"}}}, desired)


def test_quantity_equivalence_applies_only_under_resource_keys() -> None:
    assert not contains({"image": "1k"}, {"image": "1000"})


def test_lists_must_match_in_length() -> None:
    assert not contains({"args": ["a", "b"]}, {"args": ["a"]})
    assert not contains({"args": ["a"]}, {"args": ["a", "b"]})


def test_hash_is_stable_and_sensitive() -> None:
    a = {"kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [1]}}
    b = {"spec": {"ports": [1]}, "metadata": {"name": "x"}, "kind": "Service"}
    assert manifest_hash(a) == manifest_hash(b)
    assert manifest_hash(a) != manifest_hash({**a, "spec": {"ports": [2]}})


def test_up_to_date_needs_matching_hash_and_fields() -> None:
    desired = stamped({"kind": "Service", "metadata": {"name": "x"}, "spec": {"type": "ClusterIP"}})
    assert not up_to_date(None, desired)
    live: dict[str, Any] = {
        "kind": "Service",
        "metadata": {
            "name": "x",
            "uid": "u",
            "annotations": dict(desired["metadata"]["annotations"]),
        },
        "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.7"},
    }
    assert up_to_date(live, desired)
    live["metadata"]["annotations"][HASH_ANNOTATION] = "other"
    assert not up_to_date(live, desired)
    live["metadata"]["annotations"] = dict(desired["metadata"]["annotations"])
    live["spec"]["type"] = "NodePort"
    assert not up_to_date(live, desired)
