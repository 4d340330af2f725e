"""The seed workload (shared/seeds/002, "Complete Example" + "Model Registry"), run against a server.

    seed_tracking.py <tracking uri> <artifact text>

Logs params and a metric, an artifact file and a scikit-learn RandomForest with ``input_example``,
registers the model, then reads everything back through the server: the run, the metric history, the
model version, the downloaded artifact, and predictions of the registered model loaded from the
registry. Prints one JSON object.
"""

import json
import sys
import tempfile
from pathlib import Path

import mlflow
import mlflow.sklearn
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

uri, artifact_text = sys.argv[1], sys.argv[2]
MODEL_NAME = "iris-classifier"

mlflow.set_tracking_uri(uri)
experiment = mlflow.set_experiment("iris-classification")

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=7)

work = Path(tempfile.mkdtemp(prefix="seed-"))
with mlflow.start_run() as run:
    n_estimators, max_depth = 100, 5
    mlflow.log_param("n_estimators", n_estimators)
    mlflow.log_param("max_depth", max_depth)
    clf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=7)
    clf.fit(X_train, y_train)
    accuracy = accuracy_score(y_test, clf.predict(X_test))
    mlflow.log_metric("accuracy", accuracy)
    notes = work / "notes.txt"
    notes.write_text(artifact_text, encoding="utf-8")
    mlflow.log_artifact(str(notes))
    # As in the seed, plus the one argument MLflow 3.17 needs for a RandomForest: its default skops
    # format refuses to save a model whose tree type is not declared trusted.
    model_info = mlflow.sklearn.log_model(
        sk_model=clf, name="model", input_example=X_train[:5], skops_trusted_types=["sklearn.tree._tree.Tree"]
    )

run_id = run.info.run_id
version = mlflow.register_model(model_uri=f"runs:/{run_id}/model", name=MODEL_NAME)

client = MlflowClient()
stored = client.get_run(run_id)
history = client.get_metric_history(run_id, "accuracy")
model_version = client.get_model_version(MODEL_NAME, version.version)
downloaded = Path(
    mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes.txt", dst_path=str(work / "dl"))
)
loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version.version}")
logged_model = mlflow.get_logged_model(model_info.model_id)

print(
    json.dumps(
        {
            "experiment_id": experiment.experiment_id,
            "run_id": run_id,
            "run_status": stored.info.status,
            "artifact_uri": stored.info.artifact_uri,
            "params": stored.data.params,
            "metrics": stored.data.metrics,
            "accuracy": accuracy,
            "metric_history": [m.value for m in history],
            "model_name": model_version.name,
            "model_version": model_version.version,
            "model_version_status": model_version.status,
            "model_version_run_id": model_version.run_id,
            "model_artifact_location": logged_model.artifact_location,
            "downloaded_text": downloaded.read_text(encoding="utf-8"),
            "predictions": [int(p) for p in loaded.predict(X_test[:5])],
            "expected_predictions": [int(p) for p in clf.predict(X_test[:5])],
            "signature_inputs": str(loaded.metadata.signature.inputs) if loaded.metadata.signature else None,
        }
    )
)
