"""Why ``server.static_prefix`` is refused in oidc mode, checked against the plugin in the oidc image's venv.

MLflow mounts its routes under ``--static-prefix`` (``_MLFLOW_STATIC_PREFIX``), and so does the plugin for
the REST routes it derives from MLflow's paths; its sign-in (``/login``, ``/callback``), admin pages
(``/oidc/ui``) and health checks (``/health/*``) stay at the root. A route for the prefix alone would
leave sign-in unreachable, so the config refuses the combination. When a plugin release mounts those
under the prefix too, this test fails: lift the refusal (``Environment._check_auth``) and move the oidc
probes (``ServerAddon.probes_follow_static_prefix``). No ports.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import venvs

from mlflow_constructs import images

pytestmark = pytest.mark.runtime

PREFIX = "/mlflow"
ROUTES = """\
import json
from fastapi.routing import APIRoute
from mlflow_oidc_auth.routers import get_all_routers
print(json.dumps(sorted({r.path for router in get_all_routers() for r in router.routes if isinstance(r, APIRoute)})))
"""


def test_plugin_keeps_sign_in_and_health_at_the_root_under_a_static_prefix():
    venv = venvs.venv_for_image(images.MLFLOW_OIDC.ref)
    assert venv is not None and venv.is_ready(), "oidc image venv not built; run tests/runtime/setup.sh"
    result = subprocess.run(
        [str(venv.python_exe), "-c", ROUTES],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "_MLFLOW_STATIC_PREFIX": PREFIX, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    paths = set(json.loads(result.stdout.splitlines()[-1]))
    assert any(path.startswith(f"{PREFIX}/api/") for path in paths), "the plugin's REST routes follow the prefix"
    at_the_root = {"/login", "/callback", "/logout", "/oidc/ui", "/health/live", "/health/ready", "/health/startup"}
    assert at_the_root <= paths, sorted(at_the_root - paths)
    assert not {f"{PREFIX}{path}" for path in at_the_root} & paths
