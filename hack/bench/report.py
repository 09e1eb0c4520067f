"""Targets, plots and docs/performance.md from the results of one run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hack.bench import report_limits

Results = dict[str, Any]
FINDINGS = Path(__file__).with_name("findings.md")


def _run(results: Results, n: int) -> Results | None:
    run: Results | None = results["runs"].get(str(n))
    return run


def _ratio(run: Results, kind: str) -> float | None:
    op, base = run.get(f"operator_{kind}"), run.get(f"direct_{kind}")
    if not op or not base:
        return None
    return float(op["seconds"]) / float(base["seconds"])


def targets(results: Results) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS/MISS (or n/a when not measured)."""
    out: list[dict[str, Any]] = []

    def add(name: str, value: str, ok: bool | None) -> None:
        out.append({"target": name, "measured": value, "result": _verdict(ok)})

    for kind, label in (("plain", "no database"), ("db", "with database")):
        run = _run(results, 1000)
        ratio = _ratio(run, kind) if run else None
        add(
            f"convergence ≤ 1.5x direct apply at N=1000 ({label})",
            f"{ratio:.2f}x" if ratio is not None else "not measured",
            None if ratio is None else ratio <= 1.5,
        )
    for n, run in sorted(results["runs"].items(), key=lambda kv: int(kv[0])):
        op = run.get("operator_plain") or {}
        if "idle" in op:
            writes = op["idle"]["writes"]["total"]
            add(f"zero writes at steady state, N={n}", str(writes), writes == 0)
        for kind in ("plain", "db"):
            restart = (run.get(f"operator_{kind}") or {}).get("restart")
            if restart:
                writes = restart["writes"]["total"]
                label = "" if kind == "plain" else ", with database"
                add(f"zero writes on restart, N={n}{label}", str(writes), writes == 0)
        if "drift" in op:
            p99 = op["drift"]["p99_seconds"]
            add(f"drift repair p99 ≤ 1 s, N={n}", f"{p99 * 1000:.0f} ms", p99 <= 1.0)
    for n, limit in ((1000, 200), (5000, 400)):
        run = _run(results, n)
        for key, label in (("operator_plain", "no database"), ("operator_db", "with database")):
            if run and run.get(key):
                rss = _peak_rss(run, (key,))
                add(f"RSS ≤ {limit} MiB at N={n} ({label})", f"{rss:.0f} MiB", rss <= limit)
            elif n == 1000:
                add(f"RSS ≤ {limit} MiB at N={n} ({label})", "not measured", None)
    return out + report_limits.targets(results)


def _peak_rss(run: Results, keys: tuple[str, ...] = ("operator_plain", "operator_db")) -> float:
    """Highest RSS seen: during convergence, after the restart's resync, at the end."""
    values = [0.0]
    for key in keys:
        phase = run.get(key) or {}
        values += [
            float(phase.get("peak_rss_mib") or 0.0),
            float(phase.get("rss_end_mib") or 0.0),
            float((phase.get("restart") or {}).get("rss_mib") or 0.0),
        ]
    return max(values)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def plots(results: Results, out_dir: Path) -> list[str]:
    """Write PNG plots; their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = sorted(int(n) for n in results["runs"])
    names: list[str] = []

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.2
    series = (
        ("direct_plain", "direct apply"),
        ("operator_plain", "operator"),
        ("direct_db", "direct apply + db"),
        ("operator_db", "operator + db"),
    )
    for i, (key, label) in enumerate(series):
        values = [float((results["runs"][str(n)].get(key) or {}).get("seconds", 0)) for n in sizes]
        ax.bar([x + (i - 1.5) * width for x in range(len(sizes))], values, width, label=label)
    ax.set_xticks(range(len(sizes)), [f"N={n}" for n in sizes])
    ax.set_ylabel("seconds until all Ready")
    ax.set_title("Convergence: operator vs direct apply")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "convergence.png", dpi=110)
    plt.close(fig)
    names.append("convergence.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    for n in sizes:
        samples = (results["runs"][str(n)].get("operator_plain") or {}).get("rss_samples") or []
        if samples:
            ax.plot([s[0] for s in samples], [s[1] for s in samples], label=f"N={n}")
    ax.set_xlabel("seconds since the operator started")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("Operator memory (create, no-op resync, idle; after restart)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "rss.png", dpi=110)
    plt.close(fig)
    names.append("rss.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    for n in sizes:
        drift = (results["runs"][str(n)].get("operator_plain") or {}).get("drift")
        if drift:
            values = sorted(drift["latencies"])
            ax.plot(
                [v * 1000 for v in values],
                [(i + 1) / len(values) for i in range(len(values))],
                label=f"N={n}",
            )
    ax.axvline(1000, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("ms from delete to a new Deployment")
    ax.set_ylabel("fraction of repairs")
    ax.set_title("Drift repair latency (CDF)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "drift.png", dpi=110)
    plt.close(fig)
    names.append("drift.png")
    return names


def _s(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def _writes(phase: Results) -> str:
    writes = phase.get("create_writes")
    return "-" if not writes else f"{writes['per_service']:.2f}"


def _rss(run: Results, key: str) -> str:
    return f"{_peak_rss(run, (key,)):.0f}" if run.get(key) else "-"


PROCESSES = (
    ("kube-apiserver", "API server"),
    ("etcd", "etcd"),
    ("kube-controller-manager", "controllers"),
    ("kube-scheduler", "scheduler"),
    ("kwok-controller", "kwok"),
    ("driver", "driver"),
    ("operator", "operator"),
)


def cpu_table(results: Results) -> list[str]:
    """CPU seconds by process until converged, per phase (runs that measured it)."""
    rows = []
    for n in sorted(int(k) for k in results["runs"]):
        run = results["runs"][str(n)]
        for key in ("direct_plain", "operator_plain", "direct_db", "operator_db"):
            phase = run.get(key) or {}
            cpu = phase.get("cpu_by_process")
            if not cpu:
                continue
            total = sum(cpu.values())
            passes = phase.get("reconciles_per_service")
            rows.append(
                f"| {n} | {key.replace('_', ' ')} | "
                + " | ".join(_s(cpu.get(name)) for name, _ in PROCESSES)
                + f" | {total:.1f} | {total / phase['seconds']:.2f} | "
                + (f"{passes:.2f}" if passes is not None else "-")
                + " |"
            )
    if not rows:
        return []
    return [
        "",
        "### Where the CPU goes until converged",
        "",
        "CPU seconds of each process from the first POST until everything is ready (the",
        "driver is this benchmark: in direct apply it does the applying). Everything",
        "shares two cores, so a phase takes about its total CPU divided by the cores kept",
        "busy. Reconciles: passes of the operator's work queue per service.",
        "",
        "| N | phase | " + " | ".join(label for _, label in PROCESSES) + " | total | cores busy "
        "| reconciles/svc |",
        "|---|---|" + "---|" * (len(PROCESSES) + 3),
        *rows,
    ]


def _nodes(results: Results) -> dict[str, str]:
    """Nodes of the cluster each size was measured on (the latest run of that size)."""
    meta = results["meta"]
    nodes: dict[str, str] = {}
    for run in [*meta.get("earlier", []), meta]:
        for n in run["sizes"]:
            nodes[str(n)] = str(run["nodes"])
    return {n: nodes[n] for n in results["runs"] if n in nodes}


def _idle_seconds(results: Results) -> dict[str, str]:
    """Length of each size's steady-state phase."""
    return {
        n: f"{run['operator_plain']['idle']['seconds']:.0f} s"
        for n, run in results["runs"].items()
        if "idle" in (run.get("operator_plain") or {})
    }


def _by_size(values: dict[str, str]) -> str:
    """``{"100": "30", "1000": "30", "5000": "150"}`` -> "30 (N=100, 1000), 150 (N=5000)"."""
    groups: dict[str, list[str]] = {}
    for n, value in values.items():
        groups.setdefault(value, []).append(n)
    if len(groups) == 1:
        return next(iter(groups))
    return ", ".join(f"{value} (N={', '.join(sizes)})" for value, sizes in groups.items())


def markdown(results: Results, plot_names: list[str]) -> str:
    """docs/performance.md."""
    meta = results["meta"]
    lines = [
        "# Performance",
        "",
        "<!-- Generated by `make bench` (hack/bench/); edit hack/bench/report.py or",
        "     hack/bench/findings.md instead. -->",
        "",
        f"Measured on {meta['date']} at commit {meta.get('commit', '?')} with",
        f"`{meta['command']}`: {meta['machine']}.",
        *[
            f"Sizes measured earlier, kept with `--add`: {earlier['sizes']} on {earlier['date']}"
            f" at commit {earlier.get('commit', '?')} (`{earlier['command']}`)."
            for earlier in meta.get("earlier", [])
            if any(str(n) in results["runs"] for n in earlier["sizes"])
        ],
        *[
            f"The with-database phases of N={n} come from a separate run"
            f" on {run['database_when']['date']} at commit {run['database_when']['commit']}."
            for n, run in results["runs"].items()
            if "database_when" in run
        ],
        "",
        "## Method",
        "",
        "One run measures everything side by side on a local control plane (real",
        f"kube-apiserver {meta['kubernetes']}, etcd, kube-controller-manager, kube-scheduler;",
        f"{_by_size(_nodes(results))} [kwok](https://kwok.sigs.k8s.io) nodes that run pods",
        "without a container runtime). The API server, etcd, the controllers, kwok, the",
        "operator and the benchmark driver all share the same two cores with whatever",
        "else runs on the machine, so absolute times are pessimistic and vary by tens of",
        "percent between runs (N=100 without database took the operator 12.0 s in one",
        "run, 17.3 s in another); the ratios measured in one run are the useful numbers.",
        "",
        "- **Operator**: `python -m microservice_operator.cli run --log-format json` as its own",
        "  process, watching the phase's namespace (`-n`). The driver POSTs N MicroServices",
        "  at once (32 requests in flight) and follows them with one LIST and a watch until",
        "  every MicroService has `Ready=True` for its generation (the same for Deployments",
        "  in the other phases: polling with LISTs cost the API server CPU in proportion to",
        "  the time taken). RSS and CPU seconds come from `/proc`, for the operator and for",
        "  every control-plane process.",
        "- **Direct apply** (the lower bound): a plain async script creates the same",
        "  MicroServices and server-side-applies exactly the children the operator builds",
        "  (`build_children` and the database builders, stamped with the same hash",
        "  annotation), with the same field manager, the same bounds (64 services at a",
        "  time, 32 requests in flight), and no operator: no watches, no status. Done when",
        "  every Deployment (and database StatefulSet) is ready.",
        "- **With database**: `database: {engine: postgres}` (dedicated mode) adds a",
        "  credentials Secret, a StatefulSet and a headless Service. Each StatefulSet's",
        "  claim is bound to a hostPath PersistentVolume created (untimed) beforehand, so",
        "  the database pod really starts and `Ready` means the database is ready too.",
        "- **Helm**: `helm install` of a small per-service chart (`hack/bench/chart/`, checked",
        "  to render the same ServiceAccount, Service, NetworkPolicy and Deployment specs as",
        "  the operator's builders), one release per",
        "  service, several installs in parallel; until every Deployment is ready.",
        "- **API cost**: operator writes (create, update, patch, delete) from the API server's",
        "  audit log, filtered to the operator's User-Agents (`microservice-operator/`,",
        "  `kopf/`). Lease writes are excluded (leader election is off here anyway).",
        "  *Create* counts from the first POST until the operator is idle after all are Ready;",
        "  *no-op resync* touches an annotation on every MicroService; *steady state* is",
        f"  {_by_size(_idle_seconds(results))} with nothing happening; *restart* stops the",
        "  operator and starts a fresh process over the converged objects.",
        "- **Resync on restart**: process start → liveness answers → the process goes idle",
        "  (no 0.1 s sample above 10 % of a core for 3 s). Together with zero writes this",
        "  means every object was listed, indexed and found unchanged.",
        "- **Drift repair**: Deployments deleted one by one; latency from the DELETE to a",
        "  Deployment of the same name with a new uid on a watch.",
        "",
        "## Results",
        "",
        "| N | direct apply | operator | ratio | direct + db | operator + db | ratio | "
        "writes/svc create | writes/svc create (db) | peak RSS MiB (plain / db) | "
        "CPU s create (plain / db) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted(int(k) for k in results["runs"]):
        run = results["runs"][str(n)]
        dp, op = run.get("direct_plain") or {}, run.get("operator_plain") or {}
        dd, od = run.get("direct_db") or {}, run.get("operator_db") or {}
        rp, rd = _ratio(run, "plain"), _ratio(run, "db")
        lines.append(
            f"| {n} | {_s(dp.get('seconds'))} s | {_s(op.get('seconds'))} s | "
            f"{f'{rp:.2f}x' if rp else '-'} | {_s(dd.get('seconds'))} s | "
            f"{_s(od.get('seconds'))} s | {f'{rd:.2f}x' if rd else '-'} | "
            f"{_writes(op)} | {_writes(od)} | "
            f"{_rss(run, 'operator_plain')} / {_rss(run, 'operator_db')} | "
            f"{_s(op.get('cpu_seconds'))} / {_s(od.get('cpu_seconds'))} |"
        )
    lines += [
        "",
        "Direct apply writes per service: "
        + ", ".join(
            f"N={n}: {run['direct_plain']['writes_per_service']:.1f}"
            + (
                f" ({run['direct_db']['writes_per_service']:.1f} with db)"
                if "direct_db" in run
                else ""
            )
            for n, run in sorted(results["runs"].items(), key=lambda kv: int(kv[0]))
            if "direct_plain" in run
        )
        + ".",
    ]
    loads = [
        f"N={n} {key.replace('_', ' ')} {run[key]['load_1m']:.1f}"
        for n, run in sorted(results["runs"].items(), key=lambda kv: int(kv[0]))
        for key in ("direct_plain", "operator_plain", "direct_db", "operator_db")
        if "load_1m" in (run.get(key) or {})
    ]
    if loads:
        lines += [
            "",
            "Machine load (1-minute load average on 2 cores, other work included) when each",
            "convergence phase ended: " + ", ".join(loads) + ".",
        ]
    lines += cpu_table(results)
    lines += [
        "",
        "### API cost and footprint after convergence",
        "",
        "| N | no-op resync writes | no-op quiet after | steady-state writes | idle CPU s | "
        "restart writes | restart writes (db) | live after | resync done after | "
        "resync done (db) | RSS idle MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted(int(k) for k in results["runs"]):
        run = results["runs"][str(n)]
        op = run.get("operator_plain") or {}
        noop, idle = op.get("noop") or {}, op.get("idle") or {}
        restart = op.get("restart") or {}
        restart_db = (run.get("operator_db") or {}).get("restart") or {}
        lines.append(
            f"| {n} | {(noop.get('writes') or {}).get('total', '-')} | {_s(noop.get('seconds'))} s"
            f" | {(idle.get('writes') or {}).get('total', '-')} | {_s(idle.get('cpu_seconds'))} | "
            f"{(restart.get('writes') or {}).get('total', '-')} | "
            f"{(restart_db.get('writes') or {}).get('total', '-')} | "
            f"{_s(restart.get('to_live_seconds'))} s | {_s(restart.get('resync_seconds'))} s | "
            f"{_s(restart_db.get('resync_seconds'))} s | "
            f"{_s(idle.get('rss_mib') or op.get('rss_end_mib'))} |"
        )
    lines += ["", "Operator writes on create, by kind (N = largest measured):", ""]
    largest = str(max(int(k) for k in results["runs"]))
    for key in ("operator_plain", "operator_db"):
        run = results["runs"][largest].get(key) or {}
        by_kind = (run.get("create_writes") or {}).get("by_kind") or {}
        if by_kind:
            kinds = ", ".join(f"`{k}` {v}" for k, v in by_kind.items())
            lines.append(f"- {key.replace('_', ' ')}: {kinds}")
    lines += [
        "",
        "### Drift repair",
        "",
        "| N | deleted | p50 | p99 | max |",
        "|---|---|---|---|---|",
    ]
    for n in sorted(int(k) for k in results["runs"]):
        drift = (results["runs"][str(n)].get("operator_plain") or {}).get("drift")
        if drift:
            lines.append(
                f"| {n} | {drift['count']} | {drift['p50_seconds'] * 1000:.0f} ms | "
                f"{drift['p99_seconds'] * 1000:.0f} ms | {drift['max_seconds'] * 1000:.0f} ms |"
            )
    helm = results.get("helm")
    if helm:
        op_run = _run(results, helm["n"])
        op_seconds = ((op_run or {}).get("operator_plain") or {}).get("seconds")
        ratio = f"{float(op_seconds) / helm['seconds']:.2f}x" if op_seconds else "-"
        lines += [
            "",
            "### What users would pick instead: one Helm release per service",
            "",
            "| N | helm install (parallel) | until ready | writes/svc | operator | "
            "operator / helm |",
            "|---|---|---|---|---|---|",
            f"| {helm['n']} | {helm['parallel']} | {helm['seconds']:.1f} s | "
            f"{helm['writes_per_service']:.1f} | {_s(op_seconds)} s | {ratio} |",
            "",
            "Helm writes include one release Secret per install; Helm does not repair drift",
            "and has no status.",
        ]
    lines += report_limits.table(results)
    lines += ["", "## Targets", "", "| target | measured | result |", "|---|---|---|"]
    for t in results["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | **{t['result']}** |")
    lines += ["", "## Plots", ""]
    lines += [f"![{name}](performance/{name})" for name in plot_names]
    if FINDINGS.exists():
        lines += ["", FINDINGS.read_text(encoding="utf-8").strip()]
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench-quick                 # N=100 only, 20 s idle (< 5 minutes)",
        "make bench                       # N=100, 120 s idle",
        "make bench N=100,1000            # the figures above (about 45 minutes)",
        "make bench N=100,1000,5000       # and 5,000 (150 kwok nodes)",
        'make bench N=5000 BENCH_ARGS="--add --database-only"  # one part, kept with the rest',
        'make bench N=5000 BENCH_ARGS="--add --no-database"    # the other part',
        "make bench-profile               # py-spy profile of the operator converging N=1000",
        "make bench-limits                # N=1000 with the API server's request limits on",
        "```",
        "",
        "They start (or reuse) separate local clusters (`msop-bench`, `msop-bench-limits`)",
        "with kwok nodes of 110 pods each (20, or 3 per 100 services at the largest N) and",
        "leave the test cluster alone.",
        "Raw figures: `performance/results.json`.",
        "",
    ]
    return "\n".join(lines)
