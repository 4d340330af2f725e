"""Reading environment files: YAML in, a validated :class:`Environment` out, or a :class:`ConfigError`
that names the file, the key path and what would be valid."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlflow_constructs.config.environment import Environment
from mlflow_constructs.config.errors import ConfigError


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith("function-") and p != "[key]"]
    return ".".join(parts) or "(top level)"


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys valid at ``loc`` (the parent of an unknown key), for a did-you-mean hint."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        args = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)]
        current = args[0] if args else annotation
    return list(getattr(current, "model_fields", {}))


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        known = _known_keys(Environment, loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(known)}"
        return f"{_location(loc)}: unknown key; {hint}"
    if error["type"] == "missing":
        return f"{_location(loc)}: required key is missing; add it"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if not isinstance(value, (dict, list)) and repr(value) not in message:
        message += f" (got {value!r})"
    return f"{_location(loc)}: {message}" if loc else message


def parse_environment(data: Any, *, source: str) -> Environment:
    """Validate already-parsed YAML; ``source`` names the file in error messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: (top level) must be a mapping of keys such as 'namespace: mlflow' (see docs/configuration.md)"
        )
    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(e) for e in exc.errors()]
        raise ConfigError(f"{source}: invalid configuration\n" + "\n".join(f"  - {line}" for line in lines)) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's complaint with 1-based line and column, without its ``<unicode string>`` stand-in name."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return str(exc)
    parts = []
    for text, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark)):
        if text:
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            parts.append(f"{text}{where}")
    return "; ".join(parts) or str(exc)


def load_environment(path: Path) -> Environment:
    """Read and validate ``config/<env>.yaml``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse_environment(data, source=str(path))
