"""API-server tests: the synthesized manifests applied to a real kube-apiserver (see cluster.py).

They need ``bash tests/apiserver/install.sh`` (``make tools``). Without its binaries they are skipped,
and ``RUNTIME_TESTS=require`` (``make test``) turns that skip into a failure.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # cluster.py is a plain module next to this file
    sys.path.insert(0, str(HERE))

from cluster import Cluster, missing_tools  # noqa: E402
from helpers import mark_suite  # noqa: E402

APISERVER_MARK = "apiserver"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = any(item.path.is_relative_to(HERE) for item in items)
    mark_suite(
        items, HERE, APISERVER_MARK, missing_tools() if ours else [], "run `bash tests/apiserver/install.sh` first"
    )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """etcd + kube-apiserver on free 127.0.0.1 ports, with the upstream CRDs of crds/ installed."""
    c = Cluster(tmp_path_factory.mktemp("apiserver"))
    try:
        c.start()
        c.install_crds()
        yield c
    finally:
        c.stop()
