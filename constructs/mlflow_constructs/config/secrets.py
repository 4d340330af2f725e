"""Config models of the secret providers: where every secret value of an environment comes from."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, model_validator

from mlflow_constructs.config.base import Model
from mlflow_constructs.config.types import DnsSubdomain, GoDuration, SecretKey

# Values the mlflow-oidc-auth plugin itself can load from mounted files or a cloud provider
# (logical key -> the plugin's variable name, which is also the file name it reads).
PLUGIN_KEYS = {
    "oidc_secret_key": "SECRET_KEY",
    "oidc_client_id": "OIDC_CLIENT_ID",
    "oidc_client_secret": "OIDC_CLIENT_SECRET",
    "auth_database_uri": "OIDC_USERS_DB_URI",
    "database_uri": "MLFLOW_BACKEND_STORE_URI",
}
CLOUD_PROVIDERS = ("aws-secrets-manager", "aws-parameter-store", "azure-key-vault", "vault")


class SecretKeys(Model):
    """Key names inside the environment's Secret, one per value the deployment may need."""

    postgres_password: SecretKey = "postgres-password"
    database_uri: SecretKey = "database-uri"
    auth_database_uri: SecretKey = "auth-database-uri"
    minio_root_user: SecretKey = "minio-root-user"
    minio_root_password: SecretKey = "minio-root-password"
    s3_access_key_id: SecretKey = "s3-access-key-id"
    s3_secret_access_key: SecretKey = "s3-secret-access-key"
    azure_connection_string: SecretKey = "azure-storage-connection-string"
    gcs_key_json: SecretKey = "gcs-key.json"
    admin_username: SecretKey = "admin-username"
    admin_password: SecretKey = "admin-password"
    flask_secret_key: SecretKey = "flask-secret-key"
    oidc_secret_key: SecretKey = "SECRET_KEY"
    oidc_client_id: SecretKey = "OIDC_CLIENT_ID"
    oidc_client_secret: SecretKey = "OIDC_CLIENT_SECRET"
    redis_password: SecretKey = "redis-password"
    redis_url: SecretKey = "redis-url"
    oauth2_proxy_client_secret: SecretKey = "client_secret"
    oauth2_proxy_cookie_secret: SecretKey = "cookie_secret"


class MountAsFiles(Model):
    """Mount the Secret as files for the oidc plugin (``CONFIG_K8S_SECRETS_ENABLED``)."""

    enabled: bool = False
    path: str = Field("/var/run/secrets/mlflow-oidc-auth", pattern=r"^/[^\s]*$")


class RemoteRef(Model):
    key: str = Field(min_length=1)
    property: str | None = None


class StoreRef(Model):
    name: DnsSubdomain
    kind: Literal["SecretStore", "ClusterSecretStore"] = "ClusterSecretStore"


class VaultStore(Model):
    server: HttpUrl
    path: str = "secret"
    version: Literal["v1", "v2"] = "v2"
    role: str = Field(min_length=1)
    mount_path: str = "kubernetes"


class AwsStore(Model):
    region: str = Field(min_length=1)
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")


class AzureStore(Model):
    vault_url: HttpUrl
    client_id: str = Field(min_length=1)
    tenant_id: str = Field(min_length=1)


class CreatedStore(Model):
    """A SecretStore created in the namespace, authenticating with a dedicated ServiceAccount."""

    type: Literal["vault", "aws-secrets-manager", "azure-key-vault"]
    vault: VaultStore | None = None
    aws: AwsStore | None = None
    azure: AzureStore | None = None

    @model_validator(mode="after")
    def _section(self) -> CreatedStore:
        section = {"vault": "vault", "aws-secrets-manager": "aws", "azure-key-vault": "azure"}[self.type]
        if getattr(self, section) is None:
            raise ValueError(f"type is {self.type!r} but the '{section}' section is missing")
        return self


class ExternalSecrets(Model):
    """An ExternalSecret (External Secrets Operator) that produces the environment's Secret."""

    store_ref: StoreRef | None = None
    create_store: CreatedStore | None = None
    refresh_interval: GoDuration = "1h"
    remote_refs: dict[SecretKey, RemoteRef] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_store(self) -> ExternalSecrets:
        if (self.store_ref is None) == (self.create_store is None):
            raise ValueError("set exactly one of store_ref (an existing store) and create_store")
        return self


def _ciphertext(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not kubeseal output (base64 ciphertext)") from None
    if len(raw) < 32:
        raise ValueError("is too short to be kubeseal output; paste the encryptedData value kubeseal printed")
    return value


class SealedSecrets(Model):
    """A SealedSecret whose ciphertexts (``kubeseal`` output) live in the config file."""

    scope: Literal["strict", "namespace-wide", "cluster-wide"] = "strict"
    encrypted_data: dict[SecretKey, Annotated[str, AfterValidator(_ciphertext)]] = Field(default_factory=dict)


class AwsSecretsManagerProvider(Model):
    secret_name: str = Field(min_length=1)
    region: str = Field(min_length=1)
    cache_ttl_seconds: int = Field(300, ge=0)


class AwsParameterStoreProvider(Model):
    prefix: str = Field(pattern=r"^/.*")
    region: str = Field(min_length=1)


class AzureKeyVaultProvider(Model):
    vault_name: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")


class VaultProvider(Model):
    address: HttpUrl
    path: str = Field(min_length=1)
    kv_version: Literal[1, 2] = 2
    namespace: str | None = None
    auth: Literal["approle", "token"] = "approle"
    role_id: str | None = None
    credentials_secret: DnsSubdomain = "mlflow-vault-credentials"

    @model_validator(mode="after")
    def _role(self) -> VaultProvider:
        if self.auth == "approle" and not self.role_id:
            raise ValueError("auth approle needs role_id (its secret_id comes from credentials_secret)")
        return self


class Secrets(Model):
    """Where secret values come from. Nothing secret is ever written to the output."""

    provider: Literal[
        "existing-secret",
        "external-secrets",
        "sealed-secrets",
        "aws-secrets-manager",
        "aws-parameter-store",
        "azure-key-vault",
        "vault",
    ] = "existing-secret"
    name: DnsSubdomain = "mlflow-credentials"
    keys: SecretKeys = Field(default_factory=SecretKeys)
    mount_as_files: MountAsFiles = Field(default_factory=MountAsFiles)
    external_secrets: ExternalSecrets | None = None
    sealed_secrets: SealedSecrets | None = None
    aws_secrets_manager: AwsSecretsManagerProvider | None = None
    aws_parameter_store: AwsParameterStoreProvider | None = None
    azure_key_vault: AzureKeyVaultProvider | None = None
    vault: VaultProvider | None = None

    @model_validator(mode="after")
    def _provider_section(self) -> Secrets:
        section = self.provider.replace("-", "_")
        if self.provider != "existing-secret" and getattr(self, section) is None:
            raise ValueError(f"provider is {self.provider!r} but the '{section}' section is missing")
        sections = ["external_secrets", "sealed_secrets", *[p.replace("-", "_") for p in CLOUD_PROVIDERS]]
        stray = [s for s in sections if s != section and getattr(self, s) is not None]
        if stray:
            raise ValueError(
                f"provider is {self.provider!r} but settings for {', '.join(stray)} are present; "
                "an environment has one secret provider: remove them or change provider"
            )
        return self

    @property
    def cloud(self) -> bool:
        """The oidc plugin reads its own settings from a cloud provider."""
        return self.provider in CLOUD_PROVIDERS

    @property
    def plugin_delivery(self) -> Literal["env", "files", "cloud"]:
        if self.cloud:
            return "cloud"
        return "files" if self.mount_as_files.enabled else "env"
