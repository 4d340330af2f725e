"""Run browser/login.mjs (Playwright + the system Chromium) from a test: a person signs in to the UI.

The browser reaches the pods through loopback: Chromium's ``--host-resolver-rules`` maps the ingress
host to 127.0.0.1, where :class:`tls_ingress.TlsIngress` terminates TLS on 443 with a self-signed
certificate that this one browser profile trusts by its SPKI hash
(``--ignore-certificate-errors-spki-list``). The provider is plain http on 127.0.0.1, as for every
other client of the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from oidc_provider import NODE_MODULES

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "browser" / "login.mjs"
CHROMIUM = Path("/usr/bin/chromium")
REPO = HERE.parents[1]
SCREENSHOTS = REPO / "docs" / "screenshots"


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return "chromium is not installed (run: bash tests/runtime/setup.sh)"
    if not (NODE_MODULES / "playwright-core").exists():
        return "npm package playwright-core missing (run: bash tests/runtime/setup.sh)"
    if not shutil.which("node"):
        return "node is not installed"
    return None


def browser_login(
    *,
    host: str,
    spki: str,
    username: str,
    password: str,
    expect_text: str,
    outdir: Path,
    name: str,
    login_path: str = "",
    then_path: str = "#/experiments",
    timeout: float = 120,
) -> dict:
    """Sign ``username`` in at ``https://<host>/<login_path>``; the result of login.mjs (``ok`` true)."""
    missing = browser_missing()
    assert missing is None, missing
    outdir.mkdir(parents=True, exist_ok=True)
    flow = {
        "start_url": f"https://{host}/",
        "login_path": login_path.lstrip("/"),
        "host_rules": f"MAP {host} 127.0.0.1",
        "spki": spki,
        "username": username,
        "password": password,
        "then_path": then_path,
        "expect_text": expect_text,
        "screenshot": str(outdir / f"{name}.png"),
        "user_data_dir": str(outdir / f"{name}-profile"),
        "executable": str(CHROMIUM),
        "timeout_ms": int(timeout * 1000 / 2),
    }
    flow_path = outdir / f"{name}.json"
    flow_path.write_text(json.dumps(flow))
    done = subprocess.run(
        ["node", str(SCRIPT), str(flow_path)], cwd=HERE, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"ok": False}
    result["screenshot"] = flow["screenshot"]
    assert done.returncode == 0 and result["ok"], f"{result}\n--- stderr\n{done.stderr[-3000:]}"
    return result


def publish_screenshot(result: dict, name: str) -> Path | None:
    """With ``UPDATE_SCREENSHOTS=1``, copy a flow's screenshot to docs/screenshots/<name>.png (referenced
    from the README); otherwise it stays in the test's folder, so a test run leaves the repository as it was."""
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    shutil.copyfile(result["screenshot"], target)
    return target
