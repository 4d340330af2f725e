"""Synthesis of environments into ``dist/``: validate everything first, write atomically.

Each cdk8s call is a round trip to a node process (jsii), so building charts is CPU-bound per object.
With several environments and more than one core, they are split across worker processes, each with
its own node runtime; the files are the same either way (each environment is written independently).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_constructs.config import Environment, load_environment
from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.config.types import _DNS_LABEL

if TYPE_CHECKING:
    from cdk8s import App

OUTPUT_SUFFIX = ".k8s.yaml"
# Below this many environments per worker, a second node runtime costs more than it saves.
MIN_ENVS_PER_WORKER = 3


def discover(*config_dirs: Path) -> dict[str, Path]:
    """Environment name -> file, for every ``<env>.yaml`` in the ``config_dirs``.

    Names are unique across the folders: a name found in two of them is an error naming both files.
    """
    found: dict[str, Path] = {}
    for config_dir in config_dirs:
        for path in sorted(config_dir.glob("*.yaml")):
            name = path.name.removesuffix(".yaml")
            if not _DNS_LABEL.match(name):
                raise ConfigError(
                    f"{path}: environment names come from file names and must be DNS labels "
                    "(lowercase letters, digits and '-'); rename the file"
                )
            if name in found:
                raise ConfigError(
                    f"{found[name]} and {path}: two environments named {name!r}; environment names must be "
                    "unique across folders (they name the output file); rename one of the files"
                )
            found[name] = path
    return found


def select(config_dir: Path, names: list[str] | None = None) -> dict[str, Path]:
    """The files of the selected environments (all when ``names`` is empty)."""
    available = discover(config_dir)
    if not available:
        raise ConfigError(f"{config_dir}: no environment files (*.yaml) found")
    selected = names or list(available)
    unknown = [name for name in selected if name not in available]
    if unknown:
        raise ConfigError(
            f"unknown environment(s) {', '.join(unknown)}: no such file in {config_dir}/; "
            f"available: {', '.join(available)}"
        )
    return {name: available[name] for name in selected}


def build_app(envs: dict[str, Environment], outdir: Path, sources: dict[str, Path] | None = None) -> App:
    """A cdk8s App with one chart per environment, writing ``<env>.k8s.yaml`` files to ``outdir``.

    Combinations only visible while building (e.g. a Secret key a provider cannot supply) raise
    :class:`ConfigError` naming the environment's file.
    """
    from cdk8s import App, YamlOutputType  # noqa: PLC0415  (starts node: not before workers fork)

    from mlflow_constructs.environment.chart import MlflowChart  # noqa: PLC0415

    app = App(outdir=str(outdir), yaml_output_type=YamlOutputType.FILE_PER_CHART, output_file_extension=OUTPUT_SUFFIX)
    for name, env in envs.items():
        try:
            MlflowChart(app, name, env=env)
        except ConfigError as error:
            source = (sources or {}).get(name, f"{name}.yaml")
            raise ConfigError(f"{source}: invalid configuration\n  - {error}") from None
    return app


def synthesize(config_dir: Path, outdir: Path, names: list[str] | None = None) -> list[Path]:
    """Write the selected environments to ``outdir``; on any error ``outdir`` is left as it was.

    With a subset selected, the other environments' files already in ``outdir`` are kept.
    """
    sources = select(config_dir, names)
    envs = {name: load_environment(path) for name, path in sources.items()}  # all valid before any write
    outdir = outdir.resolve()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}-", dir=outdir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; dist/ is meant to be read and committed
    try:
        if names and outdir.is_dir():
            shutil.copytree(outdir, staging, dirs_exist_ok=True)
        _write(envs, staging, sources)
        previous = staging.with_name(staging.name + ".old")
        if outdir.exists():
            os.rename(outdir, previous)
        os.rename(staging, outdir)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [outdir / f"{name}{OUTPUT_SUFFIX}" for name in envs]


def _synth_into(envs: dict[str, Environment], outdir: Path, sources: dict[str, Path]) -> None:
    build_app(envs, outdir, sources).synth()


def _write(envs: dict[str, Environment], outdir: Path, sources: dict[str, Path]) -> None:
    """Synthesize into ``outdir``, in worker processes when that is faster (see module docstring)."""
    workers = min(os.cpu_count() or 1, len(envs) // MIN_ENVS_PER_WORKER)
    if workers < 2 or "cdk8s" in sys.modules:  # node already running here: forking it is unsafe
        _synth_into(envs, outdir, sources)
        return
    names = list(envs)
    chunks = [{name: envs[name] for name in names[i::workers]} for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for future in [pool.submit(_synth_into, chunk, outdir, sources) for chunk in chunks]:
            future.result()
