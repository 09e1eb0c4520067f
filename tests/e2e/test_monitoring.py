"""Monitoring per MicroService with and without prometheus-operator's CRDs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from microservice_operator.kube import KubeClient
from tests.support.cluster import ROOT, Cluster, eventually
from tests.support.microservices import API_VERSION, condition, microservice, wait_condition

pytestmark = pytest.mark.usefixtures("operator")


def prometheus_crds() -> list[Path]:
    out = subprocess.run(
        [str(ROOT / "hack" / "crds.sh"), "prometheus"], capture_output=True, text=True, check=True
    )
    base = Path(out.stdout.strip())
    return [
        base / "monitoring.coreos.com_servicemonitors.yaml",
        base / "monitoring.coreos.com_prometheusrules.yaml",
    ]


async def test_monitoring_without_then_with_prometheus_operator(
    kube: KubeClient, namespace: str, cluster: Cluster
) -> None:
    files = prometheus_crds()
    for f in files:
        cluster.kubectl("delete", "--ignore-not-found", "--wait=true", "-f", str(f))
    await kube.create(
        microservice(
            "shop",
            namespace,
            monitoring={"path": "/metrics", "interval": "15s", "alerts": {"errorRatio": 0.02}},
        )
    )
    body = await wait_condition(kube, namespace, "shop", timeout=60)  # Ready does not wait for it
    monitored = condition(body, "MonitoringReady")
    assert (monitored["status"], monitored["reason"]) == ("False", "PrometheusOperatorMissing")
    dashboard = await kube.get("v1", "ConfigMap", "shop-dashboard", namespace)
    assert dashboard is not None and dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    model: dict[str, Any] = json.loads(dashboard["data"]["shop.json"])
    assert {p["title"] for p in model["panels"]} == {
        "Requests per second",
        "Error ratio",
        "p99 latency",
    }
    try:
        for f in files:
            cluster.kubectl("apply", "--server-side", "-f", str(f))
        cluster.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/servicemonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com",
        )

        async def created() -> dict[str, Any] | None:
            return await kube.get("monitoring.coreos.com/v1", "PrometheusRule", "shop", namespace)

        # The CRDs' arrival reconciles the service at once, well before its 30 s recheck.
        rule = await eventually(
            created, timeout=20, what="PrometheusRule created without a restart"
        )
        alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
        assert set(alerts) == {
            "MicroServiceHighErrorRatio",
            "MicroServiceHighLatency",
            "MicroServiceNoReadyReplicas",
            "MicroServiceCrashLooping",
        }
        assert "> 0.02" in alerts["MicroServiceHighErrorRatio"]["expr"]
        monitor = await kube.get("monitoring.coreos.com/v1", "ServiceMonitor", "shop", namespace)
        assert monitor is not None
        assert monitor["spec"]["endpoints"] == [
            {"port": "http", "path": "/metrics", "interval": "15s"}
        ]
        body = await wait_condition(kube, namespace, "shop", "MonitoringReady", "True", timeout=60)

        await kube.delete(API_VERSION, "MicroService", "shop", namespace)

        async def cleaned() -> bool:
            return (
                await kube.get("monitoring.coreos.com/v1", "ServiceMonitor", "shop", namespace)
                is None
                and await kube.get("v1", "ConfigMap", "shop-dashboard", namespace) is None
            )

        await eventually(cleaned, timeout=60, what="monitoring objects garbage-collected")
    finally:
        for f in files:
            cluster.kubectl("delete", "--ignore-not-found", "-f", str(f))
