"""Upgrading MLflow over a populated database the way MLflow's guide asks (writers stopped, a backup first,
then ``mlflow db upgrade``, then the new server), under a client that never stops writing, on every apply
path, with rollback by restore.

For each old release (the last MLflow 2.x and the first 3.x; test-only venvs, ``venvs.OLD_RELEASES``) and
each environment (default, basic-auth), on the stand-in of the bundled PostgreSQL (and the bundled MinIO run as
synthesized with its bucket Job, bundled_minio.py):

1. the old release's ``mlflow server`` (the old pod) creates its schema and the old client writes records
   through it (``client_scripts/upgrade_records.py``); that client's reading of them is the capture;
2. behind a Service (``rolling.ServiceBalancer``), a client logs a metric every 50 ms with MLflow's default
   retries (``continuous_logging.py``) for the rest of the scenario;
3. the new server pod and the migration Job start at the same instant, as ``kubectl apply -f dist`` (and
   Flux) create them; the server's rolling update (maxSurge 1, maxUnavailable 0) swaps the old pod for the
   new one once it is Ready. basic-auth first applies the shipped config, whose Job refuses (explicit
   denies), then the documented fix. default from 2.22.5 starts two server pods and two Jobs at once;
4. the Job runs a second time (nothing to do); the current client reads every record back;
5. rollback: the README's restore of the pre-upgrade dumps into new, empty databases, and the old release
   reads every record back. default from 3.0.0 then upgrades again in Argo CD's wave order (the Job to
   completion, then the server) and ends in the same state; before the rollback it also rolls out a change
   that migrates nothing, under the same writer.
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import venvs
from bundled_minio import BundledMinio
from client_venv import client_env, run_client
from faults import LoggingClient
from pod_images import ImageRuntime, helper_runtime
from podrunner import JobResult, find_object, pod_template, run_job
from postgres import PostgresServer, free_port
from rolling import BackgroundPod, ServiceBalancer, roll_out
from scenario import (
    KEK_PASSPHRASE,
    SERVICE_HOST,
    container_of,
    database_state,
    default_credentials,
    migration_job,
    readme_exec_line,
    replica_on_port,
    service_port,
    service_url,
    shipped_config,
    start_bundled_postgres,
    synth_environment,
    with_command,
)

pytestmark = pytest.mark.runtime

ADMIN, ADMIN_PASSWORD = "admin", "admin-password-for-upgrades"
POSTGRES_PASSWORD = "pg-password-for-upgrades"
# The basic-auth environment's Secret; the default environment's comes from ``default_credentials``.
BASIC_AUTH_SECRETS = {
    "mlflow-basic-auth": {
        "admin-username": ADMIN,
        "admin-password": ADMIN_PASSWORD,
        "flask-secret-key": "flask-secret-key-for-tests-0123456789abcdef",
        "postgres-password": POSTGRES_PASSWORD,
        "s3-access-key-id": "unused-in-this-scenario",
        "s3-secret-access-key": "unused-in-this-scenario",
        **KEK_PASSPHRASE,
    }
}
CASES = {
    "default-from-mlflow-3.0.0": ("default", "mlflow-3.0.0"),
    "default-from-mlflow-2.22.5": ("default", "mlflow-2.22.5"),
    "basic-auth-from-mlflow-3.0.0": ("basic-auth", "mlflow-3.0.0"),
    "basic-auth-from-mlflow-2.22.5": ("basic-auth", "mlflow-2.22.5"),
}
TWO_AT_ONCE = "default-from-mlflow-2.22.5"  # two server pods and two migration Jobs start together
MORE_PATHS = "default-from-mlflow-3.0.0"  # also: a rollout that migrates nothing; Argo CD's order after rollback
# The basic-auth environment's artifact store is outside the cluster; artifacts are checked in the default one.
RECORD_FLAGS = {"default": ("--artifacts",), "basic-auth": ("--users",)}
DATABASES = {"default": ("mlflow",), "basic-auth": ("mlflow", "mlflow_auth")}
BACKUP_CLAIM = "mlflow-postgresql-backups"
PRE_UPGRADE = re.compile(r"^(mlflow|mlflow_auth)-pre-upgrade-(\d{8}T\d{6}Z)\.dump$")
ROLLBACK_MARKER = "<!-- rollback-bundled:"
WRITER_EXPERIMENT = "faults-under-load"  # continuous_logging.py's
PROMPT = 1.5  # seconds: a call slower than this was held up (a fence holds writes 1.7 s or more; an unheld basic-auth
# write, which hashes the password on every request, took up to 1.1 s on the 2-core machine under load)
# The basic-auth environment's `auth.basic.default_permission`; the maps of a user's permissions in the dump.
DEFAULT_PERMISSION = "READ"
PERMISSION_MAPS = ("experiments", "models")
# As upgrade_records.py sets them.
USER_PASSWORDS = {"alice": "alice-password-0123", "bob": "bob-password-4567890", "carol": "carol-password-13579"}

# Fields MLflow 3.x adds to what an older client read, with the value each has on a migrated record; only
# a field with exactly that value is removed before comparing (by the key the entity sits under).
ADDED_FIELDS: dict[str, dict[str, object]] = {
    "experiments": {"workspace": "default"},  # workspaces: what existed before lands in the default one
    "models": {"deployment_job_state": "DEPLOYMENT_JOB_CONNECTION_STATE_UNSPECIFIED"},  # 3.0: no deployment job
    "run": {"outputs": {}},  # 3.0: logged-model outputs of a run; none for runs logged by 2.x
}


def _admin_env(env: str) -> dict[str, str]:
    if env != "basic-auth":
        return {}
    return {"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}


class OldServer:
    """The old release's ``mlflow server`` (``--app-name basic-auth`` in that environment) on the bundled
    PostgreSQL stand-in: the pod of the previous rollout."""

    def __init__(
        self, venv: venvs.VenvSpec, pg: PostgresServer, workdir: Path, env: str, s3: BundledMinio | None, bucket: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["--backend-store-uri", pg.uri("mlflow", user="mlflow", password=POSTGRES_PASSWORD)]
        server_env: dict[str, str] = {}
        if s3 is not None:
            args += ["--artifacts-destination", f"s3://{bucket}"]
            server_env |= {
                "MLFLOW_S3_ENDPOINT_URL": s3.endpoint,
                "AWS_ACCESS_KEY_ID": s3.credentials["access_key_id"],
                "AWS_SECRET_ACCESS_KEY": s3.credentials["secret_access_key"],
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        if env == "basic-auth":
            ini = configparser.ConfigParser(interpolation=None)
            ini["mlflow"] = {
                "default_permission": DEFAULT_PERMISSION,
                "database_uri": pg.uri("mlflow_auth", user="mlflow", password=POSTGRES_PASSWORD),
                "admin_username": ADMIN,
                "admin_password": ADMIN_PASSWORD,
                "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
            }
            path = workdir / "basic_auth.ini"
            with path.open("w") as out:
                ini.write(out)
            args += ["--app-name", "basic-auth"]
            server_env["MLFLOW_AUTH_CONFIG_PATH"] = str(path)
            server_env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = BASIC_AUTH_SECRETS["mlflow-basic-auth"]["flask-secret-key"]
        self.log = workdir / f"old-server-{self.port}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [str(venv.bin_dir / "mlflow"), "server", *args, "--host", "127.0.0.1", "--port", str(self.port)]
                + ["--workers", "1"],
                env=client_env(env=server_env),
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while True:
            assert self.proc.poll() is None, f"old mlflow server exited {self.proc.returncode}\n{self.tail()}"
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"old mlflow server not ready\n{self.tail()}"
            time.sleep(0.5)

    def tail(self) -> str:
        return self.log.read_text()[-4000:]

    def stop(self) -> None:
        """SIGTERM to the process group (graceful, as the kubelet stops a pod), SIGKILL after 30 s."""
        if self.proc.poll() is not None:
            return
        subprocess.run(["kill", "--", f"-{self.proc.pid}"], check=False)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            subprocess.run(["kill", "-KILL", "--", f"-{self.proc.pid}"], check=False)
            self.proc.wait(10)


class BackgroundJob:
    """``run_job`` in a thread, started at once; :meth:`result` waits for it."""

    def __init__(self, job: dict, objects: list[dict], secrets: dict, **kwargs) -> None:
        self._result: JobResult | BaseException | None = None

        def main() -> None:
            try:
                self._result = run_job(job, objects, secrets, timeout=900, check=False, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised by result()
                self._result = exc

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()

    def result(self, timeout: float = 900) -> JobResult:
        self._thread.join(timeout)
        if isinstance(self._result, BaseException):
            raise self._result
        assert self._result is not None, "the Job did not finish"
        return self._result


@dataclass
class Phase:
    """One rollout under the writer: when it started and ended, the Jobs' results and the pods' events."""

    name: str
    started: float
    ended: float = 0.0
    jobs: list[JobResult] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    server_logs: list[str] = field(default_factory=list)


def summary(job: JobResult) -> dict[str, float]:
    """The ``upgrade-summary`` line of the Job's ``upgrade`` container: when it fenced, backed up, migrated
    and lifted the fence (epoch seconds); empty when it had nothing to migrate."""
    lines = [ln for ln in job.logs["upgrade"].splitlines() if ln.startswith("upgrade-summary ")]
    return json.loads(lines[-1].split(" ", 1)[1]) if lines else {}


def schema_shape(pg: PostgresServer, database: str) -> dict[str, str]:
    """The schema as the catalogs describe it: columns (type, nullability, default), constraints (name and
    kind) and indexes (definition). Unlike ``pg_dump`` text it does not depend on whether a CHECK expression
    was written by a migration or re-parsed from a restored dump."""
    queries = {
        "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default FROM "
        "information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
        "constraints": "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint "
        "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
        "indexes": "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    }
    return {name: pg.psql(query, database=database) for name, query in queries.items()}


def writes_in(calls: list[dict], phase: Phase) -> list[dict]:
    return [c for c in calls if phase.started <= c["start"] <= phase.ended]


def drop_added(record: object, added: dict[str, dict[str, object]], kind: str = "") -> object:
    """``record`` without the ``ADDED_FIELDS`` of each entity kind (a dict key names the kind below it)."""
    if isinstance(record, dict):
        expected = added.get(kind, {})
        kept = {k: v for k, v in record.items() if k not in expected or v != expected[k]}
        return {k: drop_added(v, added, k) for k, v in kept.items()}
    if isinstance(record, list):
        return [drop_added(v, added, kind) for v in record]
    return record


def without_writer(record: dict) -> dict:
    """A dump without the continuous writer's experiment (its run grows during the scenario)."""
    ids = {e["experiment_id"] for e in record["experiments"] if e["name"] == WRITER_EXPERIMENT}
    users = {
        name: {k: ({e: p for e, p in v.items() if e not in ids} if k == "experiments" else v) for k, v in u.items()}
        for name, u in record.get("users", {}).items()
    }
    return {
        **record,
        "experiments": [e for e in record["experiments"] if e["experiment_id"] not in ids],
        "runs": {r: v for r, v in record["runs"].items() if v["run"]["info"]["experiment_id"] not in ids},
        **({"users": users} if users else {}),
    }


def differences(old: object, new: object, path: str = "") -> list[str]:
    """Where ``new`` differs from ``old``: ``path: old -> new`` for each differing leaf or key."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = [f"{path}/{k}: only {'before' if k in old else 'after'}" for k in old.keys() ^ new.keys()]
        return found + [d for k in old.keys() & new.keys() for d in differences(old[k], new[k], f"{path}/{k}")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def without_denies(captured: dict) -> dict:
    """The capture as MLflow 3.17 keeps it: its migration of the auth database to roles drops resource
    grants of ``NO_PERMISSIONS`` (an explicit deny is no longer supported), so those users get the
    environment's default permission (``READ`` in examples/basic-auth.yaml) on those resources."""
    users = {
        name: {
            k: {r: DEFAULT_PERMISSION if p == "NO_PERMISSIONS" else p for r, p in v.items()}
            if k in PERMISSION_MAPS
            else v
            for k, v in user.items()
        }
        for name, user in captured.get("users", {}).items()
    }
    return {**captured, **({"users": users} if users else {})}


def failing_pg_dump(directory: Path, ref: str) -> dict[str, ImageRuntime]:
    """The postgres image with a ``pg_dump`` that fails as on a full volume."""
    directory.mkdir(mode=0o755)
    wrapper = directory / "pg_dump"
    wrapper.write_text(
        '#!/bin/sh\necho "pg_dump: error: could not write to output file: No space left on device" >&2\nexit 1\n'
    )
    wrapper.chmod(0o755)
    base = helper_runtime(ref)
    assert base is not None
    return {ref: dataclasses.replace(base, path=f"{directory}:{base.path}", ro_binds=(*base.ro_binds, directory))}


@contextmanager
def writing(url: str, workdir: Path, env: str) -> Iterator[LoggingClient]:
    writer = LoggingClient(url, workdir, hosts=[SERVICE_HOST], env=_admin_env(env))
    with writer:
        writer.wait_for_acks(20, timeout=180)
        yield writer


class Scenario:
    """One case's world: the stand-ins of the database and the store, the Service, the continuous writer, the
    backups volume, and ``result``, what each step saw."""

    def __init__(self, case: str, objects: list[dict], workdir: Path, stack: ExitStack) -> None:
        self.case, self.objects, self.workdir, self.stack = case, objects, workdir, stack
        self.env, release = CASES[case]
        self.old_venv = venvs.old_release_venv(release)
        self.flags = RECORD_FLAGS[self.env]
        self.backups = workdir / "backups"
        self.backups.mkdir()
        self.pvc = {BACKUP_CLAIM: self.backups}
        self.s3: BundledMinio | None = None
        self.bucket = ""
        self.secrets: dict = BASIC_AUTH_SECRETS
        if self.env == "default":
            self.secrets = default_credentials(POSTGRES_PASSWORD)
            self.s3 = stack.enter_context(BundledMinio(objects, self.secrets))
            self.bucket = self.s3.bucket
        self.pg = start_bundled_postgres(objects, self.secrets)
        stack.callback(self.pg.stop)
        self.service = stack.enter_context(ServiceBalancer(service_port(objects, "mlflow")))
        self.url = service_url(objects)
        self.writer: LoggingClient | None = None
        self.result: dict = {"case": case, "env": self.env, "release": release, "objects": objects, "phases": {}}

    def state(self) -> dict[str, dict]:
        return {db: database_state(self.pg, db) for db in DATABASES[self.env]}

    def old_server(self) -> OldServer:
        """The old release's server on the databases, serving behind the Service."""
        server = OldServer(self.old_venv, self.pg, self.workdir, self.env, self.s3, self.bucket)
        self.stack.callback(server.stop)
        self.service.add(server.port)
        return server

    def records(self, url: str, **kwargs) -> dict:
        return run_client("upgrade_records.py", "dump", url, *self.flags, env=_admin_env(self.env), **kwargs)

    def job(self, objects: list[dict], **kwargs) -> JobResult:
        return run_job(
            migration_job(objects), objects, self.secrets, timeout=900, check=False, pvc_dirs=self.pvc, **kwargs
        )

    def pods(self, objects: list[dict], count: int) -> list[BackgroundPod]:
        """``count`` new server pods of the Deployment, each on a port of its own (pods share this host)."""
        deployment = find_object(objects, "Deployment", "mlflow")
        pods = [BackgroundPod(replica_on_port(deployment, free_port()), objects, self.secrets) for _ in range(count)]
        self.stack.callback(lambda: [pod.stop() for pod in pods])
        return pods

    def settle(self) -> None:
        """Until the writer has been served again for a while."""
        assert self.writer is not None
        self.writer.wait_for_acks(40, after=time.time(), timeout=180)

    def roll(self, phase: Phase, pods: list[BackgroundPod], old: list) -> Phase:
        """The rolling update of ``phase``: the new pods replace ``old`` ((port, stop) pairs) as they get Ready."""
        phase.events = roll_out(self.service, pods, old, port_of=lambda run: run.port("http"))
        phase.server_logs = [pod.run.all_log_tails(400) for pod in pods if pod.run is not None]
        phase.ended = time.time()
        self.result["phases"][phase.name] = phase
        return phase

    def held_back(self, name: str, pods: list[BackgroundPod], job: Callable[[], JobResult]) -> None:
        """The new pods and a Job that must not get through: ``<name>_gated`` (no pod passed its gate),
        ``pre_<name>`` and ``<name>_state`` (the databases around the Job), and the writer's phase."""
        phase = Phase(name, started=time.time())
        for pod in pods:
            if pod.started_at == 0.0:
                pod.start()
        self.result[f"pre_{name}"] = self.state()
        phase.jobs = [job()]
        self.settle()
        phase.ended = time.time()
        self.result[f"{name}_gated"] = not any(pod.past_init for pod in pods)
        self.result[f"{name}_state"] = self.state()
        self.result["phases"][name] = phase


def rollout(sc: Scenario, name: str, pods: list[BackgroundPod], objects: list[dict], old: list, *, argo=False) -> Phase:
    """New server pods and the migration Job started at the same instant (``kubectl apply``, Flux), or with
    ``argo`` the Job to completion first (Argo CD's wave 1, a Sync hook), then the pods (wave 2); the rolling
    update swaps ``old`` for the new pods as they become Ready."""
    phase = Phase(name, started=time.time())
    if argo:
        phase.jobs = [sc.job(objects)]
        for pod in pods:
            pod.start()
    else:
        for pod in pods:
            pod.start()
        phase.jobs = [BackgroundJob(migration_job(objects), objects, sc.secrets, pvc_dirs=sc.pvc).result()]
    assert phase.jobs[0].succeeded, f"{name}: {phase.jobs[0].exit_codes}\n{phase.jobs[0].logs}"
    return sc.roll(phase, pods, old)


def refused_then_fixed(sc: Scenario, pods: list[BackgroundPod], old: OldServer) -> list[dict]:
    """basic-auth as shipped (default_permission READ): the Job refuses to drop the old release's denies; then
    the documented fix, which changes only the Job, so the waiting pods stay as they are. Returns the fixed
    environment's objects."""
    sc.held_back("refused", pods, lambda: sc.job(sc.objects))
    accepting = shipped_config(sc.env)
    accepting["auth"]["basic"]["accept_dropped_denies"] = True
    fixed = synth_environment(accepting, sc.env, sc.workdir / "accepting")
    deployment = [pod_template(find_object(o, "Deployment", "mlflow")) for o in (fixed, sc.objects)]
    sc.result["fix_keeps_the_server"] = deployment[0] == deployment[1]
    sc.roll(Phase("upgrade", started=time.time(), jobs=[sc.job(fixed)]), pods, [(old.port, old.stop)])
    return fixed


def refused_then_failed_then_two_jobs(sc: Scenario, pods: list[BackgroundPod], old: OldServer) -> None:
    """The same database seen as an external one (no backup of the Job's own): refused until a backup is
    confirmed. Then a backup that fails (pg_dump finds no room): nothing may change. Then the Job's retry
    with a second Job beside it (as an older Job still retrying would be): one of them migrates."""
    external = shipped_config(sc.env)
    external["database"] = {"type": "external"}
    unbacked = synth_environment(external, sc.env, sc.workdir / "external")
    uri = sc.pg.uri("mlflow", user="mlflow", password=POSTGRES_PASSWORD)
    secrets = {"mlflow-credentials": {**sc.secrets["mlflow-credentials"], "database-uri": uri}}
    sc.held_back(
        "external",
        pods,
        lambda: run_job(migration_job(unbacked), unbacked, secrets, timeout=900, check=False),
    )
    image = container_of(migration_job(sc.objects), "pg-dump")["image"]
    images = failing_pg_dump(sc.workdir / "failing", image)
    sc.held_back("failed", pods, lambda: sc.job(sc.objects, images=images))
    jobs = [BackgroundJob(migration_job(sc.objects), sc.objects, sc.secrets, pvc_dirs=sc.pvc) for _ in range(2)]
    phase = Phase("upgrade", started=time.time(), jobs=[job.result() for job in jobs])
    sc.roll(phase, pods, [(old.port, old.stop)])


def no_migration_rollout(sc: Scenario, pods: list[BackgroundPod]) -> list[BackgroundPod]:
    """A change whose image has the database's schema (server resources; a patch release is the same to the
    Job), rolled out under the writer. Returns the pods serving after it."""
    changed = shipped_config(sc.env)
    changed.setdefault("server", {})["resources"] = {
        "requests": {"cpu": "150m", "memory": "384Mi"},
        "limits": {"cpu": "1", "memory": "1536Mi"},
    }
    bumped = synth_environment(changed, sc.env, sc.workdir / "bumped")
    serving = sc.pods(bumped, 1)
    rollout(sc, "no-migration", serving, bumped, [(pod.run.port("http"), pod.stop) for pod in pods])
    return serving


def after_upgrade(sc: Scenario, objects: list[dict]) -> None:
    """The end state: databases, a second run of the Job, every record read back through the new server."""
    sc.result["migrated"] = sc.state()
    sc.result["migrated_shape"] = {db: schema_shape(sc.pg, db) for db in DATABASES[sc.env]}
    sc.result["second"] = sc.job(objects)
    sc.result["again"] = sc.state()
    sc.result["read_back"] = sc.records(sc.url, hosts=[SERVICE_HOST], timeout=600)
    sc.result["logins"] = {}
    if sc.env == "basic-auth":
        for user, password in USER_PASSWORDS.items():
            creds = {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}
            login = run_client("upgrade_records.py", "login", sc.url, hosts=[SERVICE_HOST], env=creds)
            sc.result["logins"][user] = login


def roll_back(sc: Scenario, serving: list[BackgroundPod]) -> OldServer:
    """The README's rollback: the servers scaled to 0, the pre-upgrade dumps restored into new, empty
    databases, then the old release (returned, serving behind the Service) reads every record back."""
    for pod in serving:
        sc.service.remove(pod.run.port("http"))
        pod.stop()
    sc.result["backups"] = sorted(p.name for p in sc.backups.iterdir() if PRE_UPGRADE.match(p.name))
    (stamp,) = {PRE_UPGRADE.match(n).group(2) for n in sc.result["backups"]} or {None}
    cronjob = find_object(sc.objects, "CronJob", "mlflow-postgresql-backup")
    restore = with_command(cronjob, readme_exec_line(ROLLBACK_MARKER, "mlflow-rollback", stamp))
    sc.result["rollback"] = run_job(restore, sc.objects, sc.secrets, pvc_dirs=sc.pvc, check=False)
    restored = sc.old_server()
    sc.result["restored"] = sc.records(restored.url, venv=sc.old_venv)
    writer_run = sc.result["writer"]["run_id"]
    steps = sc.pg.psql(f"SELECT step FROM metrics WHERE run_uuid = '{writer_run}' AND key = 'loss'", database="mlflow")
    sc.result["restored_steps"] = {int(s) for s in steps.split()}
    return restored


def argo_order(sc: Scenario, restored: OldServer) -> None:
    """The upgrade again, from the restored databases, in Argo CD's order: the Job (a Sync hook in wave 1) to
    completion, then the Deployment (wave 2)."""
    rollout(sc, "argo", sc.pods(sc.objects, 1), sc.objects, [(restored.port, restored.stop)], argo=True)
    sc.result["argo_state"] = sc.state()
    sc.result["argo_shape"] = {db: schema_shape(sc.pg, db) for db in DATABASES[sc.env]}
    sc.result["argo_read_back"] = sc.records(sc.url, hosts=[SERVICE_HOST], timeout=600)


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def upgrade(request, synthesized, tmp_path_factory):
    """The whole scenario of one case (module docstring); what each step saw."""
    case = request.param
    with ExitStack() as stack:
        sc = Scenario(case, synthesized[CASES[case][0]], tmp_path_factory.mktemp(f"upgrade-{case}"), stack)
        old = sc.old_server()
        run_client("upgrade_records.py", "populate", old.url, *sc.flags, env=_admin_env(sc.env), venv=sc.old_venv)
        sc.result["captured"] = sc.records(old.url, venv=sc.old_venv)
        sc.result["before"] = sc.state()
        fixed = sc.objects
        with writing(sc.url, sc.workdir, sc.env) as writer:
            sc.writer = writer
            pods = sc.pods(sc.objects, 2 if case == TWO_AT_ONCE else 1)
            if sc.env == "basic-auth":
                fixed = refused_then_fixed(sc, pods, old)
            elif case == TWO_AT_ONCE:
                refused_then_failed_then_two_jobs(sc, pods, old)
            else:
                rollout(sc, "upgrade", pods, sc.objects, [(old.port, old.stop)])
            sc.settle()
            serving = no_migration_rollout(sc, pods) if case == MORE_PATHS else pods
            if case == MORE_PATHS:
                sc.settle()
            sc.result["writer"] = writer.finish(timeout=600)
            sc.result["calls"] = writer.calls()
        after_upgrade(sc, fixed)
        restored = roll_back(sc, serving)
        if case == MORE_PATHS:
            argo_order(sc, restored)
    result = sc.result
    upgrade_job = migrating_jobs(result["phases"]["upgrade"])
    seconds = upgrade_job[0].seconds if upgrade_job else float("nan")
    print(f"\n[upgrade {case}] migration Job {seconds:.1f} s, second run {result['second'].seconds:.1f} s")
    return result


def migrating_jobs(phase: Phase) -> list[JobResult]:
    return [job for job in phase.jobs if "migrating tracking" in job.logs["upgrade"]]


# --------------------------------------------------------------------------------------------------
# The upgrade: every store at the head, once, after a verified backup, with the old writers fenced
# --------------------------------------------------------------------------------------------------


def test_the_job_brings_every_store_to_the_images_head(upgrade):
    """After the rollout each database has its Alembic version table at one revision, and the tracking
    store's is not the old release's."""
    for db, state in upgrade["migrated"].items():
        assert state["alembic"] and all(rev and "\n" not in rev for rev in state["alembic"].values()), db
    assert upgrade["migrated"]["mlflow"]["alembic"] != upgrade["before"]["mlflow"]["alembic"]


def test_exactly_one_migration_runs_and_no_server_migrates(upgrade):
    """However many Jobs and server pods start at once, one Job migrates (the others find the schema
    current once it is done), and no server pod runs a migration: their gate waits instead."""
    phase = upgrade["phases"]["upgrade"]
    assert len(migrating_jobs(phase)) == 1, [job.logs["upgrade"][-1500:] for job in phase.jobs]
    for other in phase.jobs:
        if other not in migrating_jobs(phase):
            assert "nothing to migrate" in other.logs["upgrade"], other.logs["upgrade"]
    assert phase.server_logs and all("Running upgrade" not in log for log in phase.server_logs), phase.server_logs
    if upgrade["case"] == TWO_AT_ONCE:
        assert len(phase.jobs) == 2 and sum(e["event"] == "ready" for e in phase.events) == 2


def test_the_backup_is_taken_before_anything_is_migrated(upgrade):
    """The Job dumps every database of the image (verified by pg_restore --list) after fencing the old
    writers and before the first migration; the dumps land on the backup PVC, beside the nightly ones."""
    (job,) = migrating_jobs(upgrade["phases"]["upgrade"])
    times = summary(job)
    assert times["fenced"] <= times["backed_up"] <= times["migrated"] <= times["unfenced"], times
    names = {PRE_UPGRADE.match(n).group(1) for n in upgrade["backups"]}
    assert names == set(DATABASES[upgrade["env"]]), upgrade["backups"]


def test_no_acknowledged_write_is_lost(upgrade):
    """Every log_metric the client saw succeed is in the database afterwards, read back through the API,
    and no call failed: while the writers are fenced, MLflow's client retries until the new server serves."""
    calls = upgrade["calls"]
    acknowledged = {c["step"] for c in calls if c["ok"]}
    assert [c for c in calls if not c["ok"]] == []
    assert acknowledged <= set(upgrade["writer"]["steps_read_back"])


def test_no_write_lands_while_the_schema_is_rewritten(upgrade):
    """The old servers' writes wait from the fence on: none started after it is acknowledged before the
    migration (in the fence's own session, one transaction) has committed, so nothing is written between
    the backup and the migration, nor into a half-migrated schema."""
    (job,) = migrating_jobs(upgrade["phases"]["upgrade"])
    assert "migrating tracking (inside the fence)" in job.logs["upgrade"]
    times = summary(job)
    landed = [
        c for c in upgrade["calls"] if c["ok"] and c["start"] > times["fenced"] + 0.2 and c["end"] < times["migrating"]
    ]
    assert landed == [], landed[:5]


def test_the_write_outage_is_measured(upgrade):
    """The write outage clients see (the longest acknowledged call, retries included) and how the fence and
    the new server's start split it, printed as one ``upgrade-figures`` line for the README's table."""
    phase = upgrade["phases"]["upgrade"]
    (job,) = migrating_jobs(phase)
    times = summary(job)
    calls = writes_in(upgrade["calls"], phase)
    ready = min(e["at"] for e in phase.events if e["event"] == "ready")
    figures = {
        "case": upgrade["case"],
        "job": round(job.seconds, 1),
        "fence": round(times["unfenced"] - times["fenced"], 1),
        "backup": round(times["backed_up"] - times["fenced"], 1),
        "migration": round(times["migrated"] - times["backed_up"], 1),
        "ready_after_fence": round(ready - times["unfenced"], 1),
        "longest_write": round(max(c["end"] - c["start"] for c in calls), 1),
        "held": sum(c["end"] - c["start"] > PROMPT for c in calls),
        "retries": sum(c["retries"] for c in calls),
        "failed": sum(not c["ok"] for c in calls),
    }
    print("\nupgrade-figures " + json.dumps(figures))
    assert figures["longest_write"] < 240 and figures["failed"] == 0


def test_a_second_run_is_a_no_op(upgrade):
    """Run again, the Job exits 0, says there is nothing to migrate, and leaves schema and Alembic
    revisions as they were (the writer's rows aside, the data too)."""
    assert upgrade["second"].succeeded, upgrade["second"].logs
    assert "nothing to migrate" in upgrade["second"].logs["upgrade"]
    assert "fenced" not in upgrade["second"].logs["upgrade"]
    for db in upgrade["migrated"]:
        migrated, again = upgrade["migrated"][db], upgrade["again"][db]
        assert again["alembic"] == migrated["alembic"] and again["schema"] == migrated["schema"], db
        assert again["data"] == migrated["data"], f"{db}: data changed by the second run"


def test_capture_holds_every_kind_of_record(upgrade):
    """What the old release wrote and read back is the full set: deleted experiment and run, metric
    histories of several keys and steps, model versions with tags and aliases, artifact files (default),
    users with an admin flag and permissions (basic-auth)."""
    captured = upgrade["captured"]
    stages = sorted(e["lifecycle_stage"] for e in captured["experiments"])
    assert stages == ["active", "active", "active", "deleted"], stages  # Default + 2 + 1 deleted
    runs = captured["runs"].values()
    assert len(runs) == 4 and sum(r["run"]["info"]["lifecycle_stage"] == "deleted" for r in runs) == 1
    assert all(len(h) == 5 for r in runs for h in r["history"].values()) and all(len(r["history"]) == 3 for r in runs)
    for name, versions in captured["versions"].items():
        assert len(versions) == 3 and all(v["tags"] for v in versions), name
    assert all({a["alias"] for a in m["aliases"]} == {"champion", "challenger"} for m in captured["models"])
    if "--artifacts" in RECORD_FLAGS[upgrade["env"]]:
        assert all(len(r["artifacts"]) == 4 for r in runs)
    if "--users" in RECORD_FLAGS[upgrade["env"]]:
        users = captured["users"]
        assert users["bob"]["is_admin"] and not users["alice"]["is_admin"]
        assert sorted(users["alice"]["experiments"].values()) == ["EDIT", "NO_PERMISSIONS", "READ", "READ"]
        assert sorted(users["alice"]["models"].values()) == ["MANAGE", "READ"]
        assert sorted(users["carol"]["models"].values()) == ["NO_PERMISSIONS", "READ"]


def test_every_record_reads_back_as_before(upgrade):
    """Every record, read by the current client through the new server, equals what the old client read
    before the upgrade: experiments, runs with params, tags and metric histories, artifact files by
    SHA-256, registered models and versions with tags and aliases, users and the permission of each on
    each experiment and model, with explicit denies replaced as ``without_denies`` says."""
    captured = drop_added(without_denies(upgrade["captured"]), ADDED_FIELDS)
    changed = differences(captured, drop_added(without_writer(upgrade["read_back"]), ADDED_FIELDS))
    assert not changed, "\n".join(changed)


def test_users_sign_in_with_their_old_passwords(upgrade):
    """Every user the old basic-auth app created signs in to the new server with the password it had."""
    assert set(upgrade["logins"]) == set(upgrade["captured"].get("users", {})) - {ADMIN}
    for user, seen in upgrade["logins"].items():
        assert "upgrade-experiment-0" in seen["experiments"], (user, seen)


# --------------------------------------------------------------------------------------------------
# A refusal: nothing changes, the old server keeps serving, the fix completes the upgrade
# --------------------------------------------------------------------------------------------------


def test_explicit_denies_refuse_the_upgrade_and_the_old_server_keeps_serving(upgrade):
    """basic-auth as shipped (``default_permission: READ``), applied all at once: the Job refuses (exit 3,
    naming each deny and the fix) before touching anything; the auth database and the tracking schema are
    as they were; the new server pod stays in its gate (never Ready) while the old one serves every write."""
    if upgrade["env"] != "basic-auth":
        assert "refused" not in upgrade["phases"]
        return
    phase = upgrade["phases"]["refused"]
    (job,) = phase.jobs
    assert job.exit_codes["upgrade"] == 3, job.exit_codes
    log = job.logs["upgrade"]
    assert "drops the 2 explicit NO_PERMISSIONS grant(s)" in log and "nothing was changed" in log, log
    assert "username=alice" in log and "username=carol" in log and "accept_dropped_denies: true" in log, log
    assert "fenced" not in log
    before, after = upgrade["pre_refused"], upgrade["refused_state"]
    assert after["mlflow_auth"] == before["mlflow_auth"], "the refused Job changed the auth database"
    assert (after["mlflow"]["schema"], after["mlflow"]["alembic"]) == (
        before["mlflow"]["schema"],
        before["mlflow"]["alembic"],
    )
    assert upgrade["refused_gated"], "a new server pod got past its schema gate"
    calls = writes_in(upgrade["calls"], phase)
    assert calls and all(c["ok"] and c["end"] - c["start"] < PROMPT for c in calls)


def test_the_documented_fix_completes_the_upgrade(upgrade):
    """Setting ``auth.basic.accept_dropped_denies: true`` changes only the Job (a new name, so it runs
    again); the waiting server pod then starts on the migrated databases, and the denies read back as the
    default permission, as the README says."""
    if upgrade["env"] != "basic-auth":
        return
    assert upgrade["fix_keeps_the_server"]
    assert len(migrating_jobs(upgrade["phases"]["upgrade"])) == 1
    before, after = upgrade["captured"]["users"], upgrade["read_back"]["users"]
    denied = [
        (n, k, r)
        for n, u in before.items()
        for k in PERMISSION_MAPS
        for r, p in u.get(k, {}).items()
        if p == "NO_PERMISSIONS"
    ]
    assert len(denied) == 2 and all(after[n][k][r] == DEFAULT_PERMISSION for n, k, r in denied)


def test_without_a_backup_of_its_own_the_job_refuses_until_one_is_confirmed(upgrade):
    """An external database (here the same one, seen as external): the Job cannot back it up, so it refuses
    (exit 3, naming the key that confirms the operator's own backup) and changes nothing."""
    if upgrade["case"] != TWO_AT_ONCE:
        assert "external" not in upgrade["phases"]
        return
    (job,) = upgrade["phases"]["external"].jobs
    assert job.exit_codes["upgrade"] == 3, job.logs["upgrade"]
    log = job.logs["upgrade"]
    assert "database.upgrade.backup_taken_for_image" in log and "nothing was changed" in log, log
    before, after = upgrade["pre_external"]["mlflow"], upgrade["external_state"]["mlflow"]
    assert (after["schema"], after["alembic"]) == (before["schema"], before["alembic"])
    assert upgrade["external_gated"]


def test_a_failed_backup_migrates_nothing_and_the_old_server_keeps_serving(upgrade):
    """When the backup cannot be written the Job fails before migrating: the fence is lifted, the schema and
    revisions are as they were, the new pods stay in their gate and every write goes on through the old
    server; the Job's retry then completes the upgrade (the two-Jobs case above)."""
    if upgrade["case"] != TWO_AT_ONCE:
        assert "failed" not in upgrade["phases"]
        return
    phase = upgrade["phases"]["failed"]
    (job,) = phase.jobs
    assert job.exit_codes["upgrade"] == 1, job.logs["upgrade"]
    log = job.logs["upgrade"]
    assert "pg_dump failed" in log and "fence lifted" in log and "migrating" not in log, log
    before, after = upgrade["pre_failed"]["mlflow"], upgrade["failed_state"]["mlflow"]
    assert (after["schema"], after["alembic"]) == (before["schema"], before["alembic"])
    assert upgrade["failed_gated"], "a new server pod got past its schema gate"
    calls = writes_in(upgrade["calls"], phase)
    assert calls and all(c["ok"] for c in calls)


# --------------------------------------------------------------------------------------------------
# A rollout that migrates nothing; rollback by restore; Argo CD's order
# --------------------------------------------------------------------------------------------------


def test_a_rollout_that_migrates_nothing_stops_nothing_early(upgrade):
    """A change whose image has the database's schema (here a resources change; a patch release is the
    same to the Job): the Job finds every store current and fences nothing, the old pod serves until the
    new one is Ready, and no write fails or is held up."""
    if upgrade["case"] != MORE_PATHS:
        assert "no-migration" not in upgrade["phases"]
        return
    phase = upgrade["phases"]["no-migration"]
    (job,) = phase.jobs
    assert "nothing to migrate" in job.logs["upgrade"] and "fenced" not in job.logs["upgrade"]
    ready, stopped = (next(e["at"] for e in phase.events if e["event"] == kind) for kind in ("ready", "stopped"))
    assert ready <= stopped
    calls = writes_in(upgrade["calls"], phase)
    assert calls and all(c["ok"] for c in calls)
    assert max(c["end"] - c["start"] for c in calls) < PROMPT, sorted(c["end"] - c["start"] for c in calls)[-5:]


def test_rollback_restores_the_pre_upgrade_backup_for_the_old_release(upgrade):
    """The README's rollback (the pre-upgrade dumps into new, empty databases) brings back the state the
    old release had: its server reads every record as before, and every write acknowledged before the
    fence is there."""
    assert upgrade["rollback"].succeeded, upgrade["rollback"].logs
    restored = without_writer(upgrade["restored"])
    changed = differences(upgrade["captured"], restored)
    assert not changed, "\n".join(changed)
    (job,) = migrating_jobs(upgrade["phases"]["upgrade"])
    fenced = summary(job)["fenced"]
    before_fence = {c["step"] for c in upgrade["calls"] if c["ok"] and c["end"] < fenced}
    assert before_fence and before_fence <= upgrade["restored_steps"]


def test_argo_cd_order_ends_in_the_same_state(upgrade):
    """The same upgrade in Argo CD's order (the Job to completion, then the server), from the restored
    databases, ends with the same schema, revisions and records as the all-at-once one."""
    if upgrade["case"] != MORE_PATHS:
        assert "argo" not in upgrade["phases"]
        return
    (job,) = migrating_jobs(upgrade["phases"]["argo"])
    assert summary(job)["backed_up"]
    for db, state in upgrade["argo_state"].items():
        assert state["alembic"] == upgrade["migrated"][db]["alembic"], db
        assert upgrade["argo_shape"][db] == upgrade["migrated_shape"][db], db
    changed = differences(without_writer(upgrade["read_back"]), without_writer(upgrade["argo_read_back"]))
    assert not changed, "\n".join(changed)
