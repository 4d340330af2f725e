"""Diagram tests: every environment page's Mermaid diagram rendered in headless Chromium (see render.mjs).

They need ``bash tests/docs/setup.sh`` (``make tools``) and Chromium at /usr/bin/chromium. Without them they
are skipped, and ``RUNTIME_TESTS=require`` (``make test``) turns that skip into a failure.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_MARK = "browser"


def missing_tools() -> list[str]:
    missing = [] if shutil.which("node") else ["node"]
    missing += [] if CHROMIUM.exists() else [f"{CHROMIUM} (bash tests/runtime/setup.sh)"]
    for package in ("mermaid", "playwright-core"):
        if not (HERE / "node_modules" / package).is_dir():
            missing.append(f"npm package {package} (bash tests/docs/setup.sh)")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if item.path.is_relative_to(HERE)]
    for item in ours:
        item.add_marker(BROWSER_MARK)
    if ours and (missing := missing_tools()):
        skip = pytest.mark.skip(reason=f"missing: {', '.join(missing)}")
        for item in ours:
            item.add_marker(skip)
