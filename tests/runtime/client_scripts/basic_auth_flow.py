"""MLflow basic-auth, driven with the MLflow Python client as a user would.

    basic_auth_flow.py admin <uri>                          (env: MLFLOW_TRACKING_USERNAME/PASSWORD = admin)
    basic_auth_flow.py create-user <uri> <name> <password>  (env: admin credentials)
    basic_auth_flow.py user-access <uri> <experiment_id> <run_id>   (env: the user's credentials)

Prints one JSON object.
"""

import json
import sys

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient
from mlflow.tracking import MlflowClient


def admin(uri):
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.set_experiment("admin-experiment")
    with mlflow.start_run() as run:
        mlflow.log_param("owner", "admin")
        mlflow.log_metric("score", 0.5)
    stored = MlflowClient().get_run(run.info.run_id)
    return {
        "experiment_id": experiment.experiment_id,
        "run_id": run.info.run_id,
        "params": stored.data.params,
        "metrics": stored.data.metrics,
    }


def create_user(uri, name, password):
    client = AuthServiceClient(uri)
    client.create_user(name, password)
    user = client.get_user(name)
    return {"username": user.username, "is_admin": user.is_admin}


def _attempt(action):
    try:
        action()
    except MlflowException as exc:
        return {"ok": False, "error_code": exc.error_code, "http_status": exc.get_http_status_code()}
    return {"ok": True}


def user_access(uri, experiment_id, run_id):
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    return {
        "read_experiment": _attempt(lambda: client.get_experiment(experiment_id)),
        "read_run": _attempt(lambda: client.get_run(run_id)),
        "log_param": _attempt(lambda: client.log_param(run_id, "intruder", "1")),
        "create_run": _attempt(lambda: client.create_run(experiment_id)),
        "delete_experiment": _attempt(lambda: client.delete_experiment(experiment_id)),
    }


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    handler = {"admin": admin, "create-user": create_user, "user-access": user_access}[command]
    print(json.dumps(handler(*rest)))
