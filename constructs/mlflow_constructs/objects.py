"""Building Kubernetes objects with few round trips to the cdk8s runtime.

Each object is one ``ApiObject`` plus one JSON patch holding its whole body: cdk8s calls are costly
(Python <-> node), so bodies are built as plain dicts and handed over at once.
"""

from __future__ import annotations

from typing import Any

from cdk8s import ApiObject, JsonPatch
from constructs import Construct


def k8s_object(
    scope: Construct,
    id: str,
    *,
    api_version: str,
    kind: str,
    name: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    namespaced: bool = True,
    **body: Any,
) -> ApiObject:
    """Create one object named ``name`` whose top-level fields (``spec``, ``data``, ...) are ``body``."""
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    obj = ApiObject(scope, id, api_version=api_version, kind=kind, metadata=metadata)
    if not namespaced:
        obj.add_json_patch(JsonPatch.remove("/metadata/namespace"))
    fields = {key: value for key, value in body.items() if value is not None}
    if fields:
        obj.add_json_patch(*(JsonPatch.add(f"/{key}", value) for key, value in fields.items()))
    return obj
