"""Every file in tests/bad_configs/ is refused: exit 2, a message naming file, key and fix, no
traceback, and the previous dist/ left byte for byte as it was.

Each file's first line says what the message must contain: ``# expect: <key path> | <fix words>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
from pathlib import Path

import pytest
from repo_paths import REPO

import app

BAD = REPO / "tests" / "bad_configs"
CASES = sorted(BAD.glob("*.yaml"))
# How pydantic names types and union branches; a user wrote none of them.
INTERNALS = re.compile(r"constrained-|literal\[|function-(after|before|plain)|instance of [A-Z]")


def expectation(path: Path) -> tuple[str, str]:
    first = path.read_bytes().splitlines()[0].decode()  # the rest may be in another encoding (a case of its own)
    key, fix = first.removeprefix("# expect:").split("|")
    return key.strip(), fix.strip()


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def previous_dist(tmp_path_factory) -> Path:
    """A dist/ holding a good environment, as a user would have it before the bad edit."""
    root = tmp_path_factory.mktemp("bad")
    config = root / "config"
    config.mkdir()
    shutil.copy(REPO / "config" / "default.yaml", config / "default.yaml")
    assert app.main(["--config-dir", str(config), "--outdir", str(root / "dist")]) == 0
    return root


def test_there_are_at_least_thirty_distinct_cases():
    assert len(CASES) >= 30
    assert len({p.read_bytes() for p in CASES}) == len(CASES)


def test_readme_counts_the_cases():
    """The README's test table says how many bad configs are refused; it must not drift from the folder."""
    assert f"{len(CASES)} invalid files in `tests/bad_configs/`" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_bad_config_is_refused_clearly_and_dist_is_kept(case, previous_dist):
    config, dist = previous_dist / "config", previous_dist / "dist"
    before = digest(dist)
    target = config / case.name
    shutil.copy(case, target)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            code = app.main(["--config-dir", str(config), "--outdir", str(dist)])
    finally:
        target.unlink()
    message = stderr.getvalue()
    key, fix = expectation(case)
    assert code == 2
    assert "Traceback" not in message
    assert not INTERNALS.search(message), f"pydantic's own type names leak into the message: {message}"
    assert str(target) in message, message
    if key != "(yaml)":
        assert key in message, message
    assert fix in message, message
    assert digest(dist) == before
    assert not [p for p in dist.parent.iterdir() if p.name.startswith(".dist-")], "staging dir left behind"
