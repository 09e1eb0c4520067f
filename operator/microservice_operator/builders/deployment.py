"""The Deployment that runs the service, secure by default."""

from __future__ import annotations

from typing import Any

from microservice_operator.api.v1alpha1 import HttpProbe, MicroServiceSpec
from microservice_operator.builders.common import (
    Manifest,
    Owner,
    labels,
    metadata,
    selector_labels,
)

RUN_AS_USER = 10001
DEFAULT_REQUESTS = {"cpu": "50m", "memory": "64Mi"}
DEFAULT_LIMITS = {"memory": "256Mi"}


def autoscaling_enabled(spec: MicroServiceSpec) -> bool:
    """True when an HPA owns the replica count."""
    return spec.autoscaling is not None and spec.autoscaling.enabled


def build_deployment(
    owner: Owner,
    extra_env: list[dict[str, Any]] | None = None,
    pod_annotations: dict[str, str] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    volume_mounts: list[dict[str, Any]] | None = None,
) -> Manifest:
    """The Deployment for ``owner``. ``replicas`` is omitted while autoscaling is on."""
    spec = owner.spec
    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(owner)},
        "revisionHistoryLimit": 5,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
        },
        "template": {
            "metadata": {"labels": labels(owner)},
            "spec": pod_spec(owner, extra_env or [], volumes or [], volume_mounts or []),
        },
    }
    if pod_annotations:
        deployment_spec["template"]["metadata"]["annotations"] = dict(pod_annotations)
    if not autoscaling_enabled(spec):
        deployment_spec = {"replicas": spec.replicas, **deployment_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(owner),
        "spec": deployment_spec,
    }


def pod_spec(
    owner: Owner,
    extra_env: list[dict[str, Any]],
    volumes: list[dict[str, Any]] | None = None,
    volume_mounts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Pod spec: restricted Pod Security, read-only root, writable /tmp, no token by default."""
    spec = owner.spec
    automount = spec.service_account.automount_token if spec.service_account else False
    return {
        "serviceAccountName": owner.name,
        "automountServiceAccountToken": automount,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container(owner, extra_env, volume_mounts or [])],
        "volumes": [{"name": "tmp", "emptyDir": {}}, *(volumes or [])],
    }


def container(
    owner: Owner, extra_env: list[dict[str, Any]], mounts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The service container."""
    spec = owner.spec
    out: dict[str, Any] = {"name": "app", "image": spec.image}
    if spec.command:
        out["command"] = list(spec.command)
    if spec.args:
        out["args"] = list(spec.args)
    out["ports"] = [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}]
    out["env"] = environment(owner, extra_env)
    if spec.env_from:
        out["envFrom"] = [dict(item) for item in spec.env_from]
    out["resources"] = resources(spec)
    out.update(probes(spec))
    out["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    out["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}, *(mounts or [])]
    return out


def environment(owner: Owner, extra_env: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """User env first, then injected env; an injected name replaces a user one."""
    injected = [{"name": "PORT", "value": str(owner.spec.port)}, *extra_env]
    injected_names = {item["name"] for item in injected}
    user = [
        item.model_dump(by_alias=True, exclude_none=True)
        for item in owner.spec.env or []
        if item.name not in injected_names
    ]
    return user + injected


def resources(spec: MicroServiceSpec) -> dict[str, dict[str, str | int]]:
    """Requests and limits with defaults for what is not given."""
    given = spec.resources
    requests: dict[str, str | int] = {
        **DEFAULT_REQUESTS,
        **((given.requests if given else None) or {}),
    }
    limits: dict[str, str | int] = {**DEFAULT_LIMITS, **((given.limits if given else None) or {})}
    return {"limits": limits, "requests": requests}


def _http_probe(probe: HttpProbe, port: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "httpGet": {"path": probe.path, "port": probe.port or port, "scheme": "HTTP"},
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
        "successThreshold": 1,
    }
    if probe.initial_delay_seconds:  # zero is omitted by the API server; so do we
        out["initialDelaySeconds"] = probe.initial_delay_seconds
    return out


def probes(spec: MicroServiceSpec) -> dict[str, Any]:
    """Container probes; without any configured, TCP readiness on the service port."""
    given = spec.probes
    if given is None or not (given.readiness or given.liveness or given.startup):
        return {
            "readinessProbe": {
                "tcpSocket": {"port": spec.port},
                "periodSeconds": 10,
                "timeoutSeconds": 1,
                "failureThreshold": 3,
                "successThreshold": 1,
            }
        }
    out: dict[str, Any] = {}
    for field, key in (
        ("readiness", "readinessProbe"),
        ("liveness", "livenessProbe"),
        ("startup", "startupProbe"),
    ):
        probe = getattr(given, field)
        if probe is not None:
            out[key] = _http_probe(probe, spec.port)
    return out
