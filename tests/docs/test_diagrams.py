"""Every page of docs/environments/ has a diagram a reader's browser renders and reads at a glance: Mermaid
(the npm package, pinned in tests/docs/package.json) in headless Chromium parses it, no edge is drawn through a
node or a subgraph title it does not connect, and no edge label (a port) is hidden under a node, a title or
another label.

One Chromium session renders every page (render.mjs); the geometry is judged here from the node boxes, the
points along each edge's path and the label boxes, in page pixels. The SVG and PNG of each page are kept in
the test's temporary folder (``--basetemp`` to look at them).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import HERE
from repo_paths import REPO

from mlflow_constructs.review.commands import DOCS_DIR

PAGES = sorted((REPO / DOCS_DIR).glob("*.md"))
EDGE = re.compile(r"^\s*(\w+)\s+(?:-\.->|==>|-->)(?:\|[^|]*\|)?\s+(\w+)\s*$")
INSET = 2.0  # px: a path touching a box's border is not through it


def diagram_of(page: Path) -> str:
    return page.read_text().split("```mermaid\n", 1)[1].split("```", 1)[0]


def edges_of(diagram: str) -> list[tuple[str, str]]:
    """(from, to) of each edge, in the order Mermaid numbers them."""
    return [(m.group(1), m.group(2)) for line in diagram.splitlines() if (m := EDGE.match(line))]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Page name -> what render.mjs measured."""
    out = tmp_path_factory.mktemp("diagrams")
    diagrams = out / "diagrams.json"
    diagrams.write_text(json.dumps([{"name": p.stem, "text": diagram_of(p)} for p in PAGES]))
    result = subprocess.run(
        ["node", str(HERE / "render.mjs"), str(diagrams), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {r["name"]: r for r in map(json.loads, result.stdout.splitlines())}


def endpoints(edge_id: str, edges: list[tuple[str, str]]) -> tuple[str, str]:
    """The (from, to) of the edge Mermaid drew as ``edge_id``: ``L_<from>_<to>_<n>``, a self-loop's parts with
    a ``-cyclic-special-...`` suffix."""
    found = {e for e in edges if re.fullmatch(rf"L_{e[0]}_{e[1]}_\d+(-cyclic-special-[\w-]+)?", edge_id)}
    assert len(found) == 1, (edge_id, found)
    return found.pop()


def inside(point: list[float], box: list[float], inset: float = INSET) -> bool:
    x, y, width, height = box
    return x + inset < point[0] < x + width - inset and y + inset < point[1] < y + height - inset


def overlap(a: list[float], b: list[float], inset: float = 1.0) -> bool:
    return (
        a[0] + inset < b[0] + b[2] - inset
        and b[0] + inset < a[0] + a[2] - inset
        and a[1] + inset < b[1] + b[3] - inset
        and b[1] + inset < a[1] + a[3] - inset
    )


def test_every_page_has_a_diagram():
    assert len(PAGES) >= 10 and all("```mermaid\n" in p.read_text() for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_the_diagram_renders(rendered, page):
    """A syntax error shows the reader an error box instead of the diagram."""
    result = rendered[page.stem]
    assert result["error"] is None, result["error"]
    drawn = {endpoints(edge["id"], edges_of(diagram_of(page))) for edge in result["edges"]}
    assert result["nodes"] and drawn == set(edges_of(diagram_of(page)))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_no_edge_runs_through_a_node_it_does_not_connect(rendered, page):
    """An edge across an unrelated box reads as a flow to it (the issue's Redis edge over the migration Job)."""
    result = rendered[page.stem]
    crossings = []
    for edge in result["edges"]:
        source, target = endpoints(edge["id"], edges_of(diagram_of(page)))
        for node, box in result["nodes"].items():
            if node not in (source, target) and any(inside(p, box) for p in edge["points"]):
                crossings.append(f"{source} -> {target} through {node}")
    assert not crossings, crossings


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_edge_label_is_visible(rendered, page):
    """Port labels under a node or another label cannot be read."""
    result = rendered[page.stem]
    hidden = [
        f"{label['text']!r} under {node}"
        for label in result["labels"]
        for node, box in result["nodes"].items()
        if overlap(label["box"], box)
    ]
    labels = result["labels"]
    hidden += [
        f"{a['text']!r} over {b['text']!r}"
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if overlap(a["box"], b["box"])
    ]
    assert not hidden, hidden
