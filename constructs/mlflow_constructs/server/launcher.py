"""How the server container starts: ``mlflow server`` without an idle supervisor process.

``mlflow server`` parses its flags, sets the environment the app reads (allowed hosts, CORS, artifact
serving, Prometheus, the app plugin, basic-auth's admin bootstrap, ...) and builds the uvicorn command
(``mlflow.server._run_server``). It then starts that command as a child process and stays alive only to
wait for it and forward signals: ~250 MB of Python doing nothing for the life of the pod.

The launcher runs the very same CLI in-process, with one difference: where MLflow would start its child
(``mlflow.server._exec_cmd``), the launcher process becomes that child, with the command and environment
MLflow built. With one worker it runs that uvicorn command in its own process (uvicorn's CLI, called with
the command's arguments; the command goes to the log), so MLflow, Flask, SQLAlchemy and FastAPI are
imported once instead of twice (the slowest part of start-up); with more, it ``os.execve``s the command
(uvicorn's own supervisor is needed and stays, and each worker imports MLflow itself). MLflow builds its
Flask app when ``mlflow.server`` is imported, from the environment it is about to pass
(``--static-prefix``, the Host check, Prometheus): before serving, the launcher sets that environment,
re-runs ``mlflow.server`` (``importlib.reload``) and forgets the modules that hold the app built before
(``mlflow.server.auth``, imported to bootstrap the admin), so uvicorn imports the app a new process would
have. With ``--expose-prometheus`` it ``exec``s the command with one worker too: ``prometheus_client``
reads its multiprocess directory when it is imported (served in-process, the oidc plugin's scrape was empty).
Nothing MLflow sets up is copied or re-implemented here, the program is PID 1 of the container and
gets the kubelet's SIGTERM itself (uvicorn shuts down gracefully).

It fails loudly (exit 1 with a message) if MLflow no longer starts uvicorn through ``_exec_cmd``, and
refuses MLflow's job execution, whose runner ``mlflow server`` starts next to uvicorn after spawning it:
with ``server.job_execution`` the container keeps ``mlflow server`` as it is.

With the oidc plugin, its ``mlflow-oidc-server`` wrapper runs first (loading the configured providers
into the environment) and ends by exec'ing ``mlflow server --app-name oidc-auth <args>``; the launcher
runs that CLI in-process the same way instead of exec'ing a new ``mlflow`` process. Before the wrapper
runs, the launcher adds ``MLFLOW_CRYPTO_KEK_PASSPHRASE`` to the MLflow settings the plugin's providers
deliver (``PLUGIN_DELIVERS``): with a cloud store (no Kubernetes Secret) that is where the AI gateway's
passphrase comes from. With the gateway on, the launcher refuses (exit 1) to start a server without a
passphrase, on which MLflow would encrypt the stored keys with its public default.
"""

from __future__ import annotations

# `python -c LAUNCHER <mlflow server args>`: sys.argv[1:] are the args.
_RUN_CLI = """\
import importlib, os, sys
import mlflow.server
from mlflow.environment_variables import MLFLOW_ENABLE_AI_GATEWAY, MLFLOW_SERVER_ENABLE_JOB_EXECUTION
from mlflow.server.constants import PROMETHEUS_EXPORTER_ENV_VAR

served = []

def fail(message):
    sys.exit(f"mlflow launcher: {message}; start the container with `mlflow server` instead")

def serve(cmd):
    print(f"mlflow launcher: serving in this process: {' '.join(cmd)}", file=sys.stderr, flush=True)
    built = mlflow.server.app
    importlib.reload(mlflow.server)
    for name, module in list(sys.modules.items()):
        if module is not mlflow.server and getattr(module, "app", None) is built:
            del sys.modules[name]
    from uvicorn.main import main
    served.append(True)
    main.main(args=cmd[3:], prog_name="uvicorn", standalone_mode=False)
    sys.exit(0)

def become(cmd, *, extra_env=None, **kwargs):
    cmd = [str(part) for part in cmd]
    os.environ.update(extra_env or {})
    one_worker = "--workers" in cmd and cmd[cmd.index("--workers") + 1] == "1"
    if cmd[1:3] == ["-m", "uvicorn"] and one_worker and PROMETHEUS_EXPORTER_ENV_VAR not in (extra_env or {}):
        serve(cmd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, dict(os.environ))

if not callable(getattr(mlflow.server, "_exec_cmd", None)):
    fail("mlflow.server._exec_cmd is gone (this MLflow starts its server differently)")
mlflow.server._exec_cmd = become

def mlflow_server(args):
    if MLFLOW_SERVER_ENABLE_JOB_EXECUTION.get():
        fail("job execution needs the `mlflow server` process next to uvicorn")
    if MLFLOW_ENABLE_AI_GATEWAY.get() and not os.environ.get("MLFLOW_CRYPTO_KEK_PASSPHRASE"):
        sys.exit(
            "mlflow launcher: the AI gateway is on and MLFLOW_CRYPTO_KEK_PASSPHRASE is not set (MLflow would "
            "encrypt the stored provider keys with its public default); give the passphrase "
            "(secrets.keys.kek_passphrase) or turn the gateway off (server.ai_gateway: false)"
        )
    from mlflow.cli import cli
    try:
        cli.main(args=args, prog_name="mlflow")
    except SystemExit as exit:
        if exit.code or served:
            raise
    fail("`mlflow server` returned without starting uvicorn")
"""

_PLAIN = _RUN_CLI + 'mlflow_server(["server", *sys.argv[1:]])\n'

# The oidc plugin's providers deliver only the MLflow settings of their list, and only secret ones: add these.
PLUGIN_DELIVERS = """\
from mlflow_oidc_auth.config_providers.base import SECRET_CLASSIFICATION, SecretLevel
from mlflow_oidc_auth.config_providers.mlflow_env import MLFLOW_ENV_MAPPINGS

for name in ("MLFLOW_CRYPTO_KEK_PASSPHRASE",):
    MLFLOW_ENV_MAPPINGS.setdefault(name, name)
    SECRET_CLASSIFICATION[name] = SecretLevel.SECRET
"""

_VIA_WRAPPER = (
    _RUN_CLI
    + PLUGIN_DELIVERS
    + """\
exec_program = os.execvp

def execvp(file, args):
    if file == "mlflow" and list(args[1:2]) == ["server"]:
        mlflow_server(list(args[1:]))
    exec_program(file, args)

os.execvp = execvp
from MODULE import FUNCTION
FUNCTION()
fail("WRAPPER returned without starting `mlflow server`")
"""
)

# Console scripts that end by exec'ing `mlflow server`: name -> (module, function).
WRAPPERS = {"mlflow-oidc-server": ("mlflow_oidc_auth.cli", "run")}


MLFLOW_SERVER = ("mlflow", "server")


def launcher_command(command: tuple[str, ...]) -> list[str]:
    """The container command that runs ``command`` (``mlflow server`` or a console script of ``WRAPPERS``)
    as described above; the container's args stay those ``command`` takes. Any other command is kept."""
    if tuple(command) == MLFLOW_SERVER:
        return ["python", "-c", _PLAIN]
    if len(command) == 1 and command[0] in WRAPPERS:
        module, function = WRAPPERS[command[0]]
        script = _VIA_WRAPPER.replace("MODULE", module).replace("FUNCTION", function).replace("WRAPPER", command[0])
        return ["python", "-c", script]
    return list(command)
