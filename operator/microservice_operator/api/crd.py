"""Generate the MicroService CustomResourceDefinition from the pydantic models.

pydantic emits JSON Schema; Kubernetes wants a *structural* OpenAPI v3
schema: no ``$ref``, no ``anyOf`` for optional fields, int-or-string and
free-form objects spelled with ``x-kubernetes-*`` extensions. This module does
that translation and adds what only a CRD has: names, printer columns and the
status and scale subresources.
"""

from __future__ import annotations

from typing import Any

import yaml

from microservice_operator.api import v1alpha1

Schema = dict[str, Any]

_DROP = {"title", "$defs", "discriminator", "propertyNames"}


def structural(schema: Schema, defs: dict[str, Schema]) -> Schema:
    """Translate one pydantic JSON Schema node into a structural OpenAPI node."""
    node = dict(schema)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        merged = {**target, **node}  # a field's own description wins over its model's
        return structural(merged, defs)
    if "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
        if node.get("default", "missing") is None:
            node.pop("default")
        if node.get("x-kubernetes-int-or-string") or _is_int_or_string(options):
            node["x-kubernetes-int-or-string"] = True
            return {k: v for k, v in node.items() if k not in _DROP}
        if len(options) != 1:
            raise ValueError(f"cannot express a union in a structural schema: {options}")
        return structural({**options[0], **node}, defs)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), int | float) and not isinstance(node[bound], bool):
            node[limit], node[bound] = node[bound], True  # OpenAPI v3.0 spells it as a flag
    out: Schema = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: structural(prop, defs) for name, prop in value.items()}
        elif key == "items":
            out[key] = structural(value, defs)
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out[key] = structural(value, defs)
        else:
            out[key] = value
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
    ):
        out["x-kubernetes-preserve-unknown-fields"] = True
    if out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("type", "object")
    if out.get("default") is None:
        out.pop("default", None)
    return out


def _is_int_or_string(options: list[Schema]) -> bool:
    return sorted(o.get("type", "") for o in options) == ["integer", "string"]


def _schema_of(model: type[Any]) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation", ref_template="#/$defs/{model}")
    return structural(raw, raw.get("$defs", {}))


def openapi_schema() -> Schema:
    """The full ``openAPIV3Schema`` of a MicroService."""
    spec = _schema_of(v1alpha1.MicroServiceSpec)
    status = _schema_of(v1alpha1.MicroServiceStatus)
    name_rule = "^[a-z]([-a-z0-9]*[a-z0-9])?$"
    return {
        "type": "object",
        "description": (v1alpha1.MicroService.__doc__ or "").strip(),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "API version of this object."},
            "kind": {"type": "string", "description": "Kind of this object: MicroService."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-validations": [
            {
                "rule": f"size(self.metadata.name) <= {v1alpha1.MAX_NAME_LENGTH}",
                "message": (
                    f"metadata.name must be at most {v1alpha1.MAX_NAME_LENGTH} characters"
                    " so every generated child name fits in a DNS label"
                ),
            },
            {
                "rule": f"self.metadata.name.matches('{name_rule}')",
                "message": (
                    "metadata.name must be a DNS-1035 label (lower-case letters, digits and '-',"
                    " starting with a letter): it names the Service"
                ),
            },
        ],
    }


PRINTER_COLUMNS = [
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "description": "Whether the service is Ready",
    },
    {
        "name": "Replicas",
        "type": "integer",
        "jsonPath": ".status.readyReplicas",
        "description": "Ready pods",
    },
    {"name": "Image", "type": "string", "jsonPath": ".spec.image", "priority": 0},
    {"name": "URL", "type": "string", "jsonPath": ".status.url", "priority": 0},
    {
        "name": "Reason",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
        "priority": 1,
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition manifest."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{v1alpha1.PLURAL}.{v1alpha1.GROUP}",
            "labels": {"app.kubernetes.io/name": "microservice-operator"},
        },
        "spec": {
            "group": v1alpha1.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": v1alpha1.KIND,
                "listKind": f"{v1alpha1.KIND}List",
                "plural": v1alpha1.PLURAL,
                "singular": "microservice",
                "shortNames": ["ms", "msvc"],
                "categories": ["all"],
            },
            "versions": [
                {
                    "name": v1alpha1.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema()},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                }
            ],
        },
    }


def crd_yaml() -> str:
    """The CRD as YAML, with a header saying it is generated."""
    header = "# Generated by `msop crd` from operator/microservice_operator/api/. Do not edit.\n"
    return header + yaml.safe_dump(crd(), sort_keys=False, width=100)
