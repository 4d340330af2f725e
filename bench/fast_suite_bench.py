"""Time ``make test-fast`` of this tree against the same suite at a baseline commit, interleaved in one run.

    python bench/fast_suite_bench.py [--runs 3] [--baseline REV]

Both run the pytest command line of ``make test-fast`` (every core, 12 generated configs) with this tree's
virtual environment, the baseline in a temporary git worktree. Each first runs once untimed, so both start
with their synthesis cache filled, as a contributor's second run does. Each round then times the baseline
and this tree back to back, so both see the same machine load; the report gives each wall time and CPU time
(user + system of pytest and everything it started) with the load average at its start, and the medians.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synth_bench import machine

ROOT = Path(__file__).resolve().parents[1]
# The last release before the fast suite shared its type hints and parsed YAML with libyaml.
DEFAULT_BASELINE = "ad1892f"
MARKERS = "not runtime and not apiserver and not browser and not package and not slow"
FAST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", MARKERS, "-n", "auto"]


def run_once(tree: Path) -> tuple[float, float, float]:
    """Wall time, CPU time of the run and the 1-minute load average when it started, in ``tree``."""
    env = {**os.environ, "MLFLOW_K8S_GENERATED_EXAMPLES": "12"}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(FAST, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(baseline), args.baseline], check=True
        )
        try:
            trees = {args.baseline: baseline, "this tree": ROOT}
            for tree in trees.values():
                run_once(tree)  # fills its synthesis cache
            times: dict[str, list[tuple[float, float, float]]] = {case: [] for case in trees}
            for _ in range(args.runs):
                for case, tree in trees.items():
                    times[case].append(run_once(tree))
                    wall, cpu, load = times[case][-1]
                    print(f"  {case}: {wall:6.1f}s, CPU {cpu:6.1f}s (load {load:.1f})", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], check=False)
    print(f"`make test-fast`, {args.runs} interleaved runs; {machine()}")
    for case, runs in times.items():
        each = ", ".join(f"{wall:.0f}s (load {load:.1f})" for wall, _, load in runs)
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"  {case:<10}  median {wall:6.1f}s, CPU {cpu:6.1f}s  runs: {each}")
    shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
