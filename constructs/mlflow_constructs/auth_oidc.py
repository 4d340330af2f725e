"""The mlflow-oidc-auth plugin: settings in the server ConfigMap, secrets only by reference.

The server starts through the plugin's ``mlflow-oidc-server`` wrapper, which loads the configured
providers (env, mounted Secret files, cloud providers) into the environment and then execs
``mlflow server --app-name oidc-auth``. Only through the wrapper do values such as
``MLFLOW_BACKEND_STORE_URI`` reach MLflow when they come from files or a cloud provider.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from mlflow_constructs.config import Environment
from mlflow_constructs.credentials import Credentials
from mlflow_constructs.database import DatabaseAccess
from mlflow_constructs.naming import Naming
from mlflow_constructs.redis import BundledRedis
from mlflow_constructs.security import secret_env
from mlflow_constructs.server import ServerExtras

WRAPPER = "mlflow-oidc-server"


def redirect_uri(env: Environment) -> str:
    """``OIDC_REDIRECT_URI``: as configured, else ``<scheme>://<first ingress host>/callback``."""
    oidc = env.auth.oidc
    assert oidc is not None
    if oidc.redirect_uri:
        return str(oidc.redirect_uri)
    return f"{env.ingress.scheme}://{env.ingress.hosts[0]}/callback"


def _flag(value: bool) -> str:
    return "true" if value else "false"


class OidcAuth(Construct):
    """What the oidc mode adds to the server pod (and the Redis it may bring)."""

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
        cfg = env.auth.oidc
        assert cfg is not None
        settings = {
            "OIDC_DISCOVERY_URL": str(cfg.discovery_url),
            "OIDC_PROVIDER_DISPLAY_NAME": cfg.provider_display_name,
            "OIDC_SCOPE": ",".join(cfg.scope),
            "OIDC_GROUPS_ATTRIBUTE": cfg.groups_attribute,
            "OIDC_REDIRECT_URI": redirect_uri(env),
            "OIDC_GROUP_NAME": ",".join(cfg.allowed_groups),
            "OIDC_ADMIN_GROUP_NAME": ",".join(cfg.admin_groups),
            "DEFAULT_MLFLOW_PERMISSION": cfg.default_permission,
            "PERMISSION_SOURCE_ORDER": ",".join(cfg.permission_source_order),
            "EXTEND_MLFLOW_MENU": _flag(cfg.extend_mlflow_menu),
            "DEFAULT_LANDING_PAGE_IS_PERMISSIONS": _flag(cfg.default_landing_page_is_permissions),
            "AUTOMATIC_LOGIN_REDIRECT": _flag(cfg.automatic_login_redirect),
            "LOG_LEVEL": cfg.log_level,
            "OIDC_ALEMBIC_VERSION_TABLE": cfg.alembic_version_table,
            "TRUSTED_PROXIES": ",".join(cfg.trusted_proxies),
            "SESSION_COOKIE_SECURE": _flag(env.ingress.enabled and env.ingress.tls is not None),
            "CACHE_BACKEND": "local" if cfg.cache.type == "none" else "redis",
        }
        if cfg.group_detection_plugin:
            settings["OIDC_GROUP_DETECTION_PLUGIN"] = cfg.group_detection_plugin
        plugin_keys = ["oidc_secret_key", "oidc_client_id", "oidc_client_secret"]
        if database.auth_database_uri:
            settings["OIDC_USERS_DB_URI"] = database.auth_database_uri
        else:
            plugin_keys.append("auth_database_uri")
        if env.database.type == "external" and env.secrets.plugin_delivery != "env":
            plugin_keys.append("database_uri")
        plugin = credentials.plugin_delivery(plugin_keys)
        secrets: list[dict[str, Any]] = []
        self.redis: BundledRedis | None = None
        if cfg.cache.type == "bundled":
            self.redis = BundledRedis(self, "redis", config=cfg.cache, naming=naming, credentials=credentials)
            secrets += [
                secret_env("REDIS_PASSWORD", self.redis.password),
                {"name": "CACHE_REDIS_URL", "value": self.redis.url},
            ]
        elif cfg.cache.type == "external":
            secrets.append(secret_env("CACHE_REDIS_URL", credentials.ref("redis_url")))
        self.extras = ServerExtras(
            command=[WRAPPER],
            env=secrets,
            settings=settings,
            liveness_path="/health/live",
            readiness_path="/health/ready",
            startup_path="/health/startup",
            plugin=plugin,
        )
