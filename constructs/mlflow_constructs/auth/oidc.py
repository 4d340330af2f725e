"""The mlflow-oidc-auth plugin: settings in the server ConfigMap, secrets only by reference.

The server starts through the plugin's ``mlflow-oidc-server`` wrapper, which loads the configured
providers (env, mounted Secret files, cloud providers) into the environment and then execs
``mlflow server --app-name oidc-auth``. Only through the wrapper do values such as
``MLFLOW_BACKEND_STORE_URI`` reach MLflow when they come from files or a cloud provider.

The plugin would migrate its user database on the first request that reaches its store, inside a
serving replica; the server's schema gate holds it until the migration Job has done so instead
(``schema_scripts``: the ``oidc`` store, with the URI and version table the server reads).
"""

from __future__ import annotations

from dataclasses import replace

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.auth.redis import BundledRedis
from mlflow_constructs.config.auth import Oidc
from mlflow_constructs.database.access import DatabaseAccess
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.pods import SecretRef, env_values, secret_env
from mlflow_constructs.secrets.plugin_delivery import plugin_delivery
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.server.addon import SchemaAddon, ServerAddon

WRAPPER = "mlflow-oidc-server"
REDIS_URL_KEY = "redis_url"
# The settings the schema scripts read to find the plugin's store, as literal env on their containers, so
# that changing them changes the migration Job's hash.
MIGRATION_SETTINGS = ("OIDC_USERS_DB_URI", "OIDC_ALEMBIC_VERSION_TABLE")
# The plugin's settings ``auth.oidc.credentials`` may read from a Secret of its own (logical keys).
OWN_KEYS = ("oidc_secret_key", "oidc_client_id", "oidc_client_secret")


def _flag(value: bool) -> str:
    return "true" if value else "false"


class OidcAuth(Construct):
    """What the oidc mode adds to the server pod (``addon``) and the Redis it may bring (``redis``).

    ``redirect_uri`` is the public ``/callback`` URL; ``secure_cookies`` when users reach it over TLS.
    ``database_uri_from_plugin``: the tracking store URI comes through the plugin's providers too.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: Oidc,
        naming: Naming,
        secrets: SecretSource,
        database: DatabaseAccess,
        redirect_uri: str,
        secure_cookies: bool,
        database_uri_from_plugin: bool = False,
    ) -> None:
        super().__init__(scope, id)
        settings = {
            "OIDC_DISCOVERY_URL": str(config.discovery_url),
            "OIDC_PROVIDER_DISPLAY_NAME": config.provider_display_name,
            "OIDC_SCOPE": ",".join(config.scope),
            "OIDC_GROUPS_ATTRIBUTE": config.groups_attribute,
            "OIDC_REDIRECT_URI": redirect_uri,
            "OIDC_GROUP_NAME": ",".join(config.allowed_groups),
            "OIDC_ADMIN_GROUP_NAME": ",".join(config.admin_groups),
            "DEFAULT_MLFLOW_PERMISSION": config.default_permission,
            "PERMISSION_SOURCE_ORDER": ",".join(config.permission_source_order),
            "EXTEND_MLFLOW_MENU": _flag(config.extend_mlflow_menu),
            "DEFAULT_LANDING_PAGE_IS_PERMISSIONS": _flag(config.default_landing_page_is_permissions),
            "AUTOMATIC_LOGIN_REDIRECT": _flag(config.automatic_login_redirect),
            "LOG_LEVEL": config.log_level,
            "OIDC_ALEMBIC_VERSION_TABLE": config.alembic_version_table,
            "TRUSTED_PROXIES": ",".join(config.trusted_proxies),
            "SESSION_COOKIE_SECURE": _flag(secure_cookies),
            "CACHE_BACKEND": "local" if config.cache.type == "none" else "redis",
        }
        if config.group_detection_plugin:
            settings["OIDC_GROUP_DETECTION_PLUGIN"] = config.group_detection_plugin
        plugin_keys = ["oidc_secret_key", "oidc_client_id", "oidc_client_secret"]
        if database.auth_database_uri:
            settings["OIDC_USERS_DB_URI"] = database.auth_database_uri
        else:
            plugin_keys.append("auth_database_uri")
        if database_uri_from_plugin:
            plugin_keys.append("database_uri")
        own = config.credentials
        named: dict[str, SecretRef] = {}  # the plugin's variables read from auth.oidc.credentials' Secret
        if own is not None:  # read as env vars (the config refuses it with files or a cloud store)
            named = {
                "SECRET_KEY": secrets.named(own.secret, own.session_secret_key),
                "OIDC_CLIENT_ID": secrets.named(own.secret, own.client_id_key),
                "OIDC_CLIENT_SECRET": secrets.named(own.secret, own.client_secret_key),
            }
            plugin_keys = [key for key in plugin_keys if key not in OWN_KEYS]
        plugin = plugin_delivery(secrets, plugin_keys)
        plugin = replace(plugin, env=(*(secret_env(k, ref) for k, ref in named.items()), *plugin.env))
        refs = tuple(named.values())
        cache_env: tuple[k8s.EnvVar, ...] = ()
        cache_keys: tuple[str, ...] = ()
        self.redis: BundledRedis | None = None
        if config.cache.type == "bundled":
            self.redis = BundledRedis(self, "redis", config=config.cache, naming=naming, secrets=secrets)
            cache_env, cache_keys = self.redis.client_env, self.redis.secret_keys
        elif config.cache.type == "external":
            cache_env, cache_keys = (secrets.env("CACHE_REDIS_URL", REDIS_URL_KEY),), (REDIS_URL_KEY,)
        self.addon = ServerAddon(
            command=(WRAPPER,),
            env=cache_env,
            settings=settings,
            liveness_path="/health/live",
            readiness_path="/health/ready",
            startup_path="/health/startup",
            probes_follow_static_prefix=False,  # the plugin's health router is mounted at /health, prefix or not
            plugin=plugin,
            secret_keys=(*plugin.secret_keys, *cache_keys),
            schema=SchemaAddon(
                store="oidc",
                env=tuple(env_values({k: settings[k] for k in MIGRATION_SETTINGS if k in settings})),
            ),
            secret_refs=refs,
        )
