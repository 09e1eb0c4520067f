from __future__ import annotations

from typing import Any, cast

from microservice_operator.builders import Owner
from microservice_operator.builders.status import Problem, build_status, invalid_spec_status
from microservice_operator.handlers.events import EventBudget, announce_transitions, transitions
from microservice_operator.observability import EVENTS_DROPPED

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def owner(generation: int = 1, **spec: Any) -> Owner:
    return Owner.from_body(
        {
            "metadata": {"name": "web", "namespace": "ns", "uid": "u", "generation": generation},
            "spec": {"image": "x:1", **spec},
        }
    )


def deployment(
    replicas: int = 2, ready: int = 2, updated: int = 2, generation: int = 1, observed: int = 1
) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"image": "x:1"}]}}},
        "status": {
            "observedGeneration": observed,
            "replicas": updated,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "availableReplicas": ready,
        },
    }


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_no_deployment_yet_is_reconciling() -> None:
    status = build_status(owner(), None, None, T0)
    assert conditions(status) == {
        "Ready": ("False", "Creating"),
        "Reconciling": ("True", "Creating"),
        "Stalled": ("False", "Progressing"),
    }
    assert (
        status["selector"]
        == "app.kubernetes.io/managed-by=microservice-operator,app.kubernetes.io/name=web"
    )
    assert status["url"] == "http://web.ns.svc:80"
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])


def test_complete_rollout_is_ready() -> None:
    status = build_status(owner(), deployment(), None, T0)
    assert conditions(status)["Ready"] == ("True", "Available")
    assert conditions(status)["Reconciling"] == ("False", "Reconciled")
    assert status["readyReplicas"] == 2 and status["image"] == "x:1"


def test_unobserved_deployment_generation_is_rolling_out() -> None:
    status = build_status(owner(), deployment(generation=2, observed=1), None, T0)
    assert conditions(status)["Ready"] == ("False", "RollingOut")


def test_partial_rollout_is_rolling_out() -> None:
    status = build_status(owner(), deployment(replicas=3, ready=1, updated=1), None, T0)
    assert conditions(status)["Reconciling"][0] == "True"
    assert "1/3" in status["conditions"][0]["message"]


def test_scaled_to_zero_is_ready() -> None:
    status = build_status(owner(replicas=0), deployment(replicas=0, ready=0, updated=0), None, T0)
    assert conditions(status)["Ready"] == ("True", "ScaledToZero")


def test_problem_is_stalled() -> None:
    status = build_status(owner(), None, None, T0, Problem("ChildInvalid", "Deployment web: bad"))
    assert conditions(status)["Stalled"] == ("True", "ChildInvalid")
    assert conditions(status)["Ready"] == ("False", "ChildInvalid")


def test_transition_time_moves_only_when_status_changes() -> None:
    first = build_status(owner(), deployment(), None, T0)
    again = build_status(owner(), deployment(), first, T1)
    assert again == first
    broken = build_status(owner(), deployment(ready=1), first, T1)
    times = {c["type"]: c["lastTransitionTime"] for c in broken["conditions"]}
    assert times["Ready"] == T1 and times["Stalled"] == T0


def test_invalid_spec_status_keeps_other_fields() -> None:
    previous = build_status(owner(), deployment(), None, T0)
    status = invalid_spec_status("web", "ns", 2, previous, T1, "spec.port: too big")
    assert status["url"] == previous["url"]
    assert status["observedGeneration"] == 2
    assert conditions(status)["Stalled"] == ("True", "InvalidSpec")


def test_events_only_on_transitions() -> None:
    creating = build_status(owner(), None, None, T0)
    ready = build_status(owner(), deployment(), creating, T1)
    assert transitions(creating, ready) == [("Normal", "Ready", "2/2 replicas ready")]
    assert transitions(ready, ready) == []
    stalled = build_status(owner(), deployment(), ready, T1, Problem("ChildInvalid", "nope"))
    assert transitions(ready, stalled) == [
        ("Warning", "ChildInvalid", "nope"),
        ("Normal", "NotReady", "nope"),
    ]


def test_the_event_budget_spends_a_burst_then_refills_at_its_rate() -> None:
    now = [0.0]
    budget = EventBudget(rate=2.0, burst=3, clock=lambda: now[0])
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.4  # 0.8 of a token
    assert not budget.take()
    now[0] = 0.5
    assert budget.take() and not budget.take()
    now[0] = 100.0  # never more than the burst
    assert [budget.take() for _ in range(4)] == [True, True, True, False]


class Posted:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.reasons.append(obj["reason"])
        return obj


async def test_past_the_budget_normal_events_are_dropped_and_warnings_posted() -> None:
    body = {"apiVersion": "v1", "kind": "MicroService", "metadata": {"name": "a", "namespace": "b"}}
    creating = build_status(owner(), None, None, T0)
    ready = build_status(owner(), deployment(), creating, T1)
    stalled = build_status(owner(), deployment(), ready, T1, Problem("ChildInvalid", "nope"))
    client = Posted()
    budget = EventBudget(rate=0.0, burst=1)
    dropped = EVENTS_DROPPED.labels("NotReady")._value.get()
    await announce_transitions(cast(Any, client), body, creating, ready, budget)
    await announce_transitions(cast(Any, client), body, ready, stalled, budget)
    assert client.reasons == ["Ready", "ChildInvalid"]  # NotReady was past the budget
    assert EVENTS_DROPPED.labels("NotReady")._value.get() == dropped + 1
