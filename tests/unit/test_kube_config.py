from __future__ import annotations

import base64
from pathlib import Path

import pytest

from microservice_operator.kube.config import ConfigError, from_kubeconfig
from microservice_operator.kube.resources import KNOWN


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_current_context_with_relative_paths_and_inline_data(tmp_path: Path) -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    path = write(
        tmp_path,
        f"""
apiVersion: v1
current-context: b
contexts:
- {{name: a, context: {{cluster: one, user: u}}}}
- {{name: b, context: {{cluster: two, user: u, namespace: shop}}}}
clusters:
- {{name: one, cluster: {{server: https://one:1}}}}
- {{name: two, cluster: {{server: https://127.0.0.1:6443/, certificate-authority-data: {ca}}}}}
users:
- {{name: u, user: {{client-certificate: pki/admin.crt, client-key: pki/admin.key, token: t0k}}}}
""",
    )
    conn = from_kubeconfig(path)
    assert conn.server == "https://127.0.0.1:6443"
    assert conn.default_namespace == "shop"
    assert conn.cert_file == str(tmp_path / "pki/admin.crt")
    assert conn.ca_file and Path(conn.ca_file).read_bytes().startswith(b"-----BEGIN")
    assert conn.bearer_token() == "t0k"


def test_missing_context_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="current-context"):
        from_kubeconfig(write(tmp_path, "apiVersion: v1\nclusters: []\n"))


def test_token_file_is_reread(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one", encoding="utf-8")
    path = write(
        tmp_path,
        f"""
current-context: c
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
clusters: [{{name: k, cluster: {{server: https://k}}}}]
users: [{{name: u, user: {{tokenFile: {token}}}}}]
""",
    )
    conn = from_kubeconfig(path)
    assert conn.bearer_token() == "one"
    token.write_text("two", encoding="utf-8")
    assert conn.bearer_token() == "two"


def test_resource_paths() -> None:
    deploy = KNOWN[("apps/v1", "Deployment")]
    assert deploy.path("ns", "web") == "/apis/apps/v1/namespaces/ns/deployments/web"
    assert KNOWN[("v1", "Namespace")].path(None, "x") == "/api/v1/namespaces/x"
    assert KNOWN[("v1", "Pod")].path("ns") == "/api/v1/namespaces/ns/pods"
