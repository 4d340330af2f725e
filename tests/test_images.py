"""The image map is the single source of truth for what each image carries."""

from __future__ import annotations

import re

from repo_paths import REPO

from mlflow_constructs import images


def test_oidc_dockerfile_installs_exactly_the_declared_requirements():
    """The runtime tests stand in for this image with a venv built from the same list."""
    dockerfile = (REPO / images.MLFLOW_OIDC.dockerfile).read_text()
    installed = re.findall(r'^\s+"([^"]+)"', dockerfile, flags=re.M)
    assert tuple(installed) == images.MLFLOW_OIDC.requirements
    assert f"FROM python:{images.MLFLOW_OIDC.python}-" in dockerfile
