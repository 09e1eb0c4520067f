"""The operator's own metrics, scraped from the running process."""

from __future__ import annotations

import re

from hack.bench.prometheus import total

from microservice_operator.kube import KubeClient
from tests.support.microservices import microservice, wait_condition
from tests.support.operator import OperatorProcess


async def test_metrics_count_reconciles_writes_and_conditions(
    kube: KubeClient, namespace: str, operator: OperatorProcess
) -> None:
    before = operator.metrics()
    await kube.create(microservice("seen", namespace))
    await wait_condition(kube, namespace, "seen", timeout=60)
    after = operator.metrics()
    done = total(
        after, "controller_runtime_reconcile_total", controller="microservice", result="success"
    )
    assert done > total(
        before, "controller_runtime_reconcile_total", controller="microservice", result="success"
    )
    assert (
        total(after, "controller_runtime_reconcile_time_seconds_count", controller="microservice")
        > 0
    )
    assert total(after, "rest_client_requests_total", method="PATCH") > total(
        before, "rest_client_requests_total", method="PATCH"
    )
    assert (
        total(after, "microservice_operator_microservices", condition="Ready", status="True") >= 1
    )
    assert re.search(r"^workqueue_depth\{", after, re.MULTILINE)
    assert "controller_runtime_active_workers" in after
