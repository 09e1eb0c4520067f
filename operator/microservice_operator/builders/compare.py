"""Skip no-op applies: does a live object already carry every field we want?

A server-side apply that changes nothing is still a write. The reconciler
skips it when the desired manifest's hash matches the one stamped on the
live object *and* every desired field is present in the live object with the
same value. Server defaults add fields (harmless) and canonicalise
quantities ("0.5" CPU becomes "500m"), so quantities compare by value.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from microservice_operator.builders.common import ANNOTATION_PREFIX, Manifest

HASH_ANNOTATION = f"{ANNOTATION_PREFIX}/applied-hash"
_QUANTITY_KEYS = frozenset({"requests", "limits", "storage"})
_SUFFIXES = {
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)


def manifest_hash(manifest: Manifest) -> str:
    """A stable hash of a desired manifest (its own hash annotation excluded)."""
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def stamped(manifest: Manifest) -> Manifest:
    """The manifest with its hash annotation added."""
    digest = manifest_hash(manifest)
    meta = dict(manifest["metadata"])
    meta["annotations"] = {**meta.get("annotations", {}), HASH_ANNOTATION: digest}
    return {**manifest, "metadata": meta}


def quantity(value: Any) -> Decimal | None:
    """Parse a Kubernetes quantity ("500m", "1Gi", 2) into a number; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if not match:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]
    except InvalidOperation:
        return None


def contains(live: Any, desired: Any, *, in_quantities: bool = False) -> bool:
    """True when every field of ``desired`` is in ``live`` with an equal value."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(
            key in live
            and contains(live[key], value, in_quantities=in_quantities or key in _QUANTITY_KEYS)
            for key, value in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(contains(lv, dv) for lv, dv in zip(live, desired, strict=True))
    if in_quantities:
        left, right = quantity(live), quantity(desired)
        if left is not None and right is not None:
            return left == right
    return bool(live == desired)


def up_to_date(live: Manifest | None, desired: Manifest) -> bool:
    """True when applying ``desired`` (already stamped) would change nothing."""
    if live is None:
        return False
    want = desired["metadata"].get("annotations", {}).get(HASH_ANNOTATION)
    have = (live.get("metadata", {}).get("annotations") or {}).get(HASH_ANNOTATION)
    return want == have and contains(live, desired)
