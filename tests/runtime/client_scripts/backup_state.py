"""Write, or read back, the tracking state a backup must preserve.

    backup_state.py <tracking uri> seed|read

``seed`` creates an experiment with tags, three runs (params, metric histories, tags) and a registered
model with a tag, a description and a version pointing at the first run; then, like ``read``, prints
everything the server holds, as one JSON object (run and model ids included, timestamps excluded).
"""

import json
import sys

import mlflow
from mlflow.tracking import MlflowClient

uri, mode = sys.argv[1], sys.argv[2]
EXPERIMENT, MODEL = "backup-roundtrip", "backup-model"
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)

if mode == "seed":
    experiment_id = client.create_experiment(EXPERIMENT, tags={"team": "platform", "purpose": "backup test"})
    run_ids = []
    for i in range(3):
        run = client.create_run(experiment_id, run_name=f"run-{i}", tags={"variant": f"v{i}", "note": "é/ü &%"})
        for key, value in {"lr": str(0.1 * (i + 1)), "layers": str(i + 2)}.items():
            client.log_param(run.info.run_id, key, value)
        for step in range(5):
            client.log_metric(
                run.info.run_id, "loss", 1.0 / (step + 1 + i), step=step, timestamp=1_700_000_000_000 + step
            )
        client.log_metric(run.info.run_id, "accuracy", 0.8 + i / 100, timestamp=1_700_000_000_000)
        client.set_terminated(run.info.run_id, "FINISHED")
        run_ids.append(run.info.run_id)
    client.create_registered_model(MODEL, tags={"owner": "ml"}, description="restored from a dump")
    client.create_model_version(MODEL, source=f"runs:/{run_ids[0]}/model", run_id=run_ids[0])

experiment = client.get_experiment_by_name(EXPERIMENT)
runs = client.search_runs([experiment.experiment_id], order_by=["attributes.run_name ASC"])
model = client.get_registered_model(MODEL)
versions = client.search_model_versions(f"name='{MODEL}'")
state = {
    "experiment": {"id": experiment.experiment_id, "name": experiment.name, "tags": experiment.tags},
    "runs": [
        {
            "id": run.info.run_id,
            "name": run.info.run_name,
            "status": run.info.status,
            "params": run.data.params,
            "metrics": run.data.metrics,
            "tags": {k: v for k, v in run.data.tags.items()},
            "loss_history": [
                (m.step, m.value, m.timestamp) for m in client.get_metric_history(run.info.run_id, "loss")
            ],
        }
        for run in runs
    ],
    "model": {
        "name": model.name,
        "description": model.description,
        "tags": model.tags,
        "versions": sorted((v.version, v.source, v.run_id) for v in versions),
    },
}
print(json.dumps(state, sort_keys=True))
