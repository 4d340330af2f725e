"""Reading environment files: YAML in, a validated :class:`Environment` out, or a :class:`ConfigError`
that names the file, the key path and what would be valid."""

from __future__ import annotations

import difflib
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlflow_constructs.config.environment import Environment
from mlflow_constructs.config.errors import ConfigError

# Parts of an error location that name a branch of a union or a validator, not a key: ``constrained-int``,
# ``literal['auto']``, ``function-after[...]``.
_NOT_A_KEY = re.compile(r"^(function-|constrained-|literal\[|is-instance\[|tagged-union\[|nullable\[)")
# pydantic's phrasing of a model type: "a valid dictionary or instance of Image" means "a mapping".
_INSTANCE_OF = re.compile(r" or instance of \w+")


def _keys(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(p for p in loc if p != "[key]" and not (isinstance(p, str) and _NOT_A_KEY.match(p)))


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in _keys(loc)) or "(top level)"


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
    message = _INSTANCE_OF.sub("", error["msg"].removeprefix("Value error, "))
    value = error.get("input")
    if not isinstance(value, (dict, list)) and repr(value) not in message:
        message += f" (got {value!r})"
    return f"{_location(loc)}: {message}" if loc else message


def _lines(errors: list[dict[str, Any]]) -> list[str]:
    """One line per key: the branches of a union (``workers: 1-16 or auto``) are one complaint, not several."""
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for error in errors:
        by_key.setdefault(_keys(tuple(error["loc"])), []).append(error)
    lines = []
    for group in by_key.values():
        if len(group) == 1 or len({tuple(e["loc"]) for e in group}) == 1:
            lines += [_describe(e) for e in group]
            continue
        first, *rest = group
        branches = [_INSTANCE_OF.sub("", e["msg"]).removeprefix("Input should ") for e in rest]
        lines.append(_describe({**first, "msg": " or ".join([first["msg"], *branches])}))
    return lines


def parse_environment(data: Any, *, source: str) -> Environment:
    """Validate already-parsed YAML; ``source`` names the file in error messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: (top level) must be a mapping of keys such as 'namespace: mlflow' (see docs/configuration.md)"
        )
    control = _control_character(data)
    if control:
        raise ConfigError(f"{source}: invalid configuration\n  - {control}")
    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        lines = _lines(exc.errors())
        raise ConfigError(f"{source}: invalid configuration\n" + "\n".join(f"  - {line}" for line in lines)) from None


def _control_character(node: Any, path: str = "") -> str | None:
    """Where a string holds a control character (tabs and line breaks aside): YAML parsers of the tools that read
    the output (kubectl's among them) refuse those, so it would be written and then fail to apply."""
    if isinstance(node, dict):
        for key, value in node.items():
            found = _control_character(key, path or "(top level)") or _control_character(
                value, f"{path}.{key}" if path else str(key)
            )
            if found:
                return found
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found = _control_character(item, f"{path}[{index}]")
            if found:
                return found
    elif isinstance(node, str):
        bad = next((c for c in node if c not in "\t\n" and unicodedata.category(c) == "Cc"), None)
        if bad is not None:
            return f"{path}: holds the control character U+{ord(bad):04X}; remove it"
    return None


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
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None
    return parse_environment(data, source=str(path))
