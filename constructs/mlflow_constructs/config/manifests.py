"""Config of ``extra_objects``: Kubernetes manifests added to an environment's output as written, with guard
rails (no Secret values, nothing cluster-scoped, names Kubernetes accepts)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

from mlflow_constructs.config.types import dns_subdomain, is_dns_label
from mlflow_constructs.k8s.naming import CLUSTER_SCOPED_KINDS

_API_VERSION = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def _manifest(obj: dict[str, Any]) -> dict[str, Any]:
    api_version, kind, metadata = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
    if not isinstance(api_version, str) or not _API_VERSION.match(api_version):
        raise ValueError(f"apiVersion {api_version!r} is not a Kubernetes API version such as v1 or apps/v1")
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(f"kind {kind!r} is not a Kubernetes kind such as ConfigMap")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise ValueError(f"{kind}: metadata.name is required")
    dns_subdomain(metadata["name"])
    namespace = metadata.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not is_dns_label(namespace)):
        raise ValueError(f"{kind} {metadata['name']}: metadata.namespace {namespace!r} is not a DNS label")
    if kind in CLUSTER_SCOPED_KINDS:
        raise ValueError(
            f"{kind} {metadata['name']}: a cluster-scoped object is shared by every environment of the cluster; "
            "manage it with the cluster's own configuration, not in extra_objects"
        )
    if kind == "Secret" and api_version == "v1" and ({"data", "stringData"} & set(obj)):
        raise ValueError(
            f"Secret {metadata['name']}: its values would be written to dist/; create the Secret outside the "
            "output (or as a SealedSecret/ExternalSecret in extra_objects) and remove data/stringData"
        )
    return obj


Manifest = Annotated[
    dict[str, Any],
    AfterValidator(_manifest),
    WithJsonSchema(
        {
            "type": "object",
            "required": ["apiVersion", "kind", "metadata"],
            "properties": {
                "apiVersion": {"type": "string", "pattern": _API_VERSION.pattern},
                "kind": {"type": "string", "pattern": _KIND.pattern},
                "metadata": {"type": "object", "required": ["name"]},
            },
        }
    ),
]
"""One Kubernetes object, as in a manifest file."""
