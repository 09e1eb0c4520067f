"""The MicroService API, version v1alpha1: the single source of truth.

The CRD in `crds/` is generated from these models (`msop crd`); every
description here becomes `kubectl explain` text.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP = "microservice-operator.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "MicroService"
PLURAL = "microservices"
MAX_NAME_LENGTH = 52
"""Longest MicroService name: every child name (`<name>-db-headless` …) stays a DNS label."""

IntOrString = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]
QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"


def _check_quantity(value: str | int) -> str | int:
    if isinstance(value, str) and not re.match(QUANTITY_PATTERN, value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 1, 128Mi, 1Gi)")
    return value


Quantity = Annotated[
    str | int,
    AfterValidator(_check_quantity),
    Field(
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "maxLength": 64,
            "x-kubernetes-validations": [
                {"rule": "isQuantity(string(self))", "message": "must be a Kubernetes quantity"}
            ],
        }
    ),
]
QuantityMap = Annotated[
    dict[Annotated[str, Field(max_length=253)], Quantity],
    Field(max_length=16),
]


def _cel(rule: str, message: str) -> JsonDict:
    return {"rule": rule, "message": message}


class Model(BaseModel):
    """Base: camelCase on the wire, unknown fields rejected, descriptions required."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=True,
    )


class EnvVar(Model):
    """One environment variable for the service container."""

    name: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
    """Variable name (a C identifier is safest)."""
    value: str | None = Field(default=None, max_length=32768)
    """Literal value."""
    value_from: dict[str, Any] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}
    )
    """Source of the value as in a Pod: secretKeyRef, configMapKeyRef, fieldRef, …"""


class ResourceRequirements(Model):
    """CPU and memory for the service container."""

    requests: QuantityMap | None = None
    """Minimum resources, e.g. `{cpu: 100m, memory: 128Mi}`. Default: cpu 50m, memory 64Mi."""
    limits: QuantityMap | None = None
    """Maximum resources, e.g. `{memory: 256Mi}`. Default: memory 256Mi, no CPU limit."""


class HttpProbe(Model):
    """An HTTP GET probe against the service port."""

    path: str = Field(pattern=r"^/", max_length=1024)
    """URL path, e.g. `/readyz`."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Port to probe; default `spec.port`."""
    initial_delay_seconds: int = Field(default=0, ge=0, le=3600)
    """Seconds after start before the first probe."""
    period_seconds: int = Field(default=10, ge=1, le=3600)
    """Seconds between probes."""
    timeout_seconds: int = Field(default=1, ge=1, le=600)
    """Seconds before a probe times out."""
    failure_threshold: int = Field(default=3, ge=1, le=1000)
    """Consecutive failures before the probe fails."""


class Probes(Model):
    """Health probes. Without any, a TCP readiness probe on the service port is used."""

    readiness: HttpProbe | None = None
    """Traffic is sent only while this succeeds (e.g. `/readyz`)."""
    liveness: HttpProbe | None = None
    """The container is restarted when this fails (e.g. `/healthz`)."""
    startup: HttpProbe | None = None
    """Holds the other probes back until the service has started."""


class Autoscaling(Model):
    """A HorizontalPodAutoscaler (autoscaling/v2). While enabled, `spec.replicas` is not applied."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "!has(self.minReplicas) || !has(self.maxReplicas)"
                    " || self.minReplicas <= self.maxReplicas",
                    "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
                ),
                _cel(
                    "has(self.targetCPUUtilizationPercentage)"
                    " || has(self.targetMemoryUtilizationPercentage)",
                    "autoscaling needs targetCPUUtilizationPercentage"
                    " or targetMemoryUtilizationPercentage",
                ),
            ]
        }
    )

    enabled: bool = True
    """Set false to keep the block but switch the autoscaler off."""
    min_replicas: int = Field(default=1, ge=1, le=1000)
    """Lower bound of replicas."""
    max_replicas: int = Field(default=5, ge=1, le=1000)
    """Upper bound of replicas."""
    target_cpu_utilization_percentage: int | None = Field(
        default=80, ge=1, le=1000, alias="targetCPUUtilizationPercentage"
    )
    """Average CPU utilisation (percent of requests) to aim for."""
    target_memory_utilization_percentage: int | None = Field(
        default=None, ge=1, le=1000, alias="targetMemoryUtilizationPercentage"
    )
    """Average memory utilisation (percent of requests) to aim for."""


class DisruptionBudget(Model):
    """A PodDisruptionBudget. Give exactly one of maxUnavailable or minAvailable."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "has(self.maxUnavailable) != has(self.minAvailable)",
                    "disruptionBudget needs exactly one of maxUnavailable or minAvailable",
                )
            ]
        }
    )

    enabled: bool = True
    """Set false to keep the block but remove the budget."""
    max_unavailable: IntOrString | None = None
    """Pods that may be down at once during voluntary disruptions (number or percent)."""
    min_available: IntOrString | None = None
    """Pods that must stay up during voluntary disruptions (number or percent)."""


class ServiceAccountSpec(Model):
    """The workload's own ServiceAccount."""

    automount_token: bool = False
    """Mount an API token into the pods. Off by default: most services never call the API."""


class DatabaseEngine(StrEnum):
    """Database engines."""

    POSTGRES = "postgres"
    MONGODB = "mongodb"


class DatabaseMode(StrEnum):
    """Where the database runs."""

    DEDICATED = "dedicated"
    EXTERNAL = "external"
    CLOUDNATIVEPG = "cloudnativepg"


class DeletionPolicy(StrEnum):
    """What happens to data when the MicroService is deleted."""

    RETAIN = "Retain"
    DELETE = "Delete"


class ServerRef(Model):
    """An existing database server and the Secret holding its admin credentials."""

    host: str = Field(min_length=1, max_length=253)
    """Server host name."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Server port; default 5432 (postgres) or 27017 (mongodb)."""
    admin_secret_name: str = Field(min_length=1, max_length=253)
    """Secret in the MicroService's namespace with keys `username` and `password`."""


class Database(Model):
    """The service's own database; credentials arrive as `DATABASE_URL` and `DB_*` env."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "self.mode != 'external' || has(self.serverRef)",
                    "database.serverRef is required when database.mode is external",
                ),
                _cel(
                    "self.mode != 'cloudnativepg' || self.engine == 'postgres'",
                    "database.mode cloudnativepg needs database.engine postgres",
                ),
            ]
        }
    )

    engine: DatabaseEngine
    """`postgres` or `mongodb`; immutable."""
    mode: DatabaseMode = DatabaseMode.DEDICATED
    """`dedicated` (a StatefulSet owned by the MicroService), `external` or `cloudnativepg`."""
    version: str | None = Field(default=None, max_length=32, pattern=r"^[0-9][0-9a-z.\-]*$")
    """Engine major version, e.g. `"16"` or `"7.0"`."""
    storage: Quantity = "1Gi"
    """Volume size for dedicated databases."""
    server_ref: ServerRef | None = None
    """The server to use in `external` mode."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """`Retain` keeps data and credentials after deletion; `Delete` removes them."""


DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class Dependency(Model):
    """Another MicroService this one calls: discovery, network access and readiness."""

    name: str = Field(min_length=1, max_length=63, pattern=DNS_LABEL)
    """The MicroService's name; its URL arrives as env `<NAME>_URL`."""
    namespace: str | None = Field(default=None, max_length=63, pattern=DNS_LABEL)
    """Its namespace; default: this MicroService's namespace."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Service port to call; default 80."""


class IssuerRef(Model):
    """The MicroService that issues the JWTs this one accepts."""

    name: str = Field(min_length=1, max_length=63, pattern=DNS_LABEL)
    """The issuer's name."""
    namespace: str | None = Field(default=None, max_length=63, pattern=DNS_LABEL)
    """Its namespace; default: this MicroService's namespace."""


class Auth(Model):
    """JWT wiring: issue tokens, or trust an issuer."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "!(has(self.issuer) && self.issuer && has(self.issuerRef))",
                    "auth.issuer and auth.issuerRef are mutually exclusive",
                )
            ]
        }
    )

    issuer: bool = False
    """This service issues JWTs: JWT_ISSUER and a generated RS256 key (JWT_PRIVATE_KEY_FILE)."""
    issuer_ref: IssuerRef | None = None
    """Trust this issuer: JWT_ISSUER and JWKS_URL are injected and the network path opened."""


class PolicyPeer(Model):
    """Extra traffic a NetworkPolicy lets through."""

    namespaces: list[Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]] | None = Field(
        default=None, max_length=32
    )
    """Namespaces whose pods may connect (e.g. an ingress controller's)."""
    cidrs: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=32)
    """IP blocks (e.g. 10.0.0.0/8) and the ports below."""
    ports: list[Annotated[int, Field(ge=1, le=65535)]] | None = Field(default=None, max_length=16)
    """Ports for `cidrs` (egress); default: any."""


class NetworkPolicySpec(Model):
    """NetworkPolicies generated from dependsOn, the issuer relation and the database."""

    enabled: bool = True
    """Set false on clusters without a policy engine (or label the namespace
    `microservice-operator.dev/network-policies=disabled`)."""
    ingress: PolicyPeer | None = None
    """Who else may connect to this service."""
    egress: PolicyPeer | None = None
    """What else this service may reach."""


class AlertThresholds(Model):
    """Per-service thresholds of the generated RED alerts."""

    error_ratio: float = Field(default=0.05, gt=0, le=1)
    """Alert when more than this share of requests fail (5xx) over 10 minutes."""
    p99_latency_seconds: float = Field(default=1.0, gt=0, le=600)
    """Alert when the 99th percentile latency stays above this many seconds."""


class Monitoring(Model):
    """Prometheus scraping, RED alerts and a Grafana dashboard (prometheus-operator CRDs)."""

    enabled: bool = True
    """Set false to keep the block but remove the monitoring objects."""
    path: str = Field(default="/metrics", pattern=r"^/", max_length=256)
    """Metrics path on the service port."""
    interval: str = Field(default="30s", pattern=r"^[0-9]+(ms|s|m|h)$", max_length=16)
    """Scrape interval."""
    alerts: AlertThresholds = Field(default_factory=AlertThresholds)
    """Alert thresholds."""


class MicroServiceSpec(Model):
    """Desired state of a MicroService."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "!has(oldSelf.database) || !has(self.database)"
                    " || self.database.engine == oldSelf.database.engine",
                    "database.engine is immutable",
                ),
            ]
        }
    )

    image: str = Field(min_length=1, max_length=512, pattern=r"^[^\s]+$")
    """Container image, e.g. `registry.example/shop/orders:1.4.2`."""
    port: int = Field(default=8000, ge=1, le=65535)
    """Container port. The Service listens on 80 and forwards here."""
    replicas: int = Field(default=1, ge=0, le=1000)
    """Pod count while autoscaling is off (scale subresource: `kubectl scale ms/NAME`)."""
    command: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        default=None, max_length=64
    )
    """Entrypoint override."""
    args: list[Annotated[str, Field(max_length=4096)]] | None = Field(default=None, max_length=256)
    """Arguments to the entrypoint."""
    env: list[EnvVar] | None = Field(
        default=None,
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Extra environment variables, each name once.

    Names the operator injects (`DATABASE_URL` …) win.
    """
    env_from: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=64,
        json_schema_extra={
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        },
    )
    """ConfigMaps or Secrets whose keys become environment variables, as in a Pod."""
    resources: ResourceRequirements | None = None
    """CPU and memory requests and limits."""
    probes: Probes | None = None
    """Readiness, liveness and startup probes."""
    autoscaling: Autoscaling | None = None
    """Horizontal autoscaling; when enabled, `replicas` is ignored."""
    disruption_budget: DisruptionBudget | None = None
    """A PodDisruptionBudget for voluntary disruptions."""
    service_account: ServiceAccountSpec | None = None
    """Options for the workload's ServiceAccount."""
    database: Database | None = None
    """The service's own database."""
    depends_on: list[Dependency] | None = Field(default=None, max_length=32)
    """MicroServices this one calls: `<NAME>_URL` env, network access, DependenciesReady."""
    wait_for_dependencies: bool = False
    """Hold the first rollout back until every dependency is Ready."""
    auth: Auth | None = None
    """JWT issuer or issuer reference."""
    network_policy: NetworkPolicySpec | None = None
    """NetworkPolicies (on by default)."""
    monitoring: Monitoring | None = None
    """ServiceMonitor, PrometheusRule and dashboard for this service."""

    @model_validator(mode="after")
    def _autoscaling_bounds(self) -> MicroServiceSpec:
        scaling = self.autoscaling
        if scaling is not None and scaling.min_replicas > scaling.max_replicas:
            raise ValueError("autoscaling.minReplicas must not exceed autoscaling.maxReplicas")
        return self


class ConditionStatus(StrEnum):
    """metav1.Condition status values."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    """A metav1.Condition: one aspect of the MicroService's state."""

    type: str = Field(max_length=316)
    """Condition type: Ready, Reconciling, Stalled, …"""
    status: ConditionStatus
    """True, False or Unknown."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The generation this condition was set for."""
    last_transition_time: str
    """When the status last changed (RFC 3339)."""
    reason: str = Field(max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    """CamelCase reason for the last transition."""
    message: str = Field(default="", max_length=32768)
    """Human-readable details."""


class DatabaseStatus(Model):
    """Where the service's database is and whether it is usable."""

    secret_name: str | None = None
    """Secret with DATABASE_URL and DB_* keys."""
    host: str | None = None
    """Database host."""
    ready: bool = False
    """True when the database accepts connections with the generated credentials."""


class MicroServiceStatus(Model):
    """Observed state of a MicroService, written by the operator."""

    observed_generation: int | None = None
    """The spec generation the status describes."""
    replicas: int | None = None
    """Pods the Deployment currently has."""
    ready_replicas: int | None = None
    """Pods that are Ready."""
    selector: str | None = None
    """Label selector of the pods, as a string (scale subresource, HPA)."""
    url: str | None = None
    """In-cluster URL of the service."""
    image: str | None = None
    """Image the Deployment currently runs."""
    database: DatabaseStatus | None = None
    """The service's database."""
    conditions: list[Condition] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Reconciling, Stalled, DatabaseReady, … (metav1.Condition)."""


class MicroService(Model):
    """A microservice declared once: workload, Service, autoscaling, budget, database."""

    api_version: Literal["microservice-operator.dev/v1alpha1"] = (
        "microservice-operator.dev/v1alpha1"
    )
    """API version."""
    kind: Literal["MicroService"] = "MicroService"
    """Kind."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Standard object metadata."""
    spec: MicroServiceSpec
    """Desired state."""
    status: MicroServiceStatus | None = None
    """Observed state."""
