"""Time ``python app.py`` end to end: the shipped environments, then 1/10/50/100 generated ones.

    python bench/synth_bench.py [--runs 5]

Prints the median wall time of each case and the cost of one extra environment
((median of 100 - median of 1) / 99).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_synth(config_dir: Path, runs: int) -> float:
    samples = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, str(ROOT / "app.py"), "--config-dir", str(config_dir), "--outdir", f"{out}/dist"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def generated(count: int, workdir: Path) -> Path:
    """``count`` environments shaped like config/default.yaml, each in its own namespace."""
    directory = workdir / f"gen-{count}"
    directory.mkdir()
    template = (ROOT / "config" / "default.yaml").read_text()
    for i in range(count):
        (directory / f"env-{i:03d}.yaml").write_text(template.replace("namespace: mlflow", f"namespace: team-{i:03d}"))
    return directory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    shipped = len(list((ROOT / "config").glob("*.yaml")))
    results = {f"shipped ({shipped} environments)": time_synth(ROOT / "config", args.runs)}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1, 10, 50, 100):
            results[f"{count} generated"] = time_synth(generated(count, Path(tmp)), args.runs)
    width = max(map(len, results))
    print(f"median of {args.runs} runs of `python app.py`")
    for case, seconds in results.items():
        print(f"  {case:<{width}}  {seconds:6.2f} s")
    extra = (results["100 generated"] - results["1 generated"]) / 99
    print(f"  {'per extra environment':<{width}}  {extra * 1000:6.1f} ms")
    shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
