"""MLflow 3.17's server-owned trace archival: span payloads of traces older than the retention move from the
database to the artifact store (``<location>/<experiment id>/traces/<trace id>/artifacts/``), where the server
reads them back.

MLflow runs the archival pass only as a periodic task of its job runner (``server.job_execution``, ~2 GB, and
off with more than one pod), so a CronJob runs the same pass (``run_trace_archival_scheduler``, the function
that task calls) with the same config file the server reads through ``--trace-archival-config`` (it reports
archival in server-info and experiments' effective retention from it). Passes do not step on each other:
MLflow finalizes a trace only if its payload did not change meanwhile.
"""

from __future__ import annotations

import yaml
from constructs import Construct

from mlflow_constructs.config.maintenance import TraceArchival
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import config_map
from mlflow_constructs.k8s.pods import config_map_volume, mount
from mlflow_constructs.maintenance.task import ServerContext, scheduled_task

COMPONENT = "trace-archival"
CONFIG_DIR = "/mlflow/trace-archival"
CONFIG_FILE = "trace-archival.yaml"
CONFIG_PATH = f"{CONFIG_DIR}/{CONFIG_FILE}"
INTERVAL_SECONDS = 300  # MLflow's default: how often the job runner's periodic task may run a pass

# One pass. MLflow admits a pass once per `interval_seconds` of the process's monotonic clock, which starts
# near zero on a freshly booted node, so the pass waits until the clock is past it. MLflow logs a failed
# scope and carries on; the Job fails then, so a failed pass is seen.
ARCHIVAL_SCRIPT = """import logging, os, sys, time
from mlflow.tracing import trace_archival_service
from mlflow.tracing.trace_archival_config import load_trace_archival_server_config

config = load_trace_archival_server_config(os.environ["MLFLOW_TRACE_ARCHIVAL_CONFIG"])
time.sleep(max(0.0, config.interval_seconds + 1 - time.monotonic()))


class Failures(logging.Handler):
    seen = []

    def emit(self, record):
        self.seen.append(record.getMessage())


logging.getLogger(trace_archival_service.__name__).addHandler(Failures(logging.ERROR))
archived = trace_archival_service.run_trace_archival_scheduler()
print(f"archived {archived} trace(s) to {config.location}", flush=True)
if Failures.seen:
    sys.exit("trace archival failed: " + "; ".join(Failures.seen))
"""


def location_uri(destination: str) -> str:
    """A store URI as MLflow's archival wants one: a local path (PVC artifacts) becomes ``file://<path>``."""
    return destination if "://" in destination else f"file://{destination}"


class TraceArchivalConfig(Construct):
    """The ConfigMap ``<name>-trace-archival`` holding MLflow's ``trace_archival`` file. Handles: ``volume``,
    ``mount``, ``path`` (for ``--trace-archival-config``), ``checksum_inputs`` (its content)."""

    def __init__(self, scope: Construct, id: str, *, config: TraceArchival, naming: Naming, location: str) -> None:
        super().__init__(scope, id)
        settings: dict[str, object] = {
            "enabled": True,
            "location": location,
            "retention": config.retention,
            "interval_seconds": INTERVAL_SECONDS,
        }
        if config.long_retention_experiments:
            settings["long_retention_allowlist"] = list(config.long_retention_experiments)
        if config.max_traces_per_pass is not None:
            settings["max_traces_per_pass"] = config.max_traces_per_pass
        text = yaml.safe_dump({"trace_archival": settings}, sort_keys=False)
        name = naming.name(COMPONENT)
        config_map(self, "config-map", name=name, labels=naming.labels("mlflow"), data={CONFIG_FILE: text})
        self.volume = config_map_volume("trace-archival", name)
        self.mount = mount("trace-archival", CONFIG_DIR, read_only=True)
        self.path = CONFIG_PATH
        self.checksum_inputs = {f"trace-archival/{CONFIG_FILE}": text}


class MlflowTraceArchival(Construct):
    """The CronJob ``<name>-trace-archival`` running MLflow's archival pass with ``settings`` (the
    ``TraceArchivalConfig`` the server reads too). Handle: ``selector`` (its pods)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: TraceArchival,
        settings: TraceArchivalConfig,
        server: ServerContext,
    ) -> None:
        super().__init__(scope, id)
        component = server.naming.component(COMPONENT)
        self.selector = component.selector
        scheduled_task(
            self,
            "cronjob",
            component=component,
            server=server,
            schedule=config.schedule,
            config=config.resources,
            script=ARCHIVAL_SCRIPT,
            settings={"MLFLOW_TRACE_ARCHIVAL_CONFIG": settings.path},
            volumes=[settings.volume],
            mounts=[settings.mount],
        )
