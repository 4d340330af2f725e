"""The README's generated sections (command line, diff verdicts, diff examples) are what the code says now:
the examples are real runs, so a changed Job hash or verdict shows up here, not in front of a reader."""

from __future__ import annotations

from repo_paths import REPO

from mlflow_constructs.readme import COMMAND, begin, end, readme_text, sections

FIX = f"run: {COMMAND} (or make docs)"


def test_generated_sections_match_the_code():
    current = (REPO / "README.md").read_text(encoding="utf-8")
    generated = sections()
    stale = [name for name in generated if readme_text(current, {name: generated[name]}) != current]
    assert not stale, f"README sections out of date: {', '.join(stale)}; {FIX}"


def test_every_generated_section_has_its_markers_once():
    current = (REPO / "README.md").read_text(encoding="utf-8")
    for name in ("cli", "diff verdicts", "diff example upgrade", "diff example data loss"):
        assert current.count(begin(name)) == current.count(end(name)) == 1, name
