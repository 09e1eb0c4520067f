"""Thin kopf handlers: events trigger one level-based reconcile per MicroService."""

from microservice_operator.handlers.watch import configure, register

__all__ = ["configure", "register"]
