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


def _grafana_round_trip(model: dict[str, object]) -> dict[str, object]:
    """The model through Grafana's own generated dashboard types (grafana-foundation-sdk)."""
    from grafana_foundation_sdk.cog import plugins
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    plugins.register_default_plugins()  # panel and Prometheus query types
    decoded = json.loads(json.dumps(Dashboard.from_json(model), cls=JSONEncoder))
    assert isinstance(decoded, dict)
    return decoded


def _lost(original: object, decoded: object, path: str = "$") -> list[str]:
    """Paths of `original` that the round trip dropped or changed."""
    if isinstance(original, dict):
        if not isinstance(decoded, dict):
            return [path]
        return [
            lost
            for key, value in original.items()
            for lost in (
                _lost(value, decoded[key], f"{path}.{key}") if key in decoded else [f"{path}.{key}"]
            )
        ]
    if isinstance(original, list):
        if not isinstance(decoded, list) or len(original) != len(decoded):
            return [path]
        return [lost for i, pair in enumerate(zip(original, decoded, strict=True)) for lost in
                _lost(*pair, f"{path}[{i}]")]  # fmt: skip
    return [] if original == decoded else [path]


def test_dashboards_load_as_grafana_dashboard_models_without_losing_a_field() -> None:
    from microservice_operator.builders.monitoring import operator_dashboard

    cm = build_dashboard_config_map(owner())
    assert cm is not None
    for model in (json.loads(cm["data"]["orders.json"]), operator_dashboard()):
        decoded = _grafana_round_trip(model)
        assert _lost(model, decoded) == []
        panels = decoded["panels"]
        assert isinstance(panels, list) and panels
        for panel in panels:
            assert panel["type"] in {"timeseries", "stat", "gauge", "table", "row"}
            for target in panel.get("targets", []):
                assert target["expr"] and target["refId"]


def test_the_round_trip_catches_a_field_grafana_does_not_know() -> None:
    cm = build_dashboard_config_map(owner())
    assert cm is not None
    model = json.loads(cm["data"]["orders.json"])
    model["panels"][0]["gridpos"] = model["panels"][0].pop("gridPos")  # a typo
    assert "$.panels[0].gridpos" in _lost(model, _grafana_round_trip(model))


def test_every_dashboard_query_is_valid_promql(tmp_path: object) -> None:
    import subprocess
    from pathlib import Path

    import yaml

    from microservice_operator.builders.monitoring import operator_dashboard

    promtool = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "promtool"
    assert promtool.exists(), "promtool is missing: run `make tools`"
    assert isinstance(tmp_path, Path)
    cm = build_dashboard_config_map(owner())
    assert cm is not None
    exprs = [
        target["expr"]
        for model in (json.loads(cm["data"]["orders.json"]), operator_dashboard())
        for panel in model["panels"]
        for target in panel.get("targets", [])
    ]
    # Each query as a recording rule: promtool parses and type-checks it.
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}), encoding="utf-8")
    result = subprocess.run(
        [str(promtool), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_legends_only_name_labels_the_query_keeps() -> None:
    from microservice_operator.builders.monitoring import operator_dashboard

    cm = build_dashboard_config_map(owner())
    assert cm is not None
    for model in (json.loads(cm["data"]["orders.json"]), operator_dashboard()):
        for panel in model["panels"]:
            for target in panel["targets"]:
                named = set(re.findall(r"{{\s*(\w+)\s*}}", target.get("legendFormat", "")))
                kept = {
                    label.strip()
                    for group in re.findall(r"\bby \(([^)]*)\)", target["expr"])
                    for label in group.split(",")
                }
                aggregated = re.search(r"\b(sum|max|min|avg|count)\b", target["expr"])
                if aggregated:  # an aggregation keeps only its `by` labels
                    assert named <= kept, (panel["title"], named - kept)
