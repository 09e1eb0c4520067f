"""A small, fast slice of `make bench` on the test cluster: every measured phase still works.

The benchmark itself (N up to 5,000) runs on a cluster of its own and takes up to
hours; this runs the same phases at N=5 so that a change to the operator or to the
benchmark that breaks a measurement is found by `make test`, not by the next long run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hack.bench import identity, phases, report
from hack.bench import kube as bench_kube
from hack.bench.audit import AuditLog

from tests.support.cluster import ROOT, Cluster
from tests.support.operator import OperatorProcess

N = 5


@pytest.fixture
async def bench(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> AsyncIterator[phases.Bench]:
    """The benchmark's context on the test cluster; the session's operator steps aside."""
    if not cluster.local:
        pytest.skip("the benchmark reads the local control plane's audit log and processes")
    name = os.environ.get("MSOP_CLUSTER_NAME", "msop")
    state = ROOT / ".cluster" / "kwok" / "clusters" / name
    operator.stop()
    api = bench_kube.client(cluster.kubeconfig)
    b = phases.Bench(
        cluster.kubeconfig,
        api,
        AuditLog(state / "logs" / "audit.log"),
        tmp_path,
        idle=1.0,
        drift=2,
        pids=state / "pids",
    )
    try:
        yield b
    finally:
        await phases.flush(b)
        await api.close()
        operator.start()


async def test_every_phase_measures_at_a_small_n(bench: phases.Bench) -> None:
    direct = await phases.direct_apply(bench, N, database=False)
    assert direct["writes_per_service"] == 4.0  # ServiceAccount, Service, NetworkPolicy, Deployment
    assert direct["cpu_by_process"]["kube-apiserver"] > 0

    ours = await phases.operator(bench, N, database=False, full=True)
    assert ours["seconds"] > 0 and ours["reconciles_per_service"] >= 1
    by_kind = ours["create_writes"]["by_kind"]
    assert by_kind["patch deployments"] == N and by_kind["patch microservices/status"] >= N
    assert ours["cpu_by_process"]["operator"] > 0
    for phase in ("noop", "idle"):
        assert ours[phase]["writes"]["total"] == 0, ours[phase]["writes"]
    assert ours["restart"]["writes"]["total"] == 0, ours["restart"]["writes"]
    assert ours["restart"]["resync_seconds"] is not None
    assert ours["drift"]["count"] == 2 and ours["drift"]["p99_seconds"] < 5

    results = {
        "meta": {
            "date": "today",
            "command": "the slice",
            "machine": "this one",
            "kubernetes": "v1",
            "nodes": 1,
            "idle": 1.0,
            "sizes": [N],
        },
        "runs": {str(N): {"direct_plain": direct, "operator_plain": ours}},
    }
    results["targets"] = report.targets(results)
    text = report.markdown(results, [])
    assert f"| {N} | direct plain |" in text and f"| {N} | operator plain |" in text


async def test_service_account_identities_converge_and_count_429s(bench: phases.Bench) -> None:
    """What `make bench-limits` runs, at N=3 (the test cluster has no limits: no 429s)."""
    who = await identity.service_accounts(bench.api, bench.work)
    bench.operator_kubeconfig, bench.baseline_kubeconfig = who.operator, who.baseline
    limits = bench_kube.concurrency_limits(await bench_kube.server_metrics(bench.api))
    assert limits == {}, "the test cluster runs without priority and fairness"

    direct = await phases.direct_apply(bench, 3, database=False)
    assert direct["writes_per_service"] == 4.0
    ours = await phases.operator(bench, 3, database=False, full=False)
    assert ours["create_writes"]["by_kind"]["patch deployments"] == 3
    for rejected in (direct["rejected"], ours["rejected"], ours["restart"]["rejected"]):
        assert rejected["code_429"] == 0 and rejected["by_flow_schema"] == {}
    assert ours["rejected"]["operator"] == 0 and ours["restart"]["rejected"]["operator"] == 0
    assert ours["restart"]["writes"]["total"] == 0
