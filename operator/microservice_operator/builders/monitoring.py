"""Monitoring the same way for every service: ServiceMonitor, RED alerts, a dashboard.

The ServiceMonitor and PrometheusRule need prometheus-operator's CRDs; the
reconciler only asks for them when the CRDs are installed. The dashboard is a
plain ConfigMap labelled for Grafana's sidecar.
"""

from __future__ import annotations

import json
from typing import Any

from microservice_operator.api.v1alpha1 import Monitoring
from microservice_operator.builders.common import Manifest, Owner, metadata, selector_labels

DASHBOARD_LABEL = "grafana_dashboard"


def monitoring_of(owner: Owner) -> Monitoring | None:
    """The monitoring block when monitoring is on."""
    block = owner.spec.monitoring
    return block if block is not None and block.enabled else None


def build_service_monitor(owner: Owner) -> Manifest | None:
    """Scrape the service's metrics endpoint through its Service."""
    block = monitoring_of(owner)
    if block is None:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(owner),
        "spec": {
            "selector": {"matchLabels": selector_labels(owner)},
            "namespaceSelector": {"matchNames": [owner.namespace]},
            "endpoints": [{"port": "http", "path": block.path, "interval": block.interval}],
        },
    }


def _selector(owner: Owner) -> str:
    return f'namespace="{owner.namespace}",service="{owner.name}"'


def alert_rules(owner: Owner) -> list[dict[str, Any]]:
    """RED alerts (rate, errors, duration) plus availability, with per-service thresholds."""
    block = monitoring_of(owner)
    assert block is not None
    alerts = block.alerts
    sel = _selector(owner)
    pod_sel = f'namespace="{owner.namespace}",pod=~"{owner.name}-.*"'
    name = owner.name
    labels = {"service": name, "namespace": owner.namespace}

    def rule(alert: str, expr: str, for_: str, severity: str, summary: str) -> dict[str, Any]:
        return {
            "alert": alert,
            "expr": expr,
            "for": for_,
            "labels": {"severity": severity, **labels},
            "annotations": {"summary": summary, "microservice": f"{owner.namespace}/{name}"},
        }

    return [
        rule(
            "MicroServiceHighErrorRatio",
            f'sum(rate(http_requests_total{{{sel},status=~"5.."}}[5m]))'
            f" / sum(rate(http_requests_total{{{sel}}}[5m])) > {alerts.error_ratio}",
            "10m",
            "critical",
            f"{name}: more than {alerts.error_ratio:.0%} of requests fail",
        ),
        rule(
            "MicroServiceHighLatency",
            f"histogram_quantile(0.99, sum by (le) (rate("
            f"http_request_duration_seconds_bucket{{{sel}}}[5m]))) > {alerts.p99_latency_seconds}",
            "10m",
            "warning",
            f"{name}: p99 latency above {alerts.p99_latency_seconds} s",
        ),
        rule(
            "MicroServiceNoReadyReplicas",
            f'kube_deployment_status_replicas_ready{{namespace="{owner.namespace}",'
            f'deployment="{name}"}} == 0',
            "5m",
            "critical",
            f"{name}: no ready replicas",
        ),
        rule(
            "MicroServiceCrashLooping",
            f"increase(kube_pod_container_status_restarts_total{{{pod_sel}}}[15m]) > 3",
            "5m",
            "warning",
            f"{name}: a container restarted more than 3 times in 15 minutes",
        ),
    ]


def build_prometheus_rule(owner: Owner) -> Manifest | None:
    """The service's alerting rules."""
    if monitoring_of(owner) is None:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(owner),
        "spec": {
            "groups": [{"name": f"{owner.namespace}.{owner.name}.red", "rules": alert_rules(owner)}]
        },
    }


def dashboard(owner: Owner) -> dict[str, Any]:
    """A Grafana dashboard (JSON model) with the service's RED panels."""
    sel = _selector(owner)

    def panel(
        pid: int, title: str, expr: str, unit: str, x: int, legend: str = "{{route}}"
    ) -> dict[str, Any]:
        return {
            "id": pid,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 8, "x": x, "y": 0},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": legend}],
        }

    return {
        "uid": f"msop-{owner.namespace}-{owner.name}"[:40],
        "title": f"{owner.namespace} / {owner.name}",
        "tags": ["microservice-operator"],
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]
        },
        "panels": [
            panel(
                1,
                "Requests per second",
                f"sum by (route) (rate(http_requests_total{{{sel}}}[5m]))",
                "reqps",
                0,
            ),
            panel(
                2,
                "Error ratio",
                f'sum(rate(http_requests_total{{{sel},status=~"5.."}}[5m]))'
                f" / sum(rate(http_requests_total{{{sel}}}[5m]))",
                "percentunit",
                8,
                legend="5xx / all requests",
            ),
            panel(
                3,
                "p99 latency",
                f"histogram_quantile(0.99, sum by (le, route) "
                f"(rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))",
                "s",
                16,
            ),
        ],
    }


def build_dashboard_config_map(owner: Owner) -> Manifest | None:
    """The dashboard as a ConfigMap picked up by Grafana's sidecar."""
    if monitoring_of(owner) is None:
        return None
    meta = metadata(owner, f"{owner.name}-dashboard", "monitoring")
    meta["labels"][DASHBOARD_LABEL] = "1"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {f"{owner.name}.json": json.dumps(dashboard(owner), sort_keys=True)},
    }


def operator_dashboard() -> dict[str, Any]:
    """A Grafana dashboard for the operator itself, from its own metrics."""

    def panel(
        pid: int, title: str, expr: str, unit: str, x: int, y: int, legend: str
    ) -> dict[str, Any]:
        return {
            "id": pid,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": legend}],
        }

    return {
        "uid": "microservice-operator",
        "title": "microservice-operator",
        "tags": ["microservice-operator"],
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]
        },
        "panels": [
            panel(
                1,
                "Reconciles per second by result",
                "sum by (result) (rate(controller_runtime_reconcile_total[5m]))",
                "ops",
                0,
                0,
                "{{result}}",
            ),
            panel(
                2,
                "Reconcile p99 duration",
                "histogram_quantile(0.99, sum by (le) "
                "(rate(controller_runtime_reconcile_time_seconds_bucket[5m])))",
                "s",
                12,
                0,
                "p99",
            ),
            panel(
                3,
                "In flight and queued",
                "sum(controller_runtime_active_workers) + sum(workqueue_depth)",
                "short",
                0,
                8,
                "work",
            ),
            panel(
                4,
                "API requests per second by method and code",
                "sum by (method, code) (rate(rest_client_requests_total[5m]))",
                "reqps",
                12,
                8,
                "{{method}} {{code}}",
            ),
            panel(
                5,
                "MicroServices by condition",
                'microservice_operator_microservices{condition="Ready"}',
                "short",
                0,
                16,
                "Ready={{status}}",
            ),
            panel(6, "Leader", "max(leader_election_master_status)", "short", 12, 16, "leader"),
        ],
    }
