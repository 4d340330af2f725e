"""MLflow basic-auth: ``--app-name basic-auth`` with an INI rendered at pod start from Secret values.

The INI template lives in a ConfigMap with ``${NAME}`` placeholders. An init container fills them from
env vars (Secret references) with Python, not ``sed``: any character a password may hold is written
as is (``%`` doubled for ConfigParser), and values ConfigParser would silently change (newlines,
leading or trailing spaces, empty values) are refused with a clear message. The result lands in an
emptyDir that the server mounts read-only.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.database import DatabaseAccess
from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object
from mlflow_constructs.security import CONTAINER_SECURITY_CONTEXT, empty_dir, fixed_resources, literal_env, secret_env
from mlflow_constructs.server import ServerExtras

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
    if name == "ADMIN_PASSWORD" and len(value) < 12:
        problems.append("ADMIN_PASSWORD must be at least 12 characters (MLflow refuses shorter ones)")
    return value.replace("%", "%%")
rendered = re.sub(r"\\$\\{([A-Z_][A-Z0-9_]*)\\}", fill, template)
if problems:
    sys.exit("cannot render the auth config:\\n  " + "\\n  ".join(problems))
target = os.environ["MLFLOW_AUTH_CONFIG_PATH"]
with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
    out.write(rendered)
print(f"wrote {target}")
"""

MIGRATE_AUTH_DB = """\
from mlflow.server.auth.config import read_auth_config
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
SqlAlchemyStore().init_db(read_auth_config().database_uri)
print("auth database is at head")
"""


def auth_database_env(name: str, database: DatabaseAccess, credentials: Credentials) -> list[dict[str, Any]]:
    """The auth database URI: derived where this project creates the database, else from the Secret."""
    if database.auth_database_uri:
        return literal_env({name: database.auth_database_uri})
    return [secret_env(name, credentials.ref("auth_database_uri"))]


class BasicAuth(Construct):
    """The INI template ConfigMap plus what the server and the migration Job need to use it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env: Environment,
        naming: Naming,
        credentials: Credentials,
        database: DatabaseAccess,
    ) -> None:
        super().__init__(scope, id)
        cfg = env.auth.basic_settings
        template = (
            "[mlflow]\n"
            f"default_permission = {cfg.default_permission}\n"
            "database_uri = ${AUTH_DATABASE_URI}\n"
            "admin_username = ${ADMIN_USERNAME}\n"
            "admin_password = ${ADMIN_PASSWORD}\n"
            f"authorization_function = {cfg.authorization_function}\n"
            f"auth_cache_ttl_seconds = {cfg.auth_cache_ttl_seconds}\n"
        )
        template_name = naming.name("auth-template")
        k8s_object(
            self,
            "template",
            api_version="v1",
            kind="ConfigMap",
            name=template_name,
            labels=naming.labels("mlflow"),
            data={f"{INI_NAME}.template": template},
        )
        config_path = f"{RENDERED_DIR}/{INI_NAME}"
        render_env = [
            *literal_env(
                {"TEMPLATE_PATH": f"{TEMPLATE_DIR}/{INI_NAME}.template", "MLFLOW_AUTH_CONFIG_PATH": config_path}
            ),
            secret_env("ADMIN_USERNAME", credentials.ref("admin_username")),
            secret_env("ADMIN_PASSWORD", credentials.ref("admin_password")),
            *auth_database_env("AUTH_DATABASE_URI", database, credentials),
        ]
        image = env.server.image
        self.volumes = [
            {"name": "auth-template", "configMap": {"name": template_name}},
            empty_dir("auth-config", "1Mi"),
        ]
        render = {
            "name": "render-auth-config",
            "image": image.ref,
            "imagePullPolicy": image.pull_policy,
            "command": ["python", "-c", RENDER_SCRIPT],
            "env": render_env,
            "resources": fixed_resources("10m", "32Mi", "200m", "128Mi"),
            "securityContext": CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": [
                {"name": "auth-template", "mountPath": TEMPLATE_DIR, "readOnly": True},
                {"name": "auth-config", "mountPath": RENDERED_DIR},
            ],
        }
        self.render_container = render
        read_only_config = {"name": "auth-config", "mountPath": RENDERED_DIR, "readOnly": True}
        config_env = literal_env({"MLFLOW_AUTH_CONFIG_PATH": config_path})
        self.extras = ServerExtras(
            app_name="basic-auth",
            env=[*config_env, secret_env("MLFLOW_FLASK_SERVER_SECRET_KEY", credentials.ref("flask_secret_key"))],
            volumes=self.volumes,
            mounts=[read_only_config],
            init_containers=[render],
            config_checksum_inputs={"auth_template": template},
        )
        self.migration_containers = [
            render,
            {
                "name": "upgrade-auth-db",
                "image": image.ref,
                "imagePullPolicy": image.pull_policy,
                "command": ["python", "-c", MIGRATE_AUTH_DB],
                "env": [*database.env, *config_env],
                "resources": fixed_resources("50m", "256Mi", "1", "1Gi"),
                "securityContext": CONTAINER_SECURITY_CONTEXT,
                "volumeMounts": [read_only_config, {"name": "tmp", "mountPath": "/tmp"}],
            },
        ]
