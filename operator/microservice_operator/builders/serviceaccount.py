"""The workload's own ServiceAccount (no token mounted unless asked)."""

from __future__ import annotations

from microservice_operator.builders.common import Manifest, Owner, metadata


def build_service_account(owner: Owner) -> Manifest:
    """A ServiceAccount named after the MicroService."""
    automount = owner.spec.service_account.automount_token if owner.spec.service_account else False
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(owner),
        "automountServiceAccountToken": automount,
    }
