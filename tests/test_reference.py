"""The configuration reference (docs/configuration.md and the JSON Schema) is generated from the models and must
match them: a key, type or default changed in the models without regenerating fails here."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from repo_paths import REPO

from mlflow_constructs.config import Environment, parse_environment
from mlflow_constructs.config.reference import (
    REFERENCE_PATH,
    SCHEMA_PATH,
    _submodel,
    json_schema,
    reference_text,
    schema_text,
)

CONFIGS = sorted([*(REPO / "config").glob("*.yaml"), *(REPO / "examples").glob("*.yaml")])
HEADER = "# yaml-language-server: $schema=../schema/environment.schema.json"
FIX = "run: python -m mlflow_constructs.config.reference --write (or make docs)"


def test_configuration_reference_matches_the_models():
    """Users read these tables; they must list every key with its current default."""
    current = (REPO / REFERENCE_PATH).read_text(encoding="utf-8")
    assert current == reference_text(current), f"{REFERENCE_PATH} is stale; {FIX}"


def test_schema_file_matches_the_models():
    """Editors validate config files with the schema file; it must be the models' schema."""
    assert (REPO / SCHEMA_PATH).read_text(encoding="utf-8") == schema_text(), f"schema file is stale; {FIX}"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_file_names_the_schema(path):
    """The first line points editors (yaml-language-server) at the schema."""
    assert path.read_text(encoding="utf-8").splitlines()[0] == HEADER


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_file_validates_against_the_schema(path):
    """The schema accepts what the model accepts, so editors do not flag valid files."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parse_environment(data, source=str(path))
    jsonschema.validate(data, json_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_accepts_image_strings_and_shows_defaults_as_written():
    """Images are strings in the schema too, and defaults read as a user writes them."""
    schema = json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"database": {"bundled": {"image": "postgres:16.6"}}})
    assert not validator.is_valid({"database": {"bundled": {"image": 16}}})
    bundled = schema["$defs"]["BundledPostgres"]["properties"]
    assert bundled["image"]["default"] == "docker.io/library/postgres:16.6"
    assert schema["$defs"]["OAuth2Proxy"]["properties"]["cookie_expire"]["default"] == "8h"
    assert "description" in bundled["storage_size"]
    json.dumps(schema)


def test_every_config_key_has_a_description():
    """The reference's meaning column and the editors' hover text come from the field descriptions."""
    missing, todo, seen = [], [Environment], set()
    while todo:
        model = todo.pop()
        seen.add(model)
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(f"{model.__name__}.{name}")
            sub, _ = _submodel(field.annotation)
            if sub is not None and issubclass(sub, BaseModel) and sub not in seen:
                todo.append(sub)
    assert not missing
