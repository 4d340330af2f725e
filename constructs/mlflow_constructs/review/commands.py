"""``python app.py diff`` and ``python app.py explain``, and the environment pages ``python app.py`` writes
(the parser is :mod:`mlflow_constructs.cli`).

The only module of this package that synthesizes (through :mod:`mlflow_constructs.synth`); the others
work on the resulting objects.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.review.baseline import DirectoryBaseline, GitBaseline
from mlflow_constructs.review.diff import DATA_LOSS, diff_objects
from mlflow_constructs.review.environments import environment_files, outputs_in
from mlflow_constructs.review.objects import Obj, load_documents
from mlflow_constructs.review.render import EnvironmentReport, render
from mlflow_constructs.synth import OUTPUT_SUFFIX, Drift, discover
from mlflow_constructs.synth_cache import SynthCache, cache_for

DOCS_DIR = Path("docs") / "environments"
EXIT_DATA_LOSS = 3  # `diff --exit-code`: some change loses data (1: changes without data loss)
# Below this many pages per worker process, forking costs more than it saves (a page takes ~8 ms).
MIN_PAGES_PER_WORKER = 16


def synthesize_objects(sources: dict[str, Path], cache: SynthCache | None = None) -> dict[str, list[Obj]]:
    """Environment name -> its objects, exactly as ``python app.py`` would write them (in a temporary
    directory; nothing in ``dist/`` is touched), through ``cache`` when given."""
    from mlflow_constructs.synth import synthesize  # noqa: PLC0415  (starts cdk8s only when needed)

    by_folder: dict[Path, list[str]] = defaultdict(list)
    for name, path in sources.items():
        by_folder[path.parent].append(name)
    with tempfile.TemporaryDirectory(prefix="mlflow-review-") as tmp:
        outdir = Path(tmp) / "dist"
        for folder, names in by_folder.items():
            synthesize(folder, outdir, names, cache=cache)
        written = outputs_in(outdir)
        return {name: load_documents(written[name].read_text()) for name in sources}


def _sources(root: Path, config_dir: Path | None) -> dict[str, Path]:
    return discover(config_dir) if config_dir else environment_files(root)


def diff(args: argparse.Namespace, root: Path) -> int:
    """``python app.py diff``: one report per environment; with ``--exit-code`` 3 on data loss, 1 on any change."""
    # What `python app.py` writes to dist/: config/ unless another folder is named.
    sources = discover(args.config_dir or root / "config")
    baseline = GitBaseline(args.outdir, args.base) if args.base else DirectoryBaseline(args.outdir)
    previous = baseline.names()
    if args.envs:
        unknown = [n for n in args.envs if n not in sources and n not in previous]
        if unknown:
            raise ConfigError(
                f"unknown environment(s) {', '.join(unknown)}: neither an environment file nor in the previous "
                f"output; available: {', '.join(sources)}"
            )
        names = list(dict.fromkeys(args.envs))
    else:
        names = [*sources, *(n for n in previous if n not in sources)]
    fresh = synthesize_objects({n: sources[n] for n in names if n in sources}, cache_for(root, disabled=args.no_cache))
    reports = []
    for name in names:
        text = baseline.text(name)
        before = load_documents(text) if text is not None else []
        verdicts = diff_objects(before, fresh.get(name, []))
        reports.append(
            EnvironmentReport(name, baseline.describe(name), verdicts, new=text is None, gone=name not in fresh)
        )
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    sys.stdout.write(render(reports, colour=colour))
    if not args.exit_code:
        return 0
    return EXIT_DATA_LOSS if any(r.cls == DATA_LOSS for r in reports) else int(any(r.verdicts for r in reports))


def page(name: str, objects: list[Obj], source: Path, root: Path) -> str:
    """The text of ``docs/environments/<name>.md``."""
    from mlflow_constructs.review.explain import explain_environment  # noqa: PLC0415

    return explain_environment(name, objects, source=_display(source, root))


def explain(args: argparse.Namespace, root: Path) -> int:
    """``python app.py explain``: print pages, or (``--write``) regenerate every environment's page."""
    sources = _sources(root, args.config_dir)
    names = list(dict.fromkeys(args.envs)) or (list(sources) if args.write else [])
    if not names:
        raise ConfigError(f"name an environment (available: {', '.join(sources)}), or write them all with --write")
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise ConfigError(f"unknown environment(s) {', '.join(unknown)}; available: {', '.join(sources)}")
    objects = synthesize_objects({n: sources[n] for n in names}, cache_for(root, disabled=args.no_cache))
    if not args.write:
        for name in names:
            sys.stdout.write(page(name, objects[name], sources[name], root))
        return 0
    docs = args.docs_dir or root / DOCS_DIR
    docs.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = docs / f"{name}.md"
        path.write_text(page(name, objects[name], sources[name], root))
        print(f"wrote {_display(path, Path.cwd())}")
    return 0


def write_pages(
    written: list[Path], sources: dict[str, Path], docs: Path, root: Path, cache: SynthCache | None = None
) -> list[Path]:
    """Write the page of each environment whose output synthesis just wrote (``written``: its files)."""
    docs.mkdir(parents=True, exist_ok=True)
    names = [path.name.removesuffix(OUTPUT_SUFFIX) for path in written]
    texts = expected_pages({n: p.read_bytes() for n, p in zip(names, written, strict=True)}, sources, root, cache)
    pages = [docs / f"{name}.md" for name in names]
    for path, name in zip(pages, names, strict=True):
        path.write_bytes(texts[name].encode())
    return pages


def page_drift(
    drift: Drift, sources: dict[str, Path], docs: Path, root: Path, cache: SynthCache | None = None
) -> dict[str, str]:
    """Environment -> ``changed`` or ``missing``, for each checked environment whose page differs from what
    synthesis writes."""
    texts = expected_pages({n: text.encode() for n, text in drift.expected.items()}, sources, root, cache)
    found = {}
    for name, text in texts.items():
        path = docs / f"{name}.md"
        if not path.is_file():
            found[name] = "missing"
        elif path.read_bytes() != text.encode():
            found[name] = "changed"
    return found


def expected_pages(
    manifests: dict[str, bytes], sources: dict[str, Path], root: Path, cache: SynthCache | None = None
) -> dict[str, str]:
    """Environment -> the text of its page, given its manifests: from ``cache`` where it holds the page of the
    same manifests (and source path, and code), else rendered (in worker processes when there are many) and
    kept there."""
    keys, texts = {}, {}
    for name, data in manifests.items():
        if cache:
            keys[name] = cache.key(f"page\0{name}\0{_display(sources[name], root)}", data)
            hit = cache.read(keys[name])
            if hit is not None:
                texts[name] = hit.decode()
    misses = [(name, data, sources[name], root) for name, data in manifests.items() if name not in texts]
    for (name, *_), text in zip(misses, _render_pages(misses), strict=True):
        texts[name] = text
        if cache:
            cache.write(keys[name], text.encode())
    return {name: texts[name] for name in manifests}


def _render_pages(jobs: list[tuple[str, bytes, Path, Path]]) -> list[str]:
    workers = min(os.cpu_count() or 1, len(jobs) // MIN_PAGES_PER_WORKER)
    if workers < 2 or "cdk8s" in sys.modules:  # node runs in this process: no fork
        return [_render_page(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_render_page, jobs, chunksize=-(-len(jobs) // workers)))


def _render_page(job: tuple[str, bytes, Path, Path]) -> str:
    name, manifests, source, root = job
    return page(name, load_documents(manifests.decode()), source, root)


def render_docs(root: Path, cache: SynthCache | None = None) -> dict[str, str]:
    """File name in ``docs/environments/`` -> its text, for every environment (what ``--write`` writes)."""
    sources = environment_files(root)
    objects = synthesize_objects(sources, cache)
    return {f"{n}.md": page(n, objects[n], p, root) for n, p in sources.items()}


def _display(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)
