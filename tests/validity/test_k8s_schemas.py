"""Every built-in Kubernetes object validates against the upstream OpenAPI schema (strict: unknown fields fail).

Custom resources are left to test_crd_schemas.py.
"""

from __future__ import annotations

import kubernetes_validate
import pytest
from _k8s import environment_names, ident, is_custom_resource, manifests

# The oldest Kubernetes the manifests promise to run on, and the newest schema kubernetes-validate bundles.
MIN_VERSION = "1.29"  # native sidecar containers (the migration Job's pg-dump) need 1.29 or newer
LATEST_VERSION = ".".join(kubernetes_validate.latest_version().split(".")[:2])


@pytest.mark.parametrize("version", sorted({MIN_VERSION, LATEST_VERSION}))
@pytest.mark.parametrize("env", environment_names())
def test_builtin_objects_match_kubernetes_schema(synthesized, env, version):
    """The API server rejects (or, for unknown fields, silently drops) what its schema does not allow: a
    misspelt field such as `readOnlyRootFilsystem` would deploy without the protection it was meant to add."""
    problems = []
    for obj in manifests(synthesized, env):
        if is_custom_resource(obj):
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "<root>"
            problems.append(f"{ident(obj)}: {path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            problems.append(f"{ident(obj)}: {e.message} (API removed or misspelt)")
    assert not problems, f"env {env}, Kubernetes {version}, strict schema:\n  " + "\n  ".join(problems)
