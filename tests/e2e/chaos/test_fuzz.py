"""Fuzz MicroService specs against the API server and the running operator.

Hypothesis generates batches of specs, valid and hostile: boundary numbers,
huge strings, unicode, injection-looking names and values, missing and extra
fields, wrong types. Each case must end one of three ways:

- rejected by the API server: a 4xx with a non-empty message;
- accepted and reconciled to ``Ready=True``, or ``Stalled=True`` with a reason,
  for the current generation, within the deadline;
- accepted and honestly waiting on something the spec points at and that is
  absent (a dependency, an issuer, an unreachable external database):
  ``Ready=False`` with ``DependenciesNotReady``/``DatabaseNotReady``.

The operator must stay alive and log no unhandled exception throughout.
Batches are created together and settled together (one LIST per poll) so a
thousand cases fit in minutes; every batch is deleted before the next.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from microservice_operator.kube import ApiError, KubeClient
from tests.e2e.chaos.conftest import EVIDENCE, SCALE, gather_limited, operator_healthy, sized
from tests.support.cluster import Cluster, eventually
from tests.support.microservices import API_VERSION, condition, microservice
from tests.support.operator import OperatorProcess

BATCH = sized(20, 25)
BATCHES = sized(3, 40)
DEADLINE = 60.0
WAITING = {"DependenciesNotReady", "DatabaseNotReady"}
ADMIN_PASSWORD = "fuzz-admin-Pa55word-never-logged"
COUNTER = itertools.count()

# ------------------------------------------------------------------ strategies

Json = Any
INJECTION = [
    "$(rm -rf /)",
    "`id`",
    "'; DROP TABLE users;--",
    '" OR 1=1 --',
    "{{ .Values.secret }}",
    "${DB_PASSWORD}",
    "$(DB_PASSWORD)",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "line\nbreak",
    "nul\u0000byte",
    "\u202eright-to-left",
    "%s%s%n",
    "\\",
    "☃ snow",
    "🦄" * 40,
    "",
    " ",
]
free_text = st.one_of(st.sampled_from(INJECTION), st.text(max_size=40))
"""Strings any free-text field accepts: injection-looking, unicode, empty."""
huge_text = st.sampled_from([253, 254, 4_096, 4_097, 32_768, 32_769, 70_000]).map(lambda n: "é" * n)
edge_ints = st.sampled_from(
    [-(2**63), -(2**31), -1, 0, 1, 2, 3, 1000, 1001, 65535, 65536, 2**31, 2**53, 2**63]
)
wrong_type = st.one_of(
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
bad = st.one_of(edge_ints, free_text, huge_text, wrong_type)
"""Anything at all: boundary numbers, hostile or huge strings, the wrong type."""


def anything(valid: st.SearchStrategy[Json]) -> st.SearchStrategy[Json]:
    """Usually valid (hypothesis favours the first branch), otherwise anything at all."""
    return st.one_of(valid, bad)


dns = st.from_regex(r"\A[a-z]([a-z0-9-]{0,10}[a-z0-9])?\Z")
images = st.sampled_from(
    ["registry.example/shop/app:1.0.0", "nginx", "ghcr.io/x/y@sha256:" + "a" * 64, "a:b", "é"]
)
quantity = st.sampled_from(["100m", "0.5", "1", "128Mi", "1Gi", "1e3", "+1", "0", 2])
# Valid CPU amounts a kwok node can hold (1e3, 128Mi or 1Gi cores never schedule; a limit
# without a request becomes the request).
schedulable_cpu = quantity.filter(lambda q: q not in ("1e3", "128Mi", "1Gi"))
"""Valid quantities; as a CPU request, 1e3 (a thousand cores) fits no kwok node."""
bad_quantity = st.sampled_from(["lots", "1 Gi", "-", "1..0", "0x10", "∞", ""])
env_var = st.one_of(
    st.fixed_dictionaries(
        {"name": st.from_regex(r"\A[A-Z_][A-Z0-9_.-]{0,20}\Z"), "value": free_text}
    ),
    st.fixed_dictionaries({"name": st.just("BIG"), "value": huge_text}),
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["DB_PASSWORD", "DATABASE_URL", "FROM_SECRET"]),
            # Free-form in the CRD: unknown keys pass admission, and the Deployment's
            # server-side apply refuses them (the service must end Stalled, not silent).
            "valueFrom": st.sampled_from(
                [
                    {"secretKeyRef": {"name": "missing", "key": "k"}},
                    {"fieldRef": {"fieldPath": "metadata.name"}},
                    {"configMapKeyRef": {"name": "missing", "key": "k", "optional": True}},
                    {},
                    {"bogus": "x"},
                ]
            ),
        }
    ),
)
probe = st.fixed_dictionaries(
    {"path": st.sampled_from(["/", "/readyz", "/healthz?x=1", "/é", "/$(id)"])},
    optional={
        "port": st.integers(1, 65535),
        "periodSeconds": st.integers(1, 3600),
        "failureThreshold": st.integers(1, 1000),
    },
)


@st.composite
def autoscaling(draw: st.DrawFn) -> dict[str, Any]:
    # Lower bounds stay small: the shared cluster has room for ~300 pods.
    low = draw(st.integers(1, 2))
    out: dict[str, Any] = {
        "minReplicas": low,
        "maxReplicas": draw(st.sampled_from([low, 3, 1000])),
        "targetCPUUtilizationPercentage": draw(st.sampled_from([1, 70, 1000])),
    }
    if draw(st.booleans()):
        out["enabled"] = draw(st.booleans())
    return out


budget = st.one_of(
    st.fixed_dictionaries({"maxUnavailable": st.sampled_from([0, 1, 3, "50%", "100%", "x%"])}),
    st.fixed_dictionaries({"minAvailable": st.sampled_from([0, 1, "1", "50%", "150%"])}),
)
external_db = st.fixed_dictionaries(
    {
        "engine": st.sampled_from(["postgres", "mongodb"]),
        "mode": st.just("external"),
        "serverRef": st.fixed_dictionaries(
            {
                "host": st.just("127.0.0.1"),
                "port": st.just(1),
                "adminSecretName": st.sampled_from(["pg-admin", "no-such-secret"]),
            }
        ),
    },
    optional={"deletionPolicy": st.sampled_from(["Retain", "Delete"])},
)
database = st.one_of(
    external_db,
    st.just({"engine": "postgres", "mode": "cloudnativepg"}),  # CloudNativePG not installed
)
peer = st.fixed_dictionaries(
    {"name": dns}, optional={"namespace": dns, "port": st.integers(1, 65535)}
)
policy_peer = st.fixed_dictionaries(
    {},
    optional={
        "namespaces": st.lists(dns, max_size=3),
        "cidrs": st.lists(
            st.sampled_from(["10.0.0.0/8", "192.168.1.1/32", "::/0", "not-a-cidr", "10.0.0.0/33"]),
            max_size=3,
        ),
        "ports": st.lists(st.integers(1, 65535), max_size=3),
    },
)
VALID: dict[str, st.SearchStrategy[Json]] = {
    "port": st.integers(1, 65535),
    "replicas": st.integers(0, 2),
    "command": st.lists(free_text, max_size=3),
    "args": st.lists(st.one_of(free_text, huge_text.filter(lambda t: len(t) <= 4096)), max_size=3),
    "env": st.lists(env_var, max_size=4),
    "envFrom": st.lists(
        st.sampled_from(
            [
                {"configMapRef": {"name": "missing", "optional": True}},
                {"secretRef": {"name": "missing"}, "prefix": "X_"},
                {},
                {"bogus": "x"},
            ]
        ),
        max_size=2,
    ),
    "resources": st.fixed_dictionaries(
        {},
        optional={
            "requests": st.one_of(
                st.dictionaries(st.sampled_from(["memory", "x"]), quantity, max_size=2),
                st.fixed_dictionaries({"cpu": schedulable_cpu}),
            ),
            "limits": st.fixed_dictionaries(
                {}, optional={"cpu": schedulable_cpu, "memory": quantity}
            ),
        },
    ),
    "probes": st.fixed_dictionaries({}, optional={"readiness": probe, "liveness": probe}),
    "autoscaling": autoscaling(),
    "disruptionBudget": budget,
    "serviceAccount": st.fixed_dictionaries({"automountToken": st.booleans()}),
    "dependsOn": st.lists(peer, max_size=3),
    "waitForDependencies": st.booleans(),
    "auth": st.one_of(
        st.fixed_dictionaries({"issuer": st.booleans()}),
        st.fixed_dictionaries({"issuerRef": peer}),
    ),
    "networkPolicy": st.fixed_dictionaries(
        {}, optional={"enabled": st.booleans(), "ingress": policy_peer, "egress": policy_peer}
    ),
    "monitoring": st.fixed_dictionaries(
        {},
        optional={
            "enabled": st.booleans(),
            "path": st.sampled_from(["/metrics", "/x?y=1"]),
            "interval": st.sampled_from(["30s", "1m", "500ms", "2h"]),
            "alerts": st.fixed_dictionaries(
                {},
                optional={
                    "errorRatio": st.floats(0.001, 1),
                    "p99LatencySeconds": st.floats(0.01, 600),
                },
            ),
        },
    ),
    "database": database,
    "unknownField": free_text,  # pruned by the structural schema
}
BAD: dict[str, st.SearchStrategy[Json]] = {
    "port": st.sampled_from([0, -1, 65536, 2**63, "80", 80.5]),
    "replicas": st.sampled_from([-1, 1001, 2**31, 2**63, "two", 1.5]),
    "image": st.one_of(st.sampled_from(["", "a b", "x\ny", " lead"]), huge_text),
    "env": st.lists(
        st.fixed_dictionaries(
            {"name": st.one_of(st.sampled_from(["", "1X", "A B", "é", "$(X)"]), huge_text)},
            optional={"value": huge_text},
        ),
        min_size=1,
        max_size=2,
    ),
    "resources": st.fixed_dictionaries({"requests": st.fixed_dictionaries({"cpu": bad_quantity})}),
    "autoscaling": st.sampled_from(
        [
            {"minReplicas": 3, "maxReplicas": 2},
            {"minReplicas": 0},
            {"maxReplicas": 1001},
            {"targetCPUUtilizationPercentage": None, "minReplicas": 1},
            {"targetCPUUtilizationPercentage": 0},
        ]
    ),
    "disruptionBudget": st.sampled_from(
        [{}, {"maxUnavailable": 1, "minAvailable": 1}, {"maxUnavailable": True}]
    ),
    "database": st.sampled_from(
        [
            {"engine": "postgres", "mode": "external"},
            {"engine": "mongodb", "mode": "cloudnativepg"},
            {"engine": "mysql"},
            {"engine": "postgres", "version": "16; DROP DATABASE x"},
            {"engine": "postgres", "storage": "lots"},
            {
                "engine": "postgres",
                "mode": "external",
                "serverRef": {"host": "", "adminSecretName": "a"},
            },
        ]
    ),
    "dependsOn": st.lists(
        st.fixed_dictionaries({"name": st.sampled_from(["Bad_Name", "", "a" * 64, "../x"])}),
        min_size=1,
        max_size=2,
    ),
    "auth": st.just({"issuer": True, "issuerRef": {"name": "auth"}}),
    "probes": st.just({"readiness": {"path": "no-slash"}}),
    "monitoring": st.sampled_from(
        [{"interval": "forever"}, {"alerts": {"errorRatio": 0}}, {"path": "metrics"}]
    ),
}
NAMES = ["plain", "plain", "plain", "dotted", "long52"]
HOSTILE_NAMES = ["long53", "", "Z", "a_b", "-a", "a;b", "ä", "../a", "a b", "$(id)"]


@st.composite
def case(draw: st.DrawFn) -> dict[str, Any]:
    """One MicroService manifest: valid, valid but for one field, or anything at all.

    Names are unique (a counter) unless the name itself is the attack.
    """
    n = next(COUNTER)
    mode = draw(st.sampled_from(["valid", "valid", "valid", "one-bad", "one-bad", "wild"]))
    naming = draw(st.sampled_from(NAMES if mode == "valid" else NAMES + HOSTILE_NAMES))
    name = {
        "plain": f"z{n}",
        "dotted": f"z{n}.dotted",
        "long52": f"z{n}-".ljust(52, "x"),
        "long53": f"z{n}-".ljust(53, "x"),
    }.get(naming, naming)
    chosen = draw(st.sets(st.sampled_from(sorted(VALID)), max_size=4))
    spec: dict[str, Any] = {
        k: draw(anything(VALID[k]) if mode == "wild" else VALID[k]) for k in sorted(chosen)
    }
    spec["image"] = draw(images)
    if mode == "one-bad":
        field_ = draw(st.sampled_from(sorted({*VALID, *BAD})))
        spec[field_] = draw(BAD.get(field_, bad))
    elif mode == "wild" and draw(st.integers(0, 9)) == 9:
        del spec["image"]
    metadata: dict[str, Any] = {"name": name}
    if draw(st.integers(0, 9)) == 9:
        metadata["annotations"] = {"microservice-operator.dev/rotate-credentials": draw(free_text)}
    if draw(st.integers(0, 9)) == 9:
        metadata["labels"] = {"app.kubernetes.io/part-of": draw(free_text)}
    body: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "MicroService", "metadata": metadata}
    if mode != "wild" or draw(st.integers(0, 19)) < 19:
        body["spec"] = spec
    return body


class Batch:
    """Cases of one example; a short repr (hypothesis prints the example on failure)."""

    def __init__(self, cases: list[dict[str, Any]]) -> None:
        self.cases = cases

    def __repr__(self) -> str:
        names = [c["metadata"]["name"][:12] for c in self.cases]
        return f"Batch({len(self.cases)} cases: {', '.join(names)})"


# ------------------------------------------------------------------ outcomes


@dataclass
class Tally:
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    stalled: Counter[str] = field(default_factory=Counter)
    waiting: Counter[str] = field(default_factory=Counter)
    messages: dict[str, str] = field(default_factory=dict)
    slowest: float = 0.0


def rejection_key(exc: ApiError) -> str:
    causes = (exc.body.get("details") or {}).get("causes") or []
    if causes:
        field_ = str(causes[0].get("field") or "")
        field_ = field_.split("[")[0]
        return f"{exc.status} {causes[0].get('reason', '')} {field_}".strip()
    return f"{exc.status} {exc.reason}"


def may_wait(body: dict[str, Any]) -> bool:
    """The spec points at something absent: a dependency, an issuer or a database."""
    spec = body.get("spec") or {}
    auth = spec.get("auth") or {}
    return bool(spec.get("dependsOn") or spec.get("database") or auth.get("issuerRef"))


def verdict(body: dict[str, Any]) -> tuple[str, str] | None:
    """The settled outcome of one MicroService, or None while it is still in progress."""
    status = body.get("status") or {}
    if status.get("observedGeneration") != body["metadata"]["generation"]:
        return None
    ready, stalled = condition(body, "Ready"), condition(body, "Stalled")
    if ready.get("status") == "True":
        return ("Ready", ready.get("reason", ""))
    if stalled.get("status") == "True":
        return ("Stalled", stalled.get("reason", ""))
    if may_wait(body) and ready.get("reason") in WAITING:
        return ("Waiting", ready["reason"])
    return None


async def settle(
    kube: KubeClient, namespace: str, accepted: dict[str, dict[str, Any]], tally: Tally
) -> None:
    start = time.monotonic()
    pending = dict(accepted)
    live: dict[str, dict[str, Any]] = {}
    while pending and time.monotonic() - start < DEADLINE:
        await asyncio.sleep(0.5)
        live = {
            ms["metadata"]["name"]: ms
            for ms in await kube.list(API_VERSION, "MicroService", namespace)
        }
        for name in list(pending):
            body = live.get(name)
            assert body is not None, f"{name} vanished"
            outcome = verdict(body)
            if outcome is None:
                continue
            kind, reason = outcome
            assert reason, f"{name}: {kind} without a reason: {body.get('status')}"
            tally.outcomes[f"accepted -> {kind}"] += 1
            if kind == "Stalled":
                tally.stalled[reason] += 1
                message = condition(body, "Stalled")["message"]
                tally.messages.setdefault(f"Stalled {reason}", message[:300])
            if kind == "Waiting":
                tally.waiting[reason] += 1
            del pending[name]
    tally.slowest = max(tally.slowest, time.monotonic() - start)
    assert not pending, f"not settled within {DEADLINE:.0f} s: " + "; ".join(
        f"{n}: spec={pending[n].get('spec')!r:.400} status={live.get(n, {}).get('status')!r:.600}"
        for n in list(pending)[:3]
    )


async def run_batch(
    kube: KubeClient, namespace: str, batch: list[dict[str, Any]], tally: Tally
) -> None:
    accepted: dict[str, dict[str, Any]] = {}

    async def submit(body: dict[str, Any]) -> None:
        body["metadata"]["namespace"] = namespace
        try:
            created = await kube.create(body)
        except ApiError as exc:
            assert 400 <= exc.status < 500, f"{exc.status} for {body!r:.500}: {exc.message:.300}"
            assert exc.message.strip(), f"rejection without a message for {body!r:.300}"
            key = rejection_key(exc)
            tally.rejected[key] += 1
            tally.messages.setdefault(key, exc.message[:300])
            tally.outcomes["rejected"] += 1
            return
        accepted[created["metadata"]["name"]] = body

    await gather_limited(16, batch, submit)
    tally.cases += len(batch)
    try:
        await settle(kube, namespace, accepted, tally)
    finally:
        await gather_limited(16, list(accepted), lambda n: remove(kube, namespace, n))


async def remove(kube: KubeClient, namespace: str, name: str) -> None:
    await kube.delete(API_VERSION, "MicroService", name, namespace)
    # An external database with deletionPolicy Delete holds its finalizer until the
    # (unreachable, 127.0.0.1:1) server confirms the drop: by design, so let it go by hand.
    live = await kube.get(API_VERSION, "MicroService", name, namespace)
    if live and live["metadata"].get("finalizers"):
        await kube.patch_merge(
            API_VERSION, "MicroService", name, namespace, {"metadata": {"finalizers": None}}
        )


@pytest.mark.timeout(sized(240, 1800))
def test_fuzzed_specs_are_rejected_or_reconciled_and_never_crash_the_operator(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    figures: dict[str, object],
) -> None:
    loop = asyncio.new_event_loop()
    kube = KubeClient.connect(str(cluster.kubeconfig), user_agent="msop-tests")
    tally = Tally()

    async def admin_secret() -> None:
        await kube.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "pg-admin", "namespace": namespace},
                "stringData": {"username": "postgres", "password": ADMIN_PASSWORD},
            }
        )

    # No shrinking: every attempt re-runs a batch against the cluster, and the failure
    # message already names the offending spec and its status.
    @settings(
        database=None,
        deadline=None,
        max_examples=BATCHES,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        print_blob=True,
    )
    @given(batch=st.lists(case(), min_size=BATCH, max_size=BATCH).map(Batch))
    def run(batch: Batch) -> None:
        loop.run_until_complete(run_batch(kube, namespace, batch.cases, tally))
        operator_healthy(operator)

    try:
        loop.run_until_complete(admin_secret())
        run()
        loop.run_until_complete(EVIDENCE.collect(kube, namespace))
    finally:
        loop.run_until_complete(kube.close())
        loop.close()
    figures[f"chaos[{SCALE}]: fuzz cases"] = f"{tally.cases} in batches of {BATCH}"
    figures[f"chaos[{SCALE}]: fuzz outcomes"] = dict(tally.outcomes)
    figures[f"chaos[{SCALE}]: fuzz accepted -> Stalled, by reason"] = dict(tally.stalled)
    figures[f"chaos[{SCALE}]: fuzz accepted -> waiting on an absent reference"] = dict(
        tally.waiting
    )
    figures[f"chaos[{SCALE}]: fuzz rejected, top reasons"] = dict(tally.rejected.most_common(12))
    figures[f"chaos[{SCALE}]: fuzz slowest batch to settle, seconds"] = round(tally.slowest, 1)
    figures[f"chaos[{SCALE}]: fuzz sample messages"] = {
        k: v for k, v in list(tally.messages.items())[:12]
    }
    assert tally.cases >= BATCH * BATCHES
    operator_healthy(operator)


async def test_a_character_outside_the_bmp_in_env_is_applied(
    kube: KubeClient, namespace: str, operator: OperatorProcess
) -> None:
    """Found by the fuzzer (fixed): an emoji in an env value once left the service Stalled."""
    await kube.create(
        microservice("emoji", namespace, env=[{"name": "GREETING", "value": "hi 🦄"}])
    )

    async def settled() -> tuple[str, str] | None:
        body = await kube.get(API_VERSION, "MicroService", "emoji", namespace)
        return verdict(body) if body else None

    outcome = await eventually(settled, timeout=30, what="emoji Ready or Stalled")
    assert outcome[0] == "Ready", outcome


@pytest.mark.parametrize("spec", [{"envFrom": [{"foo": "bar"}]}], ids=["unknown-field-in-envFrom"])
async def test_a_spec_server_side_apply_refuses_is_stalled(
    kube: KubeClient, namespace: str, operator: OperatorProcess, spec: dict[str, Any]
) -> None:
    """Found by the fuzzer (fixed): such a service once got no status at all.

    The CRD admits it (envFrom is free-form); the Deployment's server-side apply
    answers 500 "failed to create typed patch object". (Duplicate env names, found
    the same way, are now refused by the CRD: ``env`` is a list map keyed by name.)
    """
    await kube.create(microservice("odd", namespace, **spec))

    async def settled() -> tuple[str, str] | None:
        body = await kube.get(API_VERSION, "MicroService", "odd", namespace)
        return verdict(body) if body else None

    outcome = await eventually(settled, timeout=20, what="odd Ready or Stalled")
    assert outcome[0] == "Stalled", outcome
