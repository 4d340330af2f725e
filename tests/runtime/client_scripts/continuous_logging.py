"""A client logging a metric continuously, as in the seed: ``set_tracking_uri``, ``start_run``, ``log_metric``.

    continuous_logging.py <tracking uri> <journal file> <stop file> <interval seconds>

Logs ``loss`` at step 0, 1, 2, ... every ``interval`` seconds with MLflow's default client settings
(its built-in HTTP retries with backoff) until ``stop file`` exists. Every call is journaled as one JSON
line the moment it returns: step, wall-clock start and end, whether it returned (acknowledged) or
raised (with the error), and how many times urllib3 retried it (counted from urllib3's own log
records). At the end the metric history is read back through the API. Prints one JSON object.
"""

import json
import logging
import sys
import time
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

uri, journal_path, stop_path, interval = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])


class RetryCounter(logging.Handler):
    """urllib3 logs each retry of a request ("Retry: <url>" for a status, "Retrying (...)" for an error)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(("Retry: ", "Retrying ")):
            self.count += 1


retries = RetryCounter()
for name in ("urllib3.connectionpool", "urllib3.util.retry"):
    pool_logger = logging.getLogger(name)
    pool_logger.setLevel(logging.DEBUG)
    pool_logger.addHandler(retries)
    pool_logger.propagate = False

mlflow.set_tracking_uri(uri)
mlflow.set_experiment("faults-under-load")
with mlflow.start_run() as run, journal_path.open("w") as journal:
    step = 0
    while not stop_path.exists():
        before, started = retries.count, time.time()
        entry = {"step": step, "start": started}
        try:
            mlflow.log_metric("loss", float(step), step=step)
            entry["ok"] = True
        except Exception as exc:  # noqa: BLE001 - every failure is journaled, the loop goes on
            entry.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000])
        entry.update(end=time.time(), retries=retries.count - before)
        journal.write(json.dumps(entry) + "\n")
        journal.flush()
        step += 1
        time.sleep(max(0.0, interval - (time.time() - started)))

history = MlflowClient().get_metric_history(run.info.run_id, "loss")
print(json.dumps({"run_id": run.info.run_id, "steps_read_back": sorted(m.step for m in history)}))
