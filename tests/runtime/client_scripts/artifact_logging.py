"""Log one artifact file to a run, then read back every artifact of the run.

    artifact_logging.py <tracking uri> <run id | new> <file name> <text>

``mlflow.log_artifact`` as in the seed. If it raises, the error is reported (type and message) instead
of the read-back. Prints one JSON object: run id, ok, error, seconds the call took, and on success
the run's artifacts as {name: text} downloaded through the server.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import mlflow

uri, run_id, name, text = sys.argv[1:5]

mlflow.set_tracking_uri(uri)
mlflow.set_experiment("faults-under-load")
work = Path(tempfile.mkdtemp(prefix="artifact-"))
(work / name).write_text(text, encoding="utf-8")
with mlflow.start_run(run_id=None if run_id == "new" else run_id) as run:
    started = time.monotonic()
    result = {"run_id": run.info.run_id, "ok": True, "error": None}
    try:
        mlflow.log_artifact(str(work / name))
    except Exception as exc:  # noqa: BLE001 - the error is what is under test
        result.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:3000])
    result["seconds"] = time.monotonic() - started
    if result["ok"]:
        listed = mlflow.artifacts.list_artifacts(run_id=run.info.run_id)
        result["artifacts"] = {
            entry.path: Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run.info.run_id, artifact_path=entry.path, dst_path=str(work / "dl")
                )
            ).read_text(encoding="utf-8")
            for entry in listed
        }
print(json.dumps(result))
