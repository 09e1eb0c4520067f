from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from microservice_operator.api.crd import crd_yaml
from microservice_operator.cli import main, render_file


def test_crd_check_detects_drift(tmp_path: Path) -> None:
    target = tmp_path / "crd.yaml"
    assert main(["crd", "-o", str(target), "--check"]) == 1
    assert main(["crd", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == crd_yaml()
    assert main(["crd", "-o", str(target), "--check"]) == 0
    target.write_text("stale", encoding="utf-8")
    assert main(["crd", "-o", str(target), "--check"]) == 1


def test_render_prints_children_in_apply_order(tmp_path: Path) -> None:
    source = tmp_path / "ms.yaml"
    source.write_text(
        "apiVersion: microservice-operator.dev/v1alpha1\nkind: MicroService\n"
        "metadata: {name: api}\nspec: {image: x:1, autoscaling: {maxReplicas: 4}}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert render_file(str(source), "prod", out) == 0
    docs = list(yaml.safe_load_all(out.getvalue()))
    assert [d["kind"] for d in docs] == [
        "ServiceAccount",
        "Service",
        "NetworkPolicy",
        "Deployment",
        "HorizontalPodAutoscaler",
    ]
    assert all(d["metadata"]["namespace"] == "prod" for d in docs)
    assert "replicas" not in docs[2]["spec"]


def test_render_reports_an_invalid_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text(
        "apiVersion: microservice-operator.dev/v1alpha1\nkind: MicroService\n"
        "metadata: {name: api}\nspec: {image: x:1, port: 0}\n",
        encoding="utf-8",
    )
    assert render_file(str(source), "default", io.StringIO()) == 1
    assert "MicroService api" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("12", 12.0), ("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("2.5s", 2.5)],
)
def test_durations_parse_like_go(text: str, seconds: float) -> None:
    from microservice_operator.cli import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "fast", "10x", "1m 2s"])
def test_bad_durations_are_rejected(text: str) -> None:
    import argparse

    from microservice_operator.cli import parse_duration

    with pytest.raises(argparse.ArgumentTypeError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("args", "env"), [(["--workers", "0"], None), (["--workers", "many"], None), ([], "-3")]
)
def test_a_bad_worker_count_is_a_usage_error(
    args: list[str],
    env: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if env is not None:
        monkeypatch.setenv("MSOP_WORKERS", env)
    with pytest.raises(SystemExit) as exited:
        main(["run", *args])
    assert exited.value.code == 2
    assert "not a positive whole number" in capsys.readouterr().err
