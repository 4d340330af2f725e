"""The databases an MLflow image migrates, what schema each is at, and the write fence around a migration.

Shared by ``wait_for_schema.py`` (the server pods' gate) and ``upgrade.py`` (the migration Job). Both run
with the image's own Python, mounted from the ``<name>-schema`` ConfigMap; neither imports this project.

A *store* is one Alembic history in one database: MLflow's tracking store (``alembic_version``), the
model registry's when it has a database of its own (``--registry-store-uri``: MLflow's same history), the
basic-auth store (``alembic_version_auth``) or the mlflow-oidc-auth plugin's (its
``OIDC_ALEMBIC_VERSION_TABLE``). The image's head of each comes from the migration scripts the image
carries (Alembic's public ``ScriptDirectory`` over the package's ``migrations`` folder), the database's
revision from its version table: a patch release or a config change finds every store at its head and
migrates nothing, whatever the version strings say.

The read-only fence, for the databases ``upgrade.py`` does not hold by locks (the auth databases, whose
migrations open sessions of their own): ``ALTER DATABASE <db> SET default_transaction_read_only = on`` and
the end of every other session of that database, so the servers that keep running (old code) reconnect
read-only and cannot write while a backup is taken and the schema rewritten. The migration's own sessions
start with ``PGOPTIONS=-c default_transaction_read_only=off`` (libpq applies it at connect), so only they
write. Lifting it (``RESET``) lets new sessions write again; with ``end_sessions`` the old servers'
read-only sessions are ended too, so they write again (used when a migration is abandoned).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

DEFAULT_WORKSPACE = "default"  # MLflow's workspace of everything logged before workspaces were on
UPGRADE_APP = "mlflow-k8s-upgrade"  # application_name of the migration's sessions: never ended by the fence
READ_ONLY_SETTING = "default_transaction_read_only=on"


class SchemaError(RuntimeError):
    """The image and the database do not fit together (a newer schema, an unknown revision)."""


def _migrations_dir(package: str) -> Path:
    """The folder of ``package`` (Alembic's env.py and versions/), found without importing it (importing
    ``mlflow`` takes seconds); fails loudly if the image moved it."""
    top, *rest = package.split(".")
    spec = importlib.util.find_spec(top)
    roots = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(roots[0], *rest) if roots else None
    if folder is None or not (folder / "env.py").is_file():
        raise SchemaError(f"this image has no {package}: the schema scripts of this deployment do not fit it")
    return folder


@dataclass(frozen=True)
class Store:
    """One Alembic history (``kind``) in the database at ``uri``."""

    kind: str
    uri: str
    version_table: str
    package: str

    @property
    def scripts(self) -> ScriptDirectory:
        return ScriptDirectory(str(_migrations_dir(self.package)))

    def head(self) -> str:
        heads = self.scripts.get_heads()
        if len(heads) != 1:
            raise SchemaError(f"{self.kind}: the image's migrations have {len(heads)} heads {heads}, expected one")
        return heads[0]

    @property
    def database(self) -> str:
        """The database it lives in (``host:port/name``): two stores may share one."""
        url = sqlalchemy.engine.make_url(self.uri)
        return f"{url.host}:{url.port}/{url.database}"

    def engine(self) -> sqlalchemy.Engine:
        return sqlalchemy.create_engine(self.uri, poolclass=sqlalchemy.pool.NullPool)

    def state(self, conn: sqlalchemy.Connection) -> str:
        """``current`` (at the image's head), ``empty`` (no table yet), ``behind`` (an older revision of
        the image's history, or tables from before Alembic tracked them); raises ``SchemaError`` for a
        revision the image does not know (a newer schema: restore the backup or use the newer image)."""
        tables = set(sqlalchemy.inspect(conn).get_table_names())
        if self.version_table not in tables:
            return "empty" if not (tables - {t for t in tables if t.startswith("alembic_")}) else "behind"
        context = MigrationContext.configure(conn, opts={"version_table": self.version_table})
        current = context.get_current_heads()
        head = self.head()
        if current == (head,):
            return "current"
        if not current:
            return "behind"
        unknown = [rev for rev in current if self.scripts.get_revision(rev) is None]
        if unknown:
            raise SchemaError(
                f"{self.kind}: the database is at revision {', '.join(current)}, which this image does not know "
                f"(its head is {head}): the schema is newer than this MLflow. Use the image that migrated it, or "
                "restore the backup taken before that migration (README: Upgrades, rolling back)"
            )
        return "behind"

    def revision(self, conn: sqlalchemy.Connection) -> str:
        tables = set(sqlalchemy.inspect(conn).get_table_names())
        if self.version_table not in tables:
            return "none"
        context = MigrationContext.configure(conn, opts={"version_table": self.version_table})
        return ",".join(context.get_current_heads()) or "none"


def stores_from_env() -> list[Store]:
    """The stores this pod's image migrates, from ``SCHEMA_STORES`` (``tracking`` first, ``registry``,
    ``basic-auth``, ``oidc``) and the settings the server itself reads."""
    stores = []
    for kind in os.environ["SCHEMA_STORES"].split():
        if kind in ("tracking", "registry"):
            uri = os.environ["MLFLOW_BACKEND_STORE_URI" if kind == "tracking" else "MLFLOW_REGISTRY_STORE_URI"]
            stores.append(Store(kind, uri, "alembic_version", "mlflow.store.db_migrations"))
        elif kind == "basic-auth":
            from mlflow.server.auth.config import read_auth_config

            uri = read_auth_config().database_uri
            stores.append(Store(kind, uri, "alembic_version_auth", "mlflow.server.auth.db.migrations"))
        elif kind == "oidc":
            from mlflow_oidc_auth.config import config

            table = config.OIDC_ALEMBIC_VERSION_TABLE
            stores.append(Store(kind, config.OIDC_USERS_DB_URI, table, "mlflow_oidc_auth.db.migrations"))
        else:
            raise SchemaError(f"unknown store {kind!r} in SCHEMA_STORES")
    return stores


def workspaces_enabled() -> bool:
    """Whether the servers of this image run with workspaces (``MLFLOW_ENABLE_WORKSPACES``)."""
    return os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").strip().lower() in ("true", "1")


def has_default_workspace(conn: sqlalchemy.Connection) -> bool:
    """Whether the tracking database (at the image's head) holds MLflow's ``default`` workspace."""
    return bool(
        conn.execute(
            sqlalchemy.text("SELECT EXISTS (SELECT 1 FROM workspaces WHERE name = :name)"), {"name": DEFAULT_WORKSPACE}
        ).scalar()
    )


def load_plugin_providers() -> None:
    """With ``LOAD_PLUGIN_PROVIDERS=true``, put what the oidc plugin's providers deliver (mounted Secret files,
    cloud secret stores) into the environment first, as its ``mlflow-oidc-server`` wrapper does."""
    if os.environ.get("LOAD_PLUGIN_PROVIDERS") == "true":
        from mlflow_oidc_auth.config_providers.mlflow_env import configure_mlflow_environment

        configure_mlflow_environment()


def databases(stores: list[Store]) -> dict[str, str]:
    """One URI per database the stores live in (``Store.database`` -> a URI of it)."""
    found: dict[str, str] = {}
    for store in stores:
        found.setdefault(store.database, store.uri)
    return found


def database_name(uri: str) -> str:
    return sqlalchemy.engine.make_url(uri).database


@contextmanager
def autocommit(uri: str) -> Iterator[sqlalchemy.Connection]:
    """A connection outside any transaction (``ALTER DATABASE`` and reads of the catalogs)."""
    engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def fenced(conn: sqlalchemy.Connection) -> bool:
    """Whether this connection's database has the fence: new sessions start read-only."""
    return bool(
        conn.execute(
            sqlalchemy.text(
                "SELECT EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                "WHERE d.datname = current_database() AND s.setrole = 0 AND :setting = ANY (s.setconfig))"
            ),
            {"setting": READ_ONLY_SETTING},
        ).scalar()
    )


def _quoted_database(conn: sqlalchemy.Connection) -> str:
    return conn.execute(sqlalchemy.text("SELECT quote_ident(current_database())")).scalar()


def end_other_sessions(conn: sqlalchemy.Connection) -> int:
    """End every other client session of this database (not the migration's own, not pg_dump's)."""
    return len(
        conn.execute(
            sqlalchemy.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                "AND application_name NOT IN (:upgrade, 'pg_dump')"
            ),
            {"upgrade": UPGRADE_APP},
        ).all()
    )


def can_fence(conn: sqlalchemy.Connection) -> bool:
    """The fence needs ``ALTER DATABASE``: the database's owner (or a member of its role) or a superuser."""
    return bool(
        conn.execute(
            sqlalchemy.text(
                "SELECT pg_has_role(current_user, datdba, 'MEMBER') OR "
                "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
                "FROM pg_database WHERE datname = current_database()"
            )
        ).scalar()
    )


def raise_fence(conn: sqlalchemy.Connection) -> int:
    """Fence this database (autocommit connection); returns how many sessions were ended."""
    conn.execute(sqlalchemy.text(f"ALTER DATABASE {_quoted_database(conn)} SET default_transaction_read_only = on"))
    return end_other_sessions(conn)


def lift_fence(conn: sqlalchemy.Connection, *, end_sessions: bool) -> int:
    """Lift the fence (autocommit connection); ``end_sessions`` also ends the read-only sessions opened under it."""
    conn.execute(sqlalchemy.text(f"ALTER DATABASE {_quoted_database(conn)} RESET default_transaction_read_only"))
    return end_other_sessions(conn) if end_sessions else 0
