"""Synthesis of environments into ``dist/``: validate everything first, write atomically.

Each environment is written to ``dist/<env>.k8s.yaml``, or ``dist/<cluster>/<env>.k8s.yaml`` when it names
a ``cluster``. Environments of one run that would deploy the same object to the same cluster are refused
before anything reaches ``dist/`` (see :func:`check_collisions`); :func:`check` compares ``dist/`` with what
synthesis would write, without writing it.

Each cdk8s call is a round trip to a node process (jsii), so building charts is CPU-bound per object.
With several environments and more than one core, they are split across worker processes, each with
its own node runtime; the files are the same either way (each environment is written independently).
An environment whose inputs did not change since a run wrote it is written from the cache instead
(see :mod:`mlflow_constructs.synth_cache`), without starting node at all when every one of them is.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from mlflow_constructs.config import Environment, load_environment
from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.config.types import is_dns_label
from mlflow_constructs.review.objects import LOADER, ObjectKey, cluster_key_of
from mlflow_constructs.synth_cache import SynthCache

if TYPE_CHECKING:
    from cdk8s import App

OUTPUT_SUFFIX = ".k8s.yaml"
# Subcommands of app.py (``python app.py diff``), so no environment may take these names.
RESERVED_NAMES = ("synth", "check", "diff", "explain")
# Below this many environments per worker, a second node runtime costs more than it saves.
MIN_ENVS_PER_WORKER = 3
# How many colliding objects a collision error lists before "and N more".
COLLISIONS_SHOWN = 5
# How many files another program wrote an ``--outdir`` refusal lists before "and N more".
FOREIGN_SHOWN = 5


def discover(*config_dirs: Path) -> dict[str, Path]:
    """Environment name -> file, for every ``<env>.yaml`` in the ``config_dirs``.

    Names are unique across the folders: a name found in two of them is an error naming both files.
    """
    found: dict[str, Path] = {}
    for config_dir in config_dirs:
        for path in sorted(config_dir.glob("*.yaml")):
            name = path.name.removesuffix(".yaml")
            if not is_dns_label(name):
                raise ConfigError(
                    f"{path}: environment names come from file names and must be DNS labels "
                    "(lowercase letters, digits and '-'); rename the file"
                )
            if name in RESERVED_NAMES:
                raise ConfigError(
                    f"{path}: {name!r} is a command of app.py ({', '.join(RESERVED_NAMES)}), not an environment "
                    "name; rename the file"
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


def output_path(name: str, env: Environment) -> Path:
    """Where ``name``'s file goes, relative to ``dist/``: ``<cluster>/<env>.k8s.yaml`` or ``<env>.k8s.yaml``."""
    filename = f"{name}{OUTPUT_SUFFIX}"
    return Path(env.cluster, filename) if env.cluster else Path(filename)


def synthesize(
    config_dir: Path, outdir: Path, names: list[str] | None = None, *, cache: SynthCache | None = None
) -> list[Path]:
    """Write the selected environments to ``outdir``; on any error ``outdir`` is left as it was.

    With a subset selected, the other environments' files already in ``outdir`` are kept (a selected
    environment's file at another place, e.g. before its ``cluster`` changed, is removed).
    """
    sources = select(config_dir, names)
    envs = {name: load_environment(path) for name, path in sources.items()}  # all valid before any write
    outdir = outdir.resolve()
    claim_outdir(outdir, config_dir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}-", dir=outdir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; dist/ is meant to be read and committed
    try:
        if names and outdir.is_dir():
            shutil.copytree(outdir, staging, dirs_exist_ok=True)
            _remove_outputs_of(envs, staging)
        _render(envs, staging, sources, cache)
        previous = staging.with_name(staging.name + ".old")
        if outdir.exists():
            os.rename(outdir, previous)
        os.rename(staging, outdir)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [outdir / output_path(name, env) for name, env in envs.items()]


def claim_outdir(outdir: Path, config_dir: Path) -> None:
    """Refuse an output folder synthesis would not own: it replaces the folder as a whole.

    The folder is synthesis' own when it does not exist yet, or holds nothing but ``*.k8s.yaml`` files (in
    cluster sub-folders too), which is what synthesis writes. Anything else there (sources, a README, a
    ``kustomization.yaml``), a file in its place, or the config folder in, above or at it, is refused with
    the path to fix, before anything is written.
    """
    config = config_dir.resolve()
    for path in (outdir, *outdir.parents):
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--outdir {outdir}: {path} is a file, not a folder; give --outdir a folder path")
    if outdir == config or outdir in config.parents or config in outdir.parents:
        raise ConfigError(
            f"--outdir {outdir}: the config folder {config} is at, inside or around it, and synthesis replaces "
            "--outdir as a whole; give --outdir a folder of its own (default: dist/)"
        )
    if not outdir.exists():
        return
    foreign = sorted(
        p.relative_to(outdir)
        for p in outdir.rglob("*")
        if p.is_symlink() or not (p.is_dir() or p.name.endswith(OUTPUT_SUFFIX))
    )
    if foreign:
        listed = ", ".join(map(str, foreign[:FOREIGN_SHOWN]))
        more = f" and {len(foreign) - FOREIGN_SHOWN} more" if len(foreign) > FOREIGN_SHOWN else ""
        raise ConfigError(
            f"--outdir {outdir}: holds files synthesis did not write ({listed}{more}), and synthesis replaces "
            f"--outdir as a whole; give --outdir a new or empty folder, or move those files out"
        )


@dataclass
class Drift:
    """How ``dist/`` differs from what synthesis would write (paths relative to ``dist/``)."""

    changed: dict[str, Path] = field(default_factory=dict)
    """Environment -> its file, present with other content."""
    missing: dict[str, Path] = field(default_factory=dict)
    """Environment -> its file, absent."""
    stale: list[Path] = field(default_factory=list)
    """Files no selected environment writes (all of them are replaced by a full synthesis)."""
    checked: int = 0
    """How many environments were compared."""
    expected: dict[str, str] = field(default_factory=dict)
    """Environment -> the text synthesis writes for it."""

    def __bool__(self) -> bool:
        return bool(self.changed or self.missing or self.stale)


def check(config_dir: Path, outdir: Path, names: list[str] | None = None, *, cache: SynthCache | None = None) -> Drift:
    """Compare ``outdir`` with what :func:`synthesize` would write there, without writing to it.

    With a subset selected, only those environments' files are compared, and a stale file is one of
    theirs at another place; with none, every file in ``outdir`` that synthesis would not write is stale.
    """
    sources = select(config_dir, names)
    envs = {name: load_environment(path) for name, path in sources.items()}
    outdir = outdir.resolve()
    existing = {p.relative_to(outdir) for p in outdir.rglob("*") if p.is_file()} if outdir.is_dir() else set()
    drift = Drift(checked=len(envs))
    with tempfile.TemporaryDirectory(prefix="mlflow-k8s-check-") as tmp:
        expected = Path(tmp)
        _render(envs, expected, sources, cache)
        for name, env in envs.items():
            relative = output_path(name, env)
            drift.expected[name] = (expected / relative).read_text()
            if relative not in existing:
                drift.missing[name] = relative
            elif (outdir / relative).read_bytes() != (expected / relative).read_bytes():
                drift.changed[name] = relative
    written = {output_path(name, env) for name, env in envs.items()}
    ours = {f"{name}{OUTPUT_SUFFIX}" for name in envs}
    drift.stale = sorted(p for p in existing - written if not names or p.name in ours)
    return drift


def object_keys(text: str) -> list[ObjectKey]:
    """The identity of each object in a synthesized file.

    Only each document's ``apiVersion``, ``kind`` and ``metadata`` are parsed: every other top-level key
    (and so the bulk of the file) is skipped, which keeps the check cheap next to synthesis itself.
    """
    keys = []
    for document in _documents(text):
        obj = yaml.load(document, Loader=LOADER) or {}
        if obj.get("kind") and "name" in (obj.get("metadata") or {}):
            keys.append(cluster_key_of(obj))
    return keys


def check_collisions(
    objects: dict[str, list[ObjectKey]], envs: dict[str, Environment], sources: dict[str, Path]
) -> None:
    """Refuse environments that would deploy the same object to the same cluster.

    ``kubectl apply -f dist`` (or one GitOps application per cluster folder) would apply both and the last
    one would silently win. Only environments with the same ``cluster`` (or none) are compared.
    """
    writers: dict[tuple[str | None, ObjectKey], list[str]] = {}
    for name, keys in objects.items():
        for key in keys:
            writers.setdefault((envs[name].cluster, key), []).append(name)
    shared: dict[tuple[str, str], list[ObjectKey]] = {}
    for (_, key), names in writers.items():
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                shared.setdefault((first, second), []).append(key)
    if not shared:
        return
    problems = []
    for (first, second), keys in list(shared.items())[:COLLISIONS_SHOWN]:
        cluster = envs[first].cluster
        where = f"cluster {cluster!r}" if cluster else "the same cluster (neither sets `cluster`)"
        listed = ", ".join(map(str, keys[:COLLISIONS_SHOWN]))
        more = f" and {len(keys) - COLLISIONS_SHOWN} more" if len(keys) > COLLISIONS_SHOWN else ""
        problems.append(f"{sources[first]} and {sources[second]} write the same objects to {where}: {listed}{more}")
    if len(shared) > COLLISIONS_SHOWN:
        problems.append(f"and {len(shared) - COLLISIONS_SHOWN} more pair(s) of environments")
    raise ConfigError(
        "environments collide (applied together, the last one would silently win)\n  - "
        + "\n  - ".join(problems)
        + "\n  give one of each pair a different `namespace` (a different `name` alone is not enough: each "
        "environment creates its Namespace), or, if they deploy to different clusters, a different `cluster` "
        "(its output then goes to dist/<cluster>/)"
    )


_IDENTITY_KEYS = ("apiVersion:", "kind:", "metadata:")


def _documents(text: str) -> list[str]:
    """Each YAML document of ``text`` cut down to its identity keys (and their indented blocks)."""
    documents, lines, keep = [], [], False
    for line in [*text.splitlines(), "---"]:
        if line.startswith("---"):
            if lines:
                documents.append("\n".join(lines))
            lines, keep = [], False
        elif line and not line[0].isspace() and not line.startswith("#"):
            keep = line.startswith(_IDENTITY_KEYS)  # a top-level key: block contents are always indented
            if keep:
                lines.append(line)
        elif keep:
            lines.append(line)
    return documents


def _remove_outputs_of(envs: dict[str, Environment], outdir: Path) -> None:
    """Remove the selected environments' files wherever they are (their cluster may have changed)."""
    for name in envs:
        for path in outdir.rglob(f"{name}{OUTPUT_SUFFIX}"):
            path.unlink()
            if path.parent != outdir and not any(path.parent.iterdir()):
                path.parent.rmdir()


def _render(
    envs: dict[str, Environment], outdir: Path, sources: dict[str, Path], cache: SynthCache | None = None
) -> None:
    """Write ``envs`` into ``outdir`` (a staging or scratch folder), then refuse collisions among them.

    With a ``cache``, an environment whose entry exists is written from it; the others are synthesized and
    kept in it (unless their file changed meanwhile).
    """
    keys = {name: cache.key(name, sources[name].read_bytes()) for name in envs} if cache else {}
    misses = {n: e for n, e in envs.items() if not (cache and cache.restore(keys[n], outdir / output_path(n, e)))}
    if misses:
        _write(misses, outdir, sources)
    for name, env in misses.items():
        if cache and cache.key(name, sources[name].read_bytes()) == keys[name]:
            cache.store(keys[name], outdir / output_path(name, env))
    objects = {name: object_keys((outdir / output_path(name, env)).read_text()) for name, env in envs.items()}
    check_collisions(objects, envs, sources)


def _synth_into(envs: dict[str, Environment], outdir: Path, sources: dict[str, Path]) -> None:
    """One cdk8s App per cluster folder (an App writes every chart to one folder)."""
    by_cluster: dict[str | None, dict[str, Environment]] = {}
    for name, env in envs.items():
        by_cluster.setdefault(env.cluster, {})[name] = env
    for cluster, group in by_cluster.items():
        build_app(group, outdir / cluster if cluster else outdir, sources).synth()


def _write(envs: dict[str, Environment], outdir: Path, sources: dict[str, Path]) -> None:
    """Synthesize into ``outdir``, in worker processes when that is faster (see module docstring)."""
    workers = min(os.cpu_count() or 1, len(envs) // MIN_ENVS_PER_WORKER)
    if workers < 2 or "cdk8s" in sys.modules:  # node already running here: forking it is unsafe
        _synth_into(envs, outdir, sources)
        return
    names = list(envs)
    chunks = [{name: envs[name] for name in names[i::workers]} for i in range(workers)]
    fork = multiprocessing.get_context("fork")
    with (
        tempfile.TemporaryDirectory(prefix="mlflow-k8s-workers-") as scratch,
        ProcessPoolExecutor(workers, mp_context=fork, initializer=_use_temporary_folder, initargs=(scratch,)) as pool,
    ):
        for future in [pool.submit(_synth_into, chunk, outdir, sources) for chunk in chunks]:
            future.result()


def _use_temporary_folder(folder: str) -> None:
    """A worker's node runtime unpacks itself into a temporary folder that only ``atexit`` removes, and
    pool workers end with ``os._exit``: point theirs into ``folder``, which the parent removes afterwards."""
    tempfile.tempdir = folder
