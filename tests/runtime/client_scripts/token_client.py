"""The MLflow Python client with a per-user access token of the oidc plugin as its password.

    token_client.py <tracking uri> <experiment name>     (env: MLFLOW_TRACKING_USERNAME/PASSWORD)

Creates an experiment and a run, logs a param and a metric, reads them back. Prints one JSON object.
"""

import json
import sys

import mlflow
from mlflow.tracking import MlflowClient

uri, name = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
experiment = mlflow.set_experiment(name)
with mlflow.start_run() as run:
    mlflow.log_param("via", "access-token")
    mlflow.log_metric("loss", 0.25)
stored = MlflowClient().get_run(run.info.run_id)
print(
    json.dumps(
        {
            "experiment_id": experiment.experiment_id,
            "run_id": run.info.run_id,
            "user_id": stored.info.user_id,
            "params": stored.data.params,
            "metrics": stored.data.metrics,
        }
    )
)
