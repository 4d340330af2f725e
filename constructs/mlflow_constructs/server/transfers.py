"""Keeping artifact transfers on the server: the start-up hook's ConfigMap and how the pod loads it."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import config_map
from mlflow_constructs.k8s.pods import config_map_volume, mount

HOOK_SOURCE = Path(__file__).with_name("transfers_hook.py")
HOOK_DIR = "/mlflow/hooks"
HOOK_VOLUME = "server-hooks"


@dataclass(frozen=True)
class TransfersHook:
    """What the server container needs: the read-only mount, ``PYTHONPATH`` and the checksum input."""

    volume: k8s.Volume
    mount: k8s.VolumeMount
    settings: dict[str, str]
    checksum_inputs: dict[str, str]


def hook_code() -> str:
    """``transfers_hook.py`` without its module docstring (the reasoning stays in the repository), under
    a one-line header saying where it comes from."""
    source = HOOK_SOURCE.read_text(encoding="utf-8")
    docstring = ast.parse(source).body[0]
    body = source.splitlines(keepends=True)[docstring.end_lineno :]
    header = (
        "# Keeps artifact transfers on the server; source and reasoning: mlflow_constructs/server/transfers_hook.py\n"
    )
    return header + "".join(body).lstrip("\n")


def transfers_hook(scope: Construct, naming: Naming, labels: dict[str, str]) -> TransfersHook:
    """A ConfigMap holding ``sitecustomize.py`` (``transfers_hook.py``), on ``PYTHONPATH`` of ``mlflow server``."""
    source = hook_code()
    name = naming.name("server-hooks")
    config_map(scope, "server-hooks", name=name, labels=labels, data={"sitecustomize.py": source})
    return TransfersHook(
        volume=config_map_volume(HOOK_VOLUME, name),
        mount=mount(HOOK_VOLUME, HOOK_DIR, read_only=True),
        settings={"PYTHONPATH": HOOK_DIR},
        checksum_inputs={"sitecustomize.py": source},
    )
