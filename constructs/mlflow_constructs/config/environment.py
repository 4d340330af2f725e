"""The typed model of one environment file (``config/<env>.yaml``): every section, and the
combinations of sections that cannot work together."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from mlflow_constructs import images
from mlflow_constructs.config.artifacts import Artifacts
from mlflow_constructs.config.auth import Auth
from mlflow_constructs.config.backup_location import (
    BACKUP_DIRECTORY,
    beside_artifacts,
    refusal,
    store_within_artifacts,
)
from mlflow_constructs.config.base import Model
from mlflow_constructs.config.database import BackupObjectStore, Database
from mlflow_constructs.config.maintenance import Maintenance
from mlflow_constructs.config.manifests import Manifest
from mlflow_constructs.config.network import Ingress, NetworkPolicies
from mlflow_constructs.config.secrets import SealedValues, Secrets
from mlflow_constructs.config.server import WORKSPACES_SINCE, Metrics, Server, image_release
from mlflow_constructs.config.types import Dns1035Label, DnsLabel, DnsSubdomain, Labels, PublicUrl
from mlflow_constructs.k8s.naming import RESERVED_LABEL_PREFIXES, RESERVED_LABELS


class Environment(Model):
    """One deployment target: everything ``config/<env>.yaml`` may hold."""

    namespace: DnsLabel = "mlflow"
    """Namespace created and used for every object."""
    name: Dns1035Label = "mlflow"
    """Base name of objects: Service/Deployment `mlflow`, `mlflow-postgresql`, `mlflow-minio`, ... A DNS-1035 label
    (it names a Service), as long as every name made from it fits (see README, "Name lengths")."""
    cluster_domain: DnsSubdomain = "cluster.local"
    """Cluster DNS domain, used for the allowed Host headers."""
    labels: Labels = Field(default_factory=dict)
    """Extra labels on every object. Keys the project sets are refused: `app.kubernetes.io/` `name`, `instance`,
    `part-of`, `managed-by`, `component`; `pod-security.kubernetes.io/*`, `kubernetes.io/metadata.name`."""
    cluster: DnsLabel | None = None
    """Cluster this environment deploys to: output goes to `dist/<cluster>/<env>.k8s.yaml` (one folder per
    cluster or Argo CD/Flux application); none: `dist/<env>.k8s.yaml`. Environments of one cluster must not
    write the same objects (synthesis checks)."""
    server: Server = Field(default_factory=Server)
    """The `mlflow server` process."""
    metrics: Metrics = Field(default_factory=Metrics)
    """Prometheus metrics and the ServiceMonitor that scrapes them."""
    ingress: Ingress = Field(default_factory=Ingress)
    """How traffic reaches MLflow from outside the cluster."""
    public_url: PublicUrl | None = None
    """The URL clients use, `https://<host>[<server.static_prefix>]`, where TLS terminates in front of what this
    environment deploys (Cloudflare Tunnel, a cloud load balancer, Traefik's default certificate): allowed Host
    headers, CORS origins, Secure cookies, the oidc redirect URI and OAuth2-Proxy's redirect URL follow it, with or
    without `ingress.enabled` (e.g. a tunnel to the Service). With the ingress enabled its host must be one of
    `ingress.hosts`, whose origins take its scheme; `http://` is refused where the route serves https. None: the
    scheme of the route (`ingress.tls`, `ingress.gateway.scheme`)."""
    secrets: Secrets = Field(default_factory=Secrets)
    """Where secret values come from (see "Secrets")."""
    database: Database = Field(default_factory=Database)
    """The PostgreSQL database behind the tracking and model-registry stores."""
    artifacts: Artifacts = Field(default_factory=Artifacts)
    """Where run artifacts and models are stored."""
    network_policies: NetworkPolicies = Field(default_factory=NetworkPolicies)
    """NetworkPolicies: default-deny ingress, one allow policy per flow."""
    auth: Auth = Field(default_factory=Auth)
    """Exactly one auth mode (see "Authentication")."""
    maintenance: Maintenance = Field(default_factory=Maintenance)
    """Scheduled housekeeping: `mlflow gc`, trace archival (see "Maintenance")."""
    extra_objects: tuple[Manifest, ...] = Field((), max_length=64)
    """More objects written to the output as given (`apiVersion`, `kind`, `metadata.name`, ...; namespace: the
    environment's unless `metadata.namespace` says otherwise), e.g. a SealedSecret, a ServiceMonitor of your own, a
    ReferenceGrant. Refused: a Secret with `data`/`stringData` (its values would be in `dist/`), cluster-scoped
    kinds, and an object the environment writes itself (same kind, namespace and name)."""

    @field_validator("labels")
    @classmethod
    def _own_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        for key in labels:
            why = RESERVED_LABELS.get(key) or next(
                (text for prefix, text in RESERVED_LABEL_PREFIXES.items() if key.startswith(prefix)), None
            )
            if why:
                raise ValueError(
                    f"{key!r} is reserved: {why}; remove it (use a key of your own, e.g. 'example.com/team')"
                )
        return labels

    @model_validator(mode="after")
    def _combinations(self) -> Environment:
        pods = self.server.max_pods
        if self.artifacts.type == "pvc" and pods > 1 and self.artifacts.pvc.access_mode != "ReadWriteMany":
            raise ValueError(
                "artifacts.pvc.access_mode: several server pods cannot share a "
                f"{self.artifacts.pvc.access_mode} volume; set access_mode: ReadWriteMany "
                "(and a storage_class that supports it), or use s3/minio/azure/gcs artifacts, or one replica"
            )
        if self.metrics.enabled and self.metrics.port == self.server.port:
            raise ValueError(
                f"metrics.port: {self.metrics.port} is server.port too; the metrics container listens beside MLflow "
                "in the same pod, so give it another port (default 9090)"
            )
        self._check_public_url()
        self._check_extra_mounts()
        self._check_auth()
        self._check_workspaces()
        self._check_secrets()
        self._check_backup()
        self._check_read_replica()
        self._check_registry()
        self._check_oidc_credentials()
        identity = _WORKLOAD_IDENTITY.get(self.artifacts.identity)
        if identity and identity[0] not in self.server.service_account_annotations:
            annotation, what = identity
            raise ValueError(
                f"artifacts.{self.artifacts.type}.credentials: {what} needs the ServiceAccount annotation "
                f"'{annotation}'; add it under server.service_account_annotations, or use credentials: secret"
            )
        return self

    def _check_auth(self) -> None:
        oidc = self.auth.oidc
        if self.auth.mode == "oidc" and "image" not in self.server.model_fields_set:
            built = images.MLFLOW_OIDC
            raise ValueError(
                "server.image: the oidc mode runs the mlflow-oidc-auth plugin, which the default MLflow image does "
                f"not carry, and no public image carries plugin {images.OIDC_PLUGIN_VERSION} with MLflow "
                f"{images.MLFLOW_VERSION}; build {built.dockerfile} and push it to your registry "
                f"(docker build -t <registry>/{built.name}:{built.tag} images/mlflow-oidc), then set "
                f"server.image: <registry>/{built.name}:{built.tag}"
            )
        public = self.public_url is not None
        reachable = self.ingress.enabled or public
        if self.auth.mode == "oidc" and oidc is not None and oidc.redirect_uri is None and not reachable:
            raise ValueError(
                "auth.oidc.redirect_uri: cannot be derived without an ingress or public_url; set it "
                "(https://<public host>/callback), or public_url (https://<public host>), or enable the ingress "
                "with its hosts"
            )
        first_host = self.ingress.hosts[0] if self.ingress.hosts else ""
        derives_callback = self.auth.mode == "oauth2-proxy" or (
            self.auth.mode == "oidc" and oidc is not None and oidc.redirect_uri is None
        )
        if derives_callback and not public and self.ingress.enabled and first_host.startswith("*."):
            fix = "or set auth.oidc.redirect_uri" if self.auth.mode == "oidc" else "(the proxy's callback)"
            raise ValueError(
                f"ingress.hosts: the login callback URL is derived from the first host, and {first_host!r} names no "
                f"single host (https://{first_host}/... is no URL a provider redirects to); list a host without '*' "
                f"first {fix}, or set public_url"
            )
        if self.auth.mode == "oauth2-proxy" and not reachable:
            raise ValueError(
                "auth.oauth2_proxy: needs ingress.enabled with hosts, or public_url where something outside this "
                "environment (a tunnel, a load balancer) sends clients to the proxy's Service, since the login "
                "callback URL (https://<host>/oauth2/callback) is derived from it"
            )
        if self.auth.mode == "oauth2-proxy" and self.public_scheme != "https":
            key, fix = ("ingress.tls", "set ingress.tls.secret_name")
            if self.ingress.kind == "httproute":
                key, fix = ("ingress.gateway.scheme", "attach the route to an HTTPS listener and set scheme: https")
            if public:
                key, fix = ("public_url", "serve MLflow over https and write public_url as https://")
            raise ValueError(
                f"{key}: oauth2-proxy mode needs TLS on the ingress; over plain HTTP cookies and bearer "
                "tokens would travel in clear text and the Secure session cookie would never come back "
                f"(a login loop); {fix}, or, where TLS terminates in front of the cluster (a tunnel, a load "
                "balancer), set public_url: https://<host>"
            )
        if self.secrets.cloud and self.server.job_execution and self.server.ai_gateway.enabled:
            raise ValueError(
                "server.job_execution: with secrets.provider "
                f"{self.secrets.provider!r} the AI gateway's passphrase (MLFLOW_CRYPTO_KEK_PASSPHRASE) comes from "
                "the plugin's store through the server launcher, which job execution replaces by `mlflow server`; "
                "turn job_execution off, or the gateway off (server.ai_gateway: false)"
            )
        self._check_kek_rotation()
        if self.auth.mode == "oidc" and self.server.static_prefix:
            raise ValueError(
                "server.static_prefix: the oidc plugin (mlflow-oidc-auth) serves its login (/login), callback "
                "(/callback), admin pages (/oidc/ui) and health checks (/health/...) at the root whatever MLflow's "
                "--static-prefix, so a route for the prefix alone would leave sign-in unreachable, and routing "
                "those root paths too would take them from the other applications on the host; give MLflow a "
                "host name of its own (ingress.hosts) and remove server.static_prefix"
            )

    def _check_kek_rotation(self) -> None:
        if not self.server.ai_gateway.rotate_kek:
            return
        keys = self.secrets.keys
        if keys.previous_kek_passphrase == keys.kek_passphrase:
            raise ValueError(
                "secrets.keys.previous_kek_passphrase: the rotation reads the old passphrase from it and the new one "
                f"from secrets.keys.kek_passphrase, and both name the Secret key {keys.kek_passphrase!r}; give the old "
                "passphrase a key of its own (default previous-kek-passphrase)"
            )
        if self.secrets.cloud:
            raise ValueError(
                "server.ai_gateway.rotate_kek: with secrets.provider "
                f"{self.secrets.provider!r} the passphrase comes from the plugin's store, which delivers no previous "
                "passphrase to the migration Job; rotate with a Kubernetes Secret provider, or remove rotate_kek"
            )

    def _check_public_url(self) -> None:
        if self.public_url is None:
            return
        url, prefix, ingress = urlsplit(self.public_url), self.server.static_prefix or "", self.ingress
        if url.path != prefix:
            raise ValueError(
                f"public_url: its path {url.path or '(none)'!r} is not where MLflow serves (server.static_prefix: "
                f"{prefix or 'none'}), and a front that rewrites paths is not supported; write public_url as "
                f"{url.scheme}://{url.netloc}{prefix}, or set server.static_prefix: {url.path or '(remove it)'}"
            )
        if not ingress.enabled:
            return
        host = str(url.hostname)
        if not any(_serves(pattern, host) for pattern in ingress.hosts):
            raise ValueError(
                f"public_url: {host} is none of ingress.hosts ({', '.join(ingress.hosts)}), so this environment's "
                "route would not serve it; add it to ingress.hosts, or write public_url with one of them"
            )
        https = [kind for kind in ingress.route_kinds if ingress.route_scheme(kind) == "https"]
        if url.scheme == "http" and https:
            key = "ingress.gateway.scheme" if https[0] == "httproute" else "ingress.tls"
            raise ValueError(
                f"public_url: http:// contradicts {key}, by which the route serves https; clients would be sent to "
                f"plain HTTP URLs (CORS origins, login callbacks): write public_url as https://{url.netloc}{url.path}"
                f"{', or set ingress.gateway.scheme: http' if key.endswith('scheme') else ', or remove ingress.tls'}"
            )

    def _check_extra_mounts(self) -> None:
        names = [volume.name for volume in self.server.extra_volumes]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"server.extra_volumes: {twice[0]!r} is named twice; give each volume a name of its own")
        paths = [m.mount_path for m in self.server.extra_mounts]
        for mount in self.server.extra_mounts:
            if mount.name not in names:
                raise ValueError(
                    f"server.extra_mounts: {mount.name!r} is none of server.extra_volumes "
                    f"({', '.join(names) or 'none'}); add the volume there, or mount one of them"
                )
            if paths.count(mount.mount_path) > 1:
                raise ValueError(
                    f"server.extra_mounts: two mounts at {mount.mount_path}; give each a folder of its own"
                )

    @property
    def public_scheme(self) -> str:
        """The scheme clients use: ``public_url``'s, else the route's (``ingress.tls``, the Gateway listener)."""
        return urlsplit(self.public_url).scheme if self.public_url else self.ingress.scheme

    def _check_workspaces(self) -> None:
        if not self.server.workspaces.enabled:
            return
        if self.auth.mode not in ("basic", "oidc"):
            raise ValueError(
                f"server.workspaces: auth.mode {self.auth.mode!r} grants nothing per user, so every user would list "
                "and read every workspace; use auth.mode basic or oidc (their workspace permissions isolate "
                "workspaces), or turn workspaces off"
            )
        version = image_release(self.server.image)
        if version is not None and version < WORKSPACES_SINCE:
            raise ValueError(
                f"server.image: {self.server.image.ref} carries MLflow {'.'.join(map(str, version))}, and workspaces "
                f"(--enable-workspaces) came with MLflow {'.'.join(map(str, WORKSPACES_SINCE))}; use a newer image "
                "or turn server.workspaces off"
            )

    @property
    def backups_enabled(self) -> bool:
        """Whether the database is backed up by this environment (see ``database.backup.enabled``)."""
        enabled = self.database.backup.enabled
        return self.database.type != "external" and enabled is not False

    @property
    def upgrade_backup_confirmed(self) -> bool:
        """Whether ``database.upgrade.backup_taken_for_image`` names the image being rolled out."""
        taken_for = self.database.upgrade.backup_taken_for_image
        return taken_for is not None and taken_for.ref == self.server.image.ref

    @property
    def backup_object_store(self) -> BackupObjectStore | None:
        """CloudNativePG's backup destination: configured, or beside the artifact tree (see
        :func:`beside_artifacts`) when the artifacts are reached with Secret credentials (workload identity is
        bound to the server's ServiceAccount, not the instances')."""
        backup, artifacts = self.database.backup, self.artifacts
        if backup.object_store is not None:
            return backup.object_store
        if not artifacts.identity.endswith(":secret") or self._s3_keys_elsewhere:
            return None
        path = beside_artifacts(artifacts, "cloudnativepg", barman=True)
        endpoint = artifacts.s3.endpoint_url if artifacts.type == "s3" else None
        return BackupObjectStore(destination_path=path, endpoint_url=endpoint) if path else None

    @property
    def _s3_keys_elsewhere(self) -> bool:
        """Whether the S3 artifacts' keys come from a Secret of their own (``artifacts.s3.access_keys``)."""
        return (
            self.artifacts.type == "s3" and self.artifacts.s3 is not None and self.artifacts.s3.access_keys is not None
        )

    @property
    def dump_upload_uri(self) -> str | None:
        """Where ``destination: artifact-store`` uploads the bundled PostgreSQL's dumps: beside the artifact
        tree (see :func:`beside_artifacts`), never where MLflow serves artifacts."""
        return beside_artifacts(self.artifacts, "postgresql")

    def _check_backup(self) -> None:
        db, backup = self.database, self.database.backup
        given = backup.model_fields_set
        if db.type == "external":
            if "backup" in db.model_fields_set and backup.enabled is not False:
                raise ValueError(
                    "database.backup: an external database is backed up where it runs (its provider's snapshots "
                    "or point-in-time recovery); remove database.backup or set database.backup.enabled: false"
                )
            return
        own, other = ({"keep", "pvc", "resources", "destination"}, {"retention", "object_store"})
        if db.type == "cloudnativepg":
            own, other = other, own
        misplaced = sorted(given & other)
        if misplaced:
            raise ValueError(
                f"database.backup.{misplaced[0]}: applies only to the other database type, not to "
                f"type {db.type!r} (which uses {', '.join(sorted(own))}); remove it"
            )
        if not self.backups_enabled:
            return
        if backup.destination == "artifact-store" and db.type == "bundled" and self.dump_upload_uri is None:
            raise ValueError(
                "database.backup.destination: artifact-store would put the dumps (with the auth database's "
                f"password hashes) where MLflow users can read artifacts: {refusal(self.artifacts)}; dumps go "
                "only beside a non-empty prefix of proxied s3/azure/gcs artifacts "
                f"(<bucket>/{BACKUP_DIRECTORY}/<prefix>/postgresql); use destination: pvc, or on a new install set "
                "artifacts.<type>.prefix (moving the prefix of an existing install orphans the artifacts logged "
                "under the old one)"
            )
        if db.type != "cloudnativepg":
            return
        explicit = backup.object_store
        if explicit is not None and store_within_artifacts(self.artifacts, explicit):
            raise ValueError(
                f"database.backup.object_store.destination_path: {explicit.destination_path} lies in the artifact "
                "tree (with artifacts.proxied: false, the whole bucket/container clients read), where MLflow users "
                "could read the base backups and WAL; use another bucket/container, or a path beside "
                f"artifacts.{self.artifacts.type}.prefix (e.g. <bucket>/{BACKUP_DIRECTORY}/<prefix>/cloudnativepg)"
            )
        if self.backup_object_store is None:
            why = refusal(self.artifacts) or (
                "the artifacts' keys are named in artifacts.s3.access_keys, which the instances' backup "
                "credentials (secrets.keys.s3_access_key_id, s3_secret_access_key) do not follow"
                if self._s3_keys_elsewhere
                else "the artifacts' workload identity is bound to the server's ServiceAccount, not the instances'"
            )
            raise ValueError(
                "database.backup.object_store: CloudNativePG backups need an object store, and none can be "
                f"derived beside the artifact tree ({why}); set database.backup.object_store.destination_path "
                "(s3://, gs:// or https://<account>.blob.core.windows.net/...) in another bucket/container or "
                f"beside the artifacts' prefix (<bucket>/{BACKUP_DIRECTORY}/<prefix>/cloudnativepg), with its "
                "credentials, or database.backup.enabled: false"
            )

    def _check_read_replica(self) -> None:
        db = self.database
        if not db.read_replica.enabled:
            return
        if db.type == "bundled":
            raise ValueError(
                "database.read_replica: the bundled PostgreSQL runs one instance, without standbys; use "
                "database.type: cloudnativepg with instances >= 2, or an external database with a replica "
                "(its URI in the Secret key secrets.keys.read_replica_database_uri), or remove read_replica"
            )
        if db.type == "cloudnativepg" and db.cloudnativepg.instances < 2:
            raise ValueError(
                "database.read_replica: CloudNativePG serves reads from its standbys (<cluster>-ro), and with "
                f"instances: {db.cloudnativepg.instances} there are none; set database.cloudnativepg.instances: 2 or "
                "more, or remove read_replica"
            )

    def _check_oidc_credentials(self) -> None:
        oidc = self.auth.oidc
        delivery = self.secrets.plugin_delivery
        if oidc is None or oidc.credentials is None or delivery == "env":
            return
        if delivery == "files":
            raise ValueError(
                "auth.oidc.credentials: names a Secret the pods read as env vars, but with "
                "secrets.mount_as_files.enabled the plugin reads its session key and client from the files of "
                "secrets.name; remove auth.oidc.credentials (spell the keys in secrets.keys), or set "
                "secrets.mount_as_files.enabled: false"
            )
        raise ValueError(
            f"auth.oidc.credentials: names a Secret, but with secrets.provider {self.secrets.provider!r} the plugin "
            "reads its session key and client from the cloud store (entries SECRET_KEY, OIDC_CLIENT_ID and "
            "OIDC_CLIENT_SECRET); remove auth.oidc.credentials"
        )

    def _check_registry(self) -> None:
        db = self.database
        if not db.registry.enabled:
            return
        if db.read_replica.enabled:
            raise ValueError(
                "database.registry: MLflow sends the model registry's reads to the read replica of the tracking "
                "database (--read-replica-backend-store-uri serves both stores), which does not hold the registry; "
                "remove database.read_replica, or database.registry"
            )
        full_uris = db.type == "external" and db.external is None  # the registry's URI names its database
        if not full_uris and db.registry.name in (db.name, db.auth_name):
            raise ValueError(
                f"database.registry.name: {db.registry.name!r} is the tracking or the auth database; name a "
                "database of its own on that server, e.g. mlflow-registry, or remove database.registry"
            )

    def _check_secrets(self) -> None:
        secrets = self.secrets
        if secrets.plugin_delivery != "env" and self.auth.mode != "oidc":
            what = (
                "secrets.mount_as_files" if secrets.mount_as_files.enabled else f"secrets.provider {secrets.provider!r}"
            )
            raise ValueError(
                f"{what}: only the oidc plugin reads its settings from files or cloud providers; "
                "use auth.mode: oidc, or provider existing-secret/external-secrets/sealed-secrets with env delivery"
            )
        sealed = secrets.sealed_secrets
        if secrets.provider == "sealed-secrets" and sealed is not None:
            self._check_sealing(sealed, self.secrets.name, "secrets.sealed_secrets")
            for secret, values in sealed.other_secrets.items():
                self._check_sealing(values, secret, f"secrets.sealed_secrets.other_secrets.{secret}")
        needed = {
            "aws-secrets-manager": ("eks.amazonaws.com/role-arn", "IRSA"),
            "aws-parameter-store": ("eks.amazonaws.com/role-arn", "IRSA"),
            "azure-key-vault": ("azure.workload.identity/client-id", "Azure workload identity"),
        }.get(secrets.provider)
        if needed and needed[0] not in self.server.service_account_annotations:
            raise ValueError(
                f"secrets.provider: {secrets.provider!r} reads the store with {needed[1]}; add the ServiceAccount "
                f"annotation '{needed[0]}' under server.service_account_annotations"
            )

    def _check_sealing(self, sealed: SealedValues, secret: str, key_path: str) -> None:
        """Sealed values decrypt only where they were sealed for (see ``SealedValues``): the environment's
        namespace and, with ``strict``, the Secret ``secret`` the SealedSecret is named after."""
        scope, namespace, name = sealed.scope, sealed.namespace, sealed.name
        reseal = (
            f"re-seal every value for where it is deployed (`kubeseal --raw --scope {scope} --namespace "
            f"{self.namespace}{f' --name {secret}' if name else ''}`) and put the new ciphertexts, "
            f"namespace{' and name' if name else ''} in {key_path}, or seal with --scope cluster-wide"
        )
        if namespace is not None and namespace != self.namespace:
            raise ValueError(
                f"{key_path}.namespace: the values were sealed for namespace {namespace!r} ({scope}), "
                f"but this environment deploys the SealedSecret to namespace {self.namespace!r}, where the "
                f"controller cannot decrypt them; {reseal}"
            )
        if name is not None and name != secret:
            where = "secrets.name" if key_path == "secrets.sealed_secrets" else "the Secret it is listed under"
            fix = f"set secrets.name: {name}, or " if key_path == "secrets.sealed_secrets" else ""
            raise ValueError(
                f"{key_path}.name: the values were sealed for a Secret named {name!r} (strict), but "
                f"the SealedSecret is named {secret!r} ({where}), so the controller cannot decrypt "
                f"them; {fix}{reseal}"
            )


def _serves(pattern: str, host: str) -> bool:
    """Whether a route host (``*.example.org`` matches one label) serves ``host``."""
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return pattern == host


# Workload identity -> (ServiceAccount annotation it relies on, name in messages).
_WORKLOAD_IDENTITY = {
    "s3:irsa": ("eks.amazonaws.com/role-arn", "IRSA"),
    "azure:workload-identity": ("azure.workload.identity/client-id", "Azure workload identity"),
    "gcs:workload-identity": ("iam.gke.io/gcp-service-account", "GKE workload identity"),
}
