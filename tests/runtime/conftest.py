"""Runtime tests: run the synthesized containers' programs on this machine (see podrunner.py).

Tests marked ``runtime`` need ``bash tests/runtime/setup.sh`` (venvs, bubblewrap, busybox, npm
packages). When that has not been run they are skipped, and a warning says so in the summary, so
a skipped suite is never mistaken for a passing one. ``RUNTIME_TESTS=require`` turns the skip into
a failure (for CI, once setup.sh is part of it).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the helpers are plain modules next to this file
    sys.path.insert(0, str(HERE))

import go_images  # noqa: E402
import venvs  # noqa: E402
from pod_sandbox import reap_stale_sandboxes  # noqa: E402
from postgres import PG_BIN, PG_MAJOR, PostgresServer  # noqa: E402

RUNTIME_MARK = "runtime"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{RUNTIME_MARK}: runs the synthesized containers' programs (needs tests/runtime/setup.sh)",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.geteuid() == 0:
        killed = reap_stale_sandboxes()
        if killed:
            print(f"\nruntime: killed {len(killed)} sandbox(es) left by an earlier, killed test run: {killed}")


def runtime_missing() -> list[str]:
    """What is missing for runtime tests (empty when ready)."""
    missing = [f"venv {v.name} ({v.path})" for v in venvs.missing_venvs()]
    missing += [f"Go image program {g.binary} ({g.ref})" for g in go_images.missing_go_images()]
    for program in ("/usr/bin/redis-server", "/usr/bin/chromium", "/usr/sbin/nginx"):
        if not Path(program).exists():
            missing.append(f"program {program}")
    if not (HERE / "node_modules" / "playwright-core").exists():
        missing.append("npm package playwright-core")
    for tool in ("bwrap", "unshare", "setpriv", "nsenter"):
        if not shutil.which(tool):
            missing.append(f"program {tool}")
    if not (PG_BIN / "initdb").exists():
        missing.append(f"PostgreSQL {PG_MAJOR} server binaries ({PG_BIN})")
    if os.geteuid() != 0:
        missing.append("root (the sandbox mounts an overlay; run as root)")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    runtime_items = [i for i in items if i.get_closest_marker(RUNTIME_MARK)]
    if not runtime_items:
        return
    missing = runtime_missing()
    if not missing:
        return
    reason = "runtime environment not set up (run: bash tests/runtime/setup.sh); missing: " + "; ".join(missing)
    if os.environ.get("RUNTIME_TESTS") == "require":
        raise pytest.UsageError(reason)
    # A built-in warning class: pytest-xdist's workers send warnings to the controller by class name, and a
    # class defined in a conftest cannot be imported there by name.
    config.issue_config_time_warning(UserWarning(f"{len(runtime_items)} runtime tests skipped: {reason}"), stacklevel=2)
    print(f"\nWARNING: {len(runtime_items)} runtime tests will be SKIPPED: {reason}", file=sys.stderr)
    for item in runtime_items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def postgres_server():
    """A fresh PostgreSQL 16 on 127.0.0.1 for one test; ``create_database()`` returns URIs."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def postgres_module():
    """Like ``postgres_server``, shared by the tests of one module."""
    with PostgresServer() as server:
        yield server
