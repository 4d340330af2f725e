"""The one exception a user sees: bad config, with a message meant to be read as is."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """A config file that cannot be synthesized; the message names the key and the fix."""


def required(value: T | None, key: str) -> T:
    """``value``, which the config's own checks guarantee once ``key`` applies; a construct given a section
    without it (a library caller's own config) gets an error naming the key. Not an ``assert``: ``python -O``
    drops those."""
    if value is None:
        raise ConfigError(f"{key} is required here: set it")
    return value
