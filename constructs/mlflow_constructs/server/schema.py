"""The schema scripts every pod of the MLflow image runs from: the server's gate and the migration Job.

``schema_scripts/`` holds plain Python run with the image's own interpreter (``stores.py`` and ``kek.py`` shared,
``wait_for_schema.py`` the gate, ``upgrade.py`` the Job); they reach the pods through one ConfigMap,
``<name>-schema``, mounted read-only at ``/mlflow/schema``. Its content is a checksum input of both pod
templates, so a change to the scripts rolls the servers and gives the Job a new name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.config.base import Image
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import config_map
from mlflow_constructs.k8s.pods import config_map_volume, container, env_values, fixed_resources, mount

SCRIPTS_SOURCE = Path(__file__).with_name("schema_scripts")
SCRIPTS = ("stores.py", "kek.py", "wait_for_schema.py", "upgrade.py")
SCHEMA_DIR = "/mlflow/schema"
VOLUME = "schema-scripts"
# What the gate says it waits for (a name prefix, not the Job's hashed name: the server's template stays
# the same when only the Job changes).
MIGRATION_JOB = "the migration Job ({name}-migrate-<hash>)"


def script_texts() -> dict[str, str]:
    return {name: (SCRIPTS_SOURCE / name).read_text(encoding="utf-8") for name in SCRIPTS}


class SchemaScripts(Construct):
    """The ``<name>-schema`` ConfigMap. Handles: ``volume``, ``mount``, ``checksum_inputs`` (its content),
    ``command(script)``."""

    def __init__(self, scope: Construct, id: str, *, naming: Naming) -> None:
        super().__init__(scope, id)
        texts = script_texts()
        name = naming.name("schema")
        config_map(self, "config-map", name=name, labels=naming.labels("mlflow"), data=texts)
        self.volume = config_map_volume(VOLUME, name)
        self.mount = mount(VOLUME, SCHEMA_DIR, read_only=True)
        self.checksum_inputs = {f"schema/{k}": v for k, v in texts.items()}

    @staticmethod
    def command(script: str) -> list[str]:
        return ["python", f"{SCHEMA_DIR}/{script}"]


def wait_for_schema(
    *,
    image: Image,
    naming: Naming,
    scripts: SchemaScripts,
    env: Sequence[k8s.EnvVar],
    mounts: Sequence[k8s.VolumeMount],
) -> k8s.Container:
    """The server pod's gate (``wait_for_schema.py``): exits 0 once every store is at the image's head."""
    return container(
        "wait-for-schema",
        image,
        command=scripts.command("wait_for_schema.py"),
        env=[*env, *env_values({"MIGRATION_JOB": MIGRATION_JOB.format(name=naming.name())})],
        resources=fixed_resources("10m", "96Mi", "500m", "384Mi"),
        mounts=[*mounts, scripts.mount],
    )
