from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from microservice_operator.api import MicroServiceSpec
from microservice_operator.api.crd import crd, crd_yaml, openapi_schema

ROOT = Path(__file__).resolve().parents[2]


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = []
    if isinstance(node, dict):
        out.append((path, node))
        for key, child in node.get("properties", {}).items():
            out.extend(walk(child, f"{path}.{key}"))
        if isinstance(node.get("items"), dict):
            out.extend(walk(node["items"], f"{path}[]"))
        if isinstance(node.get("additionalProperties"), dict):
            out.extend(walk(node["additionalProperties"], f"{path}{{}}"))
    return out


def test_generated_crd_file_has_no_drift() -> None:
    assert (ROOT / "crds" / "microservices.yaml").read_text(encoding="utf-8") == crd_yaml(), (
        "crds/microservices.yaml is stale: run `make generate`"
    )


def test_schema_is_structural() -> None:
    for path, node in walk(openapi_schema()):
        for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "title", "$defs", "const"):
            assert forbidden not in node, f"{path} has {forbidden}"
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path} has no type"


def test_every_spec_and_status_field_is_described() -> None:
    schema = openapi_schema()
    for root in ("spec", "status"):
        for path, node in walk(schema["properties"][root], root):
            if path.endswith(("[]", "{}")):
                continue
            assert node.get("description"), f"{path} has no description (kubectl explain)"


def test_crd_shape() -> None:
    manifest = crd()
    spec = manifest["spec"]
    assert spec["names"]["shortNames"] == ["ms", "msvc"]
    version = spec["versions"][0]
    assert version["subresources"]["scale"]["labelSelectorPath"] == ".status.selector"
    assert openapi_schema()["properties"]["status"]["properties"]["selector"]["type"] == "string"
    assert [c["name"] for c in version["additionalPrinterColumns"]][:4] == [
        "Ready",
        "Replicas",
        "Image",
        "URL",
    ]
    rules = [
        v["rule"] for _, n in walk(openapi_schema()) for v in n.get("x-kubernetes-validations", [])
    ]
    assert any("minReplicas <= self.maxReplicas" in r for r in rules)
    assert any("oldSelf.database.engine" in r for r in rules)
    assert any("size(self.metadata.name) <= 52" in r for r in rules)


def test_port_bounds_are_in_the_schema() -> None:
    port = openapi_schema()["properties"]["spec"]["properties"]["port"]
    assert (port["minimum"], port["maximum"], port["default"]) == (1, 65535, 8000)


def test_pydantic_rejects_inverted_autoscaling_bounds() -> None:
    with pytest.raises(pydantic.ValidationError, match="minReplicas must not exceed"):
        MicroServiceSpec.model_validate(
            {"image": "x", "autoscaling": {"minReplicas": 5, "maxReplicas": 2}}
        )


def test_pydantic_rejects_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError):
        MicroServiceSpec.model_validate({"image": "x", "replcas": 2})
