"""The docs against a real API server and the real operator process.

Every MicroService in docs/ and examples/ passes the API server's validation
(server-side dry run: schema, defaults and CEL rules), and the getting-started
walkthrough runs as written: its ```sh test blocks are executed line by line,
except the steps this harness performs itself (listed in HARNESS).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import ROOT, Cluster
from tests.unit.test_docs import MICROSERVICES, code_blocks

GETTING_STARTED = ROOT / "docs" / "getting-started.md"
HARNESS = {
    "make setup": "the tests already run in the project's virtualenv",
    "make cluster-up": "the `cluster` fixture",
    'eval "$(make -s env)"': "PATH and KUBECONFIG set by this test",
    "kubectl apply --server-side -f crds/": "the `crd_installed` fixture",
    ".venv/bin/msop run --log-format human &": "the `operator` fixture",
}
"""Getting-started lines the fixtures perform, and which fixture does."""


def doc_commands(page: Path) -> list[str]:
    """The commands of the page's ```sh test blocks, continuation lines joined."""
    commands: list[str] = []
    for block in code_blocks(page):
        if block.info != "sh test":
            continue
        joined = re.sub(r"\\\n\s*", " ", block.text)
        for line in joined.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(" ".join(command.split()))
    return commands


def namespaced_env(cluster: Cluster, namespace: str, directory: Path) -> dict[str, str]:
    """Environment for doc commands: the project's tools, the test cluster, the test namespace.

    A small kubeconfig listed first sets the namespace of the current context;
    kubectl merges it with the cluster's own kubeconfig, which keeps its paths.
    """
    config = yaml.safe_load(cluster.kubeconfig.read_text(encoding="utf-8"))
    current = config["current-context"]
    context = next(c for c in config["contexts"] if c["name"] == current)
    overlay = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "contexts": [{"name": current, "context": {**context["context"], "namespace": namespace}}],
    }
    overlay_path = directory / "namespace.kubeconfig"
    overlay_path.write_text(yaml.safe_dump(overlay), encoding="utf-8")
    return {
        **os.environ,
        "KUBECONFIG": f"{overlay_path}{os.pathsep}{cluster.kubeconfig}",
        "PATH": f"{ROOT / '.tools' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def run(command: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.usefixtures("crd_installed")
def test_docs_microservices_pass_server_side_validation(cluster: Cluster, namespace: str) -> None:
    failures: list[str] = []
    for where, doc in MICROSERVICES:
        manifest: dict[str, Any] = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
        out = cluster.kubectl(
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager=msop-docs-test",
            "-o",
            "yaml",
            "-f",
            "-",
            input=yaml.safe_dump(manifest),
            check=False,
        )
        try:
            served = yaml.safe_load(out)
        except yaml.YAMLError:
            served = None
        if not isinstance(served, dict) or served.get("kind") != "MicroService":
            failures.append(f"{where}: {out.strip()}")
    assert not failures, "the API server rejects these examples:\n" + "\n".join(failures)


@pytest.mark.usefixtures("operator")
def test_getting_started_runs_as_written(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    commands = doc_commands(GETTING_STARTED)
    missing = [line for line in HARNESS if line not in commands]
    assert not missing, f"getting-started.md no longer says {missing}: update HARNESS"
    env = namespaced_env(cluster, namespace, tmp_path)
    outputs = {command: run(command, env) for command in commands if command not in HARNESS}
    assert any(c.startswith("kubectl wait --for=condition=Ready ms/hello") for c in outputs)
    table = outputs["kubectl get ms"].splitlines()
    assert table[0].split()[:3] == ["NAME", "READY", "REPLICAS"]
    hello = next(line.split() for line in table[1:] if line.split()[0] == "hello")
    assert hello[1:3] == ["True", "1"]
    assert f"http://hello.{namespace}.svc:80" in hello
    children = next(v for k, v in outputs.items() if k.startswith("kubectl get serviceaccount"))
    for kind in ("serviceaccount/hello", "service/hello", "deployment.apps/hello"):
        assert kind in children
