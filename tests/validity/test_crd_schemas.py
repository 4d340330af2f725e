"""Every custom resource validates against its CRD's JSON Schema, closed against unknown fields.

The schemas live in the shared folder (kubeconform / CRDs-catalog layout, `<group>/<kind>_<version>.json`)
and are read from there at test time; they are never copied into this repository.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from _k8s import SHARED, environment_names, group_version, ident, is_custom_resource, manifests

SCHEMA_DIR = SHARED / "crd-schemas"

# Versions whose schema is still in the catalog but which current controllers no longer serve.
UNSERVED_API_VERSIONS = {
    "external-secrets.io/v1beta1": "not served since External Secrets 0.17: use external-secrets.io/v1",
    "traefik.containo.us/v1alpha1": "removed in Traefik v3: use traefik.io/v1alpha1",
}


def schema_path(obj: dict[str, Any]) -> Path:
    group, version = group_version(obj)
    return SCHEMA_DIR / group / f"{obj['kind'].lower()}_{version}.json"


@functools.cache
def object_meta_schema() -> dict[str, Any]:
    """Kubernetes' own strict ObjectMeta: CRD schemas say only `metadata: {type: object}`."""
    version = kubernetes_validate.latest_version()
    path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}-local-strict"
    return json.loads((path / "objectmeta-meta-v1.json").read_text())


def _as_api_server_reads_it(node: Any) -> Any:
    """Apply the two OpenAPI extensions JSON Schema does not know: `nullable` admits null, and
    `x-kubernetes-preserve-unknown-fields` keeps unknown fields (the API server stores them)."""
    if isinstance(node, list):
        return [_as_api_server_reads_it(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _as_api_server_reads_it(v) for k, v in node.items()}
    if node.get("nullable") and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    if node.get("x-kubernetes-preserve-unknown-fields") and node.get("additionalProperties") is False:
        del node["additionalProperties"]
    return node


@functools.cache
def strict_validator(path: Path) -> jsonschema.protocols.Validator:
    schema = _as_api_server_reads_it(json.loads(path.read_text()))
    # The catalog closes every nested object but not the root: close it too, so a top-level typo
    # (`specs:`) fails, and check metadata against ObjectMeta instead of an open object.
    schema["additionalProperties"] = False
    schema["properties"]["metadata"] = object_meta_schema()
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


@pytest.mark.parametrize("env", environment_names())
def test_custom_resources_match_crd_schema(synthesized, env):
    """A custom resource the API server rejects fails the whole apply, and an unknown field is pruned without
    a word: a misspelt `refreshInterval` or `secretStoreRef` would ship a secret that never syncs. A kind
    with no schema here fails too, so nothing new slips through unchecked."""
    if not SCHEMA_DIR.is_dir():
        pytest.skip(f"CRD schemas not found at {SCHEMA_DIR} (the shared folder is absent)")
    problems = []
    for obj in manifests(synthesized, env):
        if not is_custom_resource(obj):
            continue
        path = schema_path(obj)
        if not path.is_file():
            problems.append(
                f"{ident(obj)} ({obj.get('apiVersion')}): no schema at {path.relative_to(SCHEMA_DIR.parent)}"
                " - add the CRD's schema to the shared folder or drop the kind"
            )
            continue
        for error in sorted(strict_validator(path).iter_errors(obj), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path) or "<root>"
            problems.append(f"{ident(obj)} ({obj.get('apiVersion')}): {where}: {error.message}")
    assert not problems, f"env {env}, CRD schemas:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("env", environment_names())
def test_custom_resources_use_served_versions(synthesized, env):
    """A schema for an old API version can still validate, but the API server refuses a version its CRD
    no longer serves, so the whole apply fails."""
    problems = [
        f"{ident(obj)}: apiVersion {obj['apiVersion']} {UNSERVED_API_VERSIONS[obj['apiVersion']]}"
        for obj in manifests(synthesized, env)
        if obj.get("apiVersion") in UNSERVED_API_VERSIONS
    ]
    assert not problems, f"env {env}:\n  " + "\n  ".join(problems)
