"""jsii's argument type checks at a fraction of their cost, still run in full.

Every call into a jsii-generated class checks its arguments against the type hints of a stub function, and
evaluates those hints again each time (``typing.get_type_hints`` on ``_typecheckingstub__<hash>``): a fifth of
an in-process synthesis. A stub's hints never change, so each is evaluated once here; the checks themselves
(typeguard's ``check_type`` of every argument) run as before.
"""

from __future__ import annotations

import typing
from typing import Any

STUB_PREFIX = "_typecheckingstub__"


def evaluate_stub_hints_once() -> None:
    """Make ``typing.get_type_hints`` remember the hints of jsii's type-checking stubs (and only of those)."""
    original = typing.get_type_hints
    if getattr(original, "remembers_stubs", False):
        return
    hints: dict[Any, dict[str, Any]] = {}

    def get_type_hints(obj, globalns=None, localns=None, include_extras=False):  # noqa: FBT002 (typing's own)
        if globalns is None and localns is None and not include_extras and _is_stub(obj):
            if obj not in hints:
                hints[obj] = original(obj)
            return hints[obj]
        return original(obj, globalns, localns, include_extras)

    get_type_hints.remembers_stubs = True
    typing.get_type_hints = get_type_hints


def _is_stub(obj: object) -> bool:
    return getattr(obj, "__name__", "").startswith(STUB_PREFIX)
