"""Where the API server is and how to authenticate: kubeconfig or in-cluster.

Only what an operator needs: bearer tokens (static or a projected
ServiceAccount token file re-read on every use, so rotation just works),
client certificates and a CA bundle. Exec plugins and auth providers are out
of scope; use a token (``kubectl create token``) for those clusters.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The connection settings are missing or malformed."""


@dataclass(frozen=True)
class Connection:
    """Everything needed to open an HTTPS session to one API server."""

    server: str
    ca_file: str | None = None
    insecure: bool = False
    token: str | None = None
    token_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    default_namespace: str = "default"

    def bearer_token(self) -> str | None:
        """The current bearer token; a token file is read each time (rotation)."""
        if self.token_file:
            return Path(self.token_file).read_text(encoding="utf-8").strip()
        return self.token

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the cluster CA and presents a client cert."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file and self.key_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def load_connection(kubeconfig: str | None = None) -> Connection:
    """Load from ``kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config`` or in-cluster."""
    path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if not path and Path("~/.kube/config").expanduser().exists():
        path = str(Path("~/.kube/config").expanduser())
    if path:
        return from_kubeconfig(Path(path))
    if (IN_CLUSTER_DIR / "token").exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster()
    raise ConfigError("no kubeconfig found and not running inside a cluster")


def in_cluster() -> Connection:
    """The pod's ServiceAccount connection."""
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    namespace_file = IN_CLUSTER_DIR / "namespace"
    return Connection(
        server=f"https://{host}:{port}",
        ca_file=str(IN_CLUSTER_DIR / "ca.crt"),
        token_file=str(IN_CLUSTER_DIR / "token"),
        default_namespace=(
            namespace_file.read_text(encoding="utf-8").strip()
            if namespace_file.exists()
            else "default"
        ),
    )


def from_kubeconfig(path: Path) -> Connection:
    """The current context of one kubeconfig file."""
    try:
        doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    by_name = {
        section: {item["name"]: item.get(section[:-1], {}) for item in doc.get(section) or []}
        for section in ("clusters", "contexts", "users")
    }
    context_name = doc.get("current-context")
    if not context_name or context_name not in by_name["contexts"]:
        raise ConfigError(f"kubeconfig {path} has no usable current-context")
    context = by_name["contexts"][context_name]
    cluster = by_name["clusters"].get(context.get("cluster"), {})
    user = by_name["users"].get(context.get("user"), {})
    if not cluster.get("server"):
        raise ConfigError(f"kubeconfig {path}: cluster of context {context_name} has no server")
    base = path.parent
    return Connection(
        server=cluster["server"].rstrip("/"),
        ca_file=_file_or_data(base, cluster, "certificate-authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        token=user.get("token"),
        token_file=_resolve(base, user.get("tokenFile")),
        cert_file=_file_or_data(base, user, "client-certificate"),
        key_file=_file_or_data(base, user, "client-key"),
        default_namespace=context.get("namespace") or "default",
    )


def _resolve(base: Path, value: str | None) -> str | None:
    if not value:
        return None
    candidate = Path(value).expanduser()
    return str(candidate if candidate.is_absolute() else base / candidate)


def _file_or_data(base: Path, section: dict[str, Any], key: str) -> str | None:
    """A path for ``key`` or ``key-data`` (inline base64 is written to a private temp file)."""
    if section.get(key):
        return _resolve(base, section[key])
    data = section.get(f"{key}-data")
    if not data:
        return None
    fd, name = tempfile.mkstemp(prefix="msop-", suffix=".pem")
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64decode(data))
    return name
