"""Records for the maintenance CronJobs, written and read back through the MLflow client.

    maintenance_records.py seed <tracking uri>
        an experiment with two runs, each with an artifact file; the first run deleted (soft, as in the UI)
    maintenance_records.py read <tracking uri> <run id>...
        each run (or the error getting it) and its artifact files as the server lists them

Prints one JSON object.
"""

import json
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


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
    return {"experiment_id": experiment_id, "runs": runs}


def read(uri: str, run_ids: list[str]) -> dict:
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
    return {"runs": runs}


if __name__ == "__main__":
    command, uri = sys.argv[1], sys.argv[2]
    print(json.dumps(seed(uri) if command == "seed" else read(uri, sys.argv[3:])))
