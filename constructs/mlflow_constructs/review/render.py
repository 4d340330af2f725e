"""The text of a ``python app.py diff`` report: per environment a summary led by the worst class (what is lost
and how to keep it, what to provide first), then one line per object; a total at the end."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlflow_constructs.review.diff import CLASSES, DATA_LOSS, RECREATED, ROLLOUT, Verdict
from mlflow_constructs.review.facts import Change, dotted, env_source
from mlflow_constructs.review.rules import IN_PLACE

_RED, _YELLOW, _BOLD, _RESET = "\033[31m", "\033[33m", "\033[1m", "\033[0m"
_COLOURS = {DATA_LOSS: _BOLD + _RED, RECREATED: _RED, ROLLOUT: _YELLOW, IN_PLACE: ""}
CLASS_WIDTH = max(len(c) for c in CLASSES)
VALUE_WIDTH = 72  # longer values are shortened in the middle
# Where a pod template sits in an object: its fields are shown from there on (containers[mlflow].image).
_POD_TEMPLATES = (("spec", "template"), ("spec", "jobTemplate", "spec", "template"))
_HASH = re.compile(r"^[0-9a-f]{32,}$")


@dataclass(frozen=True)
class EnvironmentReport:
    name: str
    baseline: str  # where the previous output came from, e.g. dist/default.k8s.yaml or HEAD:dist/...
    verdicts: Sequence[Verdict]
    new: bool = False  # not in the baseline
    gone: bool = False  # in the baseline only

    @property
    def cls(self) -> str | None:
        """The worst class of its changes; None when nothing changed."""
        return min((v.cls for v in self.verdicts), key=CLASSES.index) if self.verdicts else None


def _paint(text: str, colour: str, enabled: bool) -> str:
    return f"{colour}{text}{_RESET}" if enabled and colour else text


def field(path: tuple[str, ...]) -> str:
    """A changed field as a reader names it: ``containers[mlflow].image``, ``annotation checksum/config``."""
    for prefix in _POD_TEMPLATES:
        if path[: len(prefix)] == prefix:
            rest = path[len(prefix) :]
            if rest[:2] in (("metadata", "annotations"), ("metadata", "labels")) and len(rest) > 2:
                return f"{rest[1][:-1]} {rest[2]}"
            return dotted(rest[1:] if rest[:1] == ("spec",) else rest)
    return dotted(path)


def value(item: Any) -> str:
    """A value, short enough for one line: hashes cut to 12 digits, scripts as their line count."""
    if item is None:
        return "(none)"
    if isinstance(item, bool):
        return str(item).lower()
    if isinstance(item, str):
        if "\n" in item.strip():
            return f"<{len(item.strip().splitlines())} lines>"
        if _HASH.match(item):
            return item[:12]
        text = item.strip() if item.strip() else repr(item)
    elif isinstance(item, list) and all(not isinstance(i, (dict, list)) for i in item):
        text = "[" + ", ".join(value(i) for i in item) + "]"
    elif isinstance(item, dict) and "name" in item and ("value" in item or "valueFrom" in item):
        text = env_source(item)
    elif isinstance(item, dict) and "mountPath" in item:  # a volume mount
        text = item["mountPath"] + (" (read-only)" if item.get("readOnly") else "")
    elif isinstance(item, dict) and "name" in item and len(item) == 2:  # a volume: its source
        source, spec = next((k, v) for k, v in item.items() if k != "name")
        ref = (spec or {}).get("name") or (spec or {}).get("claimName") or (spec or {}).get("secretName") or ""
        text = f"{source} {ref}".strip() if isinstance(spec, dict) else source
    elif isinstance(item, list):
        text = f"<{len(item)} entr{'y' if len(item) == 1 else 'ies'}>"
    elif isinstance(item, dict):
        text = "{" + ", ".join(f"{k}: {value(v)}" for k, v in item.items()) + "}"
    else:
        text = str(item)
    if len(text) > VALUE_WIDTH:
        half = VALUE_WIDTH // 2 - 1
        text = f"{text[:half]}…{text[-half:]}"
    return text


def describe(change: Change) -> str:
    """``field old -> new``; ``field added: new``; ``field removed (was old)``; lists of values by item."""
    name = field(change.path)
    old, new = change.old, change.new
    named = isinstance(old or new, dict) and "name" in (old or new) and value(old or new).startswith("{")
    if old is None:
        return f"{name} added" if named else f"{name} added: {value(new)}"
    if new is None:
        return f"{name} removed" if named else f"{name} removed (was {value(old)})"
    long_lists = isinstance(old, str) and isinstance(new, str) and len(old) + len(new) > VALUE_WIDTH
    if long_lists and "," in old and "," in new and "\n" not in old + new:  # what came and went
        old, new = old.split(","), new.split(",")
    scalars = [isinstance(v, list) and all(not isinstance(i, (dict, list)) for i in v) for v in (old, new)]
    if all(scalars) and len(value(old)) + len(value(new)) > VALUE_WIDTH:
        parts = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
            if op != "equal":
                parts += [f"-{value(i)}" for i in old[i1:i2]] + [f"+{value(i)}" for i in new[j1:j2]]
        return f"{name} {' '.join(parts)}"
    return f"{name} {value(old)} -> {value(new)}"


def line(verdict: Verdict, colour: bool = False) -> str:
    """One object: its class, reference and every finding (``label: detail, field old -> new, ...``)."""
    parts = []
    for finding in verdict.findings:
        text = ", ".join([*([finding.detail] if finding.detail else []), *map(describe, finding.shown)])
        parts.append(f"{finding.label}: {text}")
    label = _paint(verdict.cls.ljust(CLASS_WIDTH), _COLOURS[verdict.cls], colour)
    return f"  {label} {verdict.ref}: {'; '.join(parts)}"


def _counts(verdicts: Sequence[Verdict]) -> str:
    counts = [(c, sum(v.cls == c for v in verdicts)) for c in CLASSES]
    listed = ", ".join(f"{n} {c}" for c, n in counts if n)
    total = len(verdicts)
    return f"{total} object{'s' if total != 1 else ''} change ({listed})"


def _summary(report: EnvironmentReport, colour: bool) -> list[str]:
    if report.new:
        state = f"new environment (not in {report.baseline})"
    elif report.gone:
        state = f"environment removed (only in {report.baseline})"
    else:
        state = f"compared with {report.baseline}"
    if report.cls is None:
        return [_paint(f"{report.name}: no change, {state}", _BOLD, colour)]
    head = _paint(f"{report.name}: {report.cls.upper()}", _COLOURS[report.cls] or _BOLD, colour)
    lines = [f"{head}, {_counts(report.verdicts)}, {state}"]
    findings = [f for v in report.verdicts for f in v.findings]
    lost = list(dict.fromkeys(f.lost for f in findings if f.lost))
    keep = list(dict.fromkeys(f.keep for f in findings if f.lost and f.keep))
    if lost:
        lines.append(f"  lost unless you act: {'; '.join(lost)}")
        lines.append(f"  to keep it: {'; '.join(keep)}")
    refused = [v.ref for v in report.verdicts if v.refused]
    if refused:
        lines.append(f"  the apply fails until resolved: {', '.join(refused)} (see each line)")
    needed = list(dict.fromkeys(f.detail for f in findings if f.prerequisite and not f.secret_keys))
    secrets: dict[tuple[str, str], list[str]] = {}
    for namespace, secret, key in (k for f in findings for k in f.secret_keys):
        secrets.setdefault((namespace, secret), []).append(key or "(every key)")
    needed += [
        f"Secret {secret} in namespace {namespace} with key{'s' if len(keys) != 1 else ''} {', '.join(keys)}"
        for (namespace, secret), keys in secrets.items()
    ]
    if needed:
        lines.append(f"  before applying: {'; '.join(needed)}")
    return lines


def render(reports: Sequence[EnvironmentReport], *, colour: bool = False) -> str:
    """The report; ANSI colours only when ``colour`` (the caller checks for a terminal and NO_COLOR)."""
    lines: list[str] = []
    for report in reports:
        lines += _summary(report, colour)
        lines += [line(v, colour) for v in report.verdicts]
    by_class = {c: [r.name for r in reports if r.cls == c] for c in CLASSES}
    parts = [f"{c} in {', '.join(names)}" for c, names in by_class.items() if names]
    unchanged = [r.name for r in reports if r.cls is None]
    if unchanged:
        parts.append(f"no change in {', '.join(unchanged)}")
    total = f"{len(reports)} environment{'s' if len(reports) != 1 else ''}: {'; '.join(parts) or 'none selected'}"
    lines.append(_paint(total, _COLOURS[DATA_LOSS], colour) if by_class[DATA_LOSS] else total)
    return "\n".join(lines) + "\n"
