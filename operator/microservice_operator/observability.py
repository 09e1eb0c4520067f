"""The operator's own metrics and structured logs.

Metric names follow controller-runtime's where an equivalent exists, so
dashboards and habits built for Go operators carry over:
``controller_runtime_reconcile_total``, ``controller_runtime_reconcile_errors_total``,
``controller_runtime_reconcile_time_seconds``, ``controller_runtime_active_workers``,
``workqueue_depth``, ``rest_client_requests_total`` and
``leader_election_master_status``. ``microservice_operator_microservices``
counts managed MicroServices by condition.
"""

from __future__ import annotations

import contextvars
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTROLLER = "microservice"
REGISTRY = CollectorRegistry()

RECONCILE_TOTAL = Counter(
    "controller_runtime_reconcile_total",
    "Reconciles by result.",
    ["controller", "result"],
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors_total",
    "Reconciles that failed.",
    ["controller"],
    registry=REGISTRY,
)
RECONCILE_TIME = Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Time per reconcile.",
    ["controller"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
ACTIVE_WORKERS = Gauge(
    "controller_runtime_active_workers", "Reconciles in flight.", ["controller"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge(
    "workqueue_depth",
    "Keys waiting for a reconcile (dirty or scheduled).",
    ["name"],
    registry=REGISTRY,
)
REST_REQUESTS = Counter(
    "rest_client_requests_total",
    "API requests by method and status code.",
    ["method", "code"],
    registry=REGISTRY,
)
EVENTS_DROPPED = Counter(
    "microservice_operator_events_dropped_total",
    "Normal Events not posted because the Event budget was spent (a mass change).",
    ["reason"],
    registry=REGISTRY,
)
LEADER = Gauge(
    "leader_election_master_status",
    "1 while this process holds the Lease.",
    ["name"],
    registry=REGISTRY,
)


class ConditionCollector(Collector):
    """Managed MicroServices by condition type and status, read at scrape time."""

    def __init__(self, bodies: Callable[[], Iterable[dict[str, Any]]]) -> None:
        self._bodies = bodies

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample per (type, status)."""
        family = GaugeMetricFamily(
            "microservice_operator_microservices",
            "Managed MicroServices by condition.",
            labels=["condition", "status"],
        )
        counts: dict[tuple[str, str], int] = {}
        total = 0
        for body in self._bodies():
            total += 1
            for cond in (body.get("status") or {}).get("conditions") or []:
                key = (str(cond.get("type")), str(cond.get("status")))
                counts[key] = counts.get(key, 0) + 1
        family.add_metric(["Any", "Any"], total)
        for (type_, status), count in sorted(counts.items()):
            family.add_metric([type_, status], count)
        yield family


def serve_metrics(port: int, address: str = "0.0.0.0") -> None:
    """Serve /metrics on ``address:port`` (a daemon thread; 0 disables)."""
    if port:
        start_http_server(port, addr=address, registry=REGISTRY)


# ------------------------------------------------------------------ logs
RECONCILE_CONTEXT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "reconcile_context", default=None
)


def reconcile_context(namespace: str, name: str) -> contextvars.Token[dict[str, str] | None]:
    """Mark log records of this task with the MicroService and a fresh reconcile id."""
    return RECONCILE_CONTEXT.set(
        {"namespace": namespace, "name": name, "reconcile_id": uuid.uuid4().hex[:12]}
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the MicroService and reconcile id when known."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = RECONCILE_CONTEXT.get()
        if context:
            out["microservice"] = f"{context['namespace']}/{context['name']}"
            out["reconcile_id"] = context["reconcile_id"]
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(json_format: bool, verbose: bool) -> None:
    """Root logging: JSON (default, for machines) or human (development)."""
    handler = logging.StreamHandler()
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("[%(asctime)s] %(name)-28s [%(levelname)-7s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if not verbose:  # kopf logs every handler call at INFO; our reconciler logs what matters
        logging.getLogger("kopf").setLevel(logging.WARNING)
