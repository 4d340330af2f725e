"""Every custom resource validates against its CRD's schema, closed against unknown fields.

The CRD manifests are in crds/ (upstream copies, see crds/SOURCES.md); crd_schema.py derives each kind's
strict JSON Schema from them at test time.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from _k8s import environment_names, group_version, ident, is_custom_resource, manifests
from crd_schema import CRDS, crds, strict_validator

# Why an apiVersion is refused, where the CRD alone does not say it.
UNSERVED_API_VERSIONS = {
    "external-secrets.io/v1beta1": "not served since External Secrets 0.17: use external-secrets.io/v1",
    "traefik.containo.us/v1alpha1": "removed in Traefik v3: use traefik.io/v1alpha1",
}


def custom_resources(synthesized: dict[str, list[dict[str, Any]]], env: str) -> list[dict[str, Any]]:
    return [obj for obj in manifests(synthesized, env) if is_custom_resource(obj)]


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """What the API server would refuse or silently prune in `obj`, one line each."""
    group, version = group_version(obj)
    crd = crds().get((group, obj.get("kind")))
    label = f"{ident(obj)} ({obj.get('apiVersion')})"
    if crd is None:
        hint = UNSERVED_API_VERSIONS.get(obj.get("apiVersion"), "add the CRD file to crds/ (and to crds/SOURCES.md)")
        return [f"{label}: no CRD for kind {obj.get('kind')} of group {group} in crds/ - {hint}"]
    if version not in crd.versions:
        return [f"{label}: {crd.path.relative_to(CRDS.parent)} has no version {version}"]
    errors = sorted(strict_validator(group, obj["kind"], version).iter_errors(obj), key=lambda e: list(e.absolute_path))
    return [f"{label}: {'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]


@pytest.mark.parametrize("env", environment_names())
def test_custom_resources_match_crd_schema(synthesized, env):
    """A custom resource the API server rejects fails the whole apply, and an unknown field is pruned without
    a word: a misspelt `refreshInterval` or `secretStoreRef` would ship a secret that never syncs. A kind
    with no CRD in crds/ fails too, so nothing new slips through unchecked."""
    problems = [line for obj in custom_resources(synthesized, env) for line in schema_errors(obj)]
    assert not problems, f"env {env}, CRD schemas:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("env", environment_names())
def test_custom_resources_use_served_versions(synthesized, env):
    """A schema for an old API version can still validate, but the API server refuses a version its CRD
    no longer serves (`served: false`), so the whole apply fails."""
    problems = []
    for obj in custom_resources(synthesized, env):
        group, version = group_version(obj)
        crd = crds().get((group, obj.get("kind")))
        if crd is not None and version not in crd.served:  # a missing CRD fails the schema test
            hint = UNSERVED_API_VERSIONS.get(obj["apiVersion"], f"served: {', '.join(crd.served)}")
            problems.append(f"{ident(obj)}: apiVersion {obj['apiVersion']} is not served by its CRD - {hint}")
    assert not problems, f"env {env}:\n  " + "\n  ".join(problems)


def test_unknown_nested_fields_are_refused(synthesized):
    """The schemas are closed at every level, not only at the root: a typo one or two levels down in a
    synthesized ExternalSecret (`spec.refreshIntervall`, `spec.secretStoreRef.nmae`) is an error."""
    found = [o for env in environment_names() for o in manifests(synthesized, env) if o.get("kind") == "ExternalSecret"]
    assert found, "no environment synthesizes an ExternalSecret: pick another custom resource for this test"
    broken = copy.deepcopy(found[0])
    broken["spec"]["refreshIntervall"] = broken["spec"].get("refreshInterval", "1h")
    broken["spec"]["secretStoreRef"]["nmae"] = "typo"
    assert schema_errors(found[0]) == []
    errors = "\n".join(schema_errors(broken))
    assert "spec: Additional properties are not allowed ('refreshIntervall' was unexpected)" in errors, errors
    assert "spec.secretStoreRef: Additional properties are not allowed ('nmae' was unexpected)" in errors, errors
