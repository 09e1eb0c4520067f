"""Provisioning on database servers the operator does not run (external mode).

Each engine module offers the same two idempotent coroutines:
``provision(admin, creds)`` creates (or re-aligns) the service's database and
a least-privilege user with the password from the credentials Secret, and
``drop(admin, creds)`` removes both (deletionPolicy: Delete).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Admin:
    """Administrative access to a server, read from the serverRef's Secret."""

    host: str
    port: int
    username: str
    password: str


class ProvisioningError(Exception):
    """The server refused or could not be reached; the message is safe to show."""
