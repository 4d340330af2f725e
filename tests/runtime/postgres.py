"""A throwaway PostgreSQL 16 server on 127.0.0.1 for the runtime tests.

``initdb`` refuses to run as root, so when the tests run as root the cluster is created and run as the
``postgres`` system user (``runuser -u postgres --``). The data directory lives in a fresh temporary
directory, ``fsync`` is off, and everything is stopped and removed on exit.

    with PostgresServer() as pg:
        uri = pg.create_database("mlflow", owner="mlflow", password="s3cret")
        # postgresql+psycopg2://mlflow:s3cret@127.0.0.1:<port>/mlflow
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from venvs import RUNTIME_DIR

# The bundled image's major (16): Debian 12's apt has PostgreSQL 16 only, so setup.sh installs the
# PostgreSQL 16 build that PyPI's pgserver wheel carries into <runtime dir>/postgresql-16.
PG_MAJOR = 16
PG_BIN = Path(os.environ.get("PG_BIN") or RUNTIME_DIR / f"postgresql-{PG_MAJOR}" / "bin")
SUPERUSER = "postgres"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PostgresServer:
    """A PostgreSQL server in a temporary directory; use as a context manager."""

    def __init__(self, port: int | None = None, pg_bin: Path = PG_BIN) -> None:
        self.pg_bin = Path(pg_bin)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._tmp: Path | None = None
        self._started = False
        self._run_as = SUPERUSER if os.geteuid() == 0 else None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def datadir(self) -> Path:
        assert self._tmp is not None, "server not started"
        return self._tmp / "data"

    def _make_tmp(self, prefix: str) -> None:
        """The server's temporary directory (data, socket, log), owned by the user PostgreSQL runs as."""
        self._tmp = Path(tempfile.mkdtemp(prefix=prefix))
        if self._run_as:
            pw = pwd.getpwnam(self._run_as)
            os.chown(self._tmp, pw.pw_uid, pw.pw_gid)

    def _cmd(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self._run_as, "--", *argv] if self._run_as else list(argv)

    def start(self) -> PostgresServer:
        if not (self.pg_bin / "initdb").exists():
            raise RuntimeError(f"PostgreSQL binaries not found in {self.pg_bin} (run tests/runtime/setup.sh)")
        self._make_tmp("runtime-pg-")
        subprocess.run(
            self._cmd(
                str(self.pg_bin / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        self._pg_ctl_start()
        self._started = True
        return self

    def _pg_ctl_start(self) -> None:
        opts = (
            f"-h {self.host} -p {self.port} -k {self._tmp} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            self._cmd(
                str(self.pg_bin / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                opts,
                "-l",
                str(self._tmp / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
            text=True,
        )

    def halt(self, mode: str = "fast") -> None:
        """Stop the server but keep its data (``pg_ctl stop -m <mode>``); :meth:`resume` starts it again.
        ``fast`` cuts every session (open transactions roll back) and writes a checkpoint; ``immediate``
        is a crash: the next start replays the WAL."""
        subprocess.run(
            self._cmd(str(self.pg_bin / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"),
            check=True,
            capture_output=True,
            text=True,
        )

    def resume(self) -> None:
        """Start the server :meth:`halt` stopped, on the same data directory and port."""
        self._pg_ctl_start()

    def stop(self) -> None:
        if self._started:
            subprocess.run(
                self._cmd(str(self.pg_bin / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"),
                check=False,
                capture_output=True,
            )
            self._started = False
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- administration --------------------------------------------------------------------------
    def log_tail(self, lines: int = 40) -> str:
        log = self._tmp / "server.log" if self._tmp else None
        if not log or not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def psql(self, sql: str, database: str = "postgres", *, script: bool = False) -> str:
        """Run SQL as the superuser; returns psql's unaligned output. ``script``: as a file (``-f``), statement
        by statement with psql's meta-commands, as the ``postgres`` image runs its init scripts."""
        result = subprocess.run(
            [
                str(self.pg_bin / "psql"),
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                *(("-f", "-") if script else ("-c", sql)),
            ],
            input=sql if script else None,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {sql!r}\n{result.stderr}")
        return result.stdout.strip()

    def create_role(self, name: str, password: str | None = None) -> None:
        pw = f" PASSWORD {_quote_literal(password)}" if password is not None else ""
        self.psql(f"CREATE ROLE {_quote_ident(name)} LOGIN{pw}")

    def create_database(
        self, name: str, owner: str | None = None, password: str | None = None, driver: str = "psycopg2"
    ) -> str:
        """Create a database (and its owner role when it does not exist yet); returns its SQLAlchemy URI.

        The server trusts every local connection, so the password is only recorded on the role and put
        in the URI (to exercise URI handling, not authentication).
        """
        owner = owner or name
        exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = {_quote_literal(owner)}")
        if not exists:
            self.create_role(owner, password)
        self.psql(f"CREATE DATABASE {_quote_ident(name)} OWNER {_quote_ident(owner)}")
        return self.uri(name, user=owner, password=password, driver=driver)

    def uri(
        self, database: str, user: str = SUPERUSER, password: str | None = None, driver: str | None = "psycopg2"
    ) -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"{scheme}://{auth}@{self.host}:{self.port}/{quote(database, safe='')}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    [str(self.pg_bin / "pg_isready"), "-h", self.host, "-p", str(self.port)],
                    capture_output=True,
                    check=False,
                ).returncode
                == 0
            ):
                return
            time.sleep(0.2)
        raise TimeoutError(f"postgres on port {self.port} not ready\n{self.log_tail()}")


class PostgresStandby(PostgresServer):
    """A hot standby of a running ``primary``, as a streaming replica is made: ``pg_basebackup -R -X stream``
    over the primary's socket, then PostgreSQL started in recovery on ``host`` at the primary's port (another
    loopback address, so both listen on the port their Services name). Roles, passwords and ``pg_hba.conf``
    come with the base backup; the standby refuses writes and replays the primary's WAL as it streams."""

    def __init__(self, primary: PostgresServer, host: str) -> None:
        super().__init__(port=primary.port, pg_bin=primary.pg_bin)
        self.host = host
        self.primary = primary

    def start(self) -> PostgresStandby:
        hba = self.primary.datadir / "pg_hba.conf"
        hba.write_text(hba.read_text() + "local replication all trust\n")
        self.primary.psql("SELECT pg_reload_conf()")
        self._make_tmp("runtime-pg-standby-")
        socket_dir = str(self.primary.datadir.parent)
        subprocess.run(
            self._cmd(
                str(self.pg_bin / "pg_basebackup"),
                *("-h", socket_dir, "-p", str(self.primary.port), "-U", SUPERUSER),
                *("-D", str(self.datadir), "-R", "-X", "stream", "--no-sync"),
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        self._pg_ctl_start()
        self._started = True
        return self

    def pause_replay(self) -> None:
        """Stop applying the primary's WAL (it still streams): what a lagging standby looks like."""
        self.psql("SELECT pg_wal_replay_pause()")
        while self.psql("SELECT pg_get_wal_replay_pause_state()") != "paused":
            time.sleep(0.05)

    def resume_replay(self) -> None:
        self.psql("SELECT pg_wal_replay_resume()")

    def catch_up(self, timeout: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        target = self.primary.psql("SELECT pg_current_wal_insert_lsn()")
        deadline = time.monotonic() + timeout
        while self.psql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") != "t":
            if time.monotonic() > deadline:
                raise TimeoutError(f"standby did not replay up to {target}\n{self.log_tail()}")
            time.sleep(0.1)
