"""`msop`: run the operator, render children offline, print the CRD."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pydantic
import yaml

from microservice_operator import __version__
from microservice_operator.api import API_VERSION, KIND
from microservice_operator.api.crd import crd_yaml
from microservice_operator.api.crd_chart import chart_crd_template
from microservice_operator.builders import Owner
from microservice_operator.builders.offline import render_all

if TYPE_CHECKING:
    from microservice_operator.handlers.leader import LeaseConfig


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `msop` command."""
    parser = argparse.ArgumentParser(prog="msop", description=__doc__)
    parser.add_argument("--version", action="version", version=f"msop {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator")
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="namespace to watch (repeatable; glob patterns allowed); default: all namespaces",
    )
    run.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="liveness endpoint URL, or '' to disable (default: %(default)s)",
    )
    run.add_argument("--log-format", choices=["json", "human"], default="json")
    run.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("MSOP_METRICS_PORT", "9090")),
        help="Prometheus metrics on this port, 0 to disable (default: %(default)s)",
    )
    run.add_argument(
        "--workers",
        type=_positive,
        default=os.environ.get("MSOP_WORKERS", "64"),  # a string default goes through type
        help="MicroServices reconciled at once (env MSOP_WORKERS; default: %(default)s)",
    )
    election = run.add_argument_group("leader election (a coordination.k8s.io Lease)")
    election.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=_env_flag("MSOP_LEADER_ELECTION"),
        help="only the Lease holder reconciles (env MSOP_LEADER_ELECTION; default off)",
    )
    election.add_argument(
        "--lease-name", default=os.environ.get("MSOP_LEASE_NAME", "microservice-operator")
    )
    election.add_argument(
        "--lease-namespace",
        default=os.environ.get("MSOP_LEASE_NAMESPACE") or None,
        help="default: the pod's namespace, else 'default'",
    )
    election.add_argument(
        "--lease-duration",
        type=parse_duration,
        default=parse_duration(os.environ.get("MSOP_LEASE_DURATION", "12s")),
        help="a duration: 12, 12s, 1m30s, 500ms (env MSOP_LEASE_DURATION)",
    )
    election.add_argument(
        "--renew-deadline",
        type=parse_duration,
        default=parse_duration(os.environ.get("MSOP_RENEW_DEADLINE", "8s")),
        help="a duration: 12, 12s, 1m30s, 500ms (env MSOP_RENEW_DEADLINE)",
    )
    election.add_argument(
        "--retry-period",
        type=parse_duration,
        default=parse_duration(os.environ.get("MSOP_RETRY_PERIOD", "2s")),
        help="a duration: 12, 12s, 1m30s, 500ms (env MSOP_RETRY_PERIOD)",
    )
    election.add_argument(
        "--identity", default=None, help="holder identity (default: $POD_NAME or host-pid)"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    render = commands.add_parser("render", help="print the children of MicroServices, no cluster")
    render.add_argument(
        "-f", "--filename", required=True, help="YAML file with MicroServices ('-': stdin)"
    )
    render.add_argument(
        "-n", "--namespace", default="default", help="namespace when the file has none"
    )

    crd = commands.add_parser("crd", help="print (or write, or check) the generated CRD")
    crd.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    crd.add_argument("--check", action="store_true", help="fail if --output differs (drift check)")
    crd.add_argument(
        "--chart", action="store_true", help="the Helm chart's CRD template instead of plain YAML"
    )

    dashboard = commands.add_parser("dashboard", help="print the operator's Grafana dashboard JSON")
    dashboard.add_argument("-o", "--output", type=Path, help="write to this file")
    dashboard.add_argument("--check", action="store_true", help="fail if --output differs")

    args = parser.parse_args(argv)
    if args.command == "dashboard":
        return write_dashboard(args.output, args.check)
    if args.command == "run":
        from microservice_operator.handlers.leader import LeaseConfig, default_identity

        lease = None
        if args.leader_election:
            lease = LeaseConfig(
                name=args.lease_name,
                namespace=args.lease_namespace or _pod_namespace(),
                identity=args.identity or default_identity(),
                lease_duration=args.lease_duration,
                renew_deadline=args.renew_deadline,
                retry_period=args.retry_period,
            )
        return run_operator(
            args.namespace,
            args.liveness,
            args.log_format,
            args.verbose,
            lease,
            args.metrics_port,
            args.workers,
        )
    if args.command == "render":
        return render_file(args.filename, args.namespace, sys.stdout)
    return write_crd(args.output, args.check, chart=args.chart)


def write_dashboard(output: Path | None, check: bool) -> int:
    """Print, write or drift-check the operator's dashboard."""
    from microservice_operator.builders.monitoring import operator_dashboard

    text = json.dumps(operator_dashboard(), indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
        return 0
    if check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{output} is out of date: run `msop dashboard -o {output}`\n")
            return 1
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return 0


def write_crd(output: Path | None, check: bool, *, chart: bool = False) -> int:
    """Print, write or check the CRD (or, with ``chart``, the chart's CRD template)."""
    text = chart_crd_template() if chart else crd_yaml()
    if output is None:
        sys.stdout.write(text)
        return 0
    if check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            flag = " --chart" if chart else ""
            sys.stderr.write(f"{output} is out of date: run `msop crd{flag} -o {output}`\n")
            return 1
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return 0


def render_file(filename: str, namespace: str, out: TextIO) -> int:
    """Print every child of every MicroService in a YAML file."""
    source = sys.stdin.read() if filename == "-" else Path(filename).read_text(encoding="utf-8")
    owners: list[Owner] = []
    for doc in yaml.safe_load_all(source):
        if not doc or doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
            continue
        meta = doc.setdefault("metadata", {})
        meta.setdefault("namespace", namespace)
        meta.setdefault("uid", "00000000-0000-0000-0000-000000000000")
        try:
            owners.append(Owner.from_body(doc))
        except pydantic.ValidationError as exc:
            sys.stderr.write(f"MicroService {meta.get('name')}: {exc}\n")
            return 1
    out.write(yaml.safe_dump_all(render_all(owners), sort_keys=False))
    return 0


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from a Go-style duration ("15s", "1m30s", "500ms") or a bare number."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 15s, 1m30s, 500ms)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _positive(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _pod_namespace() -> str:
    path = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    return path.read_text(encoding="utf-8").strip() if path.exists() else "default"


def run_operator(
    namespaces: list[str],
    liveness: str,
    log_format: str,
    verbose: bool,
    lease: LeaseConfig | None = None,
    metrics_port: int = 0,
    workers: int = 64,
) -> int:
    """Run the operator until interrupted."""
    import kopf

    from microservice_operator.handlers import Options, register
    from microservice_operator.observability import configure_logging

    configure_logging(json_format=log_format == "json", verbose=verbose)
    registry = kopf.OperatorRegistry()
    register(registry, Options(leader_election=lease, metrics_port=metrics_port, workers=workers))
    asyncio.run(
        kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=liveness or None,
        )
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
