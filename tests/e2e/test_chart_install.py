"""The Helm chart against a real API server.

Every object the chart renders must pass the API server's validation and
admission (server-side dry run), and the operator's pod must be admitted, then
scheduled and Ready, in a namespace that enforces the ``restricted`` Pod
Security Standard. (kwok runs no containers: this proves admission and
scheduling, not the image.)
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import yaml
from hack.versions import kubernetes_version

from microservice_operator.kube import KubeClient
from tests.support.cluster import ROOT, Cluster, eventually

CHART = ROOT / "charts" / "microservice-operator"
HELM = ROOT / ".tools" / "bin" / "helm"
KUBECTL = ROOT / ".tools" / "bin" / "kubectl"
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
FIELD_MANAGER = "msop-chart-tests"


async def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def helm_template(namespace: str, *flags: str) -> str:
    if not HELM.exists():
        pytest.fail(f"{HELM.relative_to(ROOT)} is missing: run `make tools` to build helm")
    code, out, err = await run(
        str(HELM), "template", "msop", str(CHART), "--namespace", namespace,
        "--kube-version", kubernetes_version(), *flags,
    )  # fmt: skip
    assert code == 0, f"helm template failed:\n{err}"
    return out


async def kubectl(cluster: Cluster, *args: str, stdin: str | None = None) -> tuple[str, str]:
    binary = str(KUBECTL if KUBECTL.exists() else "kubectl")
    code, out, err = await run(binary, "--kubeconfig", str(cluster.kubeconfig), *args, stdin=stdin)
    assert code == 0, f"kubectl {' '.join(args)} failed:\n{err}"
    return out, err


async def dry_run_everything(cluster: Cluster, manifests: str) -> list[str]:
    out, err = await kubectl(
        cluster,
        "apply", "--server-side", "--dry-run=server", "--force-conflicts",
        f"--field-manager={FIELD_MANAGER}", "-f", "-",
        stdin=manifests,
    )  # fmt: skip
    assert "Warning" not in err, err
    return [line for line in out.splitlines() if line.strip()]


def names(manifests: str) -> list[str]:
    docs = [d for d in yaml.safe_load_all(manifests) if d]
    return [f"{d['kind']}/{d['metadata']['name']}" for d in docs]


async def test_default_render_is_accepted_by_the_api_server(
    cluster: Cluster, namespace: str
) -> None:
    manifests = await helm_template(namespace)
    lines = await dry_run_everything(cluster, manifests)
    rendered = names(manifests)
    assert len(rendered) == 8
    assert len(lines) == len(rendered), lines
    assert all(line.endswith("serverside-applied (server dry run)") for line in lines), lines


async def test_watch_namespaces_render_is_accepted_by_the_api_server(
    cluster: Cluster, kube: KubeClient, namespace: str
) -> None:
    other = f"t-{uuid.uuid4().hex[:10]}"
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": other, "labels": {"microservice-operator.dev/test": "true"}},
        }
    )
    try:
        flags = ["--set-json", f'watchNamespaces=["{namespace}","{other}"]']
        manifests = await helm_template(namespace, *flags, "--set", "replicaCount=2")
        lines = await dry_run_everything(cluster, manifests)
        rendered = names(manifests)
        assert rendered.count("Role/msop-microservice-operator") == 2
        assert "PodDisruptionBudget/msop-microservice-operator" in rendered
        assert len(lines) == len(rendered), lines
        assert all(line.endswith("(server dry run)") for line in lines), lines
    finally:
        await kube.delete("v1", "Namespace", other)


@pytest.mark.namespace_labels(RESTRICTED)
async def test_operator_pod_is_admitted_and_ready_under_restricted_pod_security(
    cluster: Cluster, kube: KubeClient, namespace: str
) -> None:
    manifests = await helm_template(namespace, "--set", "crds.enabled=false")
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(manifests) if d]
    (deployment,) = (d for d in docs if d["kind"] == "Deployment")

    # Pod Security enforces on pods: a pod from the template must pass admission as is.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "admission-check", "namespace": namespace},
        "spec": deployment["spec"]["template"]["spec"],
    }
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "msop-microservice-operator", "namespace": namespace},
        }
    )
    assert (await kube.create(pod, dry_run=True))["metadata"]["name"] == "admission-check"

    # The real thing: the Deployment's ReplicaSet creates the pod, kwok makes it Ready.
    namespaced = [d for d in docs if d.get("metadata", {}).get("namespace") == namespace]
    namespaced = [d for d in namespaced if d["kind"] != "ServiceAccount"]
    _, err = await kubectl(
        cluster, "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-",
        stdin=yaml.safe_dump_all(namespaced),
    )  # fmt: skip
    assert "PodSecurity" not in err, err

    async def ready() -> dict[str, Any] | None:
        live = await kube.get("apps/v1", "Deployment", "msop-microservice-operator", namespace)
        return live if live and live.get("status", {}).get("readyReplicas") == 1 else None

    await eventually(ready, timeout=60, what="the operator Deployment to have 1 Ready pod")
    selector = "app.kubernetes.io/instance=msop,app.kubernetes.io/component=operator"
    pods = await kube.list("v1", "Pod", namespace, label_selector=selector)
    assert len(pods) == 1
    assert pods[0]["spec"]["securityContext"]["runAsUser"] == 10001
