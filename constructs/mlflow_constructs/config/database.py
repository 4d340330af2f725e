"""Config of the PostgreSQL database: bundled, CloudNativePG or external."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from mlflow_constructs import images
from mlflow_constructs.config.base import Image, Model, Resources, resources_of
from mlflow_constructs.config.types import (
    IMAGE_REFERENCE,
    Annotations,
    CronSchedule,
    DnsLabel,
    DnsSubdomain,
    Port,
    RetentionPolicy,
    SecretKey,
    StorageSize,
)


class BundledPostgres(Model):
    image: Image = Field(default_factory=lambda: Image.of(images.POSTGRES))
    """Bundled PostgreSQL image (same forms as `server.image`)."""
    storage_size: StorageSize = "10Gi"
    """PVC size."""
    storage_class: DnsSubdomain | None = None
    """PVC storage class (none: the cluster default)."""
    user: DnsLabel = "mlflow"
    """Database owner."""
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))
    """Container resources."""


# CloudNativePG reads the PostgreSQL version from the start of the image tag (GetPostgresVersionFromTag): digits
# and dots, a major below 10 with its minor.
_POSTGRES_VERSION = re.compile(r"^(\d+)(\.\d+)?")


class CloudNativePg(Model):
    instances: int = Field(1, ge=1, le=9)
    """CloudNativePG instances."""
    storage_size: StorageSize = "10Gi"
    """Storage per instance."""
    storage_class: DnsSubdomain | None = None
    """Storage class (none: the cluster default)."""
    image_name: str | None = None
    """PostgreSQL image (none: the operator's default), tagged with its PostgreSQL version as CloudNativePG's
    webhook requires, e.g. `ghcr.io/cloudnative-pg/postgresql:16.6` (a digest may follow the tag)."""

    @field_validator("image_name")
    @classmethod
    def _versioned(cls, image: str | None) -> str | None:
        if image is None:
            return None
        match = IMAGE_REFERENCE.match(image)
        version = _POSTGRES_VERSION.match(match["tag"] or "") if match else None
        if not match or version is None or (int(version[1]) < 10 and version[2] is None):
            raise ValueError(
                f"{image!r} is not an image tagged with a PostgreSQL version, which CloudNativePG's webhook requires "
                "(it refuses no tag, :latest or a digest alone: it reads the version from the tag); write "
                "registry/name:<version>, e.g. ghcr.io/cloudnative-pg/postgresql:16.6"
            )
        return image

    user: DnsLabel = "mlflow"
    """Application user (owner of both databases)."""
    resources: Resources = Field(default_factory=lambda: resources_of("100m", "256Mi", "1", "1Gi"))
    """Instance resources."""
    operator_namespace: DnsLabel = "cnpg-system"
    """Where the operator runs (allowed to reach the instances)."""


class BackupPvc(Model):
    size: StorageSize = "20Gi"
    """PVC size: room for `keep` dumps of both databases."""
    storage_class: DnsSubdomain | None = None
    """Storage class (none: the cluster default)."""


class BackupObjectStore(Model):
    """Where the Barman Cloud Plugin writes base backups and WAL."""

    destination_path: str = Field(pattern=r"^(s3://|gs://|https://)[^\s]+$")
    """`s3://<bucket>/<path>`, `gs://<bucket>/<path>` or `https://<account>.blob.core.windows.net/<container>/<path>`;
    not in the artifact tree (under the artifacts' prefix; anywhere in their bucket/container without one or with
    `proxied: false`)."""
    endpoint_url: HttpUrl | None = None
    """S3-compatible endpoint (none: AWS)."""
    credentials: Literal["secret", "workload-identity"] = "secret"
    """`secret` (the artifact keys of that cloud from the environment's Secret: `s3_access_key_id` and
    `s3_secret_access_key`, `azure_connection_string` or `gcs_key_json`) or `workload-identity` (IRSA, Azure or
    GKE workload identity of the instances' ServiceAccount, named like the Cluster)."""
    service_account_annotations: Annotations = Field(default_factory=dict)
    """Annotations on the instances' ServiceAccount, e.g. `eks.amazonaws.com/role-arn` for workload identity."""

    @property
    def cloud(self) -> str:
        return {"s3": "s3", "gs": "gcs"}.get(self.destination_path.split(":", 1)[0], "azure")


class DatabaseBackup(Model):
    """Scheduled backups of the bundled or CloudNativePG database (see "Backups and restore")."""

    enabled: bool | None = None
    """none: on for `bundled` (dumps to a PVC) and for `cloudnativepg` (the Barman Cloud Plugin; needs a
    destination: `object_store`, or derived beside the prefix of proxied S3/Azure/GCS artifacts with secret
    credentials)."""
    destination: Literal["pvc", "artifact-store"] = "pvc"
    """`bundled`: where dumps go: `pvc` (`database.backup.pvc`) or `artifact-store`: uploaded by a container of the
    server image, with the server's credentials, to `<bucket or container>/mlflow-backups/<prefix>/postgresql/`,
    beside the artifact tree MLflow serves (proxied S3, Azure or GCS artifacts with a non-empty `prefix` only)."""
    schedule: CronSchedule = "0 3 * * *"
    """When, in UTC: a 5-field cron expression (CloudNativePG gets it with a leading `0` seconds field)."""
    keep: int = Field(7, ge=1, le=1000)
    """`bundled`: how many of the newest dumps of each database are kept (on the PVC or in the artifact store)."""
    retention: RetentionPolicy = "30d"
    """`cloudnativepg`: how long base backups and WAL are kept (`<n>d`, `<n>w` or `<n>m`)."""
    resources: Resources = Field(default_factory=lambda: resources_of("50m", "128Mi", "1", "512Mi"))
    """`bundled`: resources of the dump and the upload container."""
    pvc: BackupPvc = Field(default_factory=BackupPvc)
    """`bundled`: the PVC `<name>-postgresql-backups` holding the dumps (`destination: artifact-store`: `size` limits
    the scratch volume the dumps are written to before the upload)."""
    object_store: BackupObjectStore | None = None
    """`cloudnativepg`: the backup destination, outside the artifact tree (none: derived where safe, as
    `<bucket or container>/mlflow-backups/<prefix>/cloudnativepg` beside the artifacts' prefix)."""


# The auth database is named `<database.name><AUTH_DATABASE_SUFFIX>`; PostgreSQL cuts names to 63 bytes (NAMEDATALEN
# - 1), so a longer one would create and reach another database than the manifests name (for a 63-character name:
# the tracking database itself).
AUTH_DATABASE_SUFFIX = "_auth"
POSTGRES_IDENTIFIER_MAX = 63


class DatabaseUpgrade(Model):
    """How schema migrations are made safe (see "Upgrades")."""

    backup_taken_for_image: Image | None = None
    """A schema migration takes a backup first: `bundled` and `cloudnativepg` with `database.backup` on take it
    themselves. Otherwise (an `external` database, backups off) the migration Job refuses to migrate until you
    have backed up every database yourself and set this to the `server.image` being rolled out; it counts for
    that image only."""


class ReadReplica(Model):
    """Reads of the tracking and model-registry stores from a PostgreSQL standby
    (`mlflow server --read-replica-backend-store-uri`); writes stay on the primary."""

    enabled: bool = False
    """Send the server's reads (searches, gets) to a read replica. `cloudnativepg`: the operator's
    `<cluster>-ro` Service, its standbys (needs `instances` >= 2); `external`: the URI in the Secret key
    `secrets.keys.read_replica_database_uri`. Off by default: a streaming standby lags the primary, and
    MLflow's clients read right after they write (`set_experiment` creates an experiment, then gets it), so a
    read may not yet see the write before it, and MLflow does not fall back to the primary while the replica is
    down (README, "Read replica")."""


class RegistryDatabase(Model):
    """The model-registry store in a database of its own (`mlflow server --registry-store-uri`), instead of
    beside the tracking store. The migration Job migrates it and the server pods wait for it, like the tracking
    database."""

    enabled: bool = False
    """Keep registered models, versions and aliases in their own database. `bundled` and `cloudnativepg`:
    the database `name` beside the tracking and auth ones, created and backed up with them; `external` with
    full URIs: the URI in the Secret key `secrets.keys.registry_database_uri`; with `database.external`: the
    database `name` on that server, reached with the same credentials. Off: the tracking database holds the
    registry."""
    name: DnsLabel = "mlflow-registry"
    """The registry database (not the tracking or the auth database); unused with full URIs."""

    @property
    def database(self) -> str | None:
        """``name`` when the registry has a database of its own, else ``None`` (the tracking database holds it)."""
        return self.name if self.enabled else None


class DatabaseCredentials(Model):
    """A user name and password kept in a Secret of their own, e.g. the `<cluster>-app` Secret of a
    CloudNativePG cluster run elsewhere (keys `username` and `password`)."""

    secret: DnsSubdomain | None = None
    """The Secret holding them (none: the environment's Secret, `secrets.name`). A Secret of another name is
    created by you or an operator and listed in the Namespace's prerequisites."""
    username_key: SecretKey = "username"
    """Key of the user name (read as `PGUSER`)."""
    password_key: SecretKey = "password"
    """Key of the password (read as `PGPASSWORD`: never in a URI, so any character is safe)."""


class ExternalPostgres(Model):
    """An external PostgreSQL reached by host and port, with the user name and password from a Secret: the
    store URIs are written without credentials and libpq reads them from `PGUSER` and `PGPASSWORD`."""

    host: DnsSubdomain
    """Host name or IPv4 address of the server, e.g. `postgres-cluster-rw.postgres` (a CloudNativePG `-rw`
    Service in another namespace)."""
    port: Port = 5432
    """Its port."""
    credentials: DatabaseCredentials = Field(default_factory=DatabaseCredentials)
    """Where the user name and password come from."""


class Database(Model):
    """The PostgreSQL database behind the tracking and model-registry stores."""

    type: Literal["bundled", "external", "cloudnativepg"] = "bundled"
    """`bundled`, `cloudnativepg` or `external`."""
    name: DnsLabel = "mlflow"
    """Tracking database; the auth database is `<name>_auth` (so at most 58 characters)."""
    bundled: BundledPostgres = Field(default_factory=BundledPostgres)
    """`type: bundled`: a PostgreSQL StatefulSet."""
    cloudnativepg: CloudNativePg = Field(default_factory=CloudNativePg)
    """`type: cloudnativepg`: a CloudNativePG `Cluster`."""
    backup: DatabaseBackup = Field(default_factory=DatabaseBackup)
    """Scheduled backups (`bundled` and `cloudnativepg`)."""
    upgrade: DatabaseUpgrade = Field(default_factory=DatabaseUpgrade)
    """Schema migrations (the migration Job)."""
    read_replica: ReadReplica = Field(default_factory=ReadReplica)
    """Reads from a standby (`cloudnativepg` with 2+ instances, or `external`)."""
    registry: RegistryDatabase = Field(default_factory=RegistryDatabase)
    """The model registry in a database of its own."""
    external: ExternalPostgres | None = None
    """`type: external`: host, port and a user name/password Secret; the URIs are composed in the pods (none:
    full URIs in the Secret keys `secrets.keys.database_uri` and `auth_database_uri`)."""

    @model_validator(mode="after")
    def _external_only(self) -> Database:
        if self.external is not None and self.type != "external":
            raise ValueError(
                f"database.external: describes an external database, but database.type is {self.type!r}; "
                "set database.type: external, or remove database.external"
            )
        return self

    @field_validator("name")
    @classmethod
    def _auth_name_fits(cls, name: str) -> str:
        longest = POSTGRES_IDENTIFIER_MAX - len(AUTH_DATABASE_SUFFIX)
        if len(name) > longest:
            raise ValueError(
                f"{name!r} has {len(name)} characters, too many for the auth database {name}{AUTH_DATABASE_SUFFIX}: "
                f"PostgreSQL cuts names to {POSTGRES_IDENTIFIER_MAX} characters; use at most {longest} characters"
            )
        return name

    @property
    def auth_name(self) -> str:
        """The auth database (basic-auth or the oidc plugin), beside the tracking one."""
        return f"{self.name}{AUTH_DATABASE_SUFFIX}"
