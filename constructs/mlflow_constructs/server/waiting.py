"""An init container that waits until the tracking database accepts connections."""

from __future__ import annotations

from collections.abc import Sequence

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.base import Image
from mlflow_constructs.k8s.pods import container, fixed_resources

# Runs with the MLflow image's own Python and SQLAlchemy; the URI comes from the environment.
WAIT_FOR_DATABASE = """\
import os, sys, time
import sqlalchemy
engine = sqlalchemy.create_engine(os.environ["MLFLOW_BACKEND_STORE_URI"], pool_pre_ping=True)
deadline = time.monotonic() + float(os.environ.get("WAIT_TIMEOUT_SECONDS", "600"))
while True:
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        print("database is reachable")
        sys.exit(0)
    except Exception as exc:
        if time.monotonic() > deadline:
            print(f"database still unreachable: {type(exc).__name__}", file=sys.stderr)
            sys.exit(1)
        print(f"waiting for the database ({type(exc).__name__})")
        time.sleep(2)
"""


# Prepended when the oidc plugin delivers the store URIs (mounted files, cloud providers): the same
# loader `mlflow-oidc-server` runs puts them into the environment first.
LOAD_PLUGIN_PROVIDERS = """\
from mlflow_oidc_auth.config_providers.mlflow_env import configure_mlflow_environment
configure_mlflow_environment()
"""


def python_script(script: str, *, load_providers: bool) -> list[str]:
    """``python -c`` for a script, loading the plugin's config providers first when asked."""
    return ["python", "-c", (LOAD_PLUGIN_PROVIDERS if load_providers else "") + script]


def wait_for_database(
    *,
    image: Image,
    env: Sequence[k8s.EnvVar],
    mounts: Sequence[k8s.VolumeMount],
    load_providers: bool = False,
) -> k8s.Container:
    return container(
        "wait-for-database",
        image,
        command=python_script(WAIT_FOR_DATABASE, load_providers=load_providers),
        env=env,
        resources=fixed_resources("10m", "64Mi", "200m", "256Mi"),
        mounts=mounts,
    )
