"""The pinned tool versions of hack/versions.env, for Python code (tests, benchmark)."""

from __future__ import annotations

from pathlib import Path

VERSIONS = Path(__file__).with_name("versions.env")


def version(name: str) -> str:
    """One ``NAME=value`` of hack/versions.env."""
    for line in VERSIONS.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip().strip('"')
    raise KeyError(f"hack/versions.env has no {name}")


def kubernetes_version() -> str:
    """The version the local control plane is built at."""
    return version("KUBERNETES_VERSION")
