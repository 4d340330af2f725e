"""Scheduled ``pg_dump`` backups of the bundled PostgreSQL, with count retention: onto their own PVC, or
uploaded beside the artifact tree by a container of the server image with the server's credentials.

Each run writes ``<database>-<UTC timestamp>.dump`` (custom format, ``pg_restore`` reads it) for the
tracking and the auth database. A dump is written under a hidden temporary name and renamed only once
``pg_dump`` succeeded, so a failed run leaves no file that looks like a backup; old dumps are pruned only
after every dump of the run succeeded, and never the one just written. The password reaches ``pg_dump``
as ``PGPASSWORD`` from the Secret, never on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from constructs import Construct

from mlflow_constructs.config.base import Image
from mlflow_constructs.config.database import DatabaseBackup
from mlflow_constructs.database.access import POSTGRES_PORT
from mlflow_constructs.database.pre_upgrade import PreUpgradeBackup
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import cron_job, persistent_volume_claim
from mlflow_constructs.k8s.pods import TMP_MOUNT, claim_volume, empty_dir, env_values, mount, pod_template, resources
from mlflow_constructs.k8s.pods import container as make_container
from mlflow_constructs.secrets.source import SecretSource
from mlflow_constructs.storage.access import ArtifactAccess

BACKUP_DIR = "/backups"

# POSIX sh; reads DATABASES, KEEP and libpq's PG* variables. Dump names sort by time.
DUMP_SCRIPT = r"""cd "$BACKUP_DIR"
rm -f ./.*.dump.partial
trap 'rm -f ./.*.dump.partial' EXIT
stamp=$(date -u +%Y%m%dT%H%M%SZ)
for db in $DATABASES; do
  pg_dump --format=custom --no-password --dbname="$db" --file=".$db-$stamp.dump.partial"
  mv ".$db-$stamp.dump.partial" "$db-$stamp.dump"
  echo "wrote $BACKUP_DIR/$db-$stamp.dump ($(wc -c < "$db-$stamp.dump") bytes)"
done
for db in $DATABASES; do
  ls -1 | grep -E "^$db-[0-9]{8}T[0-9]{6}Z[.]dump$" | sort -r | tail -n +$((KEEP + 1)) | while read -r old; do
    if [ "$old" != "$db-$stamp.dump" ]; then rm -f -- "$old" && echo "pruned $old"; fi
  done
done
"""

# Python in the server image: MLflow's artifact repository for the store URI (S3/MinIO, Azure, GCS) with the
# server's env, so the same credentials. Uploads this run's dumps, then keeps the newest KEEP per database.
UPLOAD_SCRIPT = r"""import os, re, sys
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

uri, keep, made = os.environ["BACKUP_URI"], int(os.environ["KEEP"]), set()
repo = get_artifact_repository(uri)
for name in sorted(os.listdir(os.environ["BACKUP_DIR"])):
    if re.fullmatch(r"[^.].*-[0-9]{8}T[0-9]{6}Z[.]dump", name):
        repo.log_artifact(os.path.join(os.environ["BACKUP_DIR"], name))
        made.add(name)
        print(f"uploaded {uri}/{name}", flush=True)
if not made:
    sys.exit("no dump to upload")
stored = [f.path.rsplit("/", 1)[-1] for f in repo.list_artifacts() if not f.is_dir]
for db in os.environ["DATABASES"].split():
    dumps = sorted((n for n in stored if re.fullmatch(re.escape(db) + r"-[0-9]{8}T[0-9]{6}Z[.]dump", n)), reverse=True)
    for old in dumps[keep:]:
        if old not in made:
            repo.delete_artifacts(old)
            print(f"pruned {uri}/{old}", flush=True)
"""


# The migration Job's sidecar (POSIX sh, postgres image): for each ``<stamp>.request`` the Job writes into
# HANDOFF_DIR (the database names), a verified ``pg_dump -Fc`` of each into BACKUP_DIR, named
# ``<db>-pre-upgrade-<stamp>.dump`` (the scheduled dumps' retention never matches it); answers with
# ``<stamp>.ok`` (the file names) or ``<stamp>.failed`` (the error). Runs until the kubelet stops it.
SIDECAR_SCRIPT = r"""trap 'exit 0' TERM INT
cd "$HANDOFF_DIR"
while :; do
  for request in *.request; do
    [ -e "$request" ] || continue
    stamp=${request%.request}
    dbs=$(cat "$request")
    rm -f "$request"
    # A subshell of its own (not an `if` condition, where sh ignores -e): the first failure ends it.
    (
      set -eu
      cd "$BACKUP_DIR"
      for db in $dbs; do
        part=".$db-pre-upgrade-$stamp.dump.partial"
        pg_dump --format=custom --no-password --dbname="$db" --file="$part"
        pg_restore --list "$part" > /dev/null
        mv "$part" "$db-pre-upgrade-$stamp.dump"
        echo "$db-pre-upgrade-$stamp.dump"
        echo "pg-dump: $BACKUP_DIR/$db-pre-upgrade-$stamp.dump ($(wc -c < "$db-pre-upgrade-$stamp.dump") bytes)" >&2
      done
    ) > "$HANDOFF_DIR/.$stamp.out" 2> "$HANDOFF_DIR/$stamp.log"
    status=$?
    cat "$HANDOFF_DIR/$stamp.log" >&2
    if [ "$status" -eq 0 ]; then
      mv "$HANDOFF_DIR/.$stamp.out" "$HANDOFF_DIR/$stamp.ok"
    else
      rm -f "$BACKUP_DIR"/.*-pre-upgrade-"$stamp".dump.partial
      mv "$HANDOFF_DIR/$stamp.log" "$HANDOFF_DIR/$stamp.failed"
    fi
  done
  sleep 0.5
done
"""
HANDOFF_DIR = "/handoff"


@dataclass(frozen=True)
class DumpUpload:
    """Upload to ``uri`` in the artifact store (outside the tree MLflow serves, see
    :meth:`Environment.dump_upload_uri`): the server's image, ServiceAccount, store access (credentials) and
    the env of every MLflow container (``mlflow_env``, e.g. telemetry off)."""

    uri: str
    image: Image
    service_account: str
    artifacts: ArtifactAccess
    mlflow_env: Mapping[str, str] = field(default_factory=dict)


class PostgresDumps(Construct):
    """The CronJob ``<name>-postgresql-backup`` and its PVC ``<name>-postgresql-backups``, or with ``upload``
    a scratch volume and an upload container; ``selector`` selects its pods (admitted to PostgreSQL)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: DatabaseBackup,
        naming: Naming,
        image: Image,
        secrets: SecretSource,
        password_key: str,
        host: str,
        user: str,
        databases: tuple[str, ...],
        upload: DumpUpload | None = None,
    ) -> None:
        super().__init__(scope, id)
        component = naming.component("postgresql-backup")
        self.selector, labels = component.selector, component.labels
        self.claim_name = naming.name("postgresql-backups")
        settings = {"KEEP": str(config.keep), "BACKUP_DIR": BACKUP_DIR, "DATABASES": " ".join(databases)}
        connection = {"PGHOST": host, "PGPORT": str(POSTGRES_PORT), "PGUSER": user, "PGCONNECT_TIMEOUT": "30"}
        self._config, self._image, self._upload = config, image, upload
        self._connection_env = (*env_values(connection), secrets.env("PGPASSWORD", password_key))
        dump = make_container(
            "pg-dump",
            image,
            command=["/bin/sh", "-euc", DUMP_SCRIPT],
            env=[*env_values({**connection, **settings}), self._connection_env[-1]],
            resources=resources(config.resources),
            mounts=[mount("backups", BACKUP_DIR), TMP_MOUNT],
        )
        if upload is None:
            persistent_volume_claim(
                self,
                "pvc",
                name=self.claim_name,
                labels=labels,
                size=config.pvc.size,
                storage_class=config.pvc.storage_class,
            )
            template = pod_template(
                labels,
                containers=[dump],
                restart_policy="Never",
                volumes=[claim_volume("backups", self.claim_name), empty_dir("tmp", "64Mi")],
            )
        else:  # dump first (an init container), then upload what it wrote
            access = upload.artifacts
            uploader = make_container(
                "upload",
                upload.image,
                command=["python", "-c", UPLOAD_SCRIPT],
                env=[
                    *env_values({**settings, **upload.mlflow_env, "BACKUP_URI": upload.uri, "HOME": "/tmp"}),
                    *access.env,
                ],
                resources=resources(config.resources),
                mounts=[mount("backups", BACKUP_DIR, read_only=True), TMP_MOUNT, *access.mounts],
            )
            template = pod_template(
                {**labels, **access.pod_labels},
                init_containers=[dump],
                containers=[uploader],
                restart_policy="Never",
                service_account=upload.service_account,
                volumes=[empty_dir("backups", config.pvc.size), empty_dir("tmp", "64Mi"), *access.volumes],
            )
        self.name = component.name
        cron_job(self, "cronjob", component=component, schedule=config.schedule, template=template)

    def pre_upgrade(self, *, confirmed: bool) -> PreUpgradeBackup:
        """The migration Job's backup: a ``pg-dump`` sidecar of this image and connection writing onto the
        backups PVC, or onto a scratch volume whose dumps the Job's ``upgrade`` container uploads (as the
        CronJob's ``upload`` does, with the server's credentials) to the same place as the scheduled ones."""
        handoff = mount("handoff", HANDOFF_DIR)
        sidecar = make_container(
            "pg-dump",
            self._image,
            command=["/bin/sh", "-uc", SIDECAR_SCRIPT],
            env=[*self._connection_env, *env_values({"BACKUP_DIR": BACKUP_DIR, "HANDOFF_DIR": HANDOFF_DIR})],
            resources=resources(self._config.resources),
            mounts=[mount("backups", BACKUP_DIR), handoff, TMP_MOUNT],
        )
        settings = {"HANDOFF_DIR": HANDOFF_DIR, "BACKUP_DIR": BACKUP_DIR}
        handoff_volume = empty_dir("handoff", "1Mi")
        upload = self._upload
        if upload is None:
            volumes = (claim_volume("backups", self.claim_name), handoff_volume)
            return PreUpgradeBackup(
                mode="pg-dump",
                confirmed=confirmed,
                settings=settings,
                mounts=(handoff,),
                volumes=volumes,
                sidecar=sidecar,
            )
        access = upload.artifacts
        return PreUpgradeBackup(
            mode="pg-dump",
            confirmed=confirmed,
            settings={**settings, "BACKUP_URI": upload.uri},
            env=tuple(access.env),
            mounts=(handoff, mount("backups", BACKUP_DIR, read_only=True), *access.mounts),
            volumes=(empty_dir("backups", self._config.pvc.size), handoff_volume, *access.volumes),
            sidecar=sidecar,
        )
