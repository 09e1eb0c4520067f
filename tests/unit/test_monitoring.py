from __future__ import annotations

import json
import re

from microservice_operator.builders import Owner
from microservice_operator.builders.monitoring import (
    build_dashboard_config_map,
    build_prometheus_rule,
    build_service_monitor,
)


def owner(**monitoring: object) -> Owner:
    return Owner.from_body(
        {
            "metadata": {"name": "orders", "namespace": "shop", "uid": "u"},
            "spec": {"image": "x:1", "monitoring": monitoring},
        }
    )


def test_nothing_when_disabled() -> None:
    off = owner(enabled=False)
    assert build_service_monitor(off) is None
    assert build_prometheus_rule(off) is None
    assert build_dashboard_config_map(off) is None


def test_rules_have_red_alerts_with_overrides_and_balanced_promql() -> None:
    rule = build_prometheus_rule(owner(alerts={"errorRatio": 0.1, "p99LatencySeconds": 0.25}))
    assert rule is not None
    rules = rule["spec"]["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in rules}
    assert "> 0.1" in by_name["MicroServiceHighErrorRatio"]["expr"]
    assert "> 0.25" in by_name["MicroServiceHighLatency"]["expr"]
    for r in rules:
        expr = r["expr"]
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
        assert r["labels"]["severity"] in {"warning", "critical"}
        assert re.fullmatch(r"[0-9]+[smh]", r["for"])
        assert 'namespace="shop"' in expr


def test_dashboard_is_a_grafana_model() -> None:
    cm = build_dashboard_config_map(owner())
    assert cm is not None
    model = json.loads(cm["data"]["orders.json"])
    assert model["uid"] == "msop-shop-orders" and len(model["uid"]) <= 40
    assert model["schemaVersion"] >= 36
    assert len({p["id"] for p in model["panels"]}) == len(model["panels"]) == 3
    for panel in model["panels"]:
        assert panel["targets"][0]["expr"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}


def test_operator_dashboard_only_uses_metrics_the_operator_exports() -> None:
    import re as _re

    from microservice_operator.builders.monitoring import operator_dashboard
    from microservice_operator.observability import REGISTRY

    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    exported = set()
    for family in REGISTRY.collect():
        exported |= {family.name + suffix for suffix in suffixes.get(family.type, [""])}
    exported.add("microservice_operator_microservices")  # served by a scrape-time collector
    model = operator_dashboard()
    used = set()
    for panel in model["panels"]:
        used |= set(
            _re.findall(
                r"\b(controller_runtime_\w+|workqueue_\w+|rest_client_\w+|"
                r"leader_election_\w+|microservice_operator_\w+)",
                panel["targets"][0]["expr"],
            )
        )
    assert used and used <= exported, used - exported
    assert len({p["id"] for p in model["panels"]}) == len(model["panels"])


def test_generated_rules_pass_promtool(tmp_path: object) -> None:
    import subprocess
    from pathlib import Path

    import yaml

    promtool = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "promtool"
    assert promtool.exists(), "promtool is missing: run `make tools`"
    assert isinstance(tmp_path, Path)
    rules = build_prometheus_rule(owner(alerts={"errorRatio": 0.01, "p99LatencySeconds": 2}))
    assert rules is not None
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rules["spec"]["groups"]}), encoding="utf-8")
    result = subprocess.run(
        [str(promtool), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout
