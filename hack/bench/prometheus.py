"""Samples from the Prometheus text format (the API server's and the operator's /metrics)."""

from __future__ import annotations

import re

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of metric ``name``: (labels, value)."""
    out = []
    for line in text.splitlines():
        found = SAMPLE.match(line)
        if found and found[1] == name:
            out.append((dict(LABEL.findall(found[2] or "")), float(found[3])))
    return out


def total(text: str, name: str, **match: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``match``."""
    return sum(v for labels, v in samples(text, name) if match.items() <= labels.items())
