"""The server launcher (constructs/mlflow_constructs/server/launcher.py) against the MLflow of each image.

The launcher leans on these internals: ``mlflow.server._run_server`` starts uvicorn through the module-level
``_exec_cmd(cmd, extra_env=...)``, ``mlflow.server`` builds its Flask app on import (the launcher re-runs it
with MLflow's environment), uvicorn's CLI is the click command ``uvicorn.main.main`` (run in-process with one
worker), and the oidc plugin's wrapper ends with ``os.execvp("mlflow", ...)``.
These tests fail loudly when a new MLflow or plugin release changes any of them, and prove that the launcher
itself refuses to run rather than start a server without what ``mlflow server`` sets up. No ports.
"""

from __future__ import annotations

import subprocess

import pytest
import venvs

from mlflow_constructs.server.launcher import PLUGIN_DELIVERS, WRAPPERS, launcher_command

pytestmark = pytest.mark.runtime

INTERNALS = """\
import inspect, mlflow.server
assert callable(mlflow.server._exec_cmd), "mlflow.server._exec_cmd"
assert "_exec_cmd" in mlflow.server._run_server.__code__.co_names, "_run_server no longer calls _exec_cmd"
source = inspect.getsource(mlflow.server._run_server)
assert "extra_env=env_map" in source, "_run_server no longer passes its env as extra_env"
assert "_build_uvicorn_command(" in source, "_run_server no longer builds a uvicorn command"
import click, importlib
from uvicorn.main import main
assert isinstance(main, click.Command), "uvicorn.main.main is no longer uvicorn's click command"
assert {"--workers", "--log-config", "--factory"} <= {o for p in main.params for o in p.opts}, "uvicorn's options"
assert importlib.reload(mlflow.server).app is not None, "mlflow.server no longer builds its Flask app on import"
print("ok")
"""

WRAPPER_EXECS_MLFLOW = """\
import importlib, inspect, sys
module = importlib.import_module(sys.argv[1])
source = inspect.getsource(module)
assert callable(getattr(module, sys.argv[2])), sys.argv[2]
assert 'os.execvp("mlflow", mlflow_args)' in source, "the wrapper no longer execs mlflow server"
assert '["mlflow", "server"' in source, "the wrapper no longer runs mlflow server"
print("ok")
"""


def python_of(image_ref: str) -> str:
    venv = venvs.venv_for_image(image_ref)
    assert venv is not None and venv.is_ready(), f"{image_ref}: venv not built; run tests/runtime/setup.sh"
    return str(venv.python_exe)


def run(python: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


@pytest.mark.parametrize("image_ref", sorted(venvs.image_venvs()))
def test_mlflow_still_starts_uvicorn_through_exec_cmd(image_ref):
    result = run(python_of(image_ref), ["-c", INTERNALS])
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_wrapper_still_execs_mlflow_server(wrapper):
    module, function = WRAPPERS[wrapper]
    pythons = [python_of(ref) for ref in venvs.image_venvs() if "oidc" in ref]
    assert pythons, "no image carries the oidc plugin"
    result = run(pythons[0], ["-c", WRAPPER_EXECS_MLFLOW, module, function])
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("image_ref", sorted(venvs.image_venvs()))
def test_launcher_refuses_when_exec_cmd_is_gone(image_ref):
    """Simulates an MLflow that starts uvicorn otherwise: exit 1 with a message, no server."""
    _, flag, script = launcher_command(("mlflow", "server"))
    patched = "import mlflow.server\ndel mlflow.server._exec_cmd\n" + script
    result = run(python_of(image_ref), [flag, patched, "--port", "1"])
    assert result.returncode == 1, result
    assert "mlflow launcher: mlflow.server._exec_cmd is gone" in result.stderr


def test_launcher_refuses_job_execution():
    """Job execution needs `mlflow server` next to uvicorn (the construct keeps it then)."""
    _, flag, script = launcher_command(("mlflow", "server"))
    python = python_of(sorted(venvs.image_venvs())[0])
    result = run(python, [flag, script, "--port", "1"], env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"})
    assert result.returncode == 1, result
    assert "job execution needs the `mlflow server` process" in result.stderr


def test_launcher_refuses_the_gateway_without_a_passphrase():
    """With the AI gateway on (MLflow's default), a server without MLFLOW_CRYPTO_KEK_PASSPHRASE would encrypt
    the provider keys users store with the public default passphrase: exit 1 with the fix, no server."""
    _, flag, script = launcher_command(("mlflow", "server"))
    python = python_of(sorted(venvs.image_venvs())[0])
    result = run(python, [flag, script, "--port", "1"], env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    assert result.returncode == 1, result
    assert "the AI gateway is on and MLFLOW_CRYPTO_KEK_PASSPHRASE is not set" in result.stderr
    assert "server.ai_gateway: false" in result.stderr


DELIVERED = """\
import os
from mlflow_oidc_auth.config_providers.mlflow_env import configure_mlflow_environment
configure_mlflow_environment()
print(os.environ.get("MLFLOW_CRYPTO_KEK_PASSPHRASE", "<unset>"))
"""


@pytest.mark.parametrize("registered", [True, False], ids=["launcher", "plugin-alone"])
def test_the_plugins_providers_deliver_the_passphrase_through_the_launcher(tmp_path, registered):
    """With the plugin's cloud stores there is no Secret: the passphrase reaches MLflow only because the
    launcher adds it to what the plugin's providers deliver (the plugin alone ignores it). The plugin's
    file provider stands in for a cloud store here: every provider applies the same filter."""
    pythons = [python_of(ref) for ref in venvs.image_venvs() if "oidc" in ref]
    assert pythons, "no image carries the oidc plugin"
    (tmp_path / "MLFLOW_CRYPTO_KEK_PASSPHRASE").write_text("passphrase-from-the-store\n")
    script = (PLUGIN_DELIVERS if registered else "") + DELIVERED
    env = {"CONFIG_K8S_SECRETS_ENABLED": "true", "CONFIG_K8S_SECRETS_PATH": str(tmp_path)}
    result = run(pythons[0], ["-c", script], env=env)
    assert result.returncode == 0, result.stderr
    expected = "passphrase-from-the-store" if registered else "<unset>"
    assert result.stdout.strip().splitlines()[-1] == expected, result.stdout
