"""The synthesized MLflow server pod against ``mlflow server`` with MLflow's own defaults, run for real.

    python bench/runtime_bench.py [--env default] [--runs 3] [--requests 800] [--workers 1,2,4]
    # as root: make bench-runtime

All run the same MLflow (the venv standing in for the server image) against the same PostgreSQL 16
(the bundled-database stand-in of the runtime tests, migrated by the environment's migration Job):

* **pod, N workers**: the environment's server Deployment run exactly as synthesized by the runtime tests'
  pod runner (its init container, command, args, env, volumes, read-only root), on its container port,
  once per ``--workers`` value with only its ``--workers`` argument changed (the one the environment
  synthesizes is marked);
* **MLflow defaults**: ``mlflow server --backend-store-uri <same database> --host 127.0.0.1 --port <free>``
  in the same venv (4 uvicorn workers, job execution on, no resource limits), from an empty directory.

Each run measures, for each server in turn (the order rotates between runs, so all see the same
machine load; the 1-minute load average is noted before each): start to the first ``/health`` 200 (from
the container's or process's start, polled every 50 ms); after a warm-up, the process count and the RSS
and PSS of the whole process tree (``/proc/<pid>/smaps_rollup``) and its idle CPU use over 5 s;
``log_metric`` throughput and p50/p95 latency with 1, 4 and 16 concurrent clients (``POST
/api/2.0/mlflow/runs/log-metric``, one HTTP session per client, ``--requests`` per load level shared
between the clients), the CPU the tree used meanwhile (sampled every 0.2 s, processes that come and go
included) and the server CPU per request; SIGTERM to exit. The report gives medians over the runs.

Loopback only (both servers listen on 127.0.0.1 and the pod's Service names resolve there); MLflow's
telemetry is turned off in both (``MLFLOW_DISABLE_TELEMETRY``, ``DO_NOT_TRACK``; added to the pod's env
when its manifest does not set them, and said so). Needs root and ``bash tests/runtime/setup.sh`` (the
runtime tests' venvs, bubblewrap and PostgreSQL 16); binds the pod's fixed ports (PostgreSQL 5432,
MLflow 5000), so run it under the same lock as the runtime tests.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
# jsii (synthesis) prints a banner about the Node release on every start; keep the report clean.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
sys.path.insert(0, str(ROOT / "tests" / "runtime"))

import venvs  # noqa: E402
from podrunner import find_object, load_manifests, run_pod  # noqa: E402
from postgres import free_port  # noqa: E402
from proc_stats import CpuMeter, tree_stats  # noqa: E402
from scenario import (  # noqa: E402
    container_of,
    migrated_bundled_postgres,
    placeholder_secret_values,
    require_free_port,
    service_port,
    service_url,
    shipped_config,
    synth_environment,
)

DEFAULTS = "MLflow defaults"
TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
READY_TIMEOUT = 300.0
IDLE_WINDOW = 5.0
WARMUP_REQUESTS = 50
CLIENTS = (1, 4, 16)
REQUEST_TIMEOUT = 30.0
GRACE = 30.0


@dataclass
class Measurement:
    ready_s: float = 0.0
    processes: int = 0
    rss_mb: float = 0.0
    pss_mb: float = 0.0
    idle_millicores: float = 0.0
    # clients -> req/s, p50 ms, p95 ms, cores used, CPU ms of the tree per request
    load: dict[int, tuple[float, float, float, float, float]] = field(default_factory=dict)
    stop_s: float = 0.0
    killed: bool = False
    commands: list[str] = field(default_factory=list)


@dataclass
class Target:
    """A started server: its base URL, Host header, the PID of its process tree and when it started."""

    url: str
    host: str
    pid: int
    started_at: float
    stop: Callable[[], tuple[float, bool]]  # SIGTERM, wait; returns (seconds, killed)


def wait_healthy(target: Target, alive: Callable[[], bool]) -> float:
    deadline = time.monotonic() + READY_TIMEOUT
    with requests.Session() as session:
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError(f"server at {target.url} exited before /health answered")
            try:
                response = session.get(f"{target.url}/health", headers={"Host": target.host}, timeout=2)
                if response.status_code == 200:
                    return time.monotonic() - target.started_at
            except requests.RequestException:
                pass
            time.sleep(0.05)
    raise TimeoutError(f"{target.url}/health not 200 within {READY_TIMEOUT:.0f} s")


def api(session: requests.Session, target: Target, path: str, body: dict) -> dict:
    response = session.post(
        f"{target.url}/api/2.0/mlflow/{path}", json=body, headers={"Host": target.host}, timeout=REQUEST_TIMEOUT
    )
    response.raise_for_status()
    return response.json()


def log_metrics(target: Target, clients: int, per_client: int, key: str) -> tuple[float, list[float]]:
    """``clients`` threads, one session and one run each, ``per_client`` log-metric calls each; returns
    (requests per second over the whole batch, latencies in seconds)."""
    with requests.Session() as session:
        experiment = api(session, target, "experiments/create", {"name": f"bench-{key}-{time.time_ns()}"})
        runs = [
            api(session, target, "runs/create", {"experiment_id": experiment["experiment_id"]})["run"]["info"]["run_id"]
            for _ in range(clients)
        ]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        with requests.Session() as session:
            try:
                api(
                    session,
                    target,
                    "runs/log-metric",
                    {"run_id": runs[index], "key": "warm", "value": 0, "timestamp": 0},
                )
                barrier.wait()
                for step in range(per_client):
                    body = {
                        "run_id": runs[index],
                        "key": key,
                        "value": step * 0.5,
                        "timestamp": 1000 + step,
                        "step": step,
                    }
                    began = time.perf_counter()
                    api(session, target, "runs/log-metric", body)
                    latencies[index].append(time.perf_counter() - began)
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                errors.append(exc)
                barrier.abort()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"log-metric failed: {errors[0]!r}")
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(target: Target, alive: Callable[[], bool], per_level: int) -> Measurement:
    result = Measurement(ready_s=wait_healthy(target, alive))
    log_metrics(target, 4, WARMUP_REQUESTS, "warmup")  # imports, connection pools, caches
    time.sleep(1.0)
    stats = tree_stats(target.pid)
    result.processes, result.rss_mb, result.pss_mb = stats.processes, stats.rss_mb, stats.pss_mb
    result.commands = [" ".join(c)[:120] for c in stats.commands]
    with CpuMeter(target.pid) as idle:
        time.sleep(IDLE_WINDOW)
    result.idle_millicores = 1000 * idle.cores
    for clients in CLIENTS:
        with CpuMeter(target.pid) as cpu:
            rps, latencies = log_metrics(target, clients, max(1, per_level // clients), f"m{clients}")
        p50, p95 = 1000 * percentile(latencies, 0.5), 1000 * percentile(latencies, 0.95)
        result.load[clients] = (rps, p50, p95, cpu.cores, 1000 * cpu.cpu_seconds / len(latencies))
    result.stop_s, result.killed = target.stop()
    return result


@contextmanager
def project_pod(deployment: dict, objects: list[dict], secrets: dict, url: str):
    with run_pod(deployment, objects, secrets, grace=GRACE) as pod:
        proc = pod.container("mlflow")

        def stop() -> tuple[float, bool]:
            proc.stop(GRACE)
            return proc.stop_seconds or 0.0, proc.killed

        host = url.removeprefix("http://")
        yield Target(pod.url("http"), host, proc.init_pid, proc.started_at, stop), lambda: proc.running


@contextmanager
def mlflow_defaults(mlflow: Path, backend_uri: str, workdir: Path):
    port = free_port()
    env = {"PATH": f"{mlflow.parent}:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8", **TELEMETRY_OFF}
    argv = [str(mlflow), "server", "--backend-store-uri", backend_uri, "--host", "127.0.0.1", "--port", str(port)]
    log = (workdir / "mlflow-defaults.log").open("ab")
    process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()

    def stop() -> tuple[float, bool]:
        began, killed = time.monotonic(), False
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(GRACE)
            except subprocess.TimeoutExpired:
                killed = True
        seconds = time.monotonic() - began
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever the supervisor left behind
        return seconds, killed

    try:
        yield (
            Target(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", process.pid, started, stop),
            lambda: (process.poll() is None),
        )
    finally:
        stop()
        process.wait(10)
        log.close()


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    return f"{os.cpu_count()} cores, {models[0] if models else 'unknown CPU'}, Linux {platform.release()}"


def load_rows(clients: int) -> list[tuple[str, Callable[[Measurement], object], str]]:
    def at(index: int) -> Callable[[Measurement], float]:
        return lambda m: m.load[clients][index]

    noun = "client" if clients == 1 else "clients"
    return [
        (f"log_metric, {clients} {noun} (req/s)", at(0), "{:.1f}"),
        ("  p50 / p95 latency (ms)", lambda m: (m.load[clients][1], m.load[clients][2]), "{:.0f} / {:.0f}"),
        ("  CPU used (cores)", at(3), "{:.2f}"),
        ("  server CPU per request (ms)", at(4), "{:.1f}"),
        ("  req/s per core used", lambda m: 1000 / m.load[clients][4], "{:.0f}"),
    ]


ROWS: list[tuple[str, Callable[[Measurement], object], str]] = [
    ("start to /health 200 (s)", lambda m: m.ready_s, "{:.1f}"),
    ("processes after warm-up", lambda m: m.processes, "{:.0f}"),
    ("RSS after warm-up (MB)", lambda m: m.rss_mb, "{:,.0f}"),
    ("PSS after warm-up (MB)", lambda m: m.pss_mb, "{:,.0f}"),
    ("idle CPU (millicores)", lambda m: m.idle_millicores, "{:.0f}"),
    *(row for clients in CLIENTS for row in load_rows(clients)),
    ("SIGTERM to exit (s)", lambda m: m.stop_s, "{:.1f}"),
]


def median_of(runs: list[Measurement], value: Callable[[Measurement], object]) -> object:
    values = [value(m) for m in runs]
    if isinstance(values[0], tuple):
        return tuple(statistics.median(v[i] for v in values) for i in range(len(values[0])))
    return statistics.median(values)


def report(results: dict[str, list[Measurement]], synthesized: str, loads: list[float]) -> str:
    """One column per server (medians over the runs), then the synthesized pod / MLflow defaults."""
    names = list(results)
    runs = len(results[names[0]])
    lines = [
        f"| {runs} interleaved runs, medians | {' | '.join(names)} | {synthesized} / {DEFAULTS} |",
        "| --- |" + " ---: |" * (len(names) + 1),
    ]
    first = lambda x: x[0] if isinstance(x, tuple) else x  # noqa: E731
    for label, value, fmt in ROWS:
        medians = {name: median_of(measured, value) for name, measured in results.items()}
        cells = [fmt.format(*m) if isinstance(m, tuple) else fmt.format(m) for m in medians.values()]
        ours, theirs = first(medians[synthesized]), first(medians[DEFAULTS])
        ratio = f"{ours / theirs:.2f}" if theirs else "-"
        lines.append(f"| {label} | {' | '.join(cells)} | {ratio} |")
    lines.append("")
    lines.append(
        f"1-minute load average before each server: median {statistics.median(loads):.2f}, max {max(loads):.2f}"
    )
    if any(m.killed for measured in results.values() for m in measured):
        lines.append("note: a server ignored SIGTERM and was killed after the grace period")
    return "\n".join(lines)


def with_workers(deployment: dict, workers: int) -> dict:
    """The same Deployment with only the server's ``--workers`` argument set to ``workers``."""
    variant = copy.deepcopy(deployment)
    args = container_of(variant, "mlflow")["args"]
    args[args.index("--workers") + 1] = str(workers)
    return variant


def interleave(
    servers: dict[str, dict | None],
    objects: list[dict],
    secrets: dict,
    url: str,
    mlflow: Path,
    workdir: Path,
    args: argparse.Namespace,
) -> tuple[dict[str, list[Measurement]], list[float]]:
    """``args.runs`` runs over ``servers`` (a pod's Deployment, or None for MLflow's defaults), the order
    rotating between runs; the measurements per server and the 1-minute load average before each."""
    results: dict[str, list[Measurement]] = {name: [] for name in servers}
    loads: list[float] = []
    names = list(servers)
    with migrated_bundled_postgres(objects, secrets) as pg:
        db_uri = pg.uri("mlflow", user="postgres", driver="psycopg2")
        for run in range(args.runs):
            for name in names[run % len(names) :] + names[: run % len(names)]:
                loads.append(os.getloadavg()[0])
                deployment = servers[name]
                if deployment is None:
                    server_of = mlflow_defaults(mlflow, db_uri, workdir)
                else:
                    server_of = project_pod(deployment, objects, secrets, url)
                with server_of as (target, alive):
                    m = measure(target, alive, args.requests)
                results[name].append(m)
                levels = ", ".join(f"{c} clients {m.load[c][0]:.1f} req/s {m.load[c][4]:.1f} ms CPU" for c in CLIENTS)
                print(
                    f"run {run + 1} {name} (load {loads[-1]:.2f}): ready {m.ready_s:.1f} s, {m.processes} processes, "
                    f"RSS {m.rss_mb:.0f} MB, idle {m.idle_millicores:.0f}m, {levels}, stop {m.stop_s:.1f} s",
                    flush=True,
                )
    return results, loads


def arguments(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The command line, checked (the parser, for errors found later)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="default", help="environment (config/<env>.yaml), with the bundled database")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=800, help="log-metric calls per load level")
    parser.add_argument(
        "--workers",
        type=lambda text: sorted({int(n) for n in text.split(",")}),
        default=[1, 2, 4],
        help="the pod's --workers variants, comma-separated (must include the synthesized one)",
    )
    parser.add_argument(
        "--manifests",
        type=Path,
        help="an already synthesized <env>.k8s.yaml instead of synthesizing config/<env>.yaml now "
        "(e.g. from an earlier revision: git archive REV | tar -x -C DIR; python DIR/app.py ENV --outdir DIR/dist)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change the environment's config before synthesis, e.g. server.resources.limits.cpu=2 (value as YAML)",
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (the pod runner mounts an overlay)")
    if args.runs < 1 or not 16 <= args.requests <= 20000 or not all(1 <= n <= 16 for n in args.workers):
        parser.error("--runs >= 1, 16 <= --requests <= 20000 and --workers between 1 and 16")
    return parser, args


def manifests(args: argparse.Namespace, workdir: Path) -> list[dict]:
    """The objects of ``--manifests``, or of ``config/<env>.yaml`` with the ``--set`` changes synthesized now."""
    if args.manifests:
        return load_manifests(args.manifests)
    config = shipped_config(args.env)
    for assignment in args.set:
        key, _, value = assignment.partition("=")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return synth_environment(config, args.env, workdir / "synth")


def server_deployment(objects: list[dict]) -> tuple[dict, dict]:
    """A copy of the server Deployment and its ``mlflow`` container, MLflow's telemetry off in it."""
    deployment = copy.deepcopy(find_object(objects, "Deployment", "mlflow"))
    server = container_of(deployment, "mlflow")
    env_names = {e["name"] for e in server.get("env") or []}
    settings_map = find_object(objects, "ConfigMap", server["envFrom"][0]["configMapRef"]["name"])["data"]
    missing = [name for name in TELEMETRY_OFF if name not in env_names and name not in settings_map]
    if missing:
        server.setdefault("env", []).extend({"name": n, "value": TELEMETRY_OFF[n]} for n in missing)
        print(f"note: the manifest does not set {', '.join(missing)}; added to the pod's env (loopback only)")
    return deployment, server


def variants(
    parser: argparse.ArgumentParser, deployment: dict, server: dict, workers: list[int]
) -> tuple[dict[str, dict | None], str]:
    """The servers to compare, by label (the pod once per ``workers``, MLflow's defaults as None), and the
    label of the pod as synthesized."""
    synthesized_workers = int(server["args"][server["args"].index("--workers") + 1])
    pods = {n: f"pod, {n} worker{'s' if n > 1 else ''}" for n in workers}
    if synthesized_workers not in pods:
        parser.error(f"--workers must include the {synthesized_workers} the environment synthesizes")
    pods[synthesized_workers] += " (synthesized)"
    servers = {
        **{label: with_workers(deployment, n) for n, label in pods.items()},
        DEFAULTS: None,
    }
    return servers, pods[synthesized_workers]


def main(argv: list[str] | None = None) -> int:
    parser, args = arguments(argv)
    load = os.getloadavg()
    print(f"machine: {machine()}")
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="runtime-bench-"))
    objects = manifests(args, workdir)
    deployment, server = server_deployment(objects)
    venv = venvs.venv_for_image(server["image"])
    if venv is None or not venv.is_ready():
        parser.error(f"no runtime venv for {server['image']} (run: bash tests/runtime/setup.sh)")
    argv = [*(server.get("command") or []), *server.get("args", [])]
    shown = " ".join(part if "\n" not in part else "<script>" for part in argv)
    settings = f"`{shown}`; resources {server.get('resources')}"
    print(f"pod: {settings}", flush=True)
    secrets = placeholder_secret_values(objects)
    url = service_url(objects)
    require_free_port(service_port(objects, "mlflow"), "the MLflow server")
    servers, synthesized = variants(parser, deployment, server, args.workers)
    results, loads = interleave(servers, objects, secrets, url, venv.bin_dir / "mlflow", workdir, args)
    print("\nprocesses (last run):")
    for name, measured in results.items():
        print(f"  {name}:")
        for command in measured[-1].commands:
            print(f"    {command}")
    end = os.getloadavg()
    print()
    print(
        f"machine: {machine()}; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}"
    )
    print(f"pod: {settings}")
    print(report(results, synthesized, loads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
