"""The server pods' gate: start only on databases at this image's schema, never migrate them.

Waits until every store (``stores.py``) is at the image's head, with workspaces on the tracking database
holds the workspace ``default`` (which the Job makes sure of), and no migration fence is up; then exits 0
and the server starts. Behind (a newer image than the schema): the migration Job has to run first, so it
waits, saying so, for as long as it takes (the old pods keep serving meanwhile; a refused or failed Job
leaves the rollout stuck here, which is the point). A revision the image does not know (an older image than
the schema) exits 1: this image cannot serve that database. With the AI gateway's passphrase in its
environment it also waits until that passphrase, at its version, unwraps every stored gateway key
(``kek.py``): after a passphrase change, until the migration Job has rotated them.
"""

from __future__ import annotations

import os
import sys
import time

import kek
import sqlalchemy
import stores

POLL_SECONDS = 2.0
REPORT_SECONDS = 30.0


def blockers(all_stores: list[stores.Store], keks: dict[int, bytes] | None) -> list[str]:
    """Why the server must not start yet (empty: it may); ``keks``: the pod's key by version, if it has one."""
    reasons = []
    checked = set()
    for store in all_stores:
        with store.engine().connect() as conn:
            state = store.state(conn)
            if state != "current":
                reasons.append(f"{store.kind} is {state} (database at {store.revision(conn)}, image {store.head()})")
            elif store.kind == "tracking" and stores.workspaces_enabled() and not stores.has_default_workspace(conn):
                reasons.append(f"workspace {stores.DEFAULT_WORKSPACE!r} (the data from before workspaces) is missing")
            if store.database not in checked and stores.fenced(conn):
                reasons.append(f"{stores.database_name(store.uri)} is fenced by a running migration")
            checked.add(store.database)
    if reasons or keks is None:
        return reasons
    with all_stores[0].engine().connect() as conn:
        misfits = kek.misfits(kek.stored(conn), keks)
    if misfits:
        (version,) = keks
        reasons.append(
            f"{len(misfits)} stored AI gateway key(s) are not wrapped with this pod's passphrase (version {version}): "
            f"{kek.shown(misfits)}; the passphrase rotation (server.ai_gateway.rotate_kek) has not run yet, or "
            "was refused"
        )
    return reasons


def main() -> int:
    stores.load_plugin_providers()
    all_stores = stores.stores_from_env()
    started, last_report = time.monotonic(), None
    job = os.environ.get("MIGRATION_JOB", "the migration Job")
    keks = None
    if kek.configured():
        keks = {kek.current_version(): kek.derive(os.environ[kek.PASSPHRASE], kek.current_version())}
    while True:
        try:
            reasons = blockers(all_stores, keks)
        except stores.SchemaError as exc:
            print(f"wait-for-schema: {exc}", file=sys.stderr, flush=True)
            return 1
        except sqlalchemy.exc.OperationalError as exc:
            reasons = [f"the database is not reachable ({type(exc).__name__})"]
        if not reasons:
            print("schema is at this image's head: starting the server", flush=True)
            return 0
        now = time.monotonic()
        if last_report is None or now - last_report >= REPORT_SECONDS:
            print(f"waiting for {job} ({now - started:.0f} s): " + "; ".join(reasons), flush=True)
            last_report = now
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
