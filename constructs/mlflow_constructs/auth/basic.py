"""MLflow basic-auth: ``--app-name basic-auth`` with an INI rendered at pod start, and the admin account
from the Secret as env.

MLflow 3.17 reads the admin account from ``MLFLOW_AUTH_ADMIN_USERNAME`` / ``MLFLOW_AUTH_ADMIN_PASSWORD``
before the INI (``mlflow/server/auth/config.py``, ``read_auth_config``), so both are Secret references on
the server container and never written to a file. The INI template lives in a ConfigMap with ``${NAME}``
placeholders (the auth database's URI). An init container fills them from env vars with Python, not
``sed``: any character is written as is (``%`` doubled for ConfigParser), and values ConfigParser would
silently change (newlines, leading or trailing spaces, empty values) are refused with a clear message. The
result lands in a memory-backed emptyDir (the URI from the Secret may hold a password) that the server
mounts read-only.
"""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.config.auth import BasicAuth as BasicAuthConfig
from mlflow_constructs.config.base import Image
from mlflow_constructs.database.access import DatabaseAccess
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import config_map
from mlflow_constructs.k8s.pods import (
    SecretRef,
    config_map_volume,
    container,
    empty_dir,
    env_values,
    fixed_resources,
    mount,
    secret_env,
)
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.server.addon import SchemaAddon, ServerAddon

TEMPLATE_DIR = "/mlflow/auth-template"
RENDERED_DIR = "/mlflow/auth"
INI_NAME = "basic_auth.ini"

RENDER_SCRIPT = """\
import os, re, sys
template = open(os.environ["TEMPLATE_PATH"], encoding="utf-8").read()
problems = []
def fill(match):
    name = match.group(1)
    value = os.environ.get(name)
    if value is None or value == "":
        problems.append(f"{name} is empty or unset (check the Secret key it comes from)")
        return ""
    if "\\n" in value or "\\r" in value:
        problems.append(f"{name} contains a line break, which an INI value cannot hold")
    if value != value.strip():
        problems.append(f"{name} starts or ends with whitespace, which the INI reader would drop")
    return value.replace("%", "%%")
rendered = re.sub(r"\\$\\{([A-Z_][A-Z0-9_]*)\\}", fill, template)
if problems:
    sys.exit("cannot render the auth config:\\n  " + "\\n  ".join(problems))
target = os.environ["MLFLOW_AUTH_CONFIG_PATH"]
with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
    out.write(rendered)
print(f"wrote {target}")
"""

AUTH_DATABASE_URI_KEY = "auth_database_uri"


def auth_database_env(name: str, database: DatabaseAccess, secrets: SecretSource) -> tuple[list[k8s.EnvVar], tuple]:
    """The auth database URI, derived where this project creates the database, else from the Secret;
    returns the env and the logical Secret keys it reads."""
    if database.auth_database_uri:
        return env_values({name: database.auth_database_uri}), ()
    return [secrets.env(name, AUTH_DATABASE_URI_KEY)], (AUTH_DATABASE_URI_KEY,)


class BasicAuth(Construct):
    """The INI template ConfigMap; ``addon`` is what the server pod and the migration Job add to use it.

    Reads the Secret keys ``admin_username``, ``admin_password`` and ``flask_secret_key`` (and
    ``auth_database_uri`` when ``database`` cannot derive the auth database's URI).
    The migration Job renders the INI too: ``upgrade.py`` reads the auth database and ``default_permission``
    from it, and refuses to let MLflow's migration to roles drop explicit denies unless
    ``accept_dropped_denies``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: BasicAuthConfig,
        naming: Naming,
        image: Image,
        secrets: SecretSource,
        database: DatabaseAccess,
    ) -> None:
        super().__init__(scope, id)
        template = (
            "[mlflow]\n"
            f"default_permission = {config.default_permission}\n"
            "database_uri = ${AUTH_DATABASE_URI}\n"
            f"authorization_function = {config.authorization_function}\n"
            f"auth_cache_ttl_seconds = {config.auth_cache_ttl_seconds}\n"
        )
        template_name = naming.name("auth-template")
        config_map(
            self,
            "template",
            name=template_name,
            labels=naming.labels("mlflow"),
            data={f"{INI_NAME}.template": template},
        )
        config_path = f"{RENDERED_DIR}/{INI_NAME}"
        database_env, database_keys = auth_database_env("AUTH_DATABASE_URI", database, secrets)
        render = container(
            "render-auth-config",
            image,
            command=["python", "-c", RENDER_SCRIPT],
            env=[
                *env_values(
                    {"TEMPLATE_PATH": f"{TEMPLATE_DIR}/{INI_NAME}.template", "MLFLOW_AUTH_CONFIG_PATH": config_path}
                ),
                *database_env,
            ],
            resources=fixed_resources("10m", "32Mi", "200m", "128Mi"),
            mounts=[mount("auth-template", TEMPLATE_DIR, read_only=True), mount("auth-config", RENDERED_DIR)],
        )
        volumes = (config_map_volume("auth-template", template_name), empty_dir("auth-config", "1Mi", memory=True))
        read_only_config = mount("auth-config", RENDERED_DIR, read_only=True)
        config_env = env_values({"MLFLOW_AUTH_CONFIG_PATH": config_path})
        admin_env, admin_keys, admin_refs = _admin(config, secrets)
        self.addon = ServerAddon(
            app_name="basic-auth",
            env=(
                *config_env,
                *admin_env,
                secrets.env("MLFLOW_FLASK_SERVER_SECRET_KEY", "flask_secret_key"),
            ),
            volumes=volumes,
            mounts=(read_only_config,),
            init_containers=(render,),
            checksum_inputs={"auth_template": template},
            secret_keys=(*admin_keys, "flask_secret_key", *database_keys),
            secret_refs=admin_refs,
            schema=SchemaAddon(
                store="basic-auth",
                env=tuple(config_env),
                mounts=(read_only_config,),
                migration_env=tuple(env_values({"ACCEPT_DROPPED_DENIES": str(config.accept_dropped_denies).lower()})),
                migration_init_containers=(render,),
                migration_volumes=volumes,
            ),
        )


def _admin(
    config: BasicAuthConfig, secrets: SecretSource
) -> tuple[tuple[k8s.EnvVar, ...], tuple[str, ...], tuple[SecretRef, ...]]:
    """The initial admin's env, from ``config.admin``'s Secret or the environment's (keys, refs)."""
    own = config.admin
    if own is None:
        keys = ("admin_username", "admin_password")
        return (
            (
                secrets.env("MLFLOW_AUTH_ADMIN_USERNAME", keys[0]),
                secrets.env("MLFLOW_AUTH_ADMIN_PASSWORD", keys[1]),
            ),
            keys,
            (),
        )
    user = secrets.named(own.secret, own.username_key)
    password = secrets.named(own.secret, own.password_key)
    env = (secret_env("MLFLOW_AUTH_ADMIN_USERNAME", user), secret_env("MLFLOW_AUTH_ADMIN_PASSWORD", password))
    return env, (), (user, password)
