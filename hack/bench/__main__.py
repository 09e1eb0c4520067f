"""Run the benchmark: `python -m hack.bench --sizes 100,1000 --idle 120`.

Writes docs/performance/results.json, PNG plots next to it, and docs/performance.md.
With --profile, runs the operator's convergence under py-spy instead and writes a
summary of the hottest frames (no results are overwritten).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hack.bench import identity, kube, phases, report, workloads
from hack.bench.audit import AuditLog
from hack.bench.process import Operator

from microservice_operator.api.v1alpha1 import API_VERSION, KIND

ROOT = Path(__file__).resolve().parents[2]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m hack.bench", description=__doc__)
    p.add_argument("--kubeconfig", type=Path, default=ROOT / ".cluster/kubeconfig-msop-bench")
    p.add_argument("--cluster-name", default="msop-bench", help="for the audit log path")
    p.add_argument("--sizes", default="100,1000", help="comma-separated N (default: %(default)s)")
    p.add_argument("--idle", type=float, default=120, help="steady-state window, seconds")
    p.add_argument("--drift", type=int, default=100, help="Deployments deleted for drift repair")
    p.add_argument("--helm", type=int, default=100, help="services installed with Helm (0: skip)")
    p.add_argument("--helm-parallel", type=int, default=4)
    p.add_argument("--no-database", action="store_true", help="skip the with-database phases")
    p.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip direct apply (the operator's own figures only; no convergence ratio)",
    )
    p.add_argument(
        "--database-only",
        action="store_true",
        help="only the with-database phases; with --add, keep the other figures of these sizes",
    )
    p.add_argument(
        "--api-limits",
        action="store_true",
        help="the cluster keeps the API server's request limits: convergence and restart "
        "as ServiceAccounts, counting 429s (into results.json's 'limits', the rest kept)",
    )
    p.add_argument("--profile", action="store_true", help="profile convergence with py-spy")
    p.add_argument("--docs", type=Path, default=ROOT / "docs")
    p.add_argument(
        "--report-only", action="store_true", help="regenerate the report from results.json"
    )
    p.add_argument(
        "--helm-only", action="store_true", help="run only the Helm phase into results.json"
    )
    p.add_argument(
        "--add",
        action="store_true",
        help=(
            "keep the other sizes (and Helm and limits figures) of results.json, replace"
            " these sizes (only their db phases with --database-only, their plain phases"
            " with --no-database)"
        ),
    )
    return p.parse_args(argv)


def machine() -> str:
    """The machine, without paths or host names."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = int(line.split()[1]) // (1024 * 1024)
    return (
        f"{os.cpu_count()} cores ({model}), {mem} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


async def server_version(b: phases.Bench) -> str:
    """The API server's version."""
    version = await b.api.request("GET", "/version")
    return str(version.get("gitVersion", "?"))


async def run(args: argparse.Namespace) -> int:
    """Every phase for every size, then the report."""
    sizes = [int(s) for s in args.sizes.split(",") if s]
    work = ROOT / ".cluster" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    audit = AuditLog(ROOT / f".cluster/kwok/clusters/{args.cluster_name}/logs/audit.log")
    api = kube.client(args.kubeconfig)
    pids = ROOT / f".cluster/kwok/clusters/{args.cluster_name}/pids"
    b = phases.Bench(args.kubeconfig, api, audit, work, args.idle, args.drift, pids)
    try:
        await apply_crd(b)
        nodes = len(await api.list("v1", "Node"))
        b.capacity = nodes * 110
        await phases.cleanup_leftovers(b)
        await kube.ensure_service_cidr(api)
        if args.profile:
            return await profile(b, sizes)
        if args.helm_only:
            path = args.docs / "performance" / "results.json"
            previous = json.loads(path.read_text("utf-8"))
            previous["helm"] = await phases.helm_installs(b, args.helm, args.helm_parallel)
            await phases.flush(b, wait=False)
            write_report(args.docs, previous)
            return 0
        meta = {
            "date": time.strftime("%Y-%m-%d"),
            "command": "python -m hack.bench " + " ".join(sys.argv[1:]),
            "machine": machine(),
            "kubernetes": await server_version(b),
            "nodes": nodes,
            "idle": args.idle,
            "sizes": sizes,
            "commit": git_state(),
        }
        if args.api_limits:
            return await api_limits(args, b, sizes, meta)
        results: dict[str, Any] = {"meta": meta, "runs": {}}
        if args.add:
            previous = json.loads((args.docs / "performance" / "results.json").read_text("utf-8"))
            results["runs"] = previous["runs"]
            if "helm" in previous and not args.helm:
                results["helm"] = previous["helm"]
            if "limits" in previous:
                results["limits"] = previous["limits"]
            earlier = previous["meta"].pop("earlier", [])
            results["meta"]["earlier"] = [*earlier, previous["meta"]]
        capacity = b.capacity
        for n in sizes:
            per_service = 1 if args.no_database else 2
            if n * per_service > capacity:
                b.say(f"warning: N={n} needs {n * per_service} pods, nodes hold {capacity}")
            when = {"date": results["meta"]["date"], "commit": results["meta"]["commit"]}
            run: dict[str, Any] = results["runs"].get(str(n)) or {"when": when}
            if args.database_only:
                run["database_when"] = when
            elif args.no_database and "operator_db" in run:  # keep the earlier db phases
                run.setdefault("database_when", run["when"])
                run["when"] = when
            else:
                run = {"when": when}
            results["runs"][str(n)] = run
            # Saved after every phase: a long run that fails later keeps what it measured.
            if not args.database_only:
                run["direct_plain"] = await phases.direct_apply(b, n, database=False)
                save(args.docs, results)
                run["operator_plain"] = await phases.operator(b, n, database=False, full=True)
                save(args.docs, results)
            if not args.no_database:
                if not args.no_baseline:
                    run["direct_db"] = await phases.direct_apply(b, n, database=True)
                    save(args.docs, results)
                run["operator_db"] = await phases.operator(b, n, database=True, full=False)
            run["baseline_check"] = baseline_check(run)
            if any(run["baseline_check"].values()):
                b.say(
                    f"warning: baseline and operator wrote different kinds: {run['baseline_check']}"
                )
            save(args.docs, results)
        if args.helm:
            results["helm"] = await phases.helm_installs(b, args.helm, args.helm_parallel)
        await phases.flush(b, wait=False)
        write_report(args.docs, results)
        return 0
    finally:
        await api.close()


async def api_limits(
    args: argparse.Namespace, b: phases.Bench, sizes: list[int], meta: dict[str, Any]
) -> int:
    """Convergence and restart with the API server's limits on; results.json's 'limits'."""
    seats = kube.concurrency_limits(await kube.server_metrics(b.api))
    if not seats:
        b.say(
            "this API server runs without priority and fairness (no concurrency limits): "
            "no 429 can happen; create the cluster with MSOP_CLUSTER_API_LIMITS=1 "
            "(make bench-limits)"
        )
        return 2
    who = await identity.service_accounts(b.api, b.work)
    b.operator_kubeconfig, b.baseline_kubeconfig = who.operator, who.baseline
    path = args.docs / "performance" / "results.json"
    results = json.loads(path.read_text("utf-8"))
    limits: dict[str, Any] = {"meta": {**meta, "seats": seats}, "runs": {}}
    for n in sizes:
        run: dict[str, Any] = {}
        limits["runs"][str(n)] = run
        kinds = [False] if args.no_database else [False, True]
        for database in kinds:
            key = "db" if database else "plain"
            run[f"direct_{key}"] = await phases.direct_apply(b, n, database=database)
            results["limits"] = limits
            save(args.docs, results)
            run[f"operator_{key}"] = await phases.operator(b, n, database=database, full=False)
            save(args.docs, results)
    await phases.flush(b, wait=False)
    write_report(args.docs, results)
    return 0


def _child_resources(by_kind: dict[str, int]) -> set[str]:
    resources = {key.split()[1] for key in by_kind}
    return resources - {"events", "microservices/status"}


def baseline_check(run: dict[str, Any]) -> dict[str, list[str]]:
    """Child kinds only one of operator and direct apply wrote (both empty: same objects)."""
    out: dict[str, list[str]] = {}
    for kind in ("plain", "db"):
        op, base = run.get(f"operator_{kind}"), run.get(f"direct_{kind}")
        if not op or not base:
            continue
        ours = _child_resources(op["create_writes"]["by_kind"])
        theirs = _child_resources(base["writes"])
        out[f"{kind}_operator_only"] = sorted(ours - theirs)
        out[f"{kind}_direct_only"] = sorted(theirs - ours)
    return out


def git_state() -> str:
    """The commit measured, and whether the working tree had changes (read-only git)."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "operator")
    return git("rev-parse", "--short", "HEAD") + (
        " + uncommitted operator changes" if dirty else ""
    )


def save(docs: Path, results: dict[str, Any]) -> None:
    """results.json (also after each phase, so a long run leaves partial results)."""
    path = docs / "performance" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", "utf-8")


async def apply_crd(b: phases.Bench) -> None:
    """The CRD as the code in this checkout generates it."""
    import yaml

    from microservice_operator.api.crd import crd_yaml
    from microservice_operator.kube.resources import crd_established

    crd = yaml.safe_load(crd_yaml())
    await b.api.request(
        "PATCH",
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}",
        params={"fieldManager": "msop-bench", "force": "true"},
        body=crd,
        content_type="application/apply-patch+yaml",
    )
    for _ in range(100):
        got = await b.api.get(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"]
        )
        if crd_established(got):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("CRD not established")


async def profile(b: phases.Bench, sizes: list[int]) -> int:
    """Convergence under py-spy; the hottest frames (inclusive, by sample share)."""
    for n in sizes:
        namespace = f"bench-{n}-prof"
        await kube.ensure_namespace(b.api, namespace)
        raw = b.work / f"profile-{n}.txt"
        op = Operator(b.kubeconfig, namespace, b.work / f"operator-{namespace}.log", profile=raw)
        await op.start()
        start = time.monotonic()
        await workloads.create_microservices(b.api, namespace, n, database=False)
        ready = await kube.wait_for(
            b.api,
            API_VERSION,
            KIND,
            namespace,
            n,
            phases.ms_ready,
            give_up=phases.converge_timeout(n),
        )
        b.say(f"profiled N={n}: Ready after {ready - start:.1f} s (under py-spy)")
        await op.quiet(ready - op.started)
        await op.stop()
        await asyncio.sleep(2)
        summary = summarize(raw)
        out = b.work / f"profile-{n}-summary.txt"
        out.write_text(summary, "utf-8")
        print(summary)
        await kube.delete_namespace(b.api, namespace)
    return 0


def summarize(raw: Path, top: int = 40) -> str:
    """Inclusive and self sample shares per function from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
            for f in stack.split(";")
        ]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"{c / total:6.1%}  {f}" for f, c in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{c / total:6.1%}  {f}" for f, c in own.most_common(top)]
    return "\n".join(lines) + "\n"


def write_report(docs: Path, results: dict[str, Any]) -> None:
    """Targets, plots and docs/performance.md; print the targets."""
    results["targets"] = report.targets(results)
    save(docs, results)
    names = report.plots(results, docs / "performance")
    (docs / "performance.md").write_text(report.markdown(results, names), "utf-8")
    print()
    for t in results["targets"]:
        print(f"{t['result']:5} {t['target']}: {t['measured']}")
    print(f"\nwrote {docs / 'performance.md'} and {docs / 'performance'}/")


def main() -> int:
    """Entry point."""
    args = parse()
    if args.report_only:
        path = args.docs / "performance" / "results.json"
        write_report(args.docs, json.loads(path.read_text("utf-8")))
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
