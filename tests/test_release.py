"""Releases users can follow: one version, written in the changelog and on every object it synthesizes."""

from __future__ import annotations

import re

from repo_paths import REPO

from mlflow_constructs.version import VERSION, VERSION_LABEL

SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def pod_templates(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    found = [spec["template"]] if "template" in spec else []
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    return found + ([job["template"]] if "template" in job else [])


def test_every_object_says_which_release_wrote_it(synthesized):
    """`kubectl get all -L mlflow-k8s/version` tells an operator what produced what runs."""
    unlabelled = [
        f"{env}: {obj['kind']}/{obj['metadata']['name']}"
        for env, objs in synthesized.items()
        if env != "team-tracking"  # the README's library example: the user's own chart, not an environment
        for obj in objs
        if (obj["metadata"].get("labels") or {}).get(VERSION_LABEL) != VERSION
    ]
    assert not unlabelled


def test_a_new_release_alone_rolls_no_pod(synthesized):
    """The label stays off pod templates: upgrading mlflow-k8s with no output change restarts nothing."""
    templates = [t for objs in synthesized.values() for obj in objs for t in pod_templates(obj)]
    assert templates and not [t for t in templates if VERSION_LABEL in (t["metadata"].get("labels") or {})]


def test_the_changelog_describes_this_release_first():
    """The version is semantic and its entry, on top, is what users read before upgrading."""
    headings = re.findall(r"^## (\S+)$", (REPO / "CHANGELOG.md").read_text(), flags=re.MULTILINE)
    assert SEMVER.fullmatch(VERSION) and headings[0] == VERSION
