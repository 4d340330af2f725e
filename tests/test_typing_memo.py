"""Synthesis memoizes typing's special-form subscriptions (mlflow_constructs.typing_memo): only the time
changes, never what typing returns."""

# ruff: noqa: UP007, UP045  (typing's own spellings are what is tested)

from __future__ import annotations

import typing

import pytest

from mlflow_constructs.typing_memo import remember_subscriptions


@pytest.fixture(autouse=True, scope="module")
def remembering():
    assert remember_subscriptions(), "typing moved the method the memo wraps: see typing_memo's docstring"


def test_the_same_subscription_is_the_same_object():
    """A second ``Optional[X]`` is the first, not a new ``Union`` (what typing's 128-entry cache loses)."""
    assert typing.Optional[int] is typing.Optional[int]
    assert typing.Union[int, str] is typing.Union[int, str]


def test_results_are_typings_own():
    """Equal to what typing builds: the same origin and arguments, ``None`` collapsed as typing does."""
    assert typing.Optional[int] == typing.Union[int, None]
    assert typing.get_args(typing.Union[int, str]) == (int, str)
    assert typing.Union[int] is int


def test_values_equal_across_types_stay_apart():
    """``1 == True``, but ``Literal[1]`` and ``Literal[True]`` are different types."""
    assert typing.get_args(typing.Literal[1]) == (1,)
    assert type(typing.get_args(typing.Literal[True])[0]) is bool


def test_an_unhashable_argument_goes_to_typing_itself():
    """What the memo cannot hold (an unhashable argument), typing gets as before: the same result or error."""
    own = typing._SpecialForm.__getitem__.__wrapped__  # typing's method, behind the memo

    def outcome(subscribe) -> tuple[str, object]:
        try:
            return "result", subscribe()
        except TypeError as error:
            return "error", str(error)

    assert outcome(lambda: typing.Union[[int]]) == outcome(lambda: own(typing.Union, [int]))
