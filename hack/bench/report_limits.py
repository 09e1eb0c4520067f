"""The run with the API server's request limits on: its target and its table."""

from __future__ import annotations

from typing import Any

Results = dict[str, Any]
KINDS = (("plain", "no database"), ("db", "with database"))


def _operator_429s(run: Results) -> tuple[int, int]:
    """(429s to any client, 429s to the operator) over its convergence and restart."""
    every = ours = 0
    for kind, _ in KINDS:
        phase = run.get(f"operator_{kind}") or {}
        for part in (phase, phase.get("restart") or {}):
            rejected = part.get("rejected") or {}
            every += int(rejected.get("code_429", 0))
            ours += int(rejected.get("operator", 0))
    return every, ours


def targets(results: Results) -> list[dict[str, Any]]:
    """'Bounded concurrency keeps the API server free of 429s', per N of the limits run."""
    limits = results.get("limits")
    if not limits:
        return [
            {
                "target": "API server free of 429s (request limits on)",
                "measured": "not measured (make bench-limits)",
                "result": "n/a",
            }
        ]
    out = []
    for n, run in sorted(limits["runs"].items(), key=lambda kv: int(kv[0])):
        every, ours = _operator_429s(run)
        out.append(
            {
                "target": f"API server free of 429s, request limits on, N={n}",
                "measured": f"{every} (to the operator: {ours})",
                "result": "PASS" if every == 0 else "MISS",
            }
        )
    return out


def _flows(rejected: Results) -> str:
    flows = rejected.get("by_flow_schema") or {}
    return ", ".join(f"{k} {v}" for k, v in flows.items()) or "-"


def table(results: Results) -> list[str]:
    """Markdown: convergence and 429s of both sides, with the limits on."""
    limits = results.get("limits")
    if not limits:
        return []
    meta = limits["meta"]
    seats = sum(meta.get("seats", {}).values())
    lines = [
        "",
        "### With the API server's request limits on",
        "",
        f"A second cluster (`make bench-limits`, run {meta['date']} at {meta['commit']}) keeps",
        "what kwokctl otherwise turns off: API Priority and Fairness (the API server's",
        f"default {seats} seats over its priority levels) and the controllers' default client",
        "rate limits. The operator runs as the Helm chart's ServiceAccount with its RBAC, the",
        "direct-apply script as a ServiceAccount bound to `cluster-admin`: `system:masters`,",
        "the benchmark's own user, is exempt from the limits. 429s are counted from the API",
        "server's `apiserver_request_total` (every client) and the operator's own",
        "`rest_client_requests_total`, over convergence and over the restart's resync.",
        "",
        "| N | database | direct apply | operator | ratio | 429s, direct | 429s, operator "
        "(to it) | 429s, restart | by flow schema |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, run in sorted(limits["runs"].items(), key=lambda kv: int(kv[0])):
        for kind, label in KINDS:
            op, base = run.get(f"operator_{kind}"), run.get(f"direct_{kind}")
            if not op or not base:
                continue
            restart = (op.get("restart") or {}).get("rejected") or {}
            rejected = op.get("rejected") or {}
            lines.append(
                f"| {int(n):,} | {label} | {base['seconds']:.1f} s | {op['seconds']:.1f} s | "
                f"{op['seconds'] / base['seconds']:.2f}x | "
                f"{(base.get('rejected') or {}).get('code_429', '-')} | "
                f"{rejected.get('code_429', '-')} ({rejected.get('operator', '-')}) | "
                f"{restart.get('code_429', '-')} ({restart.get('operator', '-')}) | "
                f"{_flows(rejected)} |"
            )
    return lines
