"""Thin kopf handlers: events trigger one level-based reconcile per MicroService."""

from microservice_operator.handlers.leader import LeaseConfig
from microservice_operator.handlers.watch import Options, configure, register

__all__ = ["LeaseConfig", "Options", "configure", "register"]
