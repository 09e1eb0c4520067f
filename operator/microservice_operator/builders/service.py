"""The Service in front of the pods: port 80 to the container port."""

from __future__ import annotations

from microservice_operator.builders.common import (
    SERVICE_PORT,
    Manifest,
    Owner,
    metadata,
    selector_labels,
)


def build_service(owner: Owner) -> Manifest:
    """A ClusterIP Service named after the MicroService."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner),
            "ports": [
                {
                    "name": "http",
                    "port": SERVICE_PORT,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }
