"""Helpers shared by the runtime scenarios (test_scenario_*.py): manifests, Service ports, stand-ins.

Manifests always come from the real synthesis path: the shipped environments from the session
fixture ``synthesized`` (``synth.synthesize``), test-local variants from :func:`synth_environment`
(``config.parse_environment`` + ``synth.build_app``, the file the app would write).

Pods share the host network and every Service name resolves to 127.0.0.1 in the runner, so each
stand-in listens on the port its Service (and the container behind it) declares: PostgreSQL on the
``mlflow-postgresql`` Service port (5432), MinIO on the ``mlflow-minio`` port (9000), MLflow on its
container port (5000). :func:`service_port` checks that the Service port and the target
container port agree, since there is no kube-proxy here to translate one into the other.
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml
from pod_probes import resolve_port
from podrunner import JobResult, PodRun, find_object, pod_template, run_job, run_pod
from postgres import PostgresServer
from proc_stats import TreeStats, tree_stats

from mlflow_constructs.config import parse_environment
from mlflow_constructs.synth import OUTPUT_SUFFIX, build_app, discover

REPO = Path(__file__).resolve().parents[2]
# Where shipped environments are found: the user's config/ (default.yaml) and the examples.
ENVIRONMENT_DIRS = (REPO / "config", REPO / "examples")
CLUSTER_DOMAIN = "cluster.local"
# The MLflow Service as in-cluster clients (and the server's allowed hosts) name it.
SERVICE_HOST = f"mlflow.mlflow.svc.{CLUSTER_DOMAIN}"
# A pod IP as a kubelet would send it in probe Host headers (only used as a header value: requests
# still go to 127.0.0.1; nothing is sent to a private-range address).
CLUSTER_POD_IP = "10.244.1.7"


# --------------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------------


def shipped_config(name: str) -> dict[str, Any]:
    """``config/<name>.yaml`` or ``examples/<name>.yaml`` as a dict, to derive a test-local variant from."""
    return yaml.safe_load(discover(*ENVIRONMENT_DIRS)[name].read_text())


def synth_environment(config: dict[str, Any], name: str, outdir: Path) -> list[dict]:
    """Synthesize one environment given as a dict exactly as ``app.py`` would write it; its objects."""
    env = parse_environment(config, source=f"{name}.yaml (runtime test)")
    build_app({name: env}, outdir).synth()
    text = (outdir / f"{name}{OUTPUT_SUFFIX}").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def hashed_job(objects: Iterable[dict], base_name: str) -> dict:
    """The one Job named ``<base_name>-<hash>`` (run-once Jobs carry a hash of what they run)."""
    jobs = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"].startswith(f"{base_name}-")]
    assert len(jobs) == 1, [o["metadata"]["name"] for o in objects if o["kind"] == "Job"]
    return jobs[0]


def migration_job(objects: Iterable[dict]) -> dict:
    """The one ``mlflow-migrate-<hash>`` Job."""
    return hashed_job(objects, "mlflow-migrate")


def container_of(workload: dict, name: str) -> dict:
    spec = pod_template(workload)["spec"]
    for c in [*(spec.get("initContainers") or []), *spec["containers"]]:
        if c["name"] == name:
            return c
    raise LookupError(f"{workload['metadata']['name']}: no container {name}")


def replica_on_port(deployment: dict, port: int, container: str = "mlflow") -> dict:
    """Another replica of ``deployment``'s pod spec listening on ``port`` (its ``--port`` arg and the
    ``http`` containerPort): pods share the host network here, so two replicas need two ports. Its other
    containers (the metrics container) are left out: they would take the first replica's ports, and what
    replicas share is the server's."""
    other = copy.deepcopy(deployment)
    spec = pod_template(other)["spec"]
    spec["containers"] = [c for c in spec["containers"] if c["name"] == container]
    (server,) = spec["containers"]
    args = server["args"]
    args[args.index("--port") + 1] = str(port)
    for entry in server["ports"]:
        if entry["name"] == "http":
            entry["containerPort"] = port
    return other


def literal_env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}


def arg_after(container: dict, flag: str) -> str:
    args = list(container.get("args") or [])
    return args[args.index(flag) + 1]


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _service_targets(
    objects: list[dict], name: str, port_name: str | None, number: int | None
) -> tuple[int, list[int]]:
    """(the Service port, the container ports its targetPort resolves to in the one workload it selects)."""
    svc = find_object(objects, "Service", name)
    ports = svc["spec"]["ports"]
    entry = next(p for p in ports if (port_name is None or p.get("name") == port_name) and number in (None, p["port"]))
    target = entry.get("targetPort", entry["port"])
    workloads = [
        o
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet")
        and _selects(svc["spec"]["selector"], pod_template(o)["metadata"].get("labels") or {})
    ]
    assert len(workloads) == 1, f"Service {name} selects {[w['metadata']['name'] for w in workloads]}"
    containers = pod_template(workloads[0])["spec"]["containers"]
    listening = []
    for c in containers:
        try:
            listening.append(resolve_port(c, target))
        except Exception:  # noqa: BLE001 - that container does not declare the named port
            continue
    return int(entry["port"]), listening


def service_port(objects: list[dict], name: str, port_name: str | None = None) -> int:
    """The port of Service ``name``; asserts that the container it targets listens on the same port.

    Pods share the host network here and Service names resolve to 127.0.0.1, so a client that dials
    ``<service>:<port>`` reaches whatever listens on that port: it must be the target container's.
    """
    port, listening = _service_targets(objects, name, port_name, None)
    assert listening == [port], (
        f"Service {name} port {port} -> container ports {listening}: they must agree to be reachable here"
    )
    return port


def pod_port(objects: list[dict], service: str, port: int) -> int:
    """The container port that port ``port`` of Service ``service`` forwards to, as kube-proxy would: what a
    stand-in for a Gateway or an ingress controller (which reaches the pods) dials."""
    _, listening = _service_targets(objects, service, None, port)
    assert len(listening) == 1, f"Service {service} port {port} -> container ports {listening}"
    return listening[0]


def service_url(objects: list[dict], name: str = "mlflow", port_name: str = "http") -> str:
    """``http://<name>.<namespace>.svc.cluster.local:<port>``: how an in-cluster client addresses it."""
    svc = find_object(objects, "Service", name)
    namespace = svc["metadata"]["namespace"]
    return f"http://{name}.{namespace}.svc.{CLUSTER_DOMAIN}:{service_port(objects, name, port_name)}"


def require_free_port(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise RuntimeError(
                f"port {port} is busy ({exc.strerror}): the runtime scenarios run {what} on the port its "
                "manifest declares, since pods share the host network; stop what listens there"
            ) from None


# --------------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------------


def require_passwords(pg: PostgresServer) -> None:
    """Make every role but the superuser authenticate with its password (scram-sha-256) over TCP.

    The fixture server trusts everyone; a scenario must prove that the password it put in the Secret
    is the one the pods send (``PGPASSWORD`` or the URI).
    """
    hba = pg.datadir / "pg_hba.conf"
    hba.write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host all all ::1/128 scram-sha-256\n"
    )
    pg.psql("SELECT pg_reload_conf()")


def start_bundled_postgres(objects: list[dict], secret_values: Mapping[str, Mapping[str, str]]) -> PostgresServer:
    """Stand in for the bundled PostgreSQL StatefulSet with PostgreSQL 16 on its Service port.

    Does what the ``postgres`` image's entrypoint does with the manifest's settings: the superuser role
    ``POSTGRES_USER`` with ``POSTGRES_PASSWORD`` (from the Secret's test value), the database
    ``POSTGRES_DB`` owned by it, then the init scripts of the ConfigMap mounted at
    ``/docker-entrypoint-initdb.d`` in name order. Passwords are enforced.
    """
    sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"].endswith("-postgresql"))
    spec = pod_template(sts)["spec"]
    (container,) = spec["containers"]
    env = literal_env(container)
    password_ref = next(e for e in container["env"] if e["name"] == "POSTGRES_PASSWORD")["valueFrom"]["secretKeyRef"]
    password = secret_values[password_ref["name"]][password_ref["key"]]
    init_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/docker-entrypoint-initdb.d")
    init_volume = next(v for v in spec["volumes"] if v["name"] == init_mount["name"])
    init_scripts = find_object(objects, "ConfigMap", init_volume["configMap"]["name"])["data"]

    port = service_port(objects, sts["spec"]["serviceName"])
    require_free_port(port, "PostgreSQL")
    pg = PostgresServer(port=port).start()
    try:
        user, database = env["POSTGRES_USER"], env["POSTGRES_DB"]
        pg.create_database(database, owner=user, password=password)
        pg.psql(f'ALTER ROLE "{user}" SUPERUSER')  # the image's initdb makes POSTGRES_USER the superuser
        for name in sorted(init_scripts):
            assert name.endswith(".sql"), name
            pg.psql(init_scripts[name], database=database, script=True)
        require_passwords(pg)
    except BaseException:
        pg.stop()
        raise
    return pg


# The AI gateway's passphrase (``secrets.keys.kek_passphrase``), in every scenario's Secret.
KEK_PASSPHRASE = {"kek-passphrase": "kek-passphrase-for-runtime-tests-0123456789abcdef"}
SECRETS_CONFIG = "/ajax-api/3.0/mlflow/gateway/secrets/config"


def assert_own_passphrase(response: requests.Response) -> None:
    """The server's answer on ``SECRETS_CONFIG`` (as an admin): MLflow encrypts the AI gateway's stored keys with
    the passphrase from the Secret, not the public default of its source (``using_default_passphrase``)."""
    assert response.status_code == 200, response.text
    assert response.json() == {"secrets_available": True, "using_default_passphrase": False}, response.json()


# The MLflow user's S3 key in the default environment's Secret, which its bucket Job creates in the bundled
# MinIO (piped to `mc` on stdin: any character but a newline).
MINIO_USER_KEYS = {"access_key_id": "mlflow-server", "secret_access_key": "s3/se cret+'\"%&#?"}


def default_credentials(
    postgres_password: str, s3_keys: Mapping[str, str] = MINIO_USER_KEYS
) -> dict[str, dict[str, str]]:
    """Test values for the ``mlflow-credentials`` Secret the default environment expects you to create: the
    MLflow user's S3 key is the one the bucket Job creates in MinIO (bundled_minio.py) unless ``s3_keys`` gives
    the one the moto stand-in issued (:meth:`s3_standin.S3StandIn.provision`)."""
    return {
        "mlflow-credentials": {
            "postgres-password": postgres_password,
            "minio-root-user": "minio-admin",
            "minio-root-password": "minio-root-password-for-tests",
            "s3-access-key-id": s3_keys["access_key_id"],
            "s3-secret-access-key": s3_keys["secret_access_key"],
            **KEK_PASSPHRASE,
        }
    }


def placeholder_secret_values(objects: list[dict]) -> dict[str, dict[str, str]]:
    """A test value for every key of every Secret the manifests reference (``secretKeyRef``) but do not
    contain, e.g. the ``mlflow-credentials`` Secret the default environment expects you to create."""
    defined = {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}
    values: dict[str, dict[str, str]] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict) and ref.get("name") not in defined:
                values.setdefault(ref["name"], {})[ref["key"]] = f"test-{ref['key']}-0123456789"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(objects)
    return values


@contextmanager
def migrated_bundled_postgres(
    objects: list[dict], secret_values: Mapping[str, Mapping[str, str]], timeout: float = 300
) -> Iterator[PostgresServer]:
    """The bundled PostgreSQL stand-in (:func:`start_bundled_postgres`) with the migration Job run to
    completion on it; stopped when the block ends."""
    pg = start_bundled_postgres(objects, secret_values)
    try:
        run_job(migration_job(objects), objects, secret_values, timeout=timeout)
        yield pg
    finally:
        pg.stop()


def password_required(pg: PostgresServer, user: str, database: str) -> bool:
    """True when ``user`` cannot connect over TCP without a password (see :func:`require_passwords`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    psql = [str(pg.pg_bin / "psql"), "-w", "-h", pg.host, "-p", str(pg.port), "-U", user, "-d", database]
    result = subprocess.run(
        [*psql, "-c", "SELECT 1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode != 0 and "password" in result.stderr


def database_state(pg: PostgresServer, database: str) -> dict[str, object]:
    """``pg_dump`` of the schema and of the data, and the Alembic revision(s) recorded (by table). A fixed
    ``\\restrict`` key where pg_dump writes one (16.10 and later), so that two dumps of the same database are
    the same text."""
    dump = [str(pg.pg_bin / "pg_dump"), "-h", pg.host, "-p", str(pg.port), "-U", "postgres", "-d", database]
    if "--restrict-key" in subprocess.run([dump[0], "--help"], capture_output=True, text=True, check=True).stdout:
        dump.append("--restrict-key=runtimetests")
    tables = pg.psql("SELECT tablename FROM pg_tables WHERE tablename LIKE 'alembic_version%'", database=database)
    return {
        "schema": subprocess.run([*dump, "--schema-only"], capture_output=True, text=True, check=True).stdout,
        "data": subprocess.run([*dump, "--data-only"], capture_output=True, text=True, check=True).stdout,
        "alembic": {t: pg.psql(f"SELECT version_num FROM {t}", database=database) for t in tables.split()},
    }


def databases_of(pg: PostgresServer) -> dict[str, str]:
    """Database name -> owner."""
    rows = pg.psql("SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE NOT datistemplate")
    return dict(line.split("|") for line in rows.splitlines())


# --------------------------------------------------------------------------------------------------
# Probes and HTTP
# --------------------------------------------------------------------------------------------------


def probe_requests(pod: PodRun) -> list[tuple[str, str, str, int]]:
    """(container, probe kind, path, port) of every httpGet probe of the running containers."""
    found = []
    for name, proc in pod.containers.items():
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = proc.container.get(kind)
            if not probe:
                continue
            assert "httpGet" in probe, f"{name} {kind}: only httpGet probes are expected on servers: {probe}"
            http = probe["httpGet"]
            found.append((name, kind, http.get("path", "/"), resolve_port(proc.container, http["port"])))
    return found


def assert_probes_answer_200(pod: PodRun) -> list[tuple[str, str, str, int]]:
    """GET every httpGet probe of the running containers as the kubelet would; each must answer 200
    (stricter than the kubelet's 200-399). Returns the probes checked."""
    probes = probe_requests(pod)
    assert probes, "no probes"
    for container, kind, path, port in probes:
        response = kubelet_get(path, port)
        assert response.status_code == 200, f"{container} {kind} GET {path} on {port}: {response.status_code}"
    return probes


def process_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(entry.split("=", 1) for entry in raw.split("\0") if "=" in entry)


def assert_lean_server(pod: PodRun, container: str = "mlflow", app: str | None = None) -> TreeStats:
    """The server container is one process (PID 1 of the container): the launcher, run in place of
    ``mlflow server``'s idle supervisor, serving in that process the one-worker uvicorn command ``mlflow
    server`` built for the app it chose (logged by the launcher), or, with ``--expose-prometheus``, that
    command exec'd; with MLflow's telemetry off."""
    proc = pod.container(container)
    stats = tree_stats(proc.init_pid)
    assert stats.processes == 1, f"expected one process in the {container} container: {stats.commands}"
    argv = list(stats.commands[0])
    if argv[1:2] == ["-c"]:
        served = [line for line in proc.log().splitlines() if "mlflow launcher: serving in this process:" in line]
        assert len(served) == 1, proc.log_tail()
        argv = served[0].split(": ", 2)[2].split()
    assert argv[1:3] == ["-m", "uvicorn"], argv
    assert argv[argv.index("--workers") + 1] == "1", argv
    if app:
        assert argv[-1] == app, argv
    env = process_environ(proc.init_pid)
    assert env.get("MLFLOW_DISABLE_TELEMETRY") == "true" and env.get("DO_NOT_TRACK") == "true"
    assert env.get("MLFLOW_SERVER_ALLOWED_HOSTS"), "allowed hosts reach the server"
    return stats


def assert_graceful_stop(pod: PodRun, container: str = "mlflow", within: float = 10.0) -> float:
    """SIGTERM to the container's PID 1, as the kubelet sends it: the server exits by itself, well within
    the grace period (no SIGKILL). Returns the seconds it took."""
    proc = pod.container(container)
    grace = float(pod.spec.get("terminationGracePeriodSeconds", 30))
    proc.stop(grace)
    assert not proc.killed, f"{container} ignored SIGTERM for {grace:.0f} s\n{proc.log_tail()}"
    assert proc.stop_seconds is not None and proc.stop_seconds < within, proc.stop_seconds
    return proc.stop_seconds


def kubelet_get(path: str, port: int, pod_ip: str = CLUSTER_POD_IP) -> requests.Response:
    """GET as the kubelet sends it: to the pod's port, ``Host: <pod IP>:<port>``, no redirects."""
    return requests.get(
        f"http://127.0.0.1:{port}{path}",
        headers={"Host": f"{pod_ip}:{port}", "User-Agent": "kube-probe/1.31"},
        allow_redirects=False,
        timeout=10,
    )


# The Accept header Prometheus sends a target (scrape.go, 2.x): OpenMetrics first, the text format accepted.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def scrape_as_prometheus(objects: list[dict], pod: PodRun) -> dict[str, requests.Response]:
    """Every endpoint of the ServiceMonitors in ``objects`` scraped the way Prometheus does: the Services each
    selects by label, their port named like the endpoint, the container port of ``pod`` that port targets, then
    ``GET <path>`` with ``Host: <pod IP>:<port>``, Prometheus' Accept header and no credentials (none is
    configured). ``<ServiceMonitor>/<Service>/<port name>`` -> the response."""
    scraped = {}
    for monitor in (o for o in objects if o["kind"] == "ServiceMonitor"):
        wanted = monitor["spec"]["selector"].get("matchLabels") or {}
        services = [
            o for o in objects if o["kind"] == "Service" and _selects(wanted, o["metadata"].get("labels") or {})
        ]
        assert services, f"ServiceMonitor {monitor['metadata']['name']} selects no Service"
        for svc in services:
            for endpoint in monitor["spec"]["endpoints"]:
                assert "basicAuth" not in endpoint and "authorization" not in endpoint, endpoint
                (entry,) = [p for p in svc["spec"]["ports"] if p.get("name") == endpoint["port"]]
                port = pod_container_port(pod, entry.get("targetPort", entry["port"]))
                key = f"{monitor['metadata']['name']}/{svc['metadata']['name']}/{endpoint['port']}"
                scraped[key] = requests.get(
                    f"{endpoint.get('scheme', 'http')}://127.0.0.1:{port}{endpoint.get('path', '/metrics')}",
                    headers={"Host": f"{CLUSTER_POD_IP}:{port}", "Accept": PROMETHEUS_ACCEPT},
                    allow_redirects=False,
                    timeout=10,
                )
    return scraped


def pod_container_port(pod: PodRun, port: int | str) -> int:
    """The number of ``port`` (a name: of whichever running container declares it) in ``pod``."""
    for name in pod.containers:
        try:
            return pod.port(port, name)
        except Exception:  # noqa: BLE001 - that container does not declare the named port
            continue
    raise LookupError(f"no running container of the pod declares port {port!r}")


def start_cnpg_postgres(objects: list[dict], password: str, port: int = 5432) -> PostgresServer:
    """Stand in for a CloudNativePG ``Cluster`` (and its ``Database`` objects) with PostgreSQL 16.

    Creates what the operator would from the manifests: the owner role of ``bootstrap.initdb`` with
    ``password`` (what the operator puts in ``<cluster>-app``), its database, and each ``Database``
    object's database and owner. Listens on 5432, the port of the operator's ``<cluster>-rw`` Service.
    """
    cluster = find_object(objects, "Cluster")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    require_free_port(port, "PostgreSQL")
    pg = PostgresServer(port=port).start()
    try:
        pg.create_database(initdb["database"], owner=initdb["owner"], password=password)
        databases = [o for o in objects if o["kind"] == "Database"]
        for db in (d for d in databases if d["spec"]["cluster"]["name"] == cluster["metadata"]["name"]):
            pg.create_database(db["spec"]["name"], owner=db["spec"]["owner"])
        require_passwords(pg)
    except BaseException:
        pg.stop()
        raise
    return pg


def register_a_model(url: str) -> str:
    """Through the server at ``url``: a run logged and a version of the model ``churn`` registered from it, read
    back; the run's id (the ``database.registry`` scenarios)."""
    api = f"{url}/api/2.0/mlflow"
    experiment = requests.post(f"{api}/experiments/create", json={"name": "registry-store"}, timeout=30)
    assert experiment.status_code == 200, experiment.text
    run = requests.post(
        f"{api}/runs/create", json={"experiment_id": experiment.json()["experiment_id"]}, timeout=30
    ).json()["run"]["info"]
    model = requests.post(f"{api}/registered-models/create", json={"name": "churn"}, timeout=30)
    assert model.status_code == 200, model.text
    version = requests.post(
        f"{api}/model-versions/create",
        json={"name": "churn", "source": f"{run['artifact_uri']}/model", "run_id": run["run_id"]},
        timeout=30,
    )
    assert version.status_code == 200, version.text
    read = requests.get(f"{api}/registered-models/get", params={"name": "churn"}, timeout=30)
    assert read.json()["registered_model"]["latest_versions"][0]["run_id"] == run["run_id"], read.text
    return run["run_id"]


def start_external_postgres(port: int, user: str, password: str, databases: Iterable[str]) -> PostgresServer:
    """Stand in for an external PostgreSQL (``database.external``) on ``port``: the role ``user`` with
    ``password``, enforced over TCP, owning each of ``databases``, made beforehand as a DBA would."""
    pg = PostgresServer(port=port).start()
    try:
        pg.create_role(user, password)
        for database in databases:
            pg.psql(f'CREATE DATABASE "{database}" OWNER "{user}"')
        require_passwords(pg)
    except BaseException:
        pg.stop()
        raise
    return pg


def readme_exec_line(marker: str, job: str, stamp: str) -> list[str]:
    """The argv after ``kubectl exec job/<job> --`` in the README's ``sh`` block that follows ``marker``, as a
    shell passes it with ``STAMP`` set."""
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index(marker) :]
    block = block[: block.index("```\n", block.index("```sh\n") + 6)]
    (line,) = [ln for ln in block.splitlines() if f"exec job/{job} -- sh" in ln]
    words = line.split(" -- ", 1)[1]
    printed = subprocess.run(
        ["sh", "-c", f"STAMP={stamp}; set -- {words}; printf '%s\\0' \"$@\""],
        capture_output=True,
        text=True,
        check=True,
    )
    return printed.stdout.split("\0")[:-1]


def with_command(workload: dict, command: list[str]) -> dict:
    """The workload with its first container's command replaced (as ``kubectl exec`` runs one in that pod)."""
    changed = copy.deepcopy(workload)
    pod_template(changed)["spec"]["containers"][0]["command"] = command
    return changed


@contextmanager
def migrated_server(
    objects: list[dict],
    secret_values: Mapping[str, Mapping[str, str]],
    *,
    extra_hosts: Mapping[str, str] | None = None,
) -> Iterator[tuple[PodRun, JobResult]]:
    """The order every apply path ends in: the migration Job to completion, then the ``mlflow`` Deployment's
    pod as synthesized, ready (its startup probe answered). Yields the pod and the Job's result."""
    migration = run_job(migration_job(objects), objects, secret_values, timeout=300, extra_hosts=extra_hosts)
    assert migration.succeeded, migration.logs
    require_free_port(service_port(objects, "mlflow"), "the MLflow server")
    deployment = find_object(objects, "Deployment", "mlflow")
    with run_pod(deployment, objects, secret_values, extra_hosts=extra_hosts) as pod:
        pod.wait_for_probe(timeout=180)
        yield pod, migration
