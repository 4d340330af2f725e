"""Run a client script of ``client_scripts/`` with the test-client venv (MLflow 3.17.2, sklearn, boto3).

The tests themselves run in the project's venv, which has no MLflow; the clients run as the users of
the deployment would, in their own Python. ``hosts`` are names that resolve to 127.0.0.1 in the
client (cluster DNS stand-in, see ``client_scripts/hostmap/sitecustomize.py``). A script prints one
JSON object as its last stdout line; that is the return value.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import venvs

SCRIPTS = Path(__file__).resolve().parent / "client_scripts"


class ClientFailed(RuntimeError):
    """A client script exited non-zero."""


def client_bin(program: str) -> str:
    return str(venvs.client_venv().bin_dir / program)


def client_env(hosts: Iterable[str] = (), env: Mapping[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "PYTHON"))}
    return {
        **base,
        "PYTHONPATH": str(SCRIPTS / "hostmap"),
        "RUNTIME_HOSTS": ",".join(hosts),
        "PYTHONUNBUFFERED": "1",
        "GIT_PYTHON_REFRESH": "quiet",
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        **(env or {}),
    }


def run_client(
    script: str,
    *args: str,
    hosts: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
    venv: venvs.VenvSpec | None = None,
) -> dict:
    """Run ``client_scripts/<script>`` (with ``venv``'s Python, the client venv's by default) and return
    the JSON object it printed last."""
    with tempfile.TemporaryDirectory(prefix="client-") as scratch:  # the script's downloads go, and are removed, here
        result = subprocess.run(
            [str((venv or venvs.client_venv()).python_exe), str(SCRIPTS / script), *args],
            env=client_env(hosts, {"TMPDIR": scratch, **(env or {})}),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    return _result(script, result.returncode, result.stdout, result.stderr)


def _result(script: str, returncode: int, stdout: str, stderr: str) -> dict:
    if returncode != 0:
        raise ClientFailed(f"{script} exited {returncode}\n--- stdout\n{stdout[-4000:]}\n--- stderr\n{stderr[-6000:]}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise ClientFailed(f"{script} printed no JSON result\n{stdout[-4000:]}\n{stderr[-4000:]}") from None


class BackgroundClient:
    """``client_scripts/<script>`` started in the background (stdout and stderr to files in ``workdir``);
    :meth:`result` waits for it and returns the JSON object it printed last."""

    def __init__(
        self, script: str, *args: str, workdir: Path, hosts: Iterable[str] = (), env: Mapping[str, str] | None = None
    ) -> None:
        self.script = script
        self._out, self._err = workdir / f"{script}.stdout", workdir / f"{script}.stderr"
        scratch = workdir / f"{script}.tmp"  # its temporary files stay with the test's own folder
        scratch.mkdir(exist_ok=True)
        with self._out.open("w") as out, self._err.open("w") as err:
            self.popen = subprocess.Popen(
                [str(venvs.client_venv().python_exe), str(SCRIPTS / script), *args],
                env=client_env(hosts, {"TMPDIR": str(scratch), **(env or {})}),
                stdout=out,
                stderr=err,
            )

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self._out.read_text() + self._err.read_text()[-4000:]

    def result(self, timeout: float = 300) -> dict:
        try:
            self.popen.wait(timeout)
        finally:
            self.kill()
        return _result(self.script, self.popen.returncode, self._out.read_text(), self._err.read_text())

    def kill(self) -> None:
        if self.running:
            self.popen.kill()
            self.popen.wait(10)
