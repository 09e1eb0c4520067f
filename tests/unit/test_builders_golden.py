"""Golden files: every example rendered to its children, compared byte for byte.

Refresh after an intended change with ``pytest tests/unit --update-golden``
and review the diff.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from microservice_operator.cli import render_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_rendered_children_match_golden(example: Path, request: pytest.FixtureRequest) -> None:
    out = io.StringIO()
    assert render_file(str(example), "shop", out) == 0
    golden = GOLDEN / f"{example.stem}.yaml"
    if request.config.getoption("--update-golden"):
        golden.write_text(out.getvalue(), encoding="utf-8")
    assert golden.exists(), f"no golden file for {example.name}: run pytest --update-golden"
    assert out.getvalue() == golden.read_text(encoding="utf-8")


def test_every_example_has_a_golden_file_and_no_golden_is_orphaned() -> None:
    assert {e.stem for e in EXAMPLES} == {g.stem for g in GOLDEN.glob("*.yaml")}
