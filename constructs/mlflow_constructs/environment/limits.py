"""Names Kubernetes would refuse, refused at synthesis instead.

`name` and `namespace` take any DNS label in the config, but what an environment makes of them must fit too:
`<name>-postgresql-backup` is a CronJob name (at most 52 characters), `<name>-postgresql-0` a pod name and
label, `<name>-migrate-<hash>` a Job name and so a label, and so on for every object and every object their
controllers make (:mod:`mlflow_constructs.k8s.name_rules`). How long each key may be follows from the objects
themselves: the environment is built again with shorter values until everything fits, so a new object or
suffix is covered without a list of limits to keep up to date.
"""

from __future__ import annotations

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

Build = Callable[[Environment], list[dict[str, Any]]]


def longest_accepted(env: Environment, key: str, build: Build) -> int:
    """The longest value of ``key`` (``name`` or ``namespace``), everything else as in ``env``, whose objects
    (``build(env)``) Kubernetes takes. Names only grow with the key, so a binary search over lengths finds it;
    what fails whatever its length (another key's doing) is left out of the count."""

    def refused(length: int) -> int:
        return len(problems(build(env.model_copy(update={key: "a" * length}))))

    floor = refused(1)
    if refused(KEY_MAX_LENGTH) == floor:
        return KEY_MAX_LENGTH
    low, high = 1, KEY_MAX_LENGTH  # refused(low) == floor < refused(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if refused(middle) == floor else (low, middle)
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


def _worst(refused: list[Checked]) -> Checked:
    """The value furthest over its limit, one of ours before one a controller makes."""
    return min(refused, key=lambda checked: (-checked.overflow, bool(checked.origin)))


def _more(count: int) -> str:
    return f" (and {count - 1} more name(s) and label(s))" if count > 1 else ""
