"""The README documents every config key (the configuration reference must not drift from the model)."""

from __future__ import annotations

import typing

from pydantic import BaseModel
from repo_paths import REPO

from mlflow_constructs.config import Environment

# Documented as one row each (their sub-keys are spelled out in the row).
LEAF_MODELS = {"Image", "Resources", "ResourceList", "Tls", "RemoteRef"}


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for field_name, field in model.model_fields.items():
        annotation, name = field.annotation, field_name
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel):
            annotation, name = args[1], f"{field_name}.<secret key>"
        candidates = [a for a in (annotation, *typing.get_args(annotation)) if isinstance(a, type)]
        sub = next((c for c in candidates if issubclass(c, BaseModel) and c.__name__ not in LEAF_MODELS), None)
        path = f"{prefix}{name}"
        keys += leaf_keys(sub, f"{path}.") if sub else [path]
    return keys


def test_every_config_key_is_in_the_reference():
    readme = (REPO / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `")]

    def documented(key: str) -> bool:
        parent, _, leaf = key.rpartition(".")
        return any(
            f"`{key}`" in row or f"`{key}." in row or (f"`{parent}." in row and f"`.{leaf}`" in row) for row in rows
        )

    missing = [key for key in leaf_keys(Environment) if not documented(key)]
    assert not missing, f"README configuration reference lacks: {missing}"
