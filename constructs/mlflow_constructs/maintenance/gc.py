"""``mlflow gc`` on a schedule: what users deleted (runs, experiments, logged models) and was deleted longer ago
than ``older_than`` is removed for good, rows and artifacts."""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config.maintenance import GarbageCollection
from mlflow_constructs.maintenance.task import ServerContext, scheduled_task
from mlflow_constructs.server.pod import workspace_settings

COMPONENT = "gc"
ARTIFACTS_PORT = 5050  # the loopback artifacts server's port (the pod's own network namespace)

# `mlflow gc` in-process (the store URI, which may hold a password, never becomes an argument). Runs logged
# through the server's proxy have `mlflow-artifacts:/` URIs, which MLflow resolves only through a tracking
# server: an artifacts-only `mlflow server` on loopback serves the same destination with the same credentials,
# so gc deletes the files in the store itself. Without it (`proxied: false`) run URIs name the store directly.
# With workspaces on, gc collects every workspace (`--all-workspaces`; by default it would collect `default`
# alone), and the loopback server serves the destination without them (its paths already name the workspace).
GC_SCRIPT = """import os, subprocess, sys, time, urllib.request
from mlflow.cli import cli

args = ["gc", "--backend-store-uri", os.environ["MLFLOW_BACKEND_STORE_URI"], "--older-than", os.environ["OLDER_THAN"]]
if os.environ.get("MLFLOW_ENABLE_WORKSPACES") == "true":
    args.append("--all-workspaces")
server, destination = None, os.environ.get("ARTIFACTS_DESTINATION")
if destination:
    port = os.environ["ARTIFACTS_PORT"]
    drop = ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_REGISTRY_STORE_URI", "MLFLOW_ENABLE_WORKSPACES")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    command = ["server", "--artifacts-only", "--serve-artifacts", "--artifacts-destination", destination]
    command += ["--host", "127.0.0.1", "--port", port, "--workers", "1"]
    server = subprocess.Popen([sys.executable, "-m", "mlflow", *command], env=env)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("gc: the artifacts server on loopback did not start")
            time.sleep(1)
    os.environ["MLFLOW_TRACKING_URI"] = url
else:
    os.environ["MLFLOW_TRACKING_URI"] = os.environ["MLFLOW_BACKEND_STORE_URI"]
try:
    cli.main(args=args, prog_name="mlflow")
finally:
    if server is not None:
        server.terminate()
        server.wait(30)
"""


class MlflowGc(Construct):
    """The CronJob ``<name>-gc``: the server image, ServiceAccount and store credentials, Pod Security
    restricted, no API token. Handle: ``selector`` (its pods, to admit to the database and a bundled store)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: GarbageCollection,
        server: ServerContext,
    ) -> None:
        super().__init__(scope, id)
        component = server.naming.component(COMPONENT)
        self.selector = component.selector
        settings = {"OLDER_THAN": config.older_than, **workspace_settings(server.pod.config)}
        if server.artifacts.proxied:
            destination = server.artifacts.destination
            settings |= {"ARTIFACTS_DESTINATION": destination, "ARTIFACTS_PORT": str(ARTIFACTS_PORT)}
        scheduled_task(
            self,
            "cronjob",
            component=component,
            server=server,
            schedule=config.schedule,
            config=config.resources,
            script=GC_SCRIPT,
            settings=settings,
        )
