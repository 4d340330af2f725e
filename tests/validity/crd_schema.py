"""Strict JSON Schemas for custom resources, derived from the CRD manifests in crds/.

A kind's schema is its CRD's `schema.openAPIV3Schema` for the requested version, read the way the API
server reads it: every object with `properties` is closed (`additionalProperties: false`: the API server
prunes unknown fields without a word) unless it has `x-kubernetes-preserve-unknown-fields: true`;
`nullable` admits null; `x-kubernetes-int-or-string` admits an integer or a string. The root is closed too
and `metadata` is checked against Kubernetes' strict ObjectMeta. Formats jsonschema knows are checked; the
others (`int32`, `int64`, `byte`, ...) are ignored.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from _k8s import REPO

CRDS = REPO / "crds"

FORMAT_CHECKER = jsonschema.FormatChecker()
# Kubernetes means a Go duration ("30s") where JSON Schema means ISO 8601 ("PT30S").
FORMAT_CHECKER.checkers.pop("duration", None)


@dataclass(frozen=True)
class Crd:
    path: Path
    group: str
    kind: str
    versions: dict[str, dict[str, Any]]  # name -> the CRD's `versions[]` entry

    @property
    def served(self) -> list[str]:
        return [name for name, v in self.versions.items() if v.get("served")]


@functools.cache
def crds(directory: Path = CRDS) -> dict[tuple[str, str], Crd]:
    """(group, kind) -> its CRD, for every `*.yaml` in `directory`."""
    found = {}
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            crd = Crd(path, spec["group"], spec["names"]["kind"], {v["name"]: v for v in spec["versions"]})
            found[(crd.group, crd.kind)] = crd
    return found


@functools.cache
def object_meta_schema() -> dict[str, Any]:
    """Kubernetes' own strict ObjectMeta: CRD schemas say only `metadata: {type: object}`."""
    version = kubernetes_validate.latest_version()
    path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}-local-strict"
    return json.loads((path / "objectmeta-meta-v1.json").read_text())


def _as_api_server_reads_it(node: Any) -> Any:
    """One schema node and, through the keywords that hold schemas, everything below it."""
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for key in ("properties", "patternProperties"):
        if isinstance(node.get(key), dict):
            node[key] = {name: _as_api_server_reads_it(sub) for name, sub in node[key].items()}
    for key in ("additionalProperties", "items", "not"):
        if isinstance(node.get(key), dict):
            node[key] = _as_api_server_reads_it(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            node[key] = [_as_api_server_reads_it(sub) for sub in node[key]]
    if isinstance(node.get("properties"), dict) and not node.get("x-kubernetes-preserve-unknown-fields"):
        node["additionalProperties"] = False
    if node.get("x-kubernetes-int-or-string"):
        node["type"] = ["integer", "string"]
    if node.get("nullable"):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"]]
        if isinstance(node.get("type"), list):
            node["type"] = [*node["type"], "null"]
        if isinstance(node.get("anyOf"), list):
            node["anyOf"] = [*node["anyOf"], {"type": "null"}]
    return node


def strict_schema(crd: Crd, version: str) -> dict[str, Any]:
    """The closed JSON Schema of `crd` at `version` (served or not: `Crd.served` says which are)."""
    schema = _as_api_server_reads_it(crd.versions[version]["schema"]["openAPIV3Schema"])
    schema["additionalProperties"] = False
    schema.setdefault("properties", {})["metadata"] = object_meta_schema()
    return schema


@functools.cache
def strict_validator(group: str, kind: str, version: str) -> jsonschema.protocols.Validator:
    """A validator for `kind` in `group/version`; KeyError when crds/ has no such CRD or version."""
    schema = strict_schema(crds()[(group, kind)], version)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=FORMAT_CHECKER)
