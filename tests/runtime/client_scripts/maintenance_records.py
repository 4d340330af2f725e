"""Records for the maintenance CronJobs, written and read back through the MLflow client.

    maintenance_records.py seed <tracking uri>
        an experiment with two runs, each with an artifact file; the first run deleted (soft, as in the UI);
        two traces (mlflow.tracing); the experiment asks for its traces to be archived at the next pass
    maintenance_records.py read <tracking uri> <run id>... [--traces <trace id>...]
        each run (or the error getting it) and its artifact files as the server lists them; each trace's
        spans and where the server says they are

Prints one JSON object.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"  # the spans are stored before the trace info
ARCHIVE_NOW = "mlflow.trace.archiveNow"  # TraceExperimentTagKey.ARCHIVE_NOW: archive at the next pass


def seed(uri: str) -> dict:
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    experiment_id = mlflow.set_experiment("maintenance").experiment_id
    work = Path(tempfile.mkdtemp(prefix="maintenance-"))
    runs = {}
    for name in ("deleted", "live"):
        (work / f"{name}.txt").write_text(f"artifact of the {name} run\n")
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_param("name", name)
            mlflow.log_artifact(str(work / f"{name}.txt"))
        runs[name] = {"run_id": run.info.run_id, "artifact_uri": run.info.artifact_uri}
    client.delete_run(runs["deleted"]["run_id"])

    @mlflow.trace(name="step")
    def step(x: int) -> int:
        return x + 1

    @mlflow.trace(name="answer")
    def answer(x: int) -> int:
        return step(x) * 2

    traces = []
    for x in (1, 2):
        answer(x)
        traces.append(mlflow.get_last_active_trace_id())
    client.set_experiment_tag(experiment_id, ARCHIVE_NOW, "{}")
    return {"experiment_id": experiment_id, "runs": runs, "traces": traces}


def read(uri: str, run_ids: list[str], trace_ids: list[str]) -> dict:
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    runs = {}
    for run_id in run_ids:
        try:
            run = client.get_run(run_id)
            files = [f.path for f in client.list_artifacts(run_id)]
            runs[run_id] = {"lifecycle_stage": run.info.lifecycle_stage, "artifacts": files}
        except MlflowException as exc:
            runs[run_id] = {"error_code": exc.error_code}
    traces = {}
    for trace_id in trace_ids:
        trace = client.get_trace(trace_id)
        traces[trace_id] = {
            "spans": sorted(span.name for span in trace.data.spans),
            "spans_location": trace.info.tags.get("mlflow.trace.spansLocation"),
            "archive_location": trace.info.tags.get("mlflow.trace.archiveLocation"),
        }
    return {"runs": runs, "traces": traces}


if __name__ == "__main__":
    command, uri = sys.argv[1], sys.argv[2]
    if command == "seed":
        print(json.dumps(seed(uri)))
    else:
        ids = sys.argv[3:]
        split = ids.index("--traces") if "--traces" in ids else len(ids)
        print(json.dumps(read(uri, ids[:split], ids[split + 1 :])))
