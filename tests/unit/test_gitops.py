"""The Argo CD health check and the kstatus reading of real MicroService status objects.

Status objects come from the operator's own ``build_status``; the Lua runs in a
real Lua 5.1 runtime (Argo CD's gopher-lua implements Lua 5.1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua51 as lua  # type: ignore[import-untyped]
import pytest
import yaml

from microservice_operator.api.v1alpha1 import MicroServiceSpec
from microservice_operator.builders import Owner
from microservice_operator.builders.status import (
    DatabaseState,
    Problem,
    build_status,
    invalid_spec_status,
)

ROOT = Path(__file__).resolve().parents[2]
HEALTH_LUA = ROOT / "gitops" / "argocd-health.lua"
CM_PATCH = ROOT / "gitops" / "argocd-cm-patch.yaml"
HEALTH_KEY = "resource.customizations.health.microservice-operator.dev_MicroService"
NOW = "2026-01-01T00:00:00Z"


def kstatus(body: dict[str, Any]) -> str:
    """The generic kstatus rules for a custom resource, in their order.

    deletionTimestamp -> Terminating; observedGeneration != generation -> InProgress;
    Reconciling=True -> InProgress; Stalled=True -> Failed; otherwise Current
    (Ready=True is what the operator sets whenever neither of the two is True).
    """
    meta = body.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    status = body.get("status") or {}
    if "observedGeneration" in status and status["observedGeneration"] != meta.get("generation"):
        return "InProgress"
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    if conditions.get("Reconciling") == "True":
        return "InProgress"
    if conditions.get("Stalled") == "True":
        return "Failed"
    return "Current"


def to_lua(runtime: Any, value: Any) -> Any:
    """A JSON-like Python value as Lua values (None drops the key, as JSON null does)."""
    if isinstance(value, dict):
        return runtime.table_from(
            {k: to_lua(runtime, v) for k, v in value.items() if v is not None}
        )
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, v) for v in value])
    return value


def argocd_health(body: dict[str, Any], script: str | None = None) -> tuple[str, str]:
    """Run the health check as Argo CD does: ``obj`` is global, the script returns ``hs``."""
    runtime = lua.LuaRuntime(unpack_returned_tuples=False)
    runtime.globals().obj = to_lua(runtime, body)
    hs = runtime.execute(script if script is not None else HEALTH_LUA.read_text(encoding="utf-8"))
    return str(hs["status"]), str(hs["message"] or "")


def spec_as_served(**spec: Any) -> dict[str, Any]:
    """The spec as the API server returns it: with the schema's defaults filled in."""
    model = MicroServiceSpec.model_validate({"image": "registry.example/shop/web:1.0.0", **spec})
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def body(
    spec: dict[str, Any], status: dict[str, Any] | None, generation: int = 1
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "microservice-operator.dev/v1alpha1",
        "kind": "MicroService",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": spec,
    }
    if status is not None:
        out["status"] = status
    return out


def owner(spec: dict[str, Any], generation: int = 1) -> Owner:
    return Owner.from_body(
        {
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "generation": generation},
            "spec": spec,
        }
    )


def deployment(desired: int, ready: int, updated: int | None = None) -> dict[str, Any]:
    updated = ready if updated is None else updated
    return {
        "metadata": {"generation": 1},
        "spec": {
            "replicas": desired,
            "template": {"spec": {"containers": [{"image": "registry.example/shop/web:1.0.0"}]}},
        },
        "status": {
            "observedGeneration": 1,
            "replicas": max(updated, ready),
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "availableReplicas": ready,
        },
    }


DB_PROVISIONING = DatabaseState(
    False, "Provisioning", "waiting for the database server", "web-db", "web-db.shop.svc"
)
DB_READY = DatabaseState(True, "ServerReady", "ready", "web-db", "web-db.shop.svc")


def case(name: str) -> dict[str, Any]:
    """A MicroService body in one of the states the operator reports."""
    spec = spec_as_served(replicas=2)
    if name == "Creating":
        return body(spec, build_status(owner(spec), None, None, NOW))
    if name == "RollingOut":
        return body(spec, build_status(owner(spec), deployment(2, 1, 1), None, NOW))
    if name == "Available":
        return body(spec, build_status(owner(spec), deployment(2, 2), None, NOW))
    if name == "AvailableWithDatabase":
        return body(spec, build_status(owner(spec), deployment(2, 2), None, NOW, None, DB_READY))
    if name == "ChildConflict":
        problem = Problem("ChildConflict", "Deployment web already exists; delete or rename it")
        return body(spec, build_status(owner(spec), deployment(2, 2), None, NOW, problem))
    if name == "InvalidSpec":
        status = invalid_spec_status("web", "shop", 1, None, NOW, "spec.port: bad")
        return body(spec, status)
    if name == "DatabaseNotReady":
        status = build_status(owner(spec), deployment(2, 2), None, NOW, None, DB_PROVISIONING)
        return body(spec, status)
    if name == "ScaledToZero":
        zero = spec_as_served(replicas=0)
        return body(zero, build_status(owner(zero), deployment(0, 0), None, NOW))
    if name == "ScaledToZeroAutoscalingOff":
        zero = spec_as_served(
            replicas=0, autoscaling={"enabled": False, "targetCPUUtilizationPercentage": 70}
        )
        return body(zero, build_status(owner(zero), deployment(0, 0), None, NOW))
    if name == "Autoscaled":
        scaled = spec_as_served(replicas=0, autoscaling={"minReplicas": 2, "maxReplicas": 4})
        return body(scaled, build_status(owner(scaled), deployment(2, 2), None, NOW))
    if name == "NoStatus":
        return body(spec, None)
    if name == "GenerationNotObserved":
        observed = build_status(owner(spec, generation=1), deployment(2, 2), None, NOW)
        return body(spec, observed, generation=2)
    if name == "Deleting":
        deleting = body(spec, build_status(owner(spec), deployment(2, 2), None, NOW))
        deleting["metadata"]["deletionTimestamp"] = NOW
        return deleting
    raise AssertionError(name)


EXPECTED = {
    # case: (Argo CD health, kstatus)
    "Creating": ("Progressing", "InProgress"),
    "RollingOut": ("Progressing", "InProgress"),
    "Available": ("Healthy", "Current"),
    "AvailableWithDatabase": ("Healthy", "Current"),
    "ChildConflict": ("Degraded", "Failed"),
    "InvalidSpec": ("Degraded", "Failed"),
    "DatabaseNotReady": ("Progressing", "InProgress"),
    "ScaledToZero": ("Suspended", "Current"),
    "ScaledToZeroAutoscalingOff": ("Suspended", "Current"),
    "Autoscaled": ("Healthy", "Current"),
    "GenerationNotObserved": ("Progressing", "InProgress"),
    "Deleting": ("Progressing", "Terminating"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_argocd_and_kstatus_agree_with_the_operator(name: str) -> None:
    obj = case(name)
    health, _ = argocd_health(obj)
    assert (health, kstatus(obj)) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kstatus_is_current_exactly_when_ready(name: str) -> None:
    # kstatus never reads Ready: the operator keeps Reconciling or Stalled True whenever
    # Ready is not True, so kstatus' "Current" and `kubectl wait --for=condition=Ready` agree.
    obj = case(name)
    if name in ("GenerationNotObserved", "Deleting"):
        return  # decided before conditions are read
    ready = {c["type"]: c["status"] for c in obj["status"]["conditions"]}["Ready"]
    assert (kstatus(obj) == "Current") == (ready == "True")


def test_degraded_carries_the_stalled_reason_and_message() -> None:
    health, message = argocd_health(case("ChildConflict"))
    assert health == "Degraded"
    assert message == "ChildConflict: Deployment web already exists; delete or rename it"


def test_progressing_explains_what_it_waits_for() -> None:
    assert argocd_health(case("DatabaseNotReady"))[1].startswith(
        "DatabaseNotReady: database not ready: waiting for the database server"
    )
    assert argocd_health(case("RollingOut"))[1].startswith("RollingOut: rollout in progress")
    assert "generation 2" in argocd_health(case("GenerationNotObserved"))[1]


def test_no_status_yet_is_progressing_in_argocd() -> None:
    # kstatus reads a custom resource without any status as Current (documented in
    # docs/how-to/gitops.md); the Argo CD check waits for the operator's first status.
    obj = case("NoStatus")
    assert argocd_health(obj) == ("Progressing", "Waiting for the operator to report status")
    assert kstatus(obj) == "Current"


def test_ready_false_without_reconciling_is_progressing() -> None:
    obj = case("Available")
    for cond in obj["status"]["conditions"]:
        if cond["type"] == "Ready":
            cond.update(status="False", reason="Elsewhere", message="")
    assert argocd_health(obj) == ("Progressing", "Elsewhere")


def test_configmap_patch_embeds_the_script() -> None:
    patch = yaml.safe_load(CM_PATCH.read_text(encoding="utf-8"))
    assert patch["kind"] == "ConfigMap" and patch["metadata"]["name"] == "argocd-cm"
    embedded = patch["data"][HEALTH_KEY]
    assert embedded == HEALTH_LUA.read_text(encoding="utf-8"), "copy argocd-health.lua into it"
    assert argocd_health(case("Available"), embedded)[0] == "Healthy"
