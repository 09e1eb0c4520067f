"""The operator's only Kubernetes client: async, plain dicts, server-side apply."""

from microservice_operator.kube.client import FIELD_MANAGER, ApiError, KubeClient
from microservice_operator.kube.config import ConfigError, Connection, load_connection
from microservice_operator.kube.resources import Resource

__all__ = [
    "FIELD_MANAGER",
    "ApiError",
    "ConfigError",
    "Connection",
    "KubeClient",
    "Resource",
    "load_connection",
]
