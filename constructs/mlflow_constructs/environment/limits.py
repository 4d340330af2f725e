"""Names and sizes Kubernetes would refuse, refused at synthesis instead.

`name` and `namespace` take any DNS label in the config, but what an environment makes of them must fit too:
`<name>-postgresql-backup` is a CronJob name (at most 52 characters), `<name>-postgresql-0` a pod name and
label, `<name>-migrate-<hash>` a Job name and so a label, and so on for every object and every object their
controllers make (:mod:`mlflow_constructs.k8s.name_rules`). How long each key may be follows from the objects
themselves: the environment is built again at the longest value, which says how far each name is over, and
at the length that gives, so a new object or suffix is covered without a list of limits to keep up to date.

A ConfigMap (or Secret) holds at most 1 MiB of keys and values: a long config value (a display name, many
hosts) would make one the API server refuses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from mlflow_constructs.config.environment import Environment
from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.k8s.name_rules import Checked, problems

# The keys whose length the objects' names follow, and the longest either takes on its own (a DNS label).
LENGTH_KEYS = ("name", "namespace")
KEY_MAX_LENGTH = 63
# How many of the refused values an error lists.
SHOWN = 3
# ValidateConfigMap and ValidateSecret: the keys and values of data and binaryData together, in bytes.
DATA_MAX_BYTES = 1024 * 1024

Build = Callable[[Environment], list[dict[str, Any]]]


def longest_accepted(env: Environment, key: str, build: Build) -> int:
    """The longest value of ``key`` (``name`` or ``namespace``), everything else as in ``env``, whose objects
    (``build(env)``) Kubernetes takes; what fails whatever its length (another key's doing) is left out.

    At the longest length, each refused value that holds the key says by how much it is over, so that build
    gives the answer; builds just at and above it confirm it. Names only grow with the key, so when they do not
    (a value holding the key twice), a binary search over lengths finds it."""

    @functools.cache
    def refused(length: int) -> list[Checked]:
        return problems(build(env.model_copy(update={key: "a" * length})))

    longest = refused(KEY_MAX_LENGTH)
    if not longest:
        return KEY_MAX_LENGTH
    floor = len(refused(1))
    if len(longest) == floor:
        return KEY_MAX_LENGTH
    value = "a" * KEY_MAX_LENGTH
    guess = KEY_MAX_LENGTH - max((c.overflow for c in longest if value in c.value), default=0)
    if 1 <= guess < KEY_MAX_LENGTH and len(refused(guess)) == floor < len(refused(guess + 1)):
        return guess
    low, high = 1, KEY_MAX_LENGTH  # len(refused(low)) == floor < len(refused(high))
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(refused(middle)) == floor else (low, middle)
    return low


def refuse_names_kubernetes_refuses(env: Environment, objects: list[dict[str, Any]], build: Build) -> None:
    """Raise :class:`ConfigError` when a name or label value of ``objects`` (``env``'s, from ``build``), or of
    the objects controllers make from them, is one Kubernetes would refuse: per key too long, its value, one of
    the names it makes too long, and the longest value that works."""
    refused = problems(objects)
    if not refused:
        return
    lines = []
    for key in LENGTH_KEYS:
        value = getattr(env, key)
        longest = longest_accepted(env, key, build)
        if longest < len(value):
            ours = [checked for checked in refused if value in checked.value] or refused
            lines.append(
                f"{key}: {value!r} ({len(value)} characters) is too long for the objects this environment names "
                f"after it: {_worst(ours).problem}{_more(len(ours))}; the longest {key} that works here has "
                f"{longest} characters"
            )
    if not lines:  # no length to blame: say what would be refused
        lines = [str(checked.problem) for checked in refused[:SHOWN]]
        lines += [f"and {len(refused) - SHOWN} more"] if len(refused) > SHOWN else []
    raise ConfigError("\n  - ".join(lines))


def refuse_oversized_data(objects: list[dict[str, Any]]) -> None:
    """Raise :class:`ConfigError` for a ConfigMap or Secret of ``objects`` over :data:`DATA_MAX_BYTES`, naming its
    largest entry (what the config value to shorten feeds)."""
    for obj in objects:
        if obj.get("kind") not in ("ConfigMap", "Secret"):
            continue
        entries = {**(obj.get("data") or {}), **(obj.get("binaryData") or {}), **(obj.get("stringData") or {})}
        sizes = {key: len(key.encode()) + len(str(value).encode()) for key, value in entries.items()}
        if sum(sizes.values()) > DATA_MAX_BYTES:
            largest = max(sizes, key=sizes.__getitem__)
            raise ConfigError(
                f"{obj['kind']} {obj['metadata']['name']} would hold {sum(sizes.values())} bytes, more than the "
                f"{DATA_MAX_BYTES} (1 MiB) the API server takes; its largest entry {largest} ({sizes[largest]} bytes) "
                "comes from a config value that long: shorten it"
            )


def _worst(refused: list[Checked]) -> Checked:
    """The value furthest over its limit, one of ours before one a controller makes."""
    return min(refused, key=lambda checked: (-checked.overflow, bool(checked.origin)))


def _more(count: int) -> str:
    return f" (and {count - 1} more name(s) and label(s))" if count > 1 else ""
