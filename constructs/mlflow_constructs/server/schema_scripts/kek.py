"""The AI gateway's stored provider keys and the passphrase that wraps them (MLflow's ``secrets`` table).

Shared by ``wait_for_schema.py`` (the server pods start only once their passphrase unwraps every stored key)
and ``upgrade.py`` (which rotates them). MLflow wraps each key's data key with a key derived from
``MLFLOW_CRYPTO_KEK_PASSPHRASE`` and ``MLFLOW_CRYPTO_KEK_VERSION`` and records that version in the row
(``kek_version``), but decrypts with whatever its environment says: a server whose passphrase or version
does not fit the rows fails on every stored key, so the gate checks both before it lets one start.

The guard: a trigger on ``secrets`` that refuses to write a row under any other version than the current
one. The rotation installs it before re-wrapping, so servers still running with the previous passphrase
(the old pods, until they are replaced) cannot store a key the new servers could not read.
"""

from __future__ import annotations

import os

import sqlalchemy

PASSPHRASE = "MLFLOW_CRYPTO_KEK_PASSPHRASE"
VERSION = "MLFLOW_CRYPTO_KEK_VERSION"
PREVIOUS = "PREVIOUS_KEK_PASSPHRASE"
TABLE = "secrets"
GUARD = "mlflow_k8s_kek_version_guard"


def configured() -> bool:
    """Whether this pod has the passphrase and its version (the gateway on, with a Kubernetes Secret)."""
    return bool(os.environ.get(PASSPHRASE)) and bool(os.environ.get(VERSION))


def current_version() -> int:
    return int(os.environ[VERSION])


def derive(passphrase: str, version: int) -> bytes:
    """The key MLflow derives from ``passphrase`` at ``version`` (PBKDF2, ~0.5 s)."""
    from mlflow.utils.crypto import KEKManager

    return KEKManager(passphrase=passphrase, kek_version=version).get_kek()


def stored(conn: sqlalchemy.Connection) -> list[tuple[str, int, bytes]]:
    """``(secret_name, kek_version, wrapped_dek)`` of every stored key; none before MLflow created the table."""
    if TABLE not in sqlalchemy.inspect(conn).get_table_names():
        return []
    rows = conn.execute(sqlalchemy.text(f"SELECT secret_name, kek_version, wrapped_dek FROM {TABLE} ORDER BY 1"))
    return [(name, version, bytes(wrapped)) for name, version, wrapped in rows]


def unwraps(kek: bytes, wrapped: bytes) -> bool:
    from mlflow.utils.crypto import unwrap_dek

    try:
        unwrap_dek(wrapped, kek)
    except Exception:  # noqa: BLE001 - a wrong key fails the AES key-wrap integrity check
        return False
    return True


def misfits(rows: list[tuple[str, int, bytes]], keks: dict[int, bytes]) -> list[str]:
    """The stored keys that the key of their version in ``keks`` does not unwrap, or of no version there."""
    found = []
    for name, version, wrapped in rows:
        if version not in keks:
            found.append(f"{name!r} (version {version})")
        elif not unwraps(keks[version], wrapped):
            found.append(f"{name!r} (version {version}, another passphrase)")
    return found


def shown(names: list[str]) -> str:
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def guard(conn: sqlalchemy.Connection, version: int) -> None:
    """Install (or move to ``version``) the trigger that refuses rows under any other version."""
    conn.execute(
        sqlalchemy.text(
            f"CREATE OR REPLACE FUNCTION {GUARD}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.kek_version <> {int(version)} THEN RAISE EXCEPTION 'the AI gateway''s keys are wrapped under "
            f"passphrase version {int(version)}, this server writes version %: it runs with a passphrase from "
            "before a rotation', NEW.kek_version; END IF; RETURN NEW; END $$"
        )
    )
    conn.execute(sqlalchemy.text(f"DROP TRIGGER IF EXISTS {GUARD} ON {TABLE}"))
    conn.execute(
        sqlalchemy.text(
            f"CREATE TRIGGER {GUARD} BEFORE INSERT OR UPDATE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION {GUARD}()"
        )
    )
