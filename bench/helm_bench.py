"""Time ``python app.py`` against ``helm template`` of the community-charts/mlflow chart, side by side.

    python bench/helm_bench.py [--runs 3] [--helm .tools/helm/helm]

For 1, 10 and 100 environments shaped like config/default.yaml (each in its own namespace), one run times:

- helm: ``helm template`` of bench/helm/mlflow (1.11.5) with bench/helm/values-default.yaml, one process per
  environment, as a GitOps tool renders one Application or HelmRelease per variant;
- cold: ``python app.py`` over all of them with the synthesis cache off (every environment synthesized);
- warm: ``python app.py`` over all of them with the cache filled by an earlier run and one config changed since
  (what a pull request touching one environment costs);
- unchanged: the same again with nothing changed (every environment from the cache: node never starts).

The three run back to back in each round, so all see the same machine load; the report gives medians and
the ratios to helm. bench/install-helm.sh builds the helm binary (``make bench-helm`` runs it first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synth_bench import GENERATED, ROOT, fit, generated, machine

CHART = ROOT / "bench" / "helm" / "mlflow"
VALUES = ROOT / "bench" / "helm" / "values-default.yaml"
CACHE_ENV = "MLFLOW_K8S_SYNTH_CACHE"


def helm(binary: Path, count: int, outdir: Path) -> float:
    """``helm template`` once per environment, each to its own file."""
    outdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i in range(count):
        with (outdir / f"env-{i:03d}.yaml").open("w") as out:
            subprocess.run(
                [str(binary), "template", "mlflow", str(CHART), "-f", str(VALUES), "--namespace", f"team-{i:03d}"],
                check=True,
                stdout=out,
            )
    return time.perf_counter() - start


def synth(config_dir: Path, outdir: Path, cache: Path | None) -> float:
    env = {**os.environ, CACHE_ENV: str(cache) if cache else "off"}
    app = [sys.executable, str(ROOT / "app.py"), "--config-dir", str(config_dir), "--outdir", str(outdir)]
    start = time.perf_counter()
    subprocess.run(
        [*app, "--docs-dir", str(outdir.with_name(outdir.name + "-docs"))],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def touch_one(config_dir: Path, round_: int) -> None:
    """Give the first environment a new namespace, as a pull request changing one environment does."""
    path = config_dir / "env-000.yaml"
    text = path.read_text().replace(f"namespace: team-000-r{round_ - 1}\n", "namespace: team-000\n")
    path.write_text(text.replace("namespace: team-000\n", f"namespace: team-000-r{round_}\n"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--helm", type=Path, default=Path(os.environ.get("TOOLS_DIR", ROOT / ".tools")) / "helm" / "helm"
    )
    args = parser.parse_args()
    version = subprocess.run([str(args.helm), "version", "--short"], check=True, capture_output=True, text=True)
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for count in GENERATED:
            config_dir = generated(count, work)
            cache = work / f"cache-{count}"
            synth(config_dir, work / f"warm-{count}", cache)  # fills the cache
            times: dict[str, list[float]] = {"helm": [], "cold": [], "warm": [], "unchanged": []}
            for round_ in range(1, args.runs + 1):
                times["helm"].append(helm(args.helm, count, work / f"helm-{count}"))
                times["cold"].append(synth(config_dir, work / f"cold-{count}", None))
                touch_one(config_dir, round_)
                times["warm"].append(synth(config_dir, work / f"warm-{count}", cache))
                times["unchanged"].append(synth(config_dir, work / f"warm-{count}", cache))
            results[count] = {case: statistics.median(values) for case, values in times.items()}
    print(f"`helm template` (one process per environment) vs `python app.py`, median of {args.runs} interleaved runs")
    print(f"{machine()}; helm {version.stdout.strip()}, chart mlflow 1.11.5")
    cases = ("helm", "cold", "warm", "unchanged")
    print("  " + "  ".join(f"{c:>12}" for c in ("environments", *cases, *(f"{c}/helm" for c in cases[1:]))))
    for count, r in results.items():
        ratios = [f"{r[c] / r['helm']:12.2f}" for c in cases[1:]]
        print("  " + "  ".join([f"{count:>12}", *(f"{r[c]:11.2f}s" for c in cases), *ratios]))
    print("least-squares fit of the medians: seconds = fixed + N x per environment")
    for case in cases:
        fixed, per = fit({n: results[n][case] for n in GENERATED})
        print(f"  {case:>12}  {fixed:7.2f}s + N x {per * 1000:5.0f}ms")
    shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
