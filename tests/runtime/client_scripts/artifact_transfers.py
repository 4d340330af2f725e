"""Artifact transfers of a client whose only route is the MLflow URL.

    artifact_transfers.py <tracking uri> <large file size in bytes>

Logs a scikit-learn model and a file of the given size (random bytes) in one run, then loads the
model back (pyfunc and sklearn flavour, ``models:/<model id>``) and downloads the file and the model directory.
Whether MLflow uses presigned (multipart) transfers is left to the server (server-info) unless the
caller sets ``MLFLOW_ENABLE_PROXY_MULTIPART_*``; ``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`` may be
lowered by the caller. Prints one JSON object.
"""

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import mlflow.sklearn
from mlflow.environment_variables import MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

uri, size = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("artifact-transfers")


timings = {}
_last = [time.monotonic()]


def lap(step: str) -> None:
    now = time.monotonic()
    timings[step] = round(now - _last[0], 2)
    _last[0] = now


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


X, y = load_iris(return_X_y=True)
clf = LogisticRegression(max_iter=500).fit(X, y)
work = Path(tempfile.mkdtemp(prefix="transfers-"))
large = work / "large.bin"
large.write_bytes(os.urandom(size))

lap("prepare")
with mlflow.start_run() as run:
    mlflow.log_artifact(str(large), artifact_path="data")
    lap("log_large")
    model_info = mlflow.sklearn.log_model(sk_model=clf, name="model", input_example=X[:3])
    lap("log_model")

run_id = run.info.run_id
artifact_uri = mlflow.get_run(run_id).info.artifact_uri
capabilities = get_artifact_repository(artifact_uri)._fetch_server_capabilities()
lap("capabilities")
downloaded = Path(
    mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data/large.bin", dst_path=str(work / "dl"))
)
lap("download_large")
model_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_info.model_uri, dst_path=str(work / "model")))
lap("download_model")
from_pyfunc = mlflow.pyfunc.load_model(model_info.model_uri)
from_model = mlflow.sklearn.load_model(model_info.model_uri)
lap("load_models")

print(
    json.dumps(
        {
            "run_id": run_id,
            "artifact_uri": artifact_uri,
            "model_uri": model_info.model_uri,
            "server_capabilities": capabilities,
            "multipart_upload_minimum": MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE.get(),
            "large_size": large.stat().st_size,
            "large_sha256": sha256(large),
            "downloaded_size": downloaded.stat().st_size,
            "downloaded_sha256": sha256(downloaded),
            "model_files": sorted(p.name for p in model_dir.iterdir()),
            "predictions_pyfunc": [int(p) for p in from_pyfunc.predict(X[:5])],
            "predictions_model": [int(p) for p in from_model.predict(X[:5])],
            "expected_predictions": [int(p) for p in clf.predict(X[:5])],
            "seconds": timings,
        }
    )
)
