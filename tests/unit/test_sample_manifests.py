"""The sample shop's MicroService manifests are valid against the current API."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from microservice_operator.api import MicroServiceSpec
from microservice_operator.builders import Owner, build_children

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted(ROOT.glob("sample-services/*/deploy/microservice.yaml"))


def test_every_sample_service_has_a_manifest() -> None:
    assert {m.parts[-3] for m in MANIFESTS} == {"auth", "products", "orders"}


@pytest.mark.parametrize("path", MANIFESTS, ids=[m.parts[-3] for m in MANIFESTS])
def test_manifest_is_valid_and_renders(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    MicroServiceSpec.model_validate(doc["spec"])
    doc["metadata"].update(namespace="shop", uid="u")
    kinds = [child["kind"] for child in build_children(Owner.from_body(doc))]
    assert "Deployment" in kinds and "Service" in kinds
