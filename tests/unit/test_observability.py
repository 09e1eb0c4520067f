from __future__ import annotations

import json
import logging

from microservice_operator.observability import RECONCILE_CONTEXT, JsonFormatter, reconcile_context


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord(
        "microservice_operator.x", logging.INFO, __file__, 1, message, None, None
    )


def test_json_lines_carry_the_microservice_and_reconcile_id() -> None:
    formatter = JsonFormatter()
    plain = json.loads(formatter.format(record("hello")))
    assert plain["message"] == "hello" and plain["level"] == "info" and "microservice" not in plain
    token = reconcile_context("shop", "orders")
    try:
        first = json.loads(formatter.format(record("applied")))
        second = json.loads(formatter.format(record("status")))
    finally:
        RECONCILE_CONTEXT.reset(token)
    assert first["microservice"] == "shop/orders"
    assert first["reconcile_id"] == second["reconcile_id"] and len(first["reconcile_id"]) == 12
    token = reconcile_context("shop", "orders")
    try:
        third = json.loads(formatter.format(record("again")))
    finally:
        RECONCILE_CONTEXT.reset(token)
    assert third["reconcile_id"] != first["reconcile_id"]
