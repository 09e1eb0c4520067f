"""The measured phases: direct apply, the operator (create, no-op, idle, restart, drift), Helm."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hack.bench import helm, kube, workloads
from hack.bench.audit import AuditLog, Mark
from hack.bench.process import Operator, cpu_by_process, cpu_spent

from microservice_operator.api.v1alpha1 import API_VERSION, KIND
from microservice_operator.kube import KubeClient

Result = dict[str, Any]
TOUCH_ANNOTATION = "bench.microservice-operator.dev/touched"
RESYNC_LIMIT = 900.0
"""Seconds a restarted operator may stay busy before its resync time is reported as unknown."""


@dataclass
class Bench:
    """What every phase needs."""

    kubeconfig: Path
    api: KubeClient
    audit: AuditLog
    work: Path
    idle: float
    drift: int
    pids: Path | None = None
    """The local cluster's pid files, for CPU by process (None: not measured)."""
    capacity: int = 2200
    """Pods the kwok nodes hold."""
    pending: list[tuple[str, bool, int]] = field(default_factory=list)
    """Finished namespaces not yet deleted: (name, has volumes, pods)."""
    operator_kubeconfig: Path | None = None
    """Who the operator runs as (None: the benchmark's own kubeconfig)."""
    baseline_kubeconfig: Path | None = None
    """Who the direct-apply script runs as (None: the benchmark's own kubeconfig)."""

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far by control-plane process and for this driver."""
        return cpu_by_process(self.pids) if self.pids is not None else {}

    async def rejections(self) -> Result:
        """The API server's 429 answers so far."""
        return kube.rejections(await kube.server_metrics(self.api))

    def say(self, message: str) -> None:
        """Progress on stderr-like stdout (the Makefile shows it)."""
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def converge_timeout(n: int) -> float:
    """Give up after this long."""
    return 180 + 1.5 * n


async def _workloads_ready(b: Bench, namespace: str, n: int, database: bool) -> float:
    """When every Deployment (and database StatefulSet) in ``namespace`` was ready."""
    ready, give_up = kube.workload_ready, converge_timeout(n)
    done = await kube.wait_for(b.api, "apps/v1", "Deployment", namespace, n, ready, give_up=give_up)
    if database:
        done = max(
            done,
            await kube.wait_for(
                b.api, "apps/v1", "StatefulSet", namespace, n, ready, give_up=give_up
            ),
        )
    return done


async def flush(b: Bench, *, wait: bool = True) -> None:
    """Delete every finished namespace at once (untimed); wait until they are gone."""
    pending, b.pending = b.pending, []
    if not pending:
        return
    if not wait:
        for namespace, _, _ in pending:
            await b.api.delete("v1", "Namespace", namespace)
        b.say(f"deleting {len(pending)} namespaces in the background")
        return
    start = time.monotonic()
    # The bulk kinds are swept in parallel (see kube.delete_namespace); the limit is generous.
    await asyncio.gather(
        *(kube.delete_namespace(b.api, ns, give_up=900 + pods / 2) for ns, _, pods in pending)
    )
    for namespace, volumes, _ in pending:
        if volumes:
            await kube.delete_volumes(b.api, namespace)
    b.say(f"  cleaned up {len(pending)} namespaces in {time.monotonic() - start:.0f} s")


async def cleanup_leftovers(b: Bench) -> None:
    """Namespaces and volumes an earlier (perhaps interrupted) run left behind."""
    for ns in await b.api.list("v1", "Namespace"):
        name = ns["metadata"]["name"]
        if name.startswith("bench-"):
            b.pending.append((name, True, 0))
    for pv in await b.api.list("v1", "PersistentVolume", label_selector=kube.PV_LABEL):
        await b.api.delete("v1", "PersistentVolume", pv["metadata"]["name"])
    await flush(b)


async def _prepare(b: Bench, namespace: str, n: int, database: bool) -> None:
    pods = n * (2 if database else 1)
    if sum(p for _, _, p in b.pending) + pods > 0.9 * b.capacity:
        await flush(b)
    await kube.ensure_namespace(b.api, namespace)
    if database:
        claims = [workloads.claim_name(m) for m in workloads.names(n)]
        await kube.create_volumes(b.api, namespace, claims, "1Gi")


async def _cleanup(b: Bench, namespace: str, database: bool, pods: int) -> None:
    """Deleted later, all at once, when the pods no longer fit (deletion storms are slow)."""
    b.pending.append((namespace, database, pods))


async def direct_apply(b: Bench, n: int, *, database: bool) -> Result:
    """The lower bound: the same children applied by a plain script, no operator."""
    namespace = f"bench-{n}-base{'db' if database else ''}"
    b.say(f"direct apply, N={n}, database={database}")
    await _prepare(b, namespace, n, database)
    baseline = kube.client(b.baseline_kubeconfig or b.kubeconfig, kube.BASELINE_AGENT)
    mark, cpu0, rejected0 = b.audit.mark(), b.cpu(), await b.rejections()
    start = time.monotonic()
    await workloads.direct_apply(b.api, baseline, namespace, n, database=database)
    applied = time.monotonic()
    ready = await _workloads_ready(b, namespace, n, database)
    cpu = cpu_spent(cpu0, b.cpu())
    rejected = kube.rejections_since(rejected0, await b.rejections())
    await baseline.close()
    await asyncio.sleep(1)
    writes = b.audit.writes(mark, agents=(kube.BASELINE_AGENT,))
    out: Result = {
        "seconds": ready - start,
        "load_1m": os.getloadavg()[0],
        "apply_seconds": applied - start,
        "writes_per_service": len(writes) / n,
        "writes": b.audit.by_kind(writes),
        "cpu_by_process": cpu,
        "rejected": rejected,
    }
    b.say(f"  ready after {out['seconds']:.1f} s (all applied after {applied - start:.1f} s)")
    b.say(f"  CPU s: {_cpu_line(cpu)}")
    b.say(f"  429s: {_rejected_line(rejected)}")
    await _cleanup(b, namespace, database, n * (2 if database else 1))
    return out


def _cpu_line(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())


def _rejected_line(rejected: Result) -> str:
    flows = ", ".join(f"{k} {v}" for k, v in rejected["by_flow_schema"].items())
    ours = f", {rejected['operator']} to the operator" if "operator" in rejected else ""
    return f"{rejected['code_429']} in all{ours}" + (f" (by flow schema: {flows})" if flows else "")


def ms_ready(body: dict[str, Any]) -> bool:
    """A MicroService Ready for its generation."""
    return kube.condition_true(body, "Ready")


async def _writes_since(b: Bench, mark: Mark, n: int) -> Result:
    await asyncio.sleep(1.5)  # let the audit backend flush
    events = b.audit.writes(mark)
    return {
        "total": len(events),
        "per_service": len(events) / n,
        "by_kind": b.audit.by_kind(events),
    }


async def operator(b: Bench, n: int, *, database: bool, full: bool) -> Result:
    """Convergence under the operator, then (``full``) no-op resync, idle, restart and drift."""
    namespace = f"bench-{n}-op{'db' if database else ''}"
    b.say(f"operator, N={n}, database={database}")
    await _prepare(b, namespace, n, database)
    op = Operator(
        b.operator_kubeconfig or b.kubeconfig, namespace, b.work / f"operator-{namespace}.log"
    )
    out: Result = {"startup_to_live_seconds": await op.start()}
    out["rss_idle_empty_mib"] = op.rss_mib()
    try:
        # ---- convergence
        mark, cpu0, since, cluster0 = b.audit.mark(), op.cpu(), op.now(), b.cpu()
        passes0, throttled0, rejected0 = (
            await op.reconciles(),
            await op.throttled(),
            await b.rejections(),
        )
        start = time.monotonic()
        await workloads.create_microservices(b.api, namespace, n, database=database)
        applied = time.monotonic()
        ready = await kube.wait_for(
            b.api, API_VERSION, KIND, namespace, n, ms_ready, give_up=converge_timeout(n)
        )
        out["seconds"] = ready - start
        out["cpu_by_process"] = {**cpu_spent(cluster0, b.cpu()), "operator": op.cpu() - cpu0}
        out["load_1m"] = os.getloadavg()[0]
        out["apply_seconds"] = applied - start
        out["rejected"] = {
            **kube.rejections_since(rejected0, await b.rejections()),
            "operator": await op.throttled() - throttled0,
        }
        b.say(f"  all Ready after {out['seconds']:.1f} s")
        b.say(f"  CPU s until Ready: {_cpu_line(out['cpu_by_process'])}")
        b.say(f"  429s until Ready: {_rejected_line(out['rejected'])}")
        settled = await op.quiet(ready - op.started)
        out["settle_after_ready_seconds"] = max(0.0, settled - (ready - op.started))
        out["create_writes"] = await _writes_since(b, mark, n)
        out["cpu_seconds"] = op.cpu() - cpu0
        out["reconciles_per_service"] = (await op.reconciles() - passes0) / n
        out["peak_rss_mib"] = op.peak_rss_mib(since)
        out["rss_converged_mib"] = op.rss_mib()
        b.say(
            f"  writes/service {out['create_writes']['per_service']:.2f},"
            f" reconciles/service {out['reconciles_per_service']:.2f},"
            f" CPU {out['cpu_seconds']:.1f} s, peak RSS {out['peak_rss_mib']:.0f} MiB"
        )
        if full:
            out["noop"] = await _noop_resync(b, op, namespace, n)
            out["idle"] = await _idle(b, op, n)
        out["restart"], op = await _restart(b, op, n)
        if full:
            out["drift"] = await _drift(b, namespace, min(b.drift, n))
            out["rss_end_mib"] = op.rss_mib()
        out["rss_samples"] = [[round(s.t, 1), round(s.rss_mib, 1)] for s in op.samples[::10]]
    finally:
        await op.stop()
    await _cleanup(b, namespace, database, n * (2 if database else 1))
    return out


async def _noop_resync(b: Bench, op: Operator, namespace: str, n: int) -> Result:
    b.say("  no-op resync: touching an annotation on every MicroService")
    mark, cpu0, since = b.audit.mark(), op.cpu(), op.now()
    stamp = str(time.time())
    await asyncio.gather(
        *(
            b.api.patch_merge(
                API_VERSION,
                KIND,
                name,
                namespace,
                {"metadata": {"annotations": {TOUCH_ANNOTATION: stamp}}},
            )
            for name in workloads.names(n)
        )
    )
    last = await op.quiet(since)
    out: Result = {
        "seconds": last - since,
        "cpu_seconds": op.cpu() - cpu0,
        "writes": await _writes_since(b, mark, n),
    }
    b.say(f"  no-op: {out['writes']['total']} writes, quiet after {out['seconds']:.1f} s")
    return out


async def _idle(b: Bench, op: Operator, n: int) -> Result:
    b.say(f"  steady state: {b.idle:.0f} s idle")
    mark, cpu0 = b.audit.mark(), op.cpu()
    await asyncio.sleep(b.idle)
    out: Result = {
        "seconds": b.idle,
        "cpu_seconds": op.cpu() - cpu0,
        "rss_mib": op.rss_mib(),
        "writes": await _writes_since(b, mark, n),
    }
    b.say(f"  idle: {out['writes']['total']} writes, CPU {out['cpu_seconds']:.2f} s")
    return out


async def _restart(b: Bench, op: Operator, n: int) -> tuple[Result, Operator]:
    """Stop, start a fresh process over the converged objects, time its resync, count writes."""
    await op.stop()
    mark, rejected0 = b.audit.mark(), await b.rejections()
    fresh = Operator(op.kubeconfig, op.namespace, op.log)
    live = await fresh.start()
    last: float | None
    try:
        last = await fresh.quiet(live, give_up=RESYNC_LIMIT)
    except TimeoutError:
        b.say(f"  restart: still busy after {RESYNC_LIMIT:.0f} s; giving up on the resync time")
        last = None
    out: Result = {
        "to_live_seconds": live,
        "resync_seconds": None if last is None else max(live, last),
        "cpu_seconds": fresh.cpu(),
        "rss_mib": fresh.rss_mib(),
        "writes": await _writes_since(b, mark, n),
        "rejected": {
            **kube.rejections_since(rejected0, await b.rejections()),
            "operator": await fresh.throttled(),
        },
    }
    quiet = "never quiet" if last is None else f"quiet after {out['resync_seconds']:.1f} s"
    b.say(
        f"  restart: live after {live:.1f} s, {quiet}, {out['writes']['total']} writes,"
        f" RSS {out['rss_mib']:.0f} MiB (peak {fresh.peak_rss_mib():.0f}),"
        f" 429s {_rejected_line(out['rejected'])}"
    )
    return out, fresh


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


async def _drift(b: Bench, namespace: str, count: int) -> Result:
    """Delete Deployments one by one; time until a new one (new uid) is seen on a watch."""
    b.say(f"  drift repair: deleting {count} Deployments one by one")
    listing = await b.api.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments")
    uids = {d["metadata"]["name"]: d["metadata"]["uid"] for d in listing["items"]}
    added: asyncio.Queue[tuple[str, str, float]] = asyncio.Queue()

    async def follow() -> None:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        async for kind, obj in kube.watch(b.api, path, listing["metadata"]["resourceVersion"]):
            if kind == "ADDED":
                meta = obj["metadata"]
                await added.put((meta["name"], meta["uid"], time.monotonic()))

    watcher = asyncio.create_task(follow())
    latencies: list[float] = []
    try:
        for name in sorted(uids)[:count]:
            start = time.monotonic()
            await b.api.delete("apps/v1", "Deployment", name, namespace)
            while True:
                seen, uid, when = await asyncio.wait_for(added.get(), 60)
                if seen == name and uid != uids[name]:
                    latencies.append(when - start)
                    break
            await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    out: Result = {
        "count": len(latencies),
        "p50_seconds": percentile(latencies, 50),
        "p99_seconds": percentile(latencies, 99),
        "max_seconds": max(latencies),
        "mean_seconds": statistics.fmean(latencies),
        "latencies": [round(x, 4) for x in latencies],
    }
    b.say(
        f"  drift: p50 {out['p50_seconds'] * 1000:.0f} ms, p99 {out['p99_seconds'] * 1000:.0f} ms"
    )
    return out


async def helm_installs(b: Bench, n: int, parallel: int) -> Result:
    """One `helm install` per service, ``parallel`` at a time; until every Deployment is ready."""
    namespace = f"bench-{n}-helm"
    b.say(f"helm install x {n} ({parallel} in parallel)")
    await flush(b)
    differences = helm.chart_differences(b.kubeconfig)
    if differences:
        b.say(f"  warning: the chart differs from the operator's children in {differences}")
    await kube.ensure_namespace(b.api, namespace)
    mark = b.audit.mark()
    start = time.monotonic()
    await helm.install_all(b.kubeconfig, namespace, workloads.names(n), parallel)
    installed = time.monotonic()
    ready = await _workloads_ready(b, namespace, n, False)
    await asyncio.sleep(1)
    writes = b.audit.writes(mark, agents=("Helm/", "helm/"))
    out: Result = {
        "n": n,
        "parallel": parallel,
        "seconds": ready - start,
        "install_seconds": installed - start,
        "writes_per_service": len(writes) / n,
        "writes": b.audit.by_kind(writes),
        "chart_differences": differences,
    }
    b.say(f"  helm: ready after {out['seconds']:.1f} s")
    await _cleanup(b, namespace, False, n)
    return out
