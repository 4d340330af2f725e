"""Config models of the auth modes: ``none``, ``basic``, ``oidc`` and ``oauth2-proxy`` (exactly one)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, model_validator

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.types import (
    ByteQuantity,
    DnsSubdomain,
    ExactHttpUrl,
    GoDuration,
    ListItem,
    NonEmpty,
    ProxyNetwork,
    SecretKey,
    exact_url,
    list_item,
)

MlflowPermission = Literal["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"]
# OAuth2-Proxy's provider types (pkg/apis/options/providers.go of the release in images.OAUTH2_PROXY); any other
# name stops the proxy at start-up ("unknown provider type").
OAuth2ProxyProvider = Literal[
    "adfs",
    "azure",
    "entra-id",
    "bitbucket",
    "cidaas",
    "digitalocean",
    "facebook",
    "github",
    "gitlab",
    "google",
    "keycloak",
    "keycloak-oidc",
    "linkedin",
    "login.gov",
    "nextcloud",
    "oidc",
    "sourcehut",
]


def _jwt_issuer(value: str) -> str:
    """``issuer=audience``, as OAuth2-Proxy's ``--extra-jwt-issuers`` splits it (at the first '=')."""
    issuer, equals, audience = value.partition("=")
    if not equals or not audience:
        raise ValueError(
            f"{value!r} names no audience, and OAuth2-Proxy refuses to start without one; write "
            "<issuer URL>=<audience>, e.g. https://idp.example.com/realms/ci=mlflow"
        )
    exact_url(issuer)
    return list_item(value)


JwtIssuer = Annotated[str, AfterValidator(_jwt_issuer)]
# Pod CIDRs of common clusters; X-Forwarded-* is believed only from these peers (the ingress controller).
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


class BasicAdminCredentials(Model):
    """The initial admin's user name and password kept in a Secret of their own, e.g. a
    `kubernetes.io/basic-auth` Secret (keys `username` and `password`)."""

    secret: DnsSubdomain | None = None
    """The Secret holding them (none: the environment's Secret, `secrets.name`). A Secret of another name is
    created by you or an operator and listed in the Namespace's prerequisites."""
    username_key: SecretKey = "username"
    """Key of the user name (`MLFLOW_AUTH_ADMIN_USERNAME`)."""
    password_key: SecretKey = "password"
    """Key of the password (`MLFLOW_AUTH_ADMIN_PASSWORD`, at least 12 characters)."""


class BasicAuth(Model):
    """MLflow's own basic-auth app (``--app-name basic-auth``)."""

    default_permission: MlflowPermission = "READ"
    """`READ`, `EDIT`, `MANAGE` or `NO_PERMISSIONS`."""
    authorization_function: str = "mlflow.server.auth:authenticate_request_basic_auth"
    """MLflow's `authorization_function`."""
    auth_cache_ttl_seconds: int = Field(60, ge=0)
    """Credential cache per worker (0 re-hashes every request: ~5 req/s)."""
    accept_dropped_denies: bool = False
    """Upgrading from an MLflow without auth roles (2.x, 3.0 and others) moves permissions to roles and drops
    explicit `NO_PERMISSIONS` grants on experiments and models (those users get `default_permission`). The
    migration Job refuses that while such grants exist and `default_permission` is not `NO_PERMISSIONS`;
    `true` accepts the wider access."""
    admin: BasicAdminCredentials | None = None
    """The Secret and keys of the initial admin (none: the environment's Secret, keys
    `secrets.keys.admin_username` and `admin_password`)."""


class OidcCredentials(Model):
    """The plugin's session key and OAuth client kept in a Secret of their own, e.g. the Secret an existing
    deployment of the plugin already has (keys named as its variables)."""

    secret: DnsSubdomain | None = None
    """The Secret holding them (none: the environment's Secret, `secrets.name`). A Secret of another name is
    created by you or an operator and listed in the Namespace's prerequisites."""
    session_secret_key: SecretKey = "SECRET_KEY"
    """Key of the session signing key (`SECRET_KEY`, shared by all replicas)."""
    client_id_key: SecretKey = "OIDC_CLIENT_ID"
    """Key of the OAuth client id (`OIDC_CLIENT_ID`)."""
    client_secret_key: SecretKey = "OIDC_CLIENT_SECRET"
    """Key of the OAuth client secret (`OIDC_CLIENT_SECRET`)."""


class RedisCache(Model):
    """The oidc plugin's cache of permission and identity lookups (``CACHE_BACKEND``), per pod or shared."""

    type: Literal["none", "bundled", "external"] = "none"
    """`none` (per pod), `bundled` (a hardened Redis) or `external` (`redis_url` key). Sessions do not depend
    on it (they are signed cookies); with several pods and `none`, a permission change reaches the other pods
    when their cached entry expires (the plugin's `PERMISSION_CACHE_TTL_SECONDS`, 30 s)."""
    image: Image = Field(default_factory=lambda: Image.of(images.REDIS))
    """Bundled Redis image (same forms as `server.image`)."""
    resources: Resources = Field(default_factory=lambda: resources_of("50m", "64Mi", "500m", "256Mi"))
    """Bundled Redis resources."""
    max_memory: ByteQuantity = "192Mi"
    """Redis `maxmemory` (LRU eviction), whole bytes: e.g. `192Mi`, `500M`, `1Gi`."""

    @property
    def redis_max_memory(self) -> str:
        """``max_memory`` spelled for Redis' ``maxmemory``, same number of bytes.

        Redis reads ``k``/``m``/``g`` as powers of 1000 and ``kb``/``mb``/``gb`` as powers of 1024 (and knows
        no ``t``), so ``500M`` is ``500m``, ``192Mi`` is ``192mb`` and terabytes become gigabytes.
        """
        number = self.max_memory.rstrip("kKMGTi")
        suffix = self.max_memory[len(number) :]
        if suffix == "T":
            return f"{int(number) * 1000}g"
        if suffix == "Ti":
            return f"{int(number) * 1024}gb"
        return number + {"": "", "k": "k", "M": "m", "G": "g", "Ki": "kb", "Mi": "mb", "Gi": "gb"}[suffix]


class Oidc(Model):
    """The mlflow-oidc-auth plugin (``--app-name oidc-auth``), configured by env vars."""

    discovery_url: HttpUrl
    """`OIDC_DISCOVERY_URL`."""
    provider_display_name: str = Field("Sign in with OIDC", max_length=200)
    """`OIDC_PROVIDER_DISPLAY_NAME`, the text of the sign-in button (at most 200 characters)."""
    scope: tuple[ListItem, ...] = ("openid", "profile", "email", "groups")
    """`OIDC_SCOPE` (with `openid`)."""
    groups_attribute: NonEmpty = "groups"
    """`OIDC_GROUPS_ATTRIBUTE`."""
    redirect_uri: HttpUrl | None = None
    """`OIDC_REDIRECT_URI`; none: `<scheme>://<first ingress host>/callback`; required without an ingress."""
    group_detection_plugin: str | None = None
    """`OIDC_GROUP_DETECTION_PLUGIN` (e.g. `mlflow_oidc_auth.plugins.group_detection_microsoft_entra_id`)."""
    allowed_groups: tuple[ListItem, ...] = ("mlflow-users",)
    """`OIDC_GROUP_NAME`: who may log in."""
    admin_groups: tuple[ListItem, ...] = ("mlflow-admins",)
    """`OIDC_ADMIN_GROUP_NAME`."""
    default_permission: MlflowPermission = "NO_PERMISSIONS"
    """`DEFAULT_MLFLOW_PERMISSION`. Least privilege: users see what they create or are granted."""
    permission_source_order: tuple[Literal["user", "group", "regex", "group-regex"], ...] = (
        "user",
        "group",
        "regex",
        "group-regex",
    )
    """`PERMISSION_SOURCE_ORDER`."""
    extend_mlflow_menu: bool = True
    """`EXTEND_MLFLOW_MENU`."""
    default_landing_page_is_permissions: bool = True
    """`DEFAULT_LANDING_PAGE_IS_PERMISSIONS`."""
    automatic_login_redirect: bool = False
    """`AUTOMATIC_LOGIN_REDIRECT`."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """`LOG_LEVEL`."""
    alembic_version_table: str = "alembic_version"
    """`OIDC_ALEMBIC_VERSION_TABLE` (the auth database is separate, so the default is safe)."""
    trusted_proxies: tuple[ProxyNetwork, ...] = PRIVATE_RANGES
    """`TRUSTED_PROXIES`: peers whose `X-Forwarded-*` is believed, IP addresses or CIDRs; `*`, an empty list and
    ranges wider than a /8 are refused (the plugin would believe every client)."""
    cache: RedisCache = Field(default_factory=RedisCache)
    """Session/cache backend of the plugin."""
    credentials: OidcCredentials | None = None
    """The Secret and keys of the session key, client id and client secret, read as env vars (none: the
    environment's Secret, keys `secrets.keys.oidc_secret_key`, `oidc_client_id` and `oidc_client_secret`, delivered
    as `secrets.plugin_delivery` says)."""

    @model_validator(mode="after")
    def _groups(self) -> Oidc:
        if not self.allowed_groups:
            raise ValueError("allowed_groups must name at least one group, or nobody can log in")
        if "openid" not in self.scope:
            raise ValueError(
                "scope must include 'openid': without it the provider returns no ID token and nobody can log in; "
                "e.g. scope: [openid, profile, email, groups]"
            )
        if not self.trusted_proxies:
            raise ValueError(
                "trusted_proxies is empty, which the plugin reads as 'believe every peer'; list the ingress "
                "controller's networks, e.g. [10.0.0.0/8]"
            )
        return self


class OAuth2ProxyCredentials(Model):
    """The proxy's client and cookie secrets kept in a Secret of their own, e.g. a two-key Secret an existing
    proxy setup already has."""

    secret: DnsSubdomain | None = None
    """The Secret holding them (none: the environment's Secret, `secrets.name`). A Secret of another name is
    created by you and listed in the Namespace's prerequisites."""
    client_secret_key: SecretKey = "client_secret"
    """Key of the client secret (`confidential` clients)."""
    cookie_secret_key: SecretKey = "cookie_secret"
    """Key of the cookie secret (16, 24 or 32 bytes)."""


class OAuth2Proxy(Model):
    """An OAuth2-Proxy in front of MLflow; MLflow itself is reachable only through it."""

    image: Image = Field(default_factory=lambda: Image.of(images.OAUTH2_PROXY))
    """Proxy image (same forms as `server.image`)."""
    provider: OAuth2ProxyProvider = "keycloak-oidc"
    """`--provider`, one of OAuth2-Proxy's provider types (e.g. `keycloak-oidc`, `oidc`, `entra-id`, `gitlab`)."""
    issuer_url: ExactHttpUrl
    """`--oidc-issuer-url`, byte for byte as the provider's discovery document says `issuer` (a trailing `/`
    included or not): the proxy compares the two as strings and does not start when they differ."""
    client_id: NonEmpty
    """`--client-id`."""
    client_type: Literal["confidential", "public"] = "confidential"
    """`confidential` (`client_secret` key) or `public` (no secret, PKCE; device flow)."""
    email_domains: tuple[ListItem, ...] = ("*",)
    """`--email-domain`."""
    allowed_groups: tuple[ListItem, ...] = ()
    """`--allowed-group`; required unless `email_domains` is restricted or `allow_any_account` is true."""
    allow_any_account: bool = False
    """`true` lets every account that can log in at the provider in (no `allowed_groups`, `email_domains: ['*']`):
    only for a provider whose every account is meant to use MLflow (a dedicated realm or tenant)."""
    groups_claim: NonEmpty = "groups"
    """`--oidc-groups-claim`."""
    scope: NonEmpty = "openid email profile"
    """`--scope`."""
    extra_jwt_issuers: tuple[JwtIssuer, ...] = ()
    """`--extra-jwt-issuers` (`issuer=audience`) for bearer tokens of other issuers."""
    replicas: int = Field(2, ge=1, le=20)
    """Proxy pods (stateless cookie sessions)."""
    resources: Resources = Field(default_factory=lambda: resources_of("20m", "32Mi", "500m", "128Mi"))
    """Proxy resources."""
    cookie_expire: GoDuration = "8h"
    """`--cookie-expire`, a Go duration (`8h`, `168h0m0s`)."""
    port: int = Field(4180, ge=1024, le=65535)
    """Proxy container port."""
    credentials: OAuth2ProxyCredentials | None = None
    """The Secret and keys of the client and cookie secrets (none: the environment's Secret, keys
    `secrets.keys.oauth2_proxy_client_secret` and `oauth2_proxy_cookie_secret`)."""

    @model_validator(mode="after")
    def _who_may_enter(self) -> OAuth2Proxy:
        anyone = not self.allowed_groups and list(self.email_domains) == ["*"]
        if anyone and not self.allow_any_account:
            raise ValueError(
                "allowed_groups is empty and email_domains is '*': every account of the provider would get in; "
                "list allowed_groups (recommended), restrict email_domains, or, if every account of the provider "
                "may use MLflow, say so with allow_any_account: true"
            )
        if self.allow_any_account and not anyone:
            raise ValueError(
                "allow_any_account: true lets every account in, but allowed_groups or email_domains restrict who "
                "gets in: remove allow_any_account, or the restriction"
            )
        if not self.email_domains:
            raise ValueError("email_domains must list at least one domain (or '*' together with allowed_groups)")
        return self


class Auth(Model):
    """Exactly one auth mode; only the section of the selected mode may be present."""

    mode: Literal["none", "basic", "oidc", "oauth2-proxy"] = "none"
    """`none`, `basic`, `oidc` or `oauth2-proxy`; only the section of that mode may be present."""
    basic: BasicAuth | None = None
    """`mode: basic`: MLflow's basic-auth app."""
    oidc: Oidc | None = None
    """`mode: oidc`: the mlflow-oidc-auth plugin."""
    oauth2_proxy: OAuth2Proxy | None = None
    """`mode: oauth2-proxy`: an OAuth2-Proxy in front of MLflow."""

    @model_validator(mode="after")
    def _one_mode(self) -> Auth:
        sections = {"basic": self.basic, "oidc": self.oidc, "oauth2-proxy": self.oauth2_proxy}
        present = [mode for mode, section in sections.items() if section is not None]
        others = [mode for mode in present if mode != self.mode]
        if others:
            raise ValueError(
                f"mode is {self.mode!r} but settings for {', '.join(others)} are present: "
                "an environment has exactly one auth mode; remove the other section(s) or change mode"
            )
        if self.mode in ("oidc", "oauth2-proxy") and sections[self.mode] is None:
            key = self.mode.replace("-", "_")
            raise ValueError(f"mode is {self.mode!r} but the '{key}' section (with its required keys) is missing")
        return self

    @property
    def basic_settings(self) -> BasicAuth:
        return self.basic or BasicAuth()
