"""More services at once than workers: progress reports are held, never lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from microservice_operator.kube import KubeClient
from tests.support.audit import AuditLog
from tests.support.identity import ChartIdentity
from tests.support.microservices import microservice, wait_condition
from tests.support.operator import OperatorProcess

SERVICES = 10


@pytest.fixture
def one_worker(
    operator: OperatorProcess, chart_identity: ChartIdentity, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """The session's operator steps aside for one that reconciles a single service at a time."""
    operator.stop()
    narrow = OperatorProcess(
        kubeconfig=chart_identity.kubeconfig, log_dir=tmp_path, extra_args=["--workers", "1"]
    )
    narrow.start()
    yield narrow
    narrow.stop()
    operator.start()
    assert not narrow.crashes(), narrow.crashes()


def requeues(metrics: str) -> float:
    prefix = 'controller_runtime_reconcile_total{controller="microservice",result="requeue"}'
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))


async def test_a_burst_beyond_the_workers_converges_with_progress_held(
    kube: KubeClient, namespace: str, audit: AuditLog, one_worker: OperatorProcess
) -> None:
    mark = audit.mark()
    names = [f"burst-{i}" for i in range(SERVICES)]
    await asyncio.gather(*(kube.create(microservice(name, namespace)) for name in names))
    for name in names:  # every one Ready, with its status, well within the hold's limit
        await wait_condition(kube, namespace, name, timeout=25)

    assert requeues(one_worker.metrics()) >= 1  # progress was held while others waited
    await asyncio.sleep(2)
    writes = audit.summary(audit.operator_writes(mark, namespace))
    status_writes = {n: writes[f"patch microservices/status {n}"] for n in names}
    assert all(count >= 1 for count in status_writes.values()), status_writes
    # Without the hold every service writes "rolling out" before "Ready"; those reconciled
    # while others waited write "Ready" alone.
    assert any(count == 1 for count in status_writes.values()), status_writes
