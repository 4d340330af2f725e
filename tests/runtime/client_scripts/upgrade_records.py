"""Records for the upgrade scenarios: written with an old MLflow release, read back with any release.

    upgrade_records.py populate <uri> [--artifacts] [--users]   (basic-auth: env holds admin credentials)
    upgrade_records.py dump <uri> [--artifacts] [--users]
    upgrade_records.py login <uri>                            (env: a user's credentials)

Runs with whichever MLflow the calling venv has (2.22, 3.0, 3.17), so it only uses client APIs all of
them share. ``populate`` writes experiments with tags (one deleted), runs with params, tags and metric
histories (several keys and steps; one run deleted), artifact files (``--artifacts``), registered
models with several versions, tags and aliases, and with ``--users`` basic-auth users, an admin flag
and experiment and registered-model permissions. ``dump`` reads every record back as the client sees
it: entities as their protobuf messages in JSON form, metric histories, artifact listings with each
file's SHA-256, and each user with its permissions. Prints one JSON object.
"""

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import mlflow
from canonical_json import canonical
from google.protobuf.json_format import MessageToDict
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient
from mlflow.tracking import MlflowClient

USERS = {
    "alice": {"password": "alice-password-0123", "admin": False},
    "bob": {"password": "bob-password-4567890", "admin": True},
    "carol": {"password": "carol-password-13579", "admin": False},
}
DEFAULT_PERMISSION = "READ"
MODELS = ("churn-classifier", "demand-forecast")
ARTIFACTS = {
    "notes.txt": b"written before the upgrade\n",
    "data/table.csv": b"a,b\n1,2\n3,4\n",
    "model/MLmodel": b"flavors: {}\n",
    "binary.bin": bytes(range(256)) * 64,
}


def as_dict(entity):
    return canonical(MessageToDict(entity.to_proto(), preserving_proto_field_name=True))


def populate(uri, artifacts, users):
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    runs = []
    for e in range(2):
        experiment_id = client.create_experiment(f"upgrade-experiment-{e}", tags={"team": f"team-{e}", "tier": "gold"})
        for r in range(2):
            run = client.create_run(experiment_id, run_name=f"run-{e}-{r}", tags={"stage": f"s{r}"})
            run_id = run.info.run_id
            metrics = [
                Metric(key, 0.5 * step + r + (0.25 if key == "loss" else 0), 1_700_000_000_000 + step, step)
                for key in ("accuracy", "loss", "f1")
                for step in range(5)
            ]
            params = [Param("lr", str(0.01 * (r + 1))), Param("epochs", "5"), Param("optimizer", "adam")]
            client.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag("owner", "upgrade-test")])
            client.set_tag(run_id, "note", "multi\nline value")
            if artifacts:
                work = Path(tempfile.mkdtemp(prefix="upgrade-artifacts-"))
                for name, content in ARTIFACTS.items():
                    path = work / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
                    folder = str(Path(name).parent)
                    client.log_artifact(run_id, str(path), artifact_path=None if folder == "." else folder)
            client.set_terminated(run_id, "FINISHED" if r == 0 else "FAILED")
            runs.append(client.get_run(run_id))
    client.delete_run(runs[-1].info.run_id)
    deleted = client.create_experiment("upgrade-experiment-deleted")
    client.delete_experiment(deleted)

    for m, name in enumerate(MODELS):
        client.create_registered_model(name, tags={"domain": f"d{m}"}, description=f"model {m}")
        for v, run in enumerate(runs[:3]):
            version = client.create_model_version(
                name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id, tags={"v": str(v)}
            )
            client.set_model_version_tag(name, version.version, "validated", str(v % 2 == 0).lower())
        client.set_registered_model_tag(name, "owner", "upgrade-test")
        client.set_registered_model_alias(name, "champion", "2")
        client.set_registered_model_alias(name, "challenger", "3")
        client.update_model_version(name, "1", description="first")

    if users:
        auth = AuthServiceClient(uri)
        experiment_ids = [r.info.experiment_id for r in runs]
        for username, spec in USERS.items():
            auth.create_user(username, spec["password"])
            if spec["admin"]:
                auth.update_user_admin(username, True)
        auth.create_experiment_permission(experiment_ids[0], "alice", "EDIT")
        auth.create_experiment_permission(experiment_ids[-1], "alice", "NO_PERMISSIONS")
        auth.create_registered_model_permission(MODELS[0], "alice", "MANAGE")
        auth.create_experiment_permission(experiment_ids[-1], "carol", "MANAGE")
        auth.create_registered_model_permission(MODELS[1], "carol", "NO_PERMISSIONS")
    return {"runs": len(runs), "models": len(MODELS)}


def artifact_files(client, run_id, path=None):
    found = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            found.update(artifact_files(client, run_id, info.path))
        else:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=info.path, dst_path=tempfile.mkdtemp(prefix="upgrade-dl-")
            )
            content = Path(local).read_bytes()
            found[info.path] = {"file_size": info.file_size, "sha256": hashlib.sha256(content).hexdigest()}
    return found


def effective_permission(auth, username, resource_type, resource_id):
    """What ``username`` may do on a resource: MLflow 3.17 answers that itself (roles); older releases have
    the user's grant on it, or the default permission (``READ`` in these environments)."""
    if hasattr(auth, "get_user_permission"):
        return auth.get_user_permission(username, resource_type, resource_id).permission
    read = {"experiment": auth.get_experiment_permission, "registered_model": auth.get_registered_model_permission}
    try:
        return read[resource_type](resource_id, username).permission
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return DEFAULT_PERMISSION


def user_record(auth, username, experiment_ids, model_names):
    """A user and, unless an admin (who may do anything), its permission on each experiment and model."""
    user = auth.get_user(username)
    record = {"id": user.id, "username": user.username, "is_admin": user.is_admin}
    if not user.is_admin:
        record["experiments"] = {e: effective_permission(auth, username, "experiment", e) for e in experiment_ids}
        record["models"] = {m: effective_permission(auth, username, "registered_model", m) for m in model_names}
    return record


def dump(uri, artifacts, users):
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    experiments = client.search_experiments(view_type=ViewType.ALL, order_by=["name ASC"])
    result = {"experiments": [as_dict(e) for e in experiments], "runs": {}, "models": [], "versions": {}}
    for experiment in experiments:
        for run in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL, max_results=1000):
            run_id = run.info.run_id
            record = {"run": as_dict(run), "history": {}}
            for key in sorted(run.data.metrics):
                history = client.get_metric_history(run_id, key)
                record["history"][key] = sorted(
                    ([m.key, m.value, m.timestamp, m.step] for m in history), key=lambda m: (m[3], m[2])
                )
            if artifacts:
                record["artifacts"] = artifact_files(client, run_id)
            result["runs"][run_id] = record
    for model in client.search_registered_models(order_by=["name ASC"]):
        result["models"].append(as_dict(model))
        versions = client.search_model_versions(f"name = '{model.name}'")
        result["versions"][model.name] = sorted((as_dict(v) for v in versions), key=lambda v: int(v["version"]))
    if users:
        auth = AuthServiceClient(uri)
        names = sorted((*USERS, os.environ["MLFLOW_TRACKING_USERNAME"]))
        experiment_ids = [e["experiment_id"] for e in result["experiments"]]
        result["users"] = {name: user_record(auth, name, experiment_ids, MODELS) for name in names}
    return result


def login(uri, artifacts, users):
    """What the user in the environment's credentials can see (fails with 401 on a wrong password)."""
    mlflow.set_tracking_uri(uri)
    return {"experiments": sorted(e.name for e in MlflowClient().search_experiments())}


if __name__ == "__main__":
    command, uri, *flags = sys.argv[1:]
    handler = {"populate": populate, "dump": dump, "login": login}[command]
    print(json.dumps(handler(uri, artifacts="--artifacts" in flags, users="--users" in flags)))
