"""The MicroService API: pydantic models (source of truth) and the generated CRD."""

from microservice_operator.api.v1alpha1 import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    MicroService,
    MicroServiceSpec,
    MicroServiceStatus,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "MicroService",
    "MicroServiceSpec",
    "MicroServiceStatus",
]
