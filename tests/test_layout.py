"""The package's layering: no import cycles, and only the front end reads the whole environment model."""

from __future__ import annotations

import ast

from repo_paths import REPO

PACKAGE = REPO / "constructs" / "mlflow_constructs"
FRONT_END = ("mlflow_constructs.environment", "mlflow_constructs.synth", "mlflow_constructs.config")


def module_imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in the file, functions included)."""
    names = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
    }
    graph = {}
    for name, path in names.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlflow_constructs"):
                found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in found if m in names and m != name}
    graph["mlflow_constructs"] = set()  # its exports load lazily (__getattr__), only on use
    return graph


def test_no_import_cycles():
    """A cycle makes import order matter and hides behind function-level imports; the layers must not have one."""
    graph, state, cycles = module_imports(), {}, []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_only_the_front_end_reads_the_environment_model():
    """Constructs take their own config section, so they can be used without an environment file."""
    readers = [
        module
        for module, deps in module_imports().items()
        if "mlflow_constructs.config.environment" in deps and not module.startswith(FRONT_END)
    ]
    assert not readers, readers


def places(matches) -> list[str]:
    """``file:line`` of every node of the package's own modules that ``matches``."""
    return [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if matches(node)
    ]


def test_no_assert_does_the_work_of_a_check():
    """``python -O`` drops ``assert``: a check the output depends on must raise (``ConfigError``) instead."""
    assert not places(lambda node: isinstance(node, ast.Assert))


def test_the_package_reaches_the_crd_bindings_inside_itself():
    """A top-level ``imports`` exists only in a clone: the installed wheel has ``mlflow_constructs.imports`` alone."""

    def top_level_imports(node: ast.AST) -> bool:
        if isinstance(node, ast.ImportFrom):
            return (node.module or "").split(".")[0] == "imports"
        return isinstance(node, ast.Import) and any(a.name.split(".")[0] == "imports" for a in node.names)

    assert not places(top_level_imports)
