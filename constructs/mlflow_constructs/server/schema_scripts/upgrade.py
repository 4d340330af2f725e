"""The migration Job: MLflow's upgrade procedure, the same under ``kubectl apply``, Argo CD and Flux.

MLflow's guide: stop the server, back up the database, run ``mlflow db upgrade``, start the new server.
The server pods never migrate (their ``wait-for-schema`` gate holds them until every store is at the
image's head), so this Job is the only migrator, and it runs the guide's steps in order:

1. one migrator at a time: a PostgreSQL advisory lock on the tracking database (several Jobs, e.g. an
   old one retrying beside a new one, take turns; the later one finds the schema current);
2. compare each store's revision with the image's head (``stores.py``); all current: nothing to do, exit 0
   (a patch release or a config change rolls the servers without stopping anything);
3. refusals, before anything is touched (exit 3): a revision the image does not know; basic-auth's
   explicit denies that MLflow's migration to roles would drop; no backup possible and none confirmed;
   no right to fence the database;
4. fence every database of the image: the tracking database by table locks held in a session of this
   process (:class:`TrackingFence`: the old servers' writes wait, their reads go on), the auth databases
   read-only for new sessions (``stores.raise_fence``: their writes fail);
5. back up and verify: ``pg_dump -Fc`` of each database by the ``pg-dump`` sidecar (postgres image) onto the
   backup volume, or uploaded beside the artifacts; an on-demand CloudNativePG ``Backup``; or the operator's
   own backup, confirmed in the config;
6. migrate each store with the image's own code: the tracking store inside the lock session (its commit
   lifts that fence), then a model-registry database of its own (``mlflow db upgrade``, fenced read-only like
   the auth databases), then basic-auth's or the oidc plugin's ``migrate`` in sessions that alone may write;
7. lift the read-only fence for the new servers; old sessions opened under it stay read-only until their
   servers are replaced;
8. with workspaces on (``MLFLOW_ENABLE_WORKSPACES``), still holding the lock: the data from before workspaces
   is in MLflow's workspace ``default``. MLflow's schema migration gave every experiment, model and prompt
   that workspace and created it; the Job creates it if it is missing and reports what it holds, and changes
   nothing when it is there (a second run, a config change). It never runs ``mlflow db
   migrate-to-default-workspace``, which would move every other workspace's data into ``default`` too.
9. with ``ROTATE_KEK=true`` (``server.ai_gateway.rotate_kek``), rotate the AI gateway's passphrase: checked
   before step 2 (every stored key must unwrap with the previous passphrase at ``MLFLOW_CRYPTO_KEK_VERSION``
   - 1 or with the current one at that version, else a refusal), then, in one transaction holding the
   ``secrets`` table, checked again and guarded (``kek.guard``: the old servers can no longer store a key
   under the previous version), then ``mlflow crypto rotate-kek`` (one transaction of its own, only the keys
   still at the previous version: running it again re-wraps nothing) and a check that the current
   passphrase now unwraps every key, which is what the new servers' gate waits for.

Any failure after step 4 releases the locks, lifts the read-only fence and ends the sessions opened under
it, so the old servers write again (exit 1); PostgreSQL runs each store's migration in one transaction, so a
failed one leaves its store as it was.

Env: ``SCHEMA_STORES``; ``BACKUP`` (``pg-dump``, ``cloudnativepg`` or ``none``), ``BACKUP_CONFIRMED``,
``HANDOFF_DIR`` and ``BACKUP_DIR`` (pg-dump), ``BACKUP_URI`` (upload), ``CNPG_CLUSTER`` and
``CNPG_PLUGIN`` (cloudnativepg), ``ACCEPT_DROPPED_DENIES`` (basic-auth); ``ROTATE_KEK``,
``MLFLOW_CRYPTO_KEK_PASSPHRASE``, ``MLFLOW_CRYPTO_KEK_VERSION`` and ``PREVIOUS_KEK_PASSPHRASE`` (rotation).
"""

from __future__ import annotations

import os

os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c default_transaction_read_only=off").strip()
os.environ["PGAPPNAME"] = "mlflow-k8s-upgrade"

import json
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import kek
import sqlalchemy
import stores

ADVISORY_LOCK = 0x6D6C666C6F77  # "mlflow": one migrator at a time, per tracking database
REFUSED = 3  # exit code of a refusal: the Job's podFailurePolicy fails it at once
ROLES = "e5f6a7b8c9d0"  # MLflow 3.17's basic-auth migration of permissions to roles
CONFIRM_KEY = "database.upgrade.backup_taken_for_image"
started = time.monotonic()
events: dict[str, float] = {}


class Refusal(Exception):
    """The upgrade cannot go ahead; nothing has been changed."""


def say(message: str) -> None:
    print(f"[upgrade +{time.monotonic() - started:5.1f}s] {message}", flush=True)


def mark(event: str) -> None:
    events[event] = time.time()


def wait_until_reachable(store: stores.Store, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with store.engine().connect() as conn:
                conn.execute(sqlalchemy.text("SELECT 1"))
            return
        except sqlalchemy.exc.OperationalError as exc:
            if time.monotonic() > deadline:
                raise
            say(f"waiting for the {store.kind} database ({type(exc).__name__})")
            time.sleep(2)


def dropped_denies(store: stores.Store, conn: sqlalchemy.Connection) -> list[str]:
    """basic-auth: the explicit NO_PERMISSIONS grants MLflow's migration to roles (``ROLES``) would skip,
    so that those users get ``default_permission`` instead; none if that migration ran or is not in the image."""
    scripts = store.scripts
    if scripts.get_revision(ROLES) is None:
        raise Refusal(f"this MLflow has no basic-auth migration {ROLES}; the deny check does not fit it")
    tables = set(sqlalchemy.inspect(conn).get_table_names())
    current = store.revision(conn)
    if current != "none" and ROLES in {r.revision for r in scripts.iterate_revisions(current, "base")}:
        return []
    if "users" not in tables:
        return []
    denies = []
    for table in sorted(t for t in tables if t.endswith("_permissions") and t != "role_permissions"):
        rows = conn.execute(
            sqlalchemy.text(
                f"SELECT u.username, p.* FROM {table} p JOIN users u ON u.id = p.user_id "
                "WHERE p.permission = 'NO_PERMISSIONS'"
            )
        ).mappings()
        for row in rows:
            what = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("id", "user_id", "permission"))
            denies.append(f"{table}: {what}")
    return denies


def check_denies(store: stores.Store, conn: sqlalchemy.Connection) -> None:
    from mlflow.server.auth.config import read_auth_config

    default = read_auth_config().default_permission
    denies = dropped_denies(store, conn)
    if not denies or default == "NO_PERMISSIONS" or os.environ.get("ACCEPT_DROPPED_DENIES") == "true":
        return
    shown = "\n  ".join(denies[:20]) + ("\n  ..." if len(denies) > 20 else "")
    raise Refusal(
        f"MLflow's migration to roles drops the {len(denies)} explicit NO_PERMISSIONS grant(s) below, and those "
        f"users would get default_permission {default} instead:\n  {shown}\n"
        "Set auth.basic.default_permission: NO_PERMISSIONS (and grant access explicitly), remove the denies, or "
        "set auth.basic.accept_dropped_denies: true to accept the wider access; then synthesize and apply again "
        "(the new setting gives the migration Job a new name, so it runs again)."
    )


def backup_plan() -> str:
    mode = os.environ.get("BACKUP", "none")
    if mode == "none" and os.environ.get("BACKUP_CONFIRMED") != "true":
        raise Refusal(
            "the database schema must be migrated and this deployment cannot back the databases up itself "
            "(an external database, or database.backup.enabled: false). Back up every database of this "
            f"deployment, then set {CONFIRM_KEY} to this server.image and apply again."
        )
    return mode


def dump_with_sidecar(names: list[str], stamp: str) -> list[Path]:
    """Ask the ``pg-dump`` sidecar for a verified ``pg_dump -Fc`` of each database; the files it wrote."""
    handoff = Path(os.environ["HANDOFF_DIR"])
    request = handoff / f"{stamp}.request"
    partial = handoff / f".{stamp}.request"
    partial.write_text(" ".join(names) + "\n")
    partial.rename(request)
    deadline = time.monotonic() + float(os.environ.get("DUMP_TIMEOUT_SECONDS", "3600"))
    while True:
        if (handoff / f"{stamp}.ok").exists():
            files = (handoff / f"{stamp}.ok").read_text().split()
            return [Path(os.environ["BACKUP_DIR"]) / name for name in files]
        if (handoff / f"{stamp}.failed").exists():
            raise RuntimeError(f"pg_dump failed:\n{(handoff / f'{stamp}.failed').read_text()[-4000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("pg_dump did not finish in DUMP_TIMEOUT_SECONDS")
        time.sleep(0.2)


def upload(files: list[Path]) -> list[str]:
    """Upload the dumps to ``BACKUP_URI`` with the server's artifact credentials; their URIs, checked by listing."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    uri = os.environ["BACKUP_URI"]
    repo = get_artifact_repository(uri)
    for path in files:
        repo.log_artifact(str(path))
    stored = {f.path.rsplit("/", 1)[-1]: f.file_size for f in repo.list_artifacts() if not f.is_dir}
    missing = [p.name for p in files if stored.get(p.name) != p.stat().st_size]
    if missing:
        raise RuntimeError(f"uploaded dumps missing or truncated in {uri}: {missing}")
    return [f"{uri}/{p.name}" for p in files]


def cloudnativepg_backup(stamp: str) -> str:
    """An on-demand ``Backup`` of the CloudNativePG cluster (its Barman Cloud Plugin), waited for."""
    import requests

    # The pod's projected token, CA and namespace. SERVICE_ACCOUNT_DIR points elsewhere only where this runs
    # outside a pod: the API-server tests call this function with a real token of the ServiceAccount.
    account = Path(os.environ.get("SERVICE_ACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount"))
    namespace = (account / "namespace").read_text().strip()
    api = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
    base = f"{api}/apis/postgresql.cnpg.io/v1/namespaces/{namespace}/backups"
    session = requests.Session()
    session.verify = str(account / "ca.crt")
    session.headers["Authorization"] = f"Bearer {(account / 'token').read_text().strip()}"
    cluster = os.environ["CNPG_CLUSTER"]
    name = f"{cluster}-pre-upgrade-{stamp.lower()}"
    body = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "mlflow-k8s"}},
        "spec": {
            "cluster": {"name": cluster},
            "method": "plugin",
            "pluginConfiguration": {"name": os.environ["CNPG_PLUGIN"]},
        },
    }
    response = session.post(base, json=body, timeout=30)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"creating Backup {name}: HTTP {response.status_code} {response.text[:500]}")
    deadline = time.monotonic() + float(os.environ.get("DUMP_TIMEOUT_SECONDS", "3600"))
    while True:
        response = session.get(f"{base}/{name}", timeout=30)
        if response.status_code != 200:  # deleted meanwhile, or the token no longer valid
            raise RuntimeError(f"reading Backup {name}: HTTP {response.status_code} {response.text[:500]}")
        status = response.json().get("status") or {}
        if status.get("phase") == "completed":
            return f"Backup/{name}"
        if status.get("phase") == "failed":
            raise RuntimeError(f"Backup {name} failed: {status.get('error', 'no error given')}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Backup {name} not completed in DUMP_TIMEOUT_SECONDS (phase {status.get('phase')})")
        time.sleep(5)


def take_backup(mode: str, names: list[str]) -> list[str]:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if mode == "pg-dump":
        files = dump_with_sidecar(names, stamp)
        if os.environ.get("BACKUP_URI"):
            return upload(files)
        return [str(p) for p in files]
    if mode == "cloudnativepg":
        return [cloudnativepg_backup(stamp)]
    return [f"none taken here: confirmed by {CONFIRM_KEY}"]


def migrate(store: stores.Store) -> None:
    """The image's own migration of ``store``, in this process (whose sessions alone may write)."""
    if store.kind in ("tracking", "registry"):
        from mlflow.db import upgrade

        upgrade.main(args=[store.uri], prog_name="mlflow db upgrade", standalone_mode=False)
    elif store.kind == "basic-auth":
        from mlflow.server.auth.db.utils import migrate as migrate_auth

        engine = store.engine()
        migrate_auth(engine, "head")
        engine.dispose()
    else:
        from mlflow_oidc_auth.db.utils import migrate as migrate_plugin

        engine = store.engine()
        migrate_plugin(engine, "head")
        engine.dispose()


def run() -> int:
    stores.load_plugin_providers()
    all_stores = stores.stores_from_env()
    for store in all_stores:
        wait_until_reachable(store, float(os.environ.get("WAIT_TIMEOUT_SECONDS", "600")))
    with ExitStack() as stack:
        lock = stack.enter_context(stores.autocommit(all_stores[0].uri))
        if not lock.execute(sqlalchemy.text(f"SELECT pg_try_advisory_lock({ADVISORY_LOCK})")).scalar():
            say("another migration is running; waiting for it")
            lock.execute(sqlalchemy.text(f"SELECT pg_advisory_lock({ADVISORY_LOCK})"))
        dbs = {key: stack.enter_context(stores.autocommit(uri)) for key, uri in stores.databases(all_stores).items()}
        tracking = all_stores[0]
        keks = rotation_keys() if os.environ.get("ROTATE_KEK") == "true" else None
        if keks is not None:
            check_rotation(kek.stored(dbs[tracking.database]), keks)
        migrate_schema(all_stores, dbs)
        if keks is not None:
            rotate(tracking, keks)
        return 0


def migrate_schema(all_stores: list[stores.Store], dbs: dict[str, sqlalchemy.Connection]) -> None:
    """Steps 2-8 on the databases ``dbs`` (autocommit connections), under the advisory lock."""
    states = {store.kind: store.state(dbs[store.database]) for store in all_stores}
    for store in all_stores:
        revision = store.revision(dbs[store.database])
        say(f"{store.kind}: {states[store.kind]} (database at {revision}, image head {store.head()})")
    behind = [s for s in all_stores if states[s.kind] != "current"]
    if not behind:
        for key, conn in dbs.items():
            if stores.fenced(conn):
                stores.lift_fence(conn, end_sessions=True)
                say(f"lifted the fence an interrupted run left on {key}")
        say("every store is at the image's head: nothing to migrate")
        adopt_default_workspace(all_stores[0])
        return
    populated = [s for s in behind if states[s.kind] == "behind"]
    for store in behind:
        if store.kind == "basic-auth":
            check_denies(store, dbs[store.database])
    if populated:
        mode = backup_plan()
        migrate_fenced(all_stores, behind, dbs, mode, tracking_empty=states["tracking"] == "empty")
    else:
        for store in behind:
            migrate_checked(store)
    adopt_default_workspace(all_stores[0])
    print("upgrade-summary " + json.dumps(events, sort_keys=True), flush=True)


def rotation_keys() -> dict[int, bytes]:
    """The keys of the rotation by version: the previous passphrase's and the current one's."""
    version = kek.current_version()
    if version < 2:
        raise Refusal(f"{kek.VERSION} is {version}: a rotation re-wraps the stored keys to a version >= 2")
    return {
        version - 1: kek.derive(os.environ[kek.PREVIOUS], version - 1),
        version: kek.derive(os.environ[kek.PASSPHRASE], version),
    }


def check_rotation(rows: list[tuple[str, int, bytes]], keks: dict[int, bytes]) -> None:
    """Refuse unless every stored key unwraps with the previous key or is already re-wrapped to the current."""
    misfits = kek.misfits(rows, keks)
    if misfits:
        previous, version = sorted(keks)
        raise Refusal(
            f"the passphrase rotation cannot re-wrap {len(misfits)} stored AI gateway key(s): {kek.shown(misfits)}. "
            f"Neither secrets.keys.previous_kek_passphrase at version {previous} nor secrets.keys.kek_passphrase at "
            f"version {version} unwraps them. Put the passphrase they were stored with in the Secret key of "
            "previous_kek_passphrase and set server.ai_gateway.kek_version to one more than their version, then "
            "apply again"
        )


def rotate(tracking: stores.Store, keks: dict[int, bytes]) -> None:
    """Step 9: guard the ``secrets`` table, re-wrap what is still at the previous version, check."""
    previous, version = sorted(keks)
    engine = tracking.engine()
    try:
        with engine.begin() as conn:
            if kek.TABLE not in sqlalchemy.inspect(conn).get_table_names():
                say("no AI gateway secrets table: nothing to rotate")
                return
            conn.execute(sqlalchemy.text(f"LOCK TABLE {kek.TABLE} IN SHARE ROW EXCLUSIVE MODE"))
            rows = kek.stored(conn)
            check_rotation(rows, keks)
            kek.guard(conn, version)
        say(f"{kek.TABLE} guarded: only keys under passphrase version {version} may be written")
        pending = [name for name, at, _ in rows if at == previous]
        if pending:
            say(f"re-wrapping {len(pending)} stored key(s) from version {previous} to {version}")
            run_rotate_kek(previous)
        else:
            say(f"every stored key ({len(rows)}) is at version {version}: nothing to re-wrap")
        with engine.connect() as conn:
            misfits = kek.misfits(kek.stored(conn), {version: keks[version]})
    finally:
        engine.dispose()
    if misfits:
        raise RuntimeError(f"after the rotation, the current passphrase does not unwrap {kek.shown(misfits)}")
    say(f"the current passphrase (version {version}) unwraps every stored key")


def run_rotate_kek(previous: int) -> None:
    """``mlflow crypto rotate-kek`` in this process: the old passphrase and version in MLflow's own variables,
    the new one in the option's environment variable (never an argument)."""
    from mlflow.cli.crypto import rotate_kek

    os.environ["ROTATE_KEK_NEW_PASSPHRASE"] = os.environ[kek.PASSPHRASE]
    os.environ[kek.PASSPHRASE] = os.environ[kek.PREVIOUS]
    os.environ[kek.VERSION] = str(previous)
    rotate_kek.main(
        args=["--yes"], prog_name="mlflow crypto rotate-kek", standalone_mode=False, auto_envvar_prefix="ROTATE_KEK"
    )


# What the workspace `default` is reported to hold (workspace-scoped tables of MLflow's catalog).
WORKSPACE_TABLES = ("experiments", "registered_models")


def adopt_default_workspace(tracking: stores.Store) -> None:
    """With workspaces on: make sure the tracking database (at the image's head) holds the workspace
    ``default``, where MLflow's migration put the data from before workspaces, and report what it holds."""
    if not stores.workspaces_enabled():
        return
    engine = tracking.engine()
    try:
        with engine.begin() as conn:
            created = conn.execute(
                sqlalchemy.text(
                    "INSERT INTO workspaces (name, description) VALUES (:name, :description) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"name": stores.DEFAULT_WORKSPACE, "description": "Default workspace for legacy resources"},
            ).rowcount
            held = {
                table: conn.execute(
                    sqlalchemy.text(f"SELECT count(*) FROM {table} WHERE workspace = :name"),
                    {"name": stores.DEFAULT_WORKSPACE},
                ).scalar()
                for table in WORKSPACE_TABLES
            }
    finally:
        engine.dispose()
    contents = ", ".join(f"{count} {table}" for table, count in held.items())
    action = "created" if created else "present, nothing changed"
    say(f"workspaces on: workspace {stores.DEFAULT_WORKSPACE!r} {action}; it holds {contents}")


def check_current(store: stores.Store) -> None:
    with store.engine().connect() as conn:
        if store.state(conn) != "current":
            raise RuntimeError(f"{store.kind} is not at the image's head after its migration")
    say(f"{store.kind} is at {store.head()}")


def migrate_checked(store: stores.Store) -> None:
    say(f"migrating {store.kind}")
    migrate(store)
    check_current(store)


class TrackingFence:
    """The tracking database's fence: one session holds every table of it, ``SHARE`` while the backup is
    taken (the running servers' writes wait, their reads and pg_dump go on), then ``ACCESS EXCLUSIVE`` for the
    migration, which MLflow runs in this very session (``_upgrade_db`` on an engine over this one
    connection) and whose commit releases everything at once. The servers' waiting writes then go on, on the
    new schema; nothing is written in between, and if this process dies, the session ends and so does the
    fence. Sessions that keep a lock from being taken for more than ``GRACE`` seconds are ended; their clients
    retry."""

    GRACE = 2.0

    def __init__(self, store: stores.Store, watchdog: sqlalchemy.Connection) -> None:
        self.store, self.watchdog = store, watchdog
        self.engine = sqlalchemy.create_engine(store.uri, poolclass=sqlalchemy.pool.StaticPool)
        self.conn = self.engine.connect()
        self.pid = self.conn.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar()
        names = self.conn.execute(
            sqlalchemy.text("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        self.tables = ", ".join(sorted(names))

    def hold(self, mode: str) -> None:
        """Every table in ``mode``. First in short tries, let go in between, so that a server transaction
        under way (it may hold one table and want another) finishes instead of deadlocking with the lock; after
        ``GRACE`` seconds, one wait during which the sessions in the way are ended."""
        deadline = time.monotonic() + self.GRACE
        while time.monotonic() < deadline:
            if self._try(mode, "200ms"):
                say(f"tracking tables held in {mode} mode")
                return
            time.sleep(0.05)
        done = threading.Event()
        ended: list[int] = []

        def end_blockers() -> None:
            while not done.wait(0.2):
                blockers = self.watchdog.execute(
                    sqlalchemy.text(
                        "SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity "
                        "WHERE pid = ANY (pg_blocking_pids(:pid)) AND application_name NOT IN (:app, 'pg_dump')"
                    ),
                    {"pid": self.pid, "app": stores.UPGRADE_APP},
                ).all()
                ended.extend(pid for _, pid in blockers)

        watch = threading.Thread(target=end_blockers, daemon=True)
        watch.start()
        try:
            while not self._try(mode, "0"):  # 0: no timeout; fails only as a deadlock's victim
                say(f"retrying the {mode} lock")
        finally:
            done.set()
            watch.join()
        say(f"tracking tables held in {mode} mode; ended {len(ended)} session(s) in the way")

    def _try(self, mode: str, timeout: str) -> bool:
        savepoint = self.conn.begin_nested()
        try:
            self.conn.execute(sqlalchemy.text(f"SET LOCAL lock_timeout = '{timeout}'"))
            self.conn.execute(sqlalchemy.text(f"LOCK TABLE {self.tables} IN {mode} MODE"))
            self.conn.execute(sqlalchemy.text("SET LOCAL lock_timeout = 0"))  # not for the migration's statements
        except sqlalchemy.exc.OperationalError:  # lock_timeout, or a deadlock resolved against us
            savepoint.rollback()
            return False
        savepoint.commit()
        return True

    def migrate(self) -> None:
        """MLflow's own migration of the tracking store, in this session; its commit lifts the fence."""
        from mlflow.store.db import utils

        utils._upgrade_db(self.engine)

    def release(self) -> None:
        """Without a migration: roll back, so the waiting writes go on as they were."""
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


def lockable(tracking: stores.Store, all_stores: list[stores.Store]) -> bool:
    """The lock fence can hold the tracking database only while no other store shares it (an auth store's
    migration runs in a session of its own, which the locks would block)."""
    if any(s.database == tracking.database for s in all_stores if s is not tracking):
        return False
    from mlflow.store.db import utils

    if not callable(getattr(utils, "_upgrade_db", None)):
        raise Refusal(
            "this MLflow has no mlflow.store.db.utils._upgrade_db, which the migration runs inside the fence; "
            "the schema scripts of this deployment do not fit this image"
        )
    return True


def migrate_fenced(
    all_stores: list[stores.Store],
    behind: list[stores.Store],
    dbs: dict[str, sqlalchemy.Connection],
    mode: str,
    *,
    tracking_empty: bool,
) -> None:
    """Fence every database, back them up, migrate. The tracking database, where clients write all the
    time, is held by locks (:class:`TrackingFence`) when it has tables and no other store shares it; the
    others (and the tracking one otherwise) are fenced read-only (``stores.raise_fence``). Whatever happens,
    no fence outlives this call."""
    tracking = all_stores[0]
    locked = not tracking_empty and lockable(tracking, all_stores)
    read_only = [key for key in dbs if not locked or key != tracking.database]
    unfit = [key for key in read_only if not stores.can_fence(dbs[key])]
    if unfit:
        raise Refusal(
            "the migration must stop the running servers' writes first (ALTER DATABASE ... SET "
            f"default_transaction_read_only), which needs the owner of {', '.join(unfit)}: "
            "ALTER DATABASE <db> OWNER TO <the user of the database URI>"
        )
    fence = TrackingFence(tracking, dbs[tracking.database]) if locked else None
    try:
        if fence is not None:
            fence.hold("SHARE")
        ended = sum(stores.raise_fence(dbs[key]) for key in read_only)
        mark("fenced")  # once every fence holds: a write under way until then may still commit (before the backup)
        say(f"fenced: {', '.join(read_only) or 'no database'} read-only ({ended} session(s) ended)")
        made = take_backup(mode, [stores.database_name(str(conn.engine.url)) for conn in dbs.values()])
        mark("backed_up")
        say("backup verified: " + ", ".join(made))
        for store in behind:
            if fence is not None and store is tracking:
                mark("migrating")
                say("migrating tracking (inside the fence)")
                fence.hold("ACCESS EXCLUSIVE")
                fence.migrate()
                check_current(store)
            else:
                migrate_checked(store)
        mark("migrated")
    except BaseException:
        if fence is not None:
            fence.release()
        for key in read_only:
            stores.lift_fence(dbs[key], end_sessions=True)
        mark("abandoned")
        say("fence lifted and read-only sessions ended: the running servers write again")
        raise
    finally:
        if fence is not None:
            fence.close()
    for key in read_only:
        stores.lift_fence(dbs[key], end_sessions=False)
    mark("unfenced")
    say("fence lifted for the new servers (sessions opened read-only stay so until their servers are replaced)")


def main() -> int:
    try:
        return run()
    except (Refusal, stores.SchemaError) as exc:
        print(f"upgrade refused, nothing was changed: {exc}", file=sys.stderr, flush=True)
        return REFUSED
    except Exception as exc:  # noqa: BLE001 - reported, with the state the databases are left in
        print(f"upgrade failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        raise


if __name__ == "__main__":
    sys.exit(main())
