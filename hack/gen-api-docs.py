#!/usr/bin/env python3
"""Generate docs/reference/api.md from the MicroService CRD.

The CRD is itself generated from the pydantic models in
``operator/microservice_operator/api/``, so the reference shows exactly what
the API server enforces: every field path with its type, default, validation
(bounds, patterns, enums and CEL rules with their messages) and description.

    hack/gen-api-docs.py            rewrite docs/reference/api.md
    hack/gen-api-docs.py --check    fail if docs/reference/api.md is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "reference" / "api.md"
sys.path.insert(0, str(ROOT / "operator"))

from microservice_operator.api import crd as crd_module  # noqa: E402

Schema = dict[str, Any]


def anchor(title: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = title.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def cell(text: str) -> str:
    """Text that is safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def code(value: Any) -> str:
    """A value as inline code (JSON for non-strings)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def is_object(node: Schema) -> bool:
    """True for an object with declared properties (it gets its own section)."""
    return node.get("type") == "object" and "properties" in node


def type_name(node: Schema, path: str) -> str:
    """A short, linked type for the table."""
    if node.get("x-kubernetes-int-or-string"):
        cel = {rule["rule"] for rule in node.get("x-kubernetes-validations", [])}
        if "isQuantity(string(self))" in cel:
            return "quantity"
        return "int or string"
    if is_object(node):
        return f"[object](#{anchor(path)})"
    kind = node.get("type", "any")
    if kind == "array":
        items = node.get("items", {})
        return f"array of {type_name(items, path + '[]')}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of string to {type_name(node['additionalProperties'], path + '.*')}"
    if kind == "object" and node.get("x-kubernetes-preserve-unknown-fields"):
        return "object (free-form)"
    return str(kind)


def rules(node: Schema) -> list[str]:
    """The validation of one node, as short phrases."""
    out: list[str] = []
    if "enum" in node:
        out.append("one of " + ", ".join(code(v) for v in node["enum"]))
    for low, high, word in (
        ("minimum", "maximum", "value"),
        ("minLength", "maxLength", "length"),
        ("minItems", "maxItems", "items"),
        ("minProperties", "maxProperties", "keys"),
    ):
        if low in node and high in node:
            out.append(f"{word} {node[low]} to {node[high]}")
        elif low in node:
            out.append(f"{word} ≥ {node[low]}")
        elif high in node:
            out.append(f"{word} ≤ {node[high]}")
    if "pattern" in node:
        out.append(f"pattern {code(node['pattern'])}")
    if node.get("x-kubernetes-list-type") == "map":
        keys = ", ".join(code(k) for k in node.get("x-kubernetes-list-map-keys", []))
        out.append(f"list map keyed by {keys}")
    for rule in node.get("x-kubernetes-validations", []):
        out.append(f"CEL {code(rule['rule'])}: “{rule['message']}”")
    items = node.get("items")
    if isinstance(items, dict) and not is_object(items):
        out += [f"each item: {phrase}" for phrase in rules(items)]
    values = node.get("additionalProperties")
    if isinstance(values, dict) and not is_object(values):
        out += [f"each value: {phrase}" for phrase in rules(values)]
    return out


def sections(node: Schema, path: str) -> list[tuple[str, Schema]]:
    """Every object with properties under ``node``, depth first, in field order."""
    found = [(path, node)] if is_object(node) else []
    for name, child in (node.get("properties") or {}).items():
        found += sections(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += sections(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += sections(node["additionalProperties"], f"{path}.*")
    return found


def object_section(path: str, node: Schema) -> list[str]:
    """The heading, description, object-level rules and field table of one object."""
    lines = [f"### `{path}`", ""]
    if node.get("description"):
        lines += [node["description"], ""]
    for rule in node.get("x-kubernetes-validations", []):
        lines.append(f"- Rule: {code(rule['rule'])} — “{rule['message']}”")
    if node.get("x-kubernetes-validations"):
        lines.append("")
    lines += [
        "| Field | Type | Required | Default | Validation | Description |",
        "|---|---|---|---|---|---|",
    ]
    required = set(node.get("required", []))
    for name, child in node["properties"].items():
        full = f"{path}.{name}"
        default = code(child["default"]) if "default" in child else ""
        # An object's own rules are listed in its section.
        validation = "" if is_object(child) else "; ".join(rules(child))
        row = [
            f"`{full}`",
            type_name(child, full),
            "yes" if name in required else "",
            default,
            validation,
            child.get("description", ""),
        ]
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return [*lines, ""]


def render(crd: Schema) -> str:
    """The whole reference page."""
    spec = crd["spec"]
    version = spec["versions"][0]
    schema: Schema = version["schema"]["openAPIV3Schema"]
    names = spec["names"]
    scale = version["subresources"].get("scale", {})
    lines = [
        "<!-- Generated by hack/gen-api-docs.py from the CRD; do not edit. Run `make docs`. -->",
        "",
        f"# API reference: {names['kind']} {version['name']}",
        "",
        schema.get("description", ""),
        "",
        "This page is generated from the CustomResourceDefinition, which is generated from",
        "the API models in `operator/microservice_operator/api/`. It lists what the API",
        "server enforces when you apply a MicroService; `kubectl explain microservice.spec`",
        "shows the same descriptions.",
        "",
        "## Resource",
        "",
        "| | |",
        "|---|---|",
        f"| API version | `{spec['group']}/{version['name']}` |",
        f"| Kind | `{names['kind']}` (list: `{names['listKind']}`) |",
        f"| Plural, singular | `{names['plural']}`, `{names['singular']}` |",
        f"| Short names | {', '.join(code(n) for n in names.get('shortNames', []))} |",
        f"| Categories | {', '.join(code(n) for n in names.get('categories', []))} |",
        f"| Scope | {spec['scope']} |",
        f"| Served | {'yes' if version['served'] else 'no'} |",
        f"| Storage version | {'yes' if version['storage'] else 'no'} |",
        "| Status subresource | "
        + ("yes" if "status" in version["subresources"] else "no")
        + " (only the operator writes `status`) |",
    ]
    if scale:
        lines.append(
            f"| Scale subresource | replicas `{scale['specReplicasPath']}`,"
            f" status `{scale['statusReplicasPath']}`,"
            f" selector `{scale['labelSelectorPath']}` |"
        )
    lines += ["", "### Printer columns", "", "`kubectl get ms` shows:", ""]
    lines += ["| Column | Type | JSONPath | Shown |", "|---|---|---|---|"]
    for col in version.get("additionalPrinterColumns", []):
        shown = "with `-o wide`" if col.get("priority", 0) > 0 else "always"
        row = [col["name"], col["type"], code(col["jsonPath"]), shown]
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    lines += ["", "### Object rules", "", "Checked by the API server on the whole object:", ""]
    for rule in schema.get("x-kubernetes-validations", []):
        lines.append(f"- {code(rule['rule'])} — “{rule['message']}”")
    lines += ["", "## Fields", ""]
    lines += ["Objects, in the order they appear:", ""]
    found = sections(schema["properties"]["spec"], "spec")
    found += sections(schema["properties"]["status"], "status")
    for path, _ in found:
        depth = path.count(".")
        lines.append(f"{'  ' * depth}- [`{path}`](#{anchor(path)})")
    lines.append("")
    for path, node in found:
        lines += object_section(path, node)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail on drift instead of writing")
    args = parser.parse_args(argv)
    wanted = render(crd_module.crd())
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    if current == wanted:
        return 0
    if args.check:
        print(f"{OUTPUT.relative_to(ROOT)} is stale: run `make docs`", file=sys.stderr)
        return 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
