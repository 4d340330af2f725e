"""Accepted means it works, for configs nobody wrote by hand: a generator, not a list.

Each drawn config is a shipped environment (``config/`` or ``examples/``) with one leaf key set to a value drawn
from that key's own JSON Schema (``schema/environment.schema.json``, what editors validate against). Either
synthesis refuses it, exiting 2 with a message that names a key, or every object it synthesizes is taken by
the real kube-apiserver with the upstream CRDs installed (OpenAPI and structural schemas, CEL rules,
admission) in a server-side dry run.

The draw is derandomized (the same configs on every run, so a failure reproduces); ``GENERATED_CONFIGS``
sets how many (default 60). Every config it ever found failing is kept in ``generated_regressions.yaml`` and
checked the same way first. ``tests/validity/test_generated_configs.py`` draws whole configs from the schema and
checks the accepted ones offline.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster import Cluster, dump, namespace_for, namespaces_of, rename_namespaces
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from repo_paths import REPO, environment_file, shipped_environments

sys.path.insert(0, str(REPO / "tests" / "validity"))
from test_generated_configs import assert_refused_naming_a_key, run_app  # noqa: E402  (the offline twin)

SCHEMA = json.loads((REPO / "schema" / "environment.schema.json").read_text())
REGRESSIONS = Path(__file__).with_name("generated_regressions.yaml")
BASES = {name: yaml.safe_load(environment_file(name).read_text()) or {} for name in shipped_environments()}
DRAWN = int(os.environ.get("GENERATED_CONFIGS", "60"))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a top ``$ref`` (or a nullable ``anyOf`` of one) followed to its definition."""
    if "$ref" in schema:
        return _resolve(SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[1]])
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        return _resolve(options[0])
    return schema


def leaf_keys(schema: dict[str, Any] = SCHEMA, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], dict]:
    """Every leaf key of the environment file (path -> its schema). Drawn whole, a section is nearly always
    refused somewhere inside; one leaf at a time reaches the objects."""
    found: dict[tuple[str, ...], dict] = {}
    for key, sub in _resolve(schema).get("properties", {}).items():
        path = (*prefix, key)
        if "properties" in _resolve(sub):
            found |= leaf_keys(sub, path)
        else:
            found[path] = {**sub, "$defs": SCHEMA["$defs"]}
    return found


LEAVES = leaf_keys()


def with_value(base: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    config = copy.deepcopy(base)
    node = config
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return config


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    base = BASES[draw(st.sampled_from(sorted(BASES)))]
    path = draw(st.sampled_from(sorted(LEAVES)))
    return with_value(base, path, draw(from_schema(LEAVES[path])))


def check(cluster: Cluster, config: dict[str, Any], tag: str) -> str:
    """Refused with exit 2 naming a key, or taken whole by the API server: which of the two."""
    shown = yaml.safe_dump(config)
    with tempfile.TemporaryDirectory(prefix="mlflow-k8s-generated-") as tmp:
        code, stderr, output = run_app(config, Path(tmp))
        objs = [doc for doc in yaml.safe_load_all(output.read_text()) if doc] if code == 0 else []
    if code != 0:
        assert_refused_naming_a_key(code, stderr, config, f"\n{shown}")
        return "refused"
    rename = {ns: namespace_for(ns, tag) for ns in namespaces_of(objs)}
    for ns in rename.values():  # a dry run creates nothing: the namespaces must exist for the rest
        got = cluster.kubectl("create", "namespace", ns)
        assert got.returncode == 0 or "AlreadyExists" in got.stderr, str(got)
    got = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=dump(rename_namespaces(objs, rename))
    )
    assert got.returncode == 0, f"synthesis accepted it, the API server did not:\n{got}\n{shown}"
    return "accepted"


def regressions() -> list[dict[str, Any]]:
    return yaml.safe_load(REGRESSIONS.read_text()) or []


@pytest.mark.parametrize("case", regressions(), ids=lambda case: case["found"])
def test_every_config_once_found_failing(cluster, case):
    """What the generator found once stays fixed (each case names what it found)."""
    check(cluster, with_value(BASES[case["base"]], tuple(case["key"].split(".")), case["value"]), "regression")


# No shrinking: a failure prints the config as drawn (shrinking through synthesis takes minutes).
@settings(
    max_examples=DRAWN,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(config=configs())
def test_a_generated_config_is_refused_clearly_or_taken_by_the_api_server(cluster, config):
    """Thousands of configs a user could write, within the schema editors check against."""
    event(check(cluster, config, "generated"))
