"""The benchmark's reading of Prometheus text and its 429 accounting (pure functions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hack.bench import kube, report, report_limits
from hack.bench.identity import baseline_rbac, chart_rbac, kubeconfig_for
from hack.bench.prometheus import samples

from microservice_operator.kube.config import Connection, from_kubeconfig

REJECTED = "apiserver_flowcontrol_rejected_requests_total"
SERVER = f"""\
# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{{code="200",component="apiserver",resource="pods",verb="LIST"}} 12
apiserver_request_total{{code="429",component="apiserver",resource="pods",verb="LIST"}} 3
apiserver_request_total{{code="429",component="apiserver",resource="deployments",verb="APPLY"}} 4
apiserver_request_total_other{{code="429"}} 100
{REJECTED}{{flow_schema="service-accounts",priority_level="workload-low",reason="queue-full"}} 5
{REJECTED}{{flow_schema="service-accounts",priority_level="workload-low",reason="time-out"}} 1
{REJECTED}{{flow_schema="global-default",reason="queue-full"}} 1
apiserver_flowcontrol_nominal_limit_seats{{priority_level="workload-low"}} 245
apiserver_flowcontrol_nominal_limit_seats{{priority_level="exempt"}} 0
"""


def test_samples_match_the_whole_metric_name_and_parse_labels() -> None:
    got = samples(SERVER, "apiserver_request_total")
    assert [value for _, value in got] == [12.0, 3.0, 4.0]
    assert got[1][0] == {
        "code": "429",
        "component": "apiserver",
        "resource": "pods",
        "verb": "LIST",
    }
    assert samples('m{a="x \\" y",b="2"} 1e3\n', "m") == [({"a": 'x \\" y', "b": "2"}, 1000.0)]
    assert samples("no_labels 7 1700000000\n", "no_labels") == [({}, 7.0)]


def test_rejections_sum_429s_and_group_priority_and_fairness_by_flow_schema() -> None:
    got = kube.rejections(SERVER)
    assert got == {"code_429": 7, "by_flow_schema": {"service-accounts": 6, "global-default": 1}}
    assert kube.concurrency_limits(SERVER) == {"workload-low": 245, "exempt": 0}
    assert kube.concurrency_limits('apiserver_request_total{code="200"} 1\n') == {}


def test_rejections_since_is_the_difference_without_zero_rows() -> None:
    before = {"code_429": 2, "by_flow_schema": {"service-accounts": 2, "global-default": 1}}
    after = {"code_429": 5, "by_flow_schema": {"service-accounts": 5, "global-default": 1}}
    assert kube.rejections_since(before, after) == {
        "code_429": 3,
        "by_flow_schema": {"service-accounts": 3},
    }


def _phase(every: int, ours: int, restart_every: int = 0) -> dict[str, object]:
    return {
        "seconds": 20.0,
        "rejected": {"code_429": every, "operator": ours, "by_flow_schema": {}},
        "restart": {"rejected": {"code_429": restart_every, "operator": 0, "by_flow_schema": {}}},
    }


def test_the_429_target_counts_convergence_and_restart_of_every_client() -> None:
    assert report_limits.targets({"runs": {}})[0]["result"] == "n/a"
    base = {"seconds": 10.0, "rejected": {"code_429": 0, "by_flow_schema": {}}}
    clean = {"limits": {"runs": {"1000": {"direct_plain": base, "operator_plain": _phase(0, 0)}}}}
    [target] = report_limits.targets(clean)
    assert target["result"] == "PASS" and target["measured"] == "0 (to the operator: 0)"
    noisy: dict[str, Any] = {
        "limits": {"runs": {"1000": {"direct_plain": base, "operator_plain": _phase(2, 1, 3)}}}
    }
    [target] = report_limits.targets(noisy)
    assert target["result"] == "MISS" and target["measured"] == "5 (to the operator: 1)"
    meta = {"date": "d", "commit": "c", "seats": {"workload-low": 245, "global-default": 49}}
    noisy["limits"]["meta"] = meta
    text = "\n".join(report_limits.table(noisy))
    assert "default 294 seats" in text
    assert "| 1,000 | no database | 10.0 s | 20.0 s | 2.00x | 0 | 2 (1) | 3 (0) | - |" in text


def test_identities_use_a_release_of_their_own_and_a_cluster_admin_baseline() -> None:
    chart = chart_rbac()
    kinds = {d["kind"] for d in chart}
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= kinds
    assert all(d["metadata"]["name"].startswith("msop-bench-") for d in chart)
    binding = baseline_rbac()[1]
    assert binding["roleRef"]["name"] == "cluster-admin"


def test_a_service_account_kubeconfig_carries_the_ca_inline(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    doc = kubeconfig_for(Connection(server="https://127.0.0.1:6443", ca_file=str(ca)), "t0k")
    path = tmp_path / "sa.kubeconfig"
    path.write_text(json.dumps(doc))
    ca.unlink()  # the written kubeconfig no longer needs the file it was made from
    loaded = from_kubeconfig(path)
    assert loaded.server == "https://127.0.0.1:6443" and loaded.bearer_token() == "t0k"
    assert loaded.ca_file and Path(loaded.ca_file).read_bytes().startswith(b"-----BEGIN")


def test_per_size_values_are_grouped_and_one_value_stands_alone() -> None:
    assert report._by_size({"100": "30", "1000": "30", "5000": "150"}) == (
        "30 (N=100, 1000), 150 (N=5000)"
    )
    assert report._by_size({"100": "120 s", "1000": "120 s"}) == "120 s"
