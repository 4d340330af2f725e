"""Time ``python app.py`` end to end, this tree against a baseline commit, interleaved in one run.

    python bench/synth_bench.py [--runs 5] [--baseline REV]

Cases: the shipped environments (the baseline's config/, which held them all, against the same set here:
this tree's config/ and examples/ in one folder), then 1, 10 and 100 environments generated from this tree's
config/default.yaml. Each run times the baseline and this tree back to back, so both see the same machine
load; the report gives medians and the ratio this tree / baseline, and a least-squares line through the
generated cases' medians: its intercept is the fixed start-up cost (Python, node and the jsii assemblies),
its slope the cost of each environment (with `app.py`'s worker per core).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The last commit that built objects as plain dicts (before the typed cdk8s-plus-27 construct library).
DEFAULT_BASELINE = "5182b27"
# Environment counts of the generated cases, the points of the fit.
GENERATED = (1, 10, 100)


# The editable install puts this tree's constructs/ on sys.path, and its regular package wins over the
# baseline's mlflow_constructs when that one is a namespace package (no __init__.py): the baseline would
# then run this tree's code. Its app.py is started with that entry removed.
ISOLATED = (
    "import runpy, sys; sys.path[:] = [p for p in sys.path if p != {constructs!r}]; "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_once(tree: Path, config_dir: Path, outdir: Path) -> float:
    app = [str(tree / "app.py"), "--config-dir", str(config_dir), "--outdir", str(outdir)]
    if tree != ROOT:
        app = ["-c", ISOLATED.format(constructs=str(ROOT / "constructs")), *app]
    start = time.perf_counter()
    # The synthesis cache off: every run synthesizes every environment (make bench-helm times the cache).
    env = {**os.environ, "MLFLOW_K8S_SYNTH_CACHE": "off"}
    subprocess.run([sys.executable, *app], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def generated(count: int, workdir: Path) -> Path:
    """``count`` environments shaped like config/default.yaml, each in its own namespace."""
    directory = workdir / f"gen-{count}"
    directory.mkdir()
    template = (ROOT / "config" / "default.yaml").read_text()
    for i in range(count):
        (directory / f"env-{i:03d}.yaml").write_text(template.replace("namespace: mlflow", f"namespace: team-{i:03d}"))
    return directory


def shipped(workdir: Path) -> Path:
    """This tree's shipped environments in one folder, as the baseline's config/ held them (the examples each
    name their own `cluster`, so they do not collide with config/default.yaml)."""
    directory = workdir / "shipped"
    directory.mkdir()
    for folder in ("config", "examples"):
        for path in (ROOT / folder).glob("*.yaml"):
            shutil.copy(path, directory / path.name)
    return directory


def fit(points: dict[int, float]) -> tuple[float, float]:
    """Least-squares ``(intercept, slope)`` of seconds against environment count."""
    mean_n = statistics.fmean(points)
    mean_t = statistics.fmean(points.values())
    slope = sum((n - mean_n) * (t - mean_t) for n, t in points.items()) / sum((n - mean_n) ** 2 for n in points)
    return mean_t - slope * mean_n, slope


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    cores = len(Path("/proc/cpuinfo").read_text().split("processor\t:")) - 1
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{cores} cores, {cpu}, Python {platform.python_version()}, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        baseline = work / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(baseline), args.baseline], check=True
        )
        try:
            cases = {"shipped environments": (baseline / "config", shipped(work))}
            for count in GENERATED:
                directory = generated(count, work)
                cases[f"{count} generated"] = (directory, directory)
            results: dict[str, tuple[float, float]] = {}
            for case, (old_config, new_config) in cases.items():
                old, new = [], []
                for _ in range(args.runs):
                    old.append(run_once(baseline, old_config, work / "out-old"))
                    new.append(run_once(ROOT, new_config, work / "out-new"))
                results[case] = (statistics.median(old), statistics.median(new))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], check=False)
    print(f"`python app.py`, median of {args.runs} interleaved runs; {machine()}")
    print(f"baseline {args.baseline} vs this tree")
    width = max(map(len, results))
    print(f"  {'case':<{width}}  {'baseline':>9}  {'this tree':>9}  {'ratio':>5}")
    for case, (old, new) in results.items():
        print(f"  {case:<{width}}  {old:8.2f}s  {new:8.2f}s  {new / old:5.2f}")
    fixed_old, per_old = fit({n: results[f"{n} generated"][0] for n in GENERATED})
    fixed_new, per_new = fit({n: results[f"{n} generated"][1] for n in GENERATED})
    counts = ", ".join(map(str, GENERATED))
    print(f"least-squares fit of the generated cases' medians (N = {counts}): seconds = fixed + N x per environment")
    label = "fixed start-up"
    print(f"  {label:<{width}}  {fixed_old:8.2f}s  {fixed_new:8.2f}s  {fixed_new / fixed_old:5.2f}")
    label = "per environment"
    print(f"  {label:<{width}}  {per_old * 1000:7.0f}ms  {per_new * 1000:7.0f}ms  {per_new / per_old:5.2f}")
    shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
