"""The venvs that stand in for the images carry what images.py says the images carry: the runtime tests
prove the declared versions, not whatever pip happened to resolve."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import venvs

pytestmark = pytest.mark.runtime

REPORT = """\
import json, sys
from importlib import metadata
names = sys.argv[1:]
print(json.dumps({"python": "%d.%d" % sys.version_info[:2],
                  "versions": {n: metadata.version(n) for n in names}}))
"""


def pinned(requirements: tuple[str, ...]) -> dict[str, str]:
    """``name -> version`` for the ``name[extras]==version`` lines."""
    found = {}
    for line in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


@pytest.mark.parametrize("name", sorted(venvs.image_specs()))
def test_stand_in_carries_the_declared_python_and_pins(name):
    """A stand-in with another MLflow or plugin version would prove nothing about the image."""
    spec = venvs.image_specs()[name]
    venv = venvs.venv_for_image(spec.ref)
    assert venv is not None and venv.is_ready(), f"{spec.ref}: venv not built; run tests/runtime/setup.sh"
    pins = pinned(spec.requirements)
    assert pins, f"{name}: no pinned requirement to check"
    out = subprocess.run([str(venv.python_exe), "-c", REPORT, *pins], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    assert report["python"] == spec.python
    assert report["versions"] == pins
