"""Diagram tests: every environment page's Mermaid diagram rendered in headless Chromium (see render.mjs).

They need ``bash tests/docs/setup.sh`` (``make tools``) and Chromium at /usr/bin/chromium. Without them they
are skipped, and ``RUNTIME_TESTS=require`` (``make test``) turns that skip into a failure.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import mark_suite

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_MARK = "browser"


def missing_tools() -> list[str]:
    missing = [] if shutil.which("node") else ["node"]
    missing += [] if CHROMIUM.exists() else [f"{CHROMIUM} (bash tests/runtime/setup.sh)"]
    missing += [f"npm package {p}" for p in ("mermaid", "playwright-core") if not (HERE / "node_modules" / p).is_dir()]
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_suite(items, HERE, BROWSER_MARK, missing_tools(), "run `bash tests/docs/setup.sh` (make tools)")
