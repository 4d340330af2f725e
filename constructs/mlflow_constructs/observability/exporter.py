"""MLflow's Prometheus metrics on a port of their own: a small container beside the server serving what
``mlflow server --expose-prometheus`` records.

MLflow's own ``/metrics`` route sits behind its auth app: MLflow 3.17's basic-auth answers it 401 (only
``/static``, ``/favicon.ico``, ``/health`` and server-info are open, a fixed list with no setting), so a
ServiceMonitor pointed at the ``http`` port scrapes nothing. Sending Prometheus basic auth would take an MLflow
account, which reads every experiment under the default permission. Instead, prometheus-flask-exporter runs in
multiprocess mode and writes its series to files in the ``--expose-prometheus`` directory; this container reads
that directory (an emptyDir it shares, read-only) with prometheus_client, which the MLflow images carry, and
serves it on the ``metrics`` port. The same holds for every auth mode: no credentials, and NetworkPolicies can
admit Prometheus to that port alone, never to MLflow's API.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdk8s_plus_27 import k8s

from mlflow_constructs.config.base import Image
from mlflow_constructs.k8s.pods import Probes, container, empty_dir, fixed_resources, http_probe, mount

METRICS_PORT_NAME = "metrics"
METRICS_DIR = "/mlflow/metrics"
METRICS_PATH = "/metrics"
_VOLUME = "metrics"

# argv: the directory, the address and the port. Exits 0 on SIGTERM (PID 1 of its container has no default).
EXPORTER = """\
import signal, sys
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
directory, host, port = sys.argv[1:]
registry = CollectorRegistry()
MultiProcessCollector(registry, path=directory)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
_, serving = start_http_server(int(port), addr=host, registry=registry)
serving.join()
"""


@dataclass(frozen=True)
class MetricsExporter:
    """What the server pod gets: MLflow's args, the shared volume and its mount, and the exporter container."""

    server_args: tuple[str, ...]
    volume: k8s.Volume
    server_mount: k8s.VolumeMount
    container: k8s.Container


def metrics_exporter(*, image: Image, host: str, port: int) -> MetricsExporter:
    """The exporter for a server of ``image`` (which carries prometheus_client) listening on ``host``."""
    probe_args = {"path": METRICS_PATH, "port": METRICS_PORT_NAME}
    exporter = container(
        "metrics",
        image,
        command=["python", "-c", EXPORTER],
        args=[METRICS_DIR, host, str(port)],
        ports={METRICS_PORT_NAME: port},
        resources=fixed_resources("10m", "48Mi", "250m", "96Mi"),
        probes=Probes(
            liveness=http_probe(**probe_args, period=20, failures=3),
            readiness=http_probe(**probe_args, period=10, failures=3),
        ),
        mounts=[mount(_VOLUME, METRICS_DIR, read_only=True)],
    )
    return MetricsExporter(
        server_args=("--expose-prometheus", METRICS_DIR),
        volume=empty_dir(_VOLUME, "128Mi"),
        server_mount=mount(_VOLUME, METRICS_DIR),
        container=exporter,
    )
