"""Render the generated Grafana dashboards from real Prometheus data (`make dashboard-images`).

Grafana cannot run on the project's machines (its frontend is a large npm build and
its image renderer needs a browser), so this draws the dashboards itself: the same
panels, positions, queries, legends and units, each query evaluated by a real
Prometheus server (built from its Go module) over real scrapes of the operator and
the sample services, while real work happens:

- `make demo` brings up the cluster, the operator (metrics on 127.0.0.1:18090) and
  the shop as local processes on what the operator generated;
- Prometheus scrapes the operator and the three services every 2 s, with the
  labels prometheus-operator would add for a ServiceMonitor (namespace, service);
- the shop takes orders from `sample-services/loadtest.py` for 7 minutes; once the
  panels' 5-minute rate windows are full, products is frozen (SIGSTOP) for 20 s,
  so orders answers 503 and its error ratio and p99 latency rise;
- the operator gets work: a MicroService is scaled up and down and Deployments are
  deleted and repaired.

    make dashboard-images            (needs `make demo` running; ~8 minutes)
    python hack/dashboards.py [--seconds 180] [--out docs/images]   (with matplotlib)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from microservice_operator.builders.common import Owner
from microservice_operator.builders.monitoring import (
    build_dashboard_config_map,
    operator_dashboard,
)

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".tools" / "bin"
SHOP_STATE = ROOT / ".cluster" / "demo-shop" / "shop.json"
OPERATOR_METRICS = "127.0.0.1:18090"
NAMESPACE = "shop"
SERVICES = ("auth", "products", "orders")
STEP = 5  # seconds between the points of a range query


def say(text: str) -> None:
    """Progress on stderr."""
    print(f"[dashboards] {text}", file=sys.stderr, flush=True)


def kubectl(*args: str) -> None:
    """Run kubectl against the demo cluster; fail loudly."""
    env = {**os.environ, "KUBECONFIG": str(ROOT / ".cluster" / "kubeconfig")}
    subprocess.run([str(BIN / "kubectl"), *args], check=True, env=env, capture_output=True)


def prometheus_config(shop: dict[str, Any]) -> dict[str, Any]:
    """Scrape the operator and the shop every 2 s, labelled as a ServiceMonitor would be."""
    jobs: list[dict[str, Any]] = [
        {
            "job_name": "microservice-operator",
            "static_configs": [
                {"targets": [OPERATOR_METRICS], "labels": {"namespace": "microservice-operator"}}
            ],
        }
    ]
    for name in SERVICES:
        netloc = urllib.parse.urlsplit(shop[name]).netloc
        labels = {"namespace": NAMESPACE, "service": name}
        jobs.append({"job_name": name, "static_configs": [{"targets": [netloc], "labels": labels}]})
    return {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "scrape_configs": jobs,
    }


def start_prometheus(work: Path, shop: dict[str, Any]) -> tuple[subprocess.Popen[bytes], str]:
    """A Prometheus server on a free port, its TSDB under ``work``."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = work / "prometheus.yml"
    config.write_text(json.dumps(prometheus_config(shop)), encoding="utf-8")  # JSON is YAML
    log = (work / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(BIN / "prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"Prometheus did not become ready; see {work / 'prometheus.log'}")


def query_range(url: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    """Prometheus /api/v1/query_range, STEP seconds apart."""
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": STEP})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as response:
        body = json.load(response)
    if body["status"] != "success":
        raise RuntimeError(f"{expr}: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def legend(fmt: str | None, labels: dict[str, str]) -> str:
    """Grafana's `{{label}}` legend format."""
    if not fmt:
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"
    text = fmt
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def gapped(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The points as x and y lists, broken where samples are missing (as Grafana draws)."""
    xs: list[float] = []
    ys: list[float] = []
    for t, v in points:
        if xs and t - xs[-1] > STEP * 1.5:
            xs.append(xs[-1] + STEP)
            ys.append(math.nan)
        xs.append(t)
        ys.append(v)
    return xs, ys


UNITS = {"reqps": "req/s", "percentunit": "ratio", "s": "seconds", "short": ""}


def render(model: dict[str, Any], url: str, start: float, end: float, path: Path) -> int:
    """Draw every panel at its gridPos (24 columns); return the number of series drawn."""
    panels = model["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    fig = plt.figure(figsize=(16, rows * 0.45 + 1.2), facecolor="#111217")
    fig.suptitle(model["title"], color="white", fontsize=14, x=0.01, y=0.985, ha="left")
    drawn = 0
    for panel in panels:
        pos = panel["gridPos"]
        top = 0.9 - (pos["y"] / rows) * 0.86
        height = (pos["h"] / rows) * 0.86 - 0.12
        ax = fig.add_axes(
            (pos["x"] / 24 + 0.04, top - height, pos["w"] / 24 - 0.06, height), facecolor="#181b1f"
        )
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        ax.set_title(panel["title"], color="white", fontsize=10, loc="left")
        ax.tick_params(colors="#9fa7b3", labelsize=8)
        for spine in ax.spines.values():
            spine.set_color("#2c3235")
        for target in panel.get("targets", []):
            for series in query_range(url, target["expr"], start, end):
                points = [(float(t) - start, float(v)) for t, v in series["values"]]
                points = [(t, v) for t, v in points if math.isfinite(v)]
                if points:
                    xs, ys = gapped(points)
                    ax.plot(xs, ys, linewidth=1.4,
                            label=legend(target.get("legendFormat"), series["metric"]))  # fmt: skip
                    drawn += 1
        ax.set_xlabel("seconds into the run", color="#9fa7b3", fontsize=8)
        ax.set_ylabel(UNITS.get(unit, unit), color="#9fa7b3", fontsize=8)
        if ax.lines:
            ax.legend(fontsize=7, loc="upper left", facecolor="#181b1f", labelcolor="#d8d9da")
        else:
            ax.text(0.5, 0.5, "No data", color="#9fa7b3", ha="center", transform=ax.transAxes)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, facecolor=fig.get_facecolor())
    plt.close(fig)
    return drawn


def operator_work(stop: threading.Event) -> None:
    """Give the operator something to do: scale orders up and down, delete Deployments."""
    replicas, victims = 3, ["products", "auth", "orders"]
    while not stop.wait(12):
        patch = json.dumps({"spec": {"replicas": replicas}})
        kubectl("-n", NAMESPACE, "patch", "ms", "orders", "--type=merge", "-p", patch)
        replicas = 5 - replicas  # 3, 2, 3, ...
        kubectl("-n", NAMESPACE, "delete", "deployment", victims[0], "--wait=false")
        victims.append(victims.pop(0))


def main() -> int:
    """Run the scenario, then draw both dashboards."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=420)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    if not SHOP_STATE.exists():
        raise SystemExit("the demo is not running: run `make demo` first")
    shop = json.loads(SHOP_STATE.read_text())
    work = Path(tempfile.mkdtemp(prefix="msop-dashboards-"))
    prometheus, url = start_prometheus(work, shop)
    say(f"Prometheus at {url}, scraping the operator and the shop every 2 s")
    stop = threading.Event()
    worker = threading.Thread(target=operator_work, args=(stop,), daemon=True)
    start = time.time()
    load = subprocess.Popen(
        [
            str(ROOT / ".tools" / "bin" / "uv"), "run", "--frozen", "--all-packages", "python",
            str(ROOT / "sample-services" / "loadtest.py"),
            "--requests", "100000", "--concurrency", "4", "--time-limit", str(args.seconds),
            "--auth-url", shop["auth"], "--products-url", shop["products"],
            "--orders-url", shop["orders"], "--admin-password", shop["admin_password"],
        ],
        stdout=(work / "load.log").open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        worker.start()
        products_pid = int(shop["pids"][SERVICES.index("products")])
        # The panels use 5-minute rates: freeze once those windows are full.
        time.sleep(args.seconds * 0.75)
        say("freezing products for 20 s (orders should answer 503)")
        os.kill(products_pid, signal.SIGSTOP)
        time.sleep(20)
        os.kill(products_pid, signal.SIGCONT)
        load.wait(timeout=args.seconds + 120)
        report = (work / "load.log").read_text(errors="replace")
        # It exits 1 when an order failed, which the freeze is meant to cause.
        if load.returncode not in (0, 1) or "orders placed:" not in report:
            raise RuntimeError(f"the load test did not run:\n{report[-3000:]}")
        say("load test: " + " | ".join(report.strip().splitlines()[-4:]))
        time.sleep(6)  # two more scrapes
        end = time.time()
        stop.set()
        owner = Owner.from_body(
            {
                "metadata": {"name": "orders", "namespace": NAMESPACE, "uid": "-"},
                "spec": {"image": "-", "monitoring": {"enabled": True}},
            }
        )
        config_map = build_dashboard_config_map(owner)
        assert config_map is not None
        service_model = json.loads(config_map["data"]["orders.json"])
        outputs = {
            "dashboard-service-orders.png": service_model,
            "dashboard-operator.png": operator_dashboard(),
        }
        for name, model in outputs.items():
            drawn = render(model, url, start, end, args.out / name)
            say(f"{args.out / name}: {len(model['panels'])} panels, {drawn} series")
    finally:
        stop.set()
        os.kill(int(shop["pids"][SERVICES.index("products")]), signal.SIGCONT)
        load.kill()
        prometheus.terminate()
        prometheus.wait(timeout=30)
    say(f"load test output: {work / 'load.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
