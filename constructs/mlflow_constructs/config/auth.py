"""Config models of the auth modes: ``none``, ``basic``, ``oidc`` and ``oauth2-proxy`` (exactly one)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.types import ByteQuantity, GoDuration

MlflowPermission = Literal["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"]
# Pod CIDRs of common clusters; X-Forwarded-* is believed only from these peers (the ingress controller).
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


class BasicAuth(Model):
    """MLflow's own basic-auth app (``--app-name basic-auth``)."""

    default_permission: MlflowPermission = "READ"
    authorization_function: str = "mlflow.server.auth:authenticate_request_basic_auth"
    auth_cache_ttl_seconds: int = Field(60, ge=0)


class RedisCache(Model):
    """Shared session/cache backend for several oidc replicas."""

    type: Literal["none", "bundled", "external"] = "none"
    image: Image = Field(default_factory=lambda: Image.of(images.REDIS))
    resources: Resources = Field(default_factory=lambda: resources_of("50m", "64Mi", "500m", "256Mi"))
    max_memory: ByteQuantity = "192Mi"

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
    provider_display_name: str = "Sign in with OIDC"
    scope: tuple[str, ...] = ("openid", "profile", "email", "groups")
    groups_attribute: str = "groups"
    redirect_uri: HttpUrl | None = None
    group_detection_plugin: str | None = None
    allowed_groups: tuple[str, ...] = ("mlflow-users",)
    admin_groups: tuple[str, ...] = ("mlflow-admins",)
    default_permission: MlflowPermission = "NO_PERMISSIONS"
    permission_source_order: tuple[Literal["user", "group", "regex", "group-regex"], ...] = (
        "user",
        "group",
        "regex",
        "group-regex",
    )
    extend_mlflow_menu: bool = True
    default_landing_page_is_permissions: bool = True
    automatic_login_redirect: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    alembic_version_table: str = "alembic_version"
    trusted_proxies: tuple[str, ...] = PRIVATE_RANGES
    cache: RedisCache = Field(default_factory=RedisCache)

    @model_validator(mode="after")
    def _groups(self) -> Oidc:
        if not self.allowed_groups:
            raise ValueError("allowed_groups must name at least one group, or nobody can log in")
        if "*" in self.trusted_proxies or "0.0.0.0/0" in self.trusted_proxies:
            raise ValueError("trusted_proxies must list the ingress controller's networks, not everything")
        return self


class OAuth2Proxy(Model):
    """An OAuth2-Proxy in front of MLflow; MLflow itself is reachable only through it."""

    image: Image = Field(default_factory=lambda: Image.of(images.OAUTH2_PROXY))
    provider: str = "keycloak-oidc"
    issuer_url: HttpUrl
    client_id: str = Field(min_length=1)
    client_type: Literal["confidential", "public"] = "confidential"
    email_domains: tuple[str, ...] = ("*",)
    allowed_groups: tuple[str, ...] = ()
    groups_claim: str = "groups"
    scope: str = "openid email profile"
    extra_jwt_issuers: tuple[str, ...] = ()
    replicas: int = Field(2, ge=1, le=20)
    resources: Resources = Field(default_factory=lambda: resources_of("20m", "32Mi", "500m", "128Mi"))
    cookie_expire: GoDuration = "8h"
    port: int = Field(4180, ge=1024, le=65535)

    @model_validator(mode="after")
    def _who_may_enter(self) -> OAuth2Proxy:
        if not self.allowed_groups and list(self.email_domains) == ["*"]:
            raise ValueError(
                "allowed_groups is empty and email_domains is '*': every account of the provider would get in; "
                "list allowed_groups (recommended) or restrict email_domains"
            )
        if not self.email_domains:
            raise ValueError("email_domains must list at least one domain (or '*' together with allowed_groups)")
        return self


class Auth(Model):
    """Exactly one auth mode; only the section of the selected mode may be present."""

    mode: Literal["none", "basic", "oidc", "oauth2-proxy"] = "none"
    basic: BasicAuth | None = None
    oidc: Oidc | None = None
    oauth2_proxy: OAuth2Proxy | None = None

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
