"""What a process tree costs, from /proc: its processes, memory (RSS, PSS) and CPU time.

Used by the runtime tests (the server container's process tree) and by ``bench/runtime_bench.py``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
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


class CpuMeter:
    """CPU time a process tree uses over a window, counting processes that start or exit inside it.

    A sampler thread reads every process of the tree every ``interval`` seconds; a process that exits
    loses at most its last ``interval`` of CPU time, one that starts counts from zero.
    """

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> dict[int, float]:
        return {p: cpu_seconds(p) for p in descendants(self.pid)}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._last.update(self._sample())

    def __enter__(self) -> CpuMeter:
        self._start = self._sample()
        self._last = dict(self._start)
        self._began = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())
        self.seconds = time.monotonic() - self._began
        self.cpu_seconds = sum(cpu - self._start.get(p, 0.0) for p, cpu in self._last.items())

    @property
    def cores(self) -> float:
        """Average cores used over the window (after the block)."""
        return self.cpu_seconds / self.seconds
