"""Monitoring objects, when prometheus-operator's CRDs are installed."""

from __future__ import annotations

from microservice_operator.builders import Manifest, Owner
from microservice_operator.builders.monitoring import (
    build_dashboard_config_map,
    build_prometheus_rule,
    build_service_monitor,
    monitoring_of,
)
from microservice_operator.builders.status import Gate
from microservice_operator.handlers.state import State

CRDS = ("servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com")
TTL = 10.0
RETRY = 30.0


async def monitoring_children(
    state: State, owner: Owner
) -> tuple[list[Manifest], Gate | None, float | None]:
    """(children, MonitoringReady, retry) for ``owner``."""
    if monitoring_of(owner) is None:
        return [], None, None
    children = [m for m in (build_dashboard_config_map(owner),) if m is not None]
    if not await state.crds_installed(*CRDS, ttl=TTL):
        gate = Gate(
            False,
            "PrometheusOperatorMissing",
            "prometheus-operator CRDs (ServiceMonitor, PrometheusRule) are not installed:"
            " only the dashboard ConfigMap was created",
        )
        return children, gate, RETRY
    children += [
        m for m in (build_service_monitor(owner), build_prometheus_rule(owner)) if m is not None
    ]
    return (
        children,
        Gate(True, "Monitored", "ServiceMonitor, PrometheusRule and dashboard in place"),
        None,
    )
