"""The docs cannot drift from the code.

- docs/reference/api.md is what hack/gen-api-docs.py renders from the CRD today;
- every condition reason the operator can set is described in troubleshooting.md;
- every MicroService in a ```yaml block of docs/ or in examples/ is valid;
- relative links between the pages point at files and headings that exist.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from microservice_operator.api import crd
from microservice_operator.api.v1alpha1 import API_VERSION, KIND, MAX_NAME_LENGTH, MicroServiceSpec

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OPERATOR = ROOT / "operator" / "microservice_operator"
PAGES = sorted(DOCS.rglob("*.md"))
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    path: Path
    line: int
    info: str
    text: str

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def code_blocks(path: Path) -> Iterator[Block]:
    """Every fenced block of a Markdown file, de-indented, with its info string."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        indent, ticks = len(opening["indent"]), opening["ticks"]
        body: list[str] = []
        start = index
        while index < len(lines) and lines[index].strip() != ticks:
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        index += 1
        yield Block(path, start, opening["info"].strip(), "\n".join(body) + "\n")


def microservices() -> list[tuple[str, dict[str, Any]]]:
    """(where, document) of every MicroService in docs/ YAML blocks and in examples/."""
    found: list[tuple[str, dict[str, Any]]] = []
    for page in PAGES:
        for block in code_blocks(page):
            if block.language == "yaml":
                for number, doc in enumerate(yaml.safe_load_all(block.text)):
                    if isinstance(doc, dict) and doc.get("kind") == KIND:
                        found.append((f"{block.where}#{number}", doc))
    for example in EXAMPLES:
        for number, doc in enumerate(yaml.safe_load_all(example.read_text(encoding="utf-8"))):
            if isinstance(doc, dict) and doc.get("kind") == KIND:
                found.append((f"{example.relative_to(ROOT)}#{number}", doc))
    return found


MICROSERVICES = microservices()


def gen_api_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api_docs", ROOT / "hack" / "gen-api-docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ API reference
def test_api_reference_is_generated_from_the_current_crd() -> None:
    wanted = gen_api_docs().render(crd.crd())
    current = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    assert current == wanted, "docs/reference/api.md is stale: run `make docs`"


def test_api_reference_lists_every_field_path() -> None:
    text = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")

    def paths(node: dict[str, Any], prefix: str) -> Iterator[str]:
        for name, child in (node.get("properties") or {}).items():
            yield f"{prefix}.{name}"
            yield from paths(child, f"{prefix}.{name}")
        if isinstance(node.get("items"), dict):
            yield from paths(node["items"], f"{prefix}[]")

    schema = crd.openapi_schema()["properties"]
    every = [*paths(schema["spec"], "spec"), *paths(schema["status"], "status")]
    assert len(every) > 40
    missing = [path for path in every if f"| `{path}` |" not in text]
    assert not missing


def test_api_reference_shows_validation_messages() -> None:
    text = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    for message in (
        "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
        "database.engine is immutable",
        "database.serverRef is required when database.mode is external",
        "must be a Kubernetes quantity",
    ):
        assert message in text


# ------------------------------------------------------------------ reasons
REASON_ARGUMENT = {
    "condition": (2, "reason"),
    "Problem": (0, "reason"),
    "DatabaseState": (1, "reason"),
}
"""Calls that set a condition reason: the reason's position and keyword."""
CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]+$")


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _camel_strings(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and CAMEL.match(n.value)
    }


def _resolve(expr: ast.expr, scope: ast.AST, functions: dict[str, Any], where: str) -> set[str]:
    """The reason strings an argument expression can evaluate to."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return _resolve(expr.body, scope, functions, where) | _resolve(
            expr.orelse, scope, functions, where
        )
    if isinstance(expr, ast.Attribute) and expr.attr == "reason":
        return set()  # passed through from a Problem or DatabaseState, resolved where built
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        helper = functions.get(expr.func.id)
        if helper is not None:  # e.g. _reason(exc): every reason its returns can produce
            return set().union(
                *(_camel_strings(r) for r in ast.walk(helper) if isinstance(r, ast.Return))
            )
    if isinstance(expr, ast.Name):  # `reason, message = (("A", ...) if ... else ("B", ...))`
        found: set[str] = set()
        for node in ast.walk(scope):
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == expr.id:
                    found |= _resolve(node.value, scope, functions, where)
                elif isinstance(target, ast.Tuple):
                    names = [t.id if isinstance(t, ast.Name) else None for t in target.elts]
                    if expr.id in names:
                        found |= _tuple_item(node.value, names.index(expr.id))
        if found:
            return found
    raise AssertionError(
        f"{where}: cannot tell which reason `{ast.unparse(expr)}` is; use a string literal"
    )


def _tuple_item(value: ast.expr, position: int) -> set[str]:
    if isinstance(value, ast.Tuple):
        item = value.elts[position]
        return (
            {item.value}
            if isinstance(item, ast.Constant) and isinstance(item.value, str)
            else set()
        )
    if isinstance(value, ast.IfExp):
        return _tuple_item(value.body, position) | _tuple_item(value.orelse, position)
    return set()


def operator_reasons() -> dict[str, str]:
    """Every condition reason in the operator's source, with where it is set."""
    reasons: dict[str, str] = {}
    for source in sorted(OPERATOR.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        functions = _functions(tree)
        enclosing: dict[ast.AST, ast.AST] = {}
        for function in functions.values():
            for inner in ast.walk(function):
                enclosing.setdefault(inner, function)  # innermost wins: walk is outer-first
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id not in REASON_ARGUMENT:
                continue
            position, keyword = REASON_ARGUMENT[node.func.id]
            args = [k.value for k in node.keywords if k.arg == keyword]
            args += node.args[position : position + 1]
            where = f"{source.relative_to(ROOT)}:{node.lineno}"
            for arg in args:
                for reason in _resolve(arg, enclosing.get(node, tree), functions, where):
                    reasons.setdefault(reason, where)
    return reasons


def documented_reasons() -> set[str]:
    """Reasons named in backticks in a heading of troubleshooting.md."""
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    return {name for line in headings for name in re.findall(r"`([A-Za-z]+)`", line)}


def test_reason_scan_finds_the_known_reasons() -> None:
    reasons = operator_reasons()
    for known in (
        "Creating",
        "RollingOut",
        "Available",
        "ScaledToZero",
        "InvalidSpec",
        "ChildConflict",
        "ApplyRejected",
        "Forbidden",
        "ChildInvalid",
        "ApplyFailed",
        "Provisioning",
        "RotationPending",
        "CloudNativePGMissing",
    ):
        assert known in reasons


def test_every_reason_is_in_troubleshooting() -> None:
    missing = {
        reason: where
        for reason, where in operator_reasons().items()
        if reason not in documented_reasons()
    }
    assert not missing, f"describe these reasons in docs/troubleshooting.md: {missing}"


# ------------------------------------------------------------------ examples
def test_docs_have_microservice_examples() -> None:
    pages = {where.split(":")[0] for where, _ in MICROSERVICES}
    assert len(MICROSERVICES) >= 10
    assert {"docs/getting-started.md", "docs/concepts.md", "docs/how-to/gitops.md"} <= pages


@pytest.mark.parametrize(("where", "doc"), MICROSERVICES, ids=[where for where, _ in MICROSERVICES])
def test_microservice_example_is_valid(where: str, doc: dict[str, Any]) -> None:
    assert doc.get("apiVersion") == API_VERSION
    name = doc["metadata"]["name"]
    assert NAME.match(name) and len(name) <= MAX_NAME_LENGTH, name
    assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}
    MicroServiceSpec.model_validate(doc["spec"])


def test_every_yaml_block_parses() -> None:
    for page in PAGES:
        for block in code_blocks(page):
            if block.language == "yaml":
                try:
                    list(yaml.safe_load_all(block.text))
                except yaml.YAMLError as exc:
                    raise AssertionError(f"{block.where}: {exc}") from None


def test_getting_started_has_tested_commands() -> None:
    blocks = [b for b in code_blocks(DOCS / "getting-started.md") if b.info == "sh test"]
    commands = "".join(b.text for b in blocks)
    assert "kubectl apply -f examples/minimal.yaml" in commands
    assert "kubectl wait --for=condition=Ready ms/hello" in commands


# ------------------------------------------------------------------ links
def slug(heading: str) -> str:
    """The anchor of a Markdown heading, as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def without_code(text: str) -> str:
    """Markdown text with its fenced code blocks removed."""
    return re.sub(r"^ *```.*?^ *```", "", text, flags=re.MULTILINE | re.DOTALL)


def anchors(page: Path) -> set[str]:
    text = without_code(page.read_text(encoding="utf-8"))
    return {slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


def links(page: Path) -> Iterator[tuple[str, str]]:
    text = re.sub(r"`[^`\n]*`", "", without_code(page.read_text(encoding="utf-8")))
    for match in re.finditer(r"\]\(([^)\s]+)\)", text):
        yield match[1], page.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    for target, where in links(page):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        assert resolved.exists(), f"{where}: broken link {target}"
        if fragment and resolved.suffix == ".md":
            assert fragment in anchors(resolved), f"{where}: no heading for #{fragment}"


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_pages_name_no_machine_paths(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])/(home|root|work|tmp/pytest|Users)/", text)
