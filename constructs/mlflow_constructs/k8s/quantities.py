"""Kubernetes resource quantities (``10Gi``, ``500m``, ``1.5``, ``2k``) as exact numbers: the one parser the config
checks, the constructs and the review share."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_QUANTITY = re.compile(r"^(?P<number>[+-]?(\d+\.?\d*|\.\d+))(?P<suffix>[a-zA-Z]*)$")
_SUFFIXES = {
    "": Fraction(1),
    **{s: Fraction(1024**i) for i, s in enumerate(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"], start=1)},
    **{s: Fraction(1000**i) for i, s in enumerate(["k", "M", "G", "T", "P", "E"], start=1)},
    "m": Fraction(1, 1000),
    "u": Fraction(1, 1000**2),
    "n": Fraction(1, 1000**3),
}


def parse_quantity(value: Any) -> Fraction | None:
    """A quantity as a number (``500m`` is 1/2, ``1Ki`` is 1024, ``1k`` is 1000); None if it is not one."""
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group("suffix") not in _SUFFIXES:
        return None
    return Fraction(match.group("number")) * _SUFFIXES[match.group("suffix")]


def quantity_of(value: str) -> Fraction:
    """A quantity the config already validated, as a number."""
    number = parse_quantity(value)
    if number is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return number
