"""The README's "Use as a library" example, extracted and run exactly as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from repo_paths import REPO

MARKER = "<!-- library-example:"
# The chart the example defines, i.e. the file it writes (<chart id>.k8s.yaml).
CHART = "team-tracking"


def example_code() -> str:
    """The first ```python block after the marker comment in README.md."""
    readme = (REPO / "README.md").read_text()
    after = readme[readme.index(MARKER) :]
    start = after.index("```python\n") + len("```python\n")
    return after[start : after.index("```\n", start)]


def run_example(outdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the example in a scratch folder (as a user would, from a file), writing into ``outdir``."""
    script = outdir.parent / "team_tracking.py"
    script.write_text(example_code())
    env = {**os.environ, "CDK8S_OUTDIR": str(outdir)}
    return subprocess.run(
        [sys.executable, str(script)], cwd=outdir.parent, env=env, capture_output=True, text=True, check=True
    )
