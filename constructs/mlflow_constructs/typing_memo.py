"""``typing.Optional[X]`` and ``typing.Union[...]`` remembered without a size limit, for synthesis' speed.

Every property of a jsii struct (``k8s.ObjectMeta``, ``k8s.Container``, ...) returns through
``typing.cast(typing.Optional[X], value)``, and handing a struct to node reads every property, so synthesis
subscripts ``Optional`` several hundred thousand times. typing remembers subscriptions in an LRU cache of 128
entries; the Kubernetes bindings use several hundred distinct ones, so that cache misses nearly every time and
each miss builds a new ``Union``: a fifth of synthesis' time (docs/measurements.md, "Cutting it further"). Python has no
setting for that size, so :func:`remember_subscriptions` puts an unbounded memo in front of the one private
method both go through, ``typing._SpecialForm.__getitem__``. It returns what typing returns for the same
arguments (of the same types), so nothing but the time changes.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from typing import Any

# The method `Optional[...]` and `Union[...]` go through (checked on Python 3.11, 3.12 and 3.13).
_OWNER, _METHOD = "_SpecialForm", "__getitem__"


def remember_subscriptions() -> bool:
    """Memoize ``typing``'s special-form subscriptions in this process (idempotent); ``False`` where typing
    no longer has the method (a Python this was not written for: synthesis is then only slower, and the
    project's tests fail, see tests/test_typing_memo.py)."""
    owner = getattr(typing, _OWNER, None)
    method = getattr(owner, _METHOD, None)
    if method is None:
        return False
    if not getattr(method, "remembers", False):
        setattr(owner, _METHOD, _remembering(method))
    return True


def _remembering(method: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    memo: dict[tuple[Any, ...], Any] = {}

    @functools.wraps(method)
    def getitem(self: Any, parameters: Any) -> Any:
        # The parameters' types too: 1 == True, but Literal-like forms must not confuse them.
        kinds = tuple(map(type, parameters)) if isinstance(parameters, tuple) else type(parameters)
        key = (self, parameters, kinds)
        try:
            known = key in memo
        except TypeError:  # an unhashable parameter: typing's own error or result
            return method(self, parameters)
        if not known:
            memo[key] = method(self, parameters)
        return memo[key]

    getitem.remembers = True  # type: ignore[attr-defined]
    return getitem
