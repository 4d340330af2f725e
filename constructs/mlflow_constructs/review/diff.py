"""What a change of synthesized objects does to a live cluster: one :class:`Verdict` per object.

:func:`diff_objects` takes one environment's objects before and after a change (lists of dicts, as read from
``dist/``), reads the facts (:mod:`facts`), runs the rule table (:mod:`rules`) on each changed object and
returns a verdict per object: its class (the worst of its findings: ``data loss``, ``recreated``, ``rollout``,
``in place``) and every finding, each with the fields it explains (old and new values).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow_constructs.review.facts import Change, Facts, ObjectDiff, facts, grouped
from mlflow_constructs.review.objects import Obj
from mlflow_constructs.review.rules import CLASSES, DATA_LOSS, IN_PLACE, RECREATED, ROLLOUT, RULES

__all__ = ["CLASSES", "DATA_LOSS", "IN_PLACE", "RECREATED", "ROLLOUT", "Finding", "Verdict", "diff_objects"]


@dataclass(frozen=True)
class Finding:
    """One consequence for one object (see :class:`rules.Found`)."""

    cls: str
    label: str
    detail: str
    shown: tuple[Change, ...] = ()
    refused: bool = False
    lost: str | None = None
    keep: str | None = None
    prerequisite: bool = False
    secret_keys: tuple[tuple[str, str, str | None], ...] = ()


@dataclass(frozen=True)
class Verdict:
    """Everything a change does to one object (``ref``: ``Kind/namespace/name``, or ``old -> new``)."""

    ref: str
    kind: str
    findings: tuple[Finding, ...]
    same_object: bool  # kept under its identity (not added, removed or replaced)

    @property
    def cls(self) -> str:
        return min((f.cls for f in self.findings), key=CLASSES.index)

    @property
    def refused(self) -> bool:
        """The apply fails on this object until the finding's advice is followed."""
        return any(f.refused for f in self.findings)

    def labelled(self, label: str) -> Finding | None:
        return next((f for f in self.findings if f.label == label), None)


def _verdict(diff: ObjectDiff, environment: Facts) -> Verdict | None:
    remaining = list(diff.changes)
    findings = []
    for rule in RULES:
        for found in rule.find(diff, remaining, environment):
            covered = {id(c) for c in found.covers}
            remaining = [c for c in remaining if id(c) not in covered]
            if found.detail or found.shown:
                findings.append(
                    Finding(
                        cls=found.cls or rule.cls,
                        label=found.label or rule.label,
                        detail=found.detail,
                        shown=tuple(grouped(found.shown, diff.before, diff.after)),
                        refused=found.refused,
                        lost=found.lost,
                        keep=found.keep,
                        prerequisite=found.prerequisite,
                        secret_keys=found.secret_keys,
                    )
                )
    if not findings:
        return None
    kept = diff.before is not None and diff.after is not None and not diff.replaced
    return Verdict(diff.ref, diff.current["kind"], tuple(findings), same_object=kept)


def diff_objects(before: list[Obj], after: list[Obj]) -> list[Verdict]:
    """One verdict per changed object of one environment, worst class first (output order within a class)."""
    environment = facts(before, after)
    verdicts = [v for d in environment.diffs if (v := _verdict(d, environment))]
    return sorted(verdicts, key=lambda v: CLASSES.index(v.cls))
