"""Configs drawn from the project's own JSON Schema (`schema/environment.schema.json`): accepted means valid.

Hypothesis with hypothesis-jsonschema draws environments the schema allows, with a fixed seed and a bounded
number of examples, so a run is reproducible and takes about a minute. Each one goes through `python app.py`
as a user runs it: refused, it exits 2 naming a key of the config; accepted, every object it writes passes the
offline schema checks (Kubernetes' OpenAPI schema, strict, and the CRDs' schemas). A drawn config that ever
broke this is kept below as an ``@example``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from _k8s import ident, is_custom_resource
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis_jsonschema import from_schema
from repo_paths import REPO
from test_crd_schemas import schema_errors
from test_k8s_schemas import MIN_VERSION

import app
from mlflow_constructs.config import Environment
from mlflow_constructs.review.objects import load_documents

SCHEMA = json.loads((REPO / "schema" / "environment.schema.json").read_text())
SEED = 25
# `make test-fast` draws fewer (MLFLOW_K8S_GENERATED_EXAMPLES); `make test` and a plain pytest run draw 60.
EXAMPLES = int(os.environ.get("MLFLOW_K8S_GENERATED_EXAMPLES", "60"))
# A refusal's lines: "  - <key path>: <what is wrong and the fix>" (the key path starts with a top-level key).
KEY_LINE = re.compile(r"^  - ([a-z_]+)[.:\s[]", re.MULTILINE)


def run_app(config: dict[str, Any], root: Path) -> tuple[int, str, Path]:
    """``python app.py`` on ``config`` as ``<root>/config/generated.yaml``: exit code, stderr, the file written."""
    folder = root / "config"
    folder.mkdir()
    (folder / "generated.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = app.main(["--config-dir", str(folder), "--outdir", str(root / "dist"), "--docs-dir", str(root / "docs")])
    written = sorted((root / "dist").rglob("generated.k8s.yaml"))  # dist/[<cluster>/]
    return code, stderr.getvalue(), written[0] if written else root / "dist"


def assert_refused_naming_a_key(code: int, stderr: str, config: dict[str, Any], shown: str = "") -> None:
    """A refusal as the README promises it: exit 2, no traceback, and every key it names is one of the config."""
    assert code == 2, f"{stderr}{shown}"
    assert "Traceback" not in stderr, f"{stderr}{shown}"
    keys = set(KEY_LINE.findall(stderr))
    assert keys and keys <= {*Environment.model_fields, *config}, f"{stderr}{shown}"


def schema_problems(objects: list[dict[str, Any]]) -> list[str]:
    """What Kubernetes' OpenAPI schema (strict) or a CRD's schema says against ``objects``."""
    problems = []
    for obj in objects:
        if is_custom_resource(obj):
            problems += schema_errors(obj)
            continue
        try:
            kubernetes_validate.validate(obj, MIN_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{ident(obj)}: {'.'.join(map(str, error.path))}: {error.message}")
    return problems


@seed(SEED)
# No shrinking: a failure prints the config as drawn (shrinking one through synthesis takes many minutes).
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(config=from_schema(SCHEMA))
def test_a_config_the_schema_allows_is_refused_by_key_or_synthesizes_valid_objects(config):
    """An editor validating against the published schema must not lead to a config that synthesis accepts and
    the API server refuses, nor to a refusal that does not say which key to fix."""
    with tempfile.TemporaryDirectory(prefix="mlflow-k8s-generated-") as tmp:
        code, stderr, output = run_app(config, Path(tmp))
        if code != 0:
            assert_refused_naming_a_key(code, stderr, config)
            return
        objects = load_documents(output.read_text())
        assert not schema_problems(objects), "\n".join(schema_problems(objects))
