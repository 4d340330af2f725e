"""Config models of the secret providers: where every secret value of an environment comes from."""

from __future__ import annotations

import base64
import binascii
import posixpath
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, WithJsonSchema, model_validator

from mlflow_constructs.config.base import Model
from mlflow_constructs.config.types import DnsLabel, DnsSubdomain, GoDuration, SecretKey

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
    """Bundled PostgreSQL password."""
    database_uri: SecretKey = "database-uri"
    """External tracking database URI, `postgresql+psycopg2://user:password@host:5432/db`."""
    auth_database_uri: SecretKey = "auth-database-uri"
    """External auth database URI (basic `database_uri`, oidc `OIDC_USERS_DB_URI`)."""
    read_replica_database_uri: SecretKey = "read-replica-database-uri"
    """External read replica of the tracking database, `postgresql+psycopg2://user:password@host:5432/db`
    (`database.read_replica`)."""
    registry_database_uri: SecretKey = "registry-database-uri"
    """External model-registry database URI, `postgresql+psycopg2://user:password@host:5432/db`
    (`database.registry` without `database.external`)."""
    minio_root_user: SecretKey = "minio-root-user"
    """Bundled MinIO root user."""
    minio_root_password: SecretKey = "minio-root-password"
    """Bundled MinIO root password."""
    s3_access_key_id: SecretKey = "s3-access-key-id"
    """S3 access key (MinIO: the MLflow user the bucket Job creates)."""
    s3_secret_access_key: SecretKey = "s3-secret-access-key"
    """S3 secret key."""
    azure_connection_string: SecretKey = "azure-storage-connection-string"
    """Azure Storage connection string."""
    gcs_key_json: SecretKey = "gcs-key.json"
    """GCS service-account key file."""
    admin_username: SecretKey = "admin-username"
    """basic: initial admin user."""
    admin_password: SecretKey = "admin-password"
    """basic: initial admin password (at least 12 characters)."""
    flask_secret_key: SecretKey = "flask-secret-key"
    """basic: `MLFLOW_FLASK_SERVER_SECRET_KEY`, shared by all replicas."""
    oidc_secret_key: SecretKey = "SECRET_KEY"
    """oidc: session signing key, shared by all replicas."""
    oidc_client_id: SecretKey = "OIDC_CLIENT_ID"
    """oidc: OAuth client id."""
    oidc_client_secret: SecretKey = "OIDC_CLIENT_SECRET"
    """oidc: OAuth client secret."""
    redis_password: SecretKey = "redis-password"
    """oidc with `cache.type: bundled`: Redis password (URL-safe characters)."""
    redis_url: SecretKey = "redis-url"
    """oidc with `cache.type: external`: `CACHE_REDIS_URL`."""
    oauth2_proxy_client_secret: SecretKey = "client_secret"
    """oauth2-proxy: client secret (confidential clients)."""
    oauth2_proxy_cookie_secret: SecretKey = "cookie_secret"
    """oauth2-proxy: cookie secret (16, 24 or 32 bytes)."""
    kek_passphrase: SecretKey = "kek-passphrase"
    """AI gateway: `MLFLOW_CRYPTO_KEK_PASSPHRASE`, the passphrase of the provider keys stored in it (a long
    random value, e.g. `openssl rand -hex 32`; never change it in place: the stored keys would no longer
    decrypt). Read by the server container and its `wait-for-schema` gate (and the migration Job while
    rotating) unless `server.ai_gateway: false`. With the oidc plugin's cloud providers: an entry
    `MLFLOW_CRYPTO_KEK_PASSPHRASE` in the store instead. To change it, rotate (`server.ai_gateway.rotate_kek`,
    README "Rotating the AI gateway's passphrase")."""
    previous_kek_passphrase: SecretKey = "previous-kek-passphrase"
    """AI gateway, while `server.ai_gateway.rotate_kek` is on: the passphrase the stored provider keys are
    wrapped with before the rotation (the old `kek_passphrase`); read by the migration Job only. Remove it once
    the rotation has run."""


# Folders the pods of this project mount volumes at (or below), and the image folders a mount would hide: the
# Secret's files go elsewhere, since the API server refuses two mounts at one path and a read-only Secret
# volume above another mount leaves the kubelet no place to create it.
PROJECT_MOUNTS = (
    "/backups",
    "/data",
    "/docker-entrypoint-initdb.d",
    "/etc/oauth2-proxy",
    "/handoff",
    "/mlflow",
    "/tmp",
    "/var/lib/postgresql",
    "/var/run/postgresql",
    "/var/run/secrets/gcs",
    "/var/run/secrets/kubernetes.io",
)
IMAGE_FOLDERS = ("/bin", "/dev", "/etc", "/home", "/lib", "/opt", "/proc", "/root", "/run", "/sbin", "/sys", "/usr")


def _mount_path(path: str) -> str:
    if not path.startswith("/") or posixpath.normpath(path) != path or path == "/":
        raise ValueError(
            f"{path!r} is not an absolute folder path without '.', '..', '//' or a trailing '/', "
            "e.g. /var/run/secrets/mlflow-oidc-auth"
        )
    for taken in PROJECT_MOUNTS:
        if path == taken or path.startswith(f"{taken}/") or taken.startswith(f"{path}/"):
            raise ValueError(
                f"{path!r} overlaps {taken}, where the pods mount a volume of their own; use a folder of its own, "
                "e.g. /var/run/secrets/mlflow-oidc-auth"
            )
    if path in IMAGE_FOLDERS:
        raise ValueError(f"{path!r} would hide the image's own {path}; use e.g. /var/run/secrets/mlflow-oidc-auth")
    return path


MountPath = Annotated[str, AfterValidator(_mount_path), WithJsonSchema({"type": "string", "pattern": r"^/[^\s]*$"})]


class MountAsFiles(Model):
    """Mount the Secret as files for the oidc plugin (``CONFIG_K8S_SECRETS_ENABLED``)."""

    enabled: bool = False
    """oidc mode: mount the plugin's keys as files (`CONFIG_K8S_SECRETS_ENABLED`) instead of env vars."""
    path: MountPath = "/var/run/secrets/mlflow-oidc-auth"
    """Where they are mounted (`CONFIG_K8S_SECRETS_PATH`)."""


class RemoteRef(Model):
    key: str = Field(min_length=1)
    """Key (name) of the entry in the store."""
    property: str | None = None
    """Property inside that entry, for JSON values."""


class StoreRef(Model):
    name: DnsSubdomain
    """Existing SecretStore/ClusterSecretStore (or use `create_store`)."""
    kind: Literal["SecretStore", "ClusterSecretStore"] = "ClusterSecretStore"
    """`SecretStore` or `ClusterSecretStore`."""


class VaultStore(Model):
    server: HttpUrl
    """Vault address."""
    path: str = "secret"
    """KV mount path."""
    version: Literal["v1", "v2"] = "v2"
    """KV engine version, `v1` or `v2`."""
    role: str = Field(min_length=1)
    """Vault role of the Kubernetes auth (ServiceAccount `<name>-secrets-reader`)."""
    mount_path: str = "kubernetes"
    """Mount path of Vault's Kubernetes auth method."""


class AwsStore(Model):
    region: str = Field(min_length=1)
    """AWS region of Secrets Manager."""
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    """IAM role read through IRSA (annotated on `<name>-secrets-reader`)."""


class AzureStore(Model):
    vault_url: HttpUrl
    """Key Vault URL."""
    client_id: str = Field(min_length=1)
    """Workload-identity client id."""
    tenant_id: str = Field(min_length=1)
    """Azure tenant id."""


class CreatedStore(Model):
    """A SecretStore created in the namespace, authenticating with a dedicated ServiceAccount."""

    type: Literal["vault", "aws-secrets-manager", "azure-key-vault"]
    """Create a namespaced SecretStore instead: `vault`, `aws-secrets-manager` or `azure-key-vault`."""
    vault: VaultStore | None = None
    """Vault with Kubernetes auth as ServiceAccount `<name>-secrets-reader`."""
    aws: AwsStore | None = None
    """AWS Secrets Manager through IRSA (the role goes on `<name>-secrets-reader`)."""
    azure: AzureStore | None = None
    """Azure Key Vault through workload identity."""

    @model_validator(mode="after")
    def _section(self) -> CreatedStore:
        section = {"vault": "vault", "aws-secrets-manager": "aws", "azure-key-vault": "azure"}[self.type]
        if getattr(self, section) is None:
            raise ValueError(f"type is {self.type!r} but the '{section}' section is missing")
        return self


class OtherExternalSecret(Model):
    """Where the keys of a Secret a section names come from in the store."""

    remote_refs: dict[SecretKey, RemoteRef] = Field(default_factory=dict)
    """Where each of its keys comes from in the store; every key the pods read needs one."""


class ExternalSecrets(Model):
    """An ExternalSecret (External Secrets Operator) that produces the environment's Secret."""

    store_ref: StoreRef | None = None
    """An existing SecretStore or ClusterSecretStore (or set `create_store`)."""
    create_store: CreatedStore | None = None
    """Create a namespaced SecretStore instead of naming one."""
    refresh_interval: GoDuration = "1h"
    """ExternalSecret refresh, a Go duration (`1h`, `30m`)."""
    remote_refs: dict[SecretKey, RemoteRef] = Field(default_factory=dict)
    """Where each Secret key comes from in the store; every key the pods read needs one."""
    other_secrets: dict[DnsSubdomain, OtherExternalSecret] = Field(default_factory=dict)
    """An ExternalSecret of its own, from the same store, for a Secret a section names (e.g.
    `database.external.credentials.secret`): Secret name -> `remote_refs`. A Secret named by a section and not
    listed here is a prerequisite."""

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


class SealedValues(Model):
    """The ``kubeseal`` ciphertexts of one Secret, and what they were sealed for.

    The controller decrypts a value only where it was sealed for: ``strict`` binds it to a namespace and a
    Secret name, ``namespace-wide`` to a namespace, ``cluster-wide`` to nothing. The file states what the values
    were sealed with (``kubeseal --scope --namespace --name``), so synthesis can refuse to deploy them elsewhere.
    """

    scope: Literal["strict", "namespace-wide", "cluster-wide"]
    """`strict`, `namespace-wide` or `cluster-wide`: the `kubeseal --scope` the values were sealed with."""
    namespace: DnsLabel | None = None
    """strict and namespace-wide: the `kubeseal --namespace` they were sealed for (this environment's `namespace`)."""
    name: DnsSubdomain | None = None
    """strict: the `kubeseal --name` they were sealed for (`secrets.name`)."""
    encrypted_data: dict[SecretKey, Annotated[str, AfterValidator(_ciphertext)]] = Field(default_factory=dict)
    """`kubeseal --raw` ciphertext of each key the pods read (Secret key -> ciphertext)."""

    @model_validator(mode="after")
    def _bound_to(self) -> SealedValues:
        needed = {"strict": ("namespace", "name"), "namespace-wide": ("namespace",), "cluster-wide": ()}[self.scope]
        missing = [key for key in needed if getattr(self, key) is None]
        if missing:
            flags = " and ".join(f"{key} to the `kubeseal --{key}`" for key in missing)
            raise ValueError(
                f"scope {self.scope} binds each value to the {' and '.join(needed)} it was sealed for; set {flags} "
                "you sealed with"
            )
        extra = [key for key in ("namespace", "name") if key not in needed and getattr(self, key) is not None]
        if extra:
            raise ValueError(
                f"scope {self.scope} does not bind the values to a {' or '.join(extra)}; remove "
                f"{' and '.join(extra)}, or set the scope you sealed with"
            )
        return self


class SealedSecrets(SealedValues):
    """A SealedSecret whose ciphertexts (``kubeseal`` output) live in the config file, for the environment's
    Secret and for each Secret a section names for its own concern (``other_secrets``)."""

    other_secrets: dict[DnsSubdomain, SealedValues] = Field(default_factory=dict)
    """A SealedSecret of its own for a Secret a section names (e.g. `database.external.credentials.secret`):
    Secret name -> `scope`, `namespace`, `name` and `encrypted_data`, as above (strict: sealed with
    `--name <that Secret>`). A Secret named by a section and not listed here is a prerequisite."""


class AwsSecretsManagerProvider(Model):
    secret_name: str = Field(min_length=1)
    """Secret holding the plugin's settings (`CONFIG_AWS_SECRETS_NAME`)."""
    region: str = Field(min_length=1)
    """AWS region (`CONFIG_AWS_SECRETS_REGION`)."""
    cache_ttl_seconds: int = Field(300, ge=0)
    """Cache of the values, seconds."""


class AwsParameterStoreProvider(Model):
    prefix: str = Field(pattern=r"^/.*")
    """Parameter path prefix (`CONFIG_AWS_PARAMETER_STORE_PREFIX`)."""
    region: str = Field(min_length=1)
    """AWS region."""


class AzureKeyVaultProvider(Model):
    vault_name: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
    """Plugin provider `CONFIG_AZURE_KEYVAULT_NAME` (workload identity)."""


class VaultProvider(Model):
    address: HttpUrl
    """Vault address (`CONFIG_VAULT_ADDR`)."""
    path: str = Field(min_length=1)
    """Secret path (`CONFIG_VAULT_PATH`)."""
    kv_version: Literal[1, 2] = 2
    """KV engine version, 1 or 2."""
    namespace: str | None = None
    """Vault Enterprise namespace."""
    auth: Literal["approle", "token"] = "approle"
    """`approle` (`secret-id` key) or `token` (`token` key), read from `credentials_secret`."""
    role_id: str | None = None
    """AppRole role id (required with `approle`)."""
    credentials_secret: DnsSubdomain = "mlflow-vault-credentials"
    """Secret holding the AppRole `secret-id` or the `token`."""

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
    """`existing-secret`, `external-secrets`, `sealed-secrets`, or one of the oidc plugin's own providers:
    `aws-secrets-manager`, `aws-parameter-store`, `azure-key-vault`, `vault` (see "Secrets")."""
    name: DnsSubdomain = "mlflow-credentials"
    """Name of the Secret the pods read (created by you, by the ExternalSecret or by the SealedSecret)."""
    keys: SecretKeys = Field(default_factory=SecretKeys)
    """Key names inside the Secret, one per value the deployment may need."""
    generate: bool | None = None
    """provider `existing-secret`: a one-shot Job `<name>-keygen` creates the Secret in the cluster (or adds
    the keys it lacks) with random values for what the environment bundles: the PostgreSQL password, MinIO's root
    user and password, the MinIO user's S3 keys, the AI gateway's passphrase, basic's admin (`admin`, a random
    password you read from the Secret) and Flask secret, the oidc session and OAuth2-Proxy cookie secrets, the
    bundled Redis password. It never overwrites a key that exists: a value you set first stays yours. Unset: on
    when the provider is `existing-secret` and the environment bundles PostgreSQL or MinIO."""
    mount_as_files: MountAsFiles = Field(default_factory=MountAsFiles)
    """oidc mode: the plugin reads its keys from files."""
    external_secrets: ExternalSecrets | None = None
    """provider `external-secrets`: an ExternalSecret produces the Secret."""
    sealed_secrets: SealedSecrets | None = None
    """provider `sealed-secrets`: a SealedSecret with ciphertexts in this file."""
    aws_secrets_manager: AwsSecretsManagerProvider | None = None
    """oidc plugin provider `CONFIG_AWS_SECRETS_*` (IRSA)."""
    aws_parameter_store: AwsParameterStoreProvider | None = None
    """oidc plugin provider `CONFIG_AWS_PARAMETER_STORE_*` (IRSA)."""
    azure_key_vault: AzureKeyVaultProvider | None = None
    """oidc plugin provider `CONFIG_AZURE_KEYVAULT_NAME` (workload identity)."""
    vault: VaultProvider | None = None
    """oidc plugin provider `CONFIG_VAULT_*`."""

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
        if self.generate and self.provider != "existing-secret":
            raise ValueError(
                f"generate: true needs provider existing-secret, but provider is {self.provider!r}, which produces "
                "the Secret itself (and would replace generated keys); remove generate, or put the values in the "
                "provider's store"
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
