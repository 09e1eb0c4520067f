"""Generated NetworkPolicies, evaluated: which service may reach which."""

from __future__ import annotations

import random
from typing import Any

import pytest

from microservice_operator.builders import Owner
from microservice_operator.builders.relations import Peer, Relations, build_network_policies
from tests.support.netpol import Pod, allowed

NS = "shop"
DNS = Pod("coredns", "kube-system", {"k8s-app": "kube-dns"})


def owner(name: str, spec: dict[str, Any]) -> Owner:
    return Owner.from_body(
        {"metadata": {"name": name, "namespace": NS, "uid": name}, "spec": {"image": "x:1", **spec}}
    )


def resolve(specs: dict[str, dict[str, Any]]) -> dict[str, Relations]:
    """What the reconciler resolves from the index, for a graph of specs in one namespace."""

    def peer(name: str) -> Peer:
        return Peer(name, NS, exists=True, ready=True, container_port=specs[name].get("port", 8000))

    refs = {
        name: [d["name"] for d in spec.get("dependsOn", [])]
        + ([spec["auth"]["issuerRef"]["name"]] if "issuerRef" in spec.get("auth", {}) else [])
        for name, spec in specs.items()
    }
    out = {}
    for name, spec in specs.items():
        issuer = spec.get("auth", {}).get("issuerRef", {}).get("name")
        out[name] = Relations(
            dependencies=[peer(d["name"]) for d in spec.get("dependsOn", [])],
            issuer=peer(issuer) if issuer else None,
            dependents=[peer(other) for other, targets in refs.items() if name in targets],
        )
    return out


def policies_for(specs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    relations = resolve(specs)
    return [
        p
        for name, spec in specs.items()
        for p in build_network_policies(owner(name, spec), relations[name])
    ]


def app(name: str) -> Pod:
    return Pod(
        f"{name}-pod",
        NS,
        {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "microservice-operator"},
    )


def db(name: str) -> Pod:
    return Pod(
        f"{name}-db-0",
        NS,
        {"app.kubernetes.io/name": f"{name}-db", "microservice-operator.dev/database-of": name},
    )


SHOP: dict[str, dict[str, Any]] = {
    "auth": {"auth": {"issuer": True}, "database": {"engine": "postgres"}},
    "products": {"auth": {"issuerRef": {"name": "auth"}}, "database": {"engine": "mongodb"}},
    "orders": {
        "dependsOn": [{"name": "products"}],
        "auth": {"issuerRef": {"name": "auth"}},
        "database": {"engine": "postgres"},
    },
}


@pytest.mark.parametrize(
    ("src", "dst", "port", "expected"),
    [
        (app("orders"), app("products"), 8000, True),
        (app("orders"), app("auth"), 8000, True),
        (app("products"), app("auth"), 8000, True),
        (app("products"), app("orders"), 8000, False),
        (app("auth"), app("orders"), 8000, False),
        (app("auth"), app("products"), 8000, False),
        (app("orders"), app("products"), 22, False),
        (app("orders"), db("orders"), 5432, True),
        (app("products"), db("products"), 27017, True),
        (app("products"), db("orders"), 5432, False),
        (app("auth"), db("orders"), 5432, False),
        (db("orders"), app("orders"), 8000, False),
        (app("orders"), DNS, 53, True),
        (Pod("intruder", NS, {"app": "x"}), app("orders"), 8000, False),
        (
            Pod(
                "elsewhere",
                "other",
                {
                    "app.kubernetes.io/name": "orders",
                    "app.kubernetes.io/managed-by": "microservice-operator",
                },
            ),
            app("products"),
            8000,
            False,
        ),
    ],
)
def test_the_sample_shop(src: Pod, dst: Pod, port: int, expected: bool) -> None:
    assert allowed(policies_for(SHOP), src, dst, port) is expected


def test_dns_is_allowed_over_udp() -> None:
    assert allowed(policies_for(SHOP), app("orders"), DNS, 53, "UDP")


@pytest.mark.parametrize("seed", range(25))
def test_random_graphs_allow_exactly_the_declared_edges(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"s{i}" for i in range(rng.randint(2, 8))]
    specs: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        earlier = names[:i]  # edges only to earlier services: a DAG
        deps = rng.sample(earlier, k=rng.randint(0, len(earlier)))
        spec: dict[str, Any] = {"port": rng.choice([8000, 8080, 9000])}
        if deps:
            spec["dependsOn"] = [{"name": d} for d in deps]
        if earlier and rng.random() < 0.3:
            spec["auth"] = {"issuerRef": {"name": rng.choice(earlier)}}
        specs[name] = spec
    policies = policies_for(specs)
    for a in names:
        declared = {d["name"] for d in specs[a].get("dependsOn", [])}
        declared |= {specs[a]["auth"]["issuerRef"]["name"]} if "auth" in specs[a] else set()
        for b in names:
            if a == b:
                continue
            port = specs[b]["port"]
            assert allowed(policies, app(a), app(b), port) is (b in declared), (a, b, specs)
