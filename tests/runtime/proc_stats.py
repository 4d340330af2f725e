"""What a process tree costs, from /proc: its processes, memory (RSS, PSS) and CPU time.

Used by the runtime tests (the server container's process tree) and by ``bench/runtime_bench.py``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (depth first); processes that exit meanwhile are skipped."""
    tree, stack = [], [pid]
    while stack:
        current = stack.pop()
        if not Path(f"/proc/{current}").exists():
            continue
        tree.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                stack += [int(child) for child in (task / "children").read_text().split()]
    return tree


def _smaps_rollup(pid: int) -> dict[str, int]:
    """Fields of /proc/<pid>/smaps_rollup in kB (empty when the process is gone)."""
    fields: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return fields
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        value = rest.split()
        if value and value[0].isdigit():
            fields[name] = int(value[0])
    return fields


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (its reaped children are not counted)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15 of stat)


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


@dataclass(frozen=True)
class TreeStats:
    pids: tuple[int, ...]
    commands: tuple[tuple[str, ...], ...]
    rss_kb: int
    pss_kb: int

    @property
    def processes(self) -> int:
        return len(self.pids)

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024

    @property
    def pss_mb(self) -> float:
        return self.pss_kb / 1024


def tree_stats(pid: int) -> TreeStats:
    """Processes, summed RSS and PSS (smaps_rollup) of ``pid`` and its descendants."""
    pids = descendants(pid)
    rollups = [_smaps_rollup(p) for p in pids]
    return TreeStats(
        pids=tuple(pids),
        commands=tuple(tuple(command_line(p)) for p in pids),
        rss_kb=sum(r.get("Rss", 0) for r in rollups),
        pss_kb=sum(r.get("Pss", 0) for r in rollups),
    )


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of the processes of the tree alive now (sample before and after a window)."""
    return sum(cpu_seconds(p) for p in descendants(pid))
