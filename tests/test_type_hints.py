"""The tests run jsii's argument type checks in full, with each stub's hints evaluated once (tests/type_hints.py)."""

from __future__ import annotations

import typing

import pytest
from cdk8s import App, Chart
from cdk8s_plus_27 import k8s


def test_a_wrong_argument_type_is_still_refused():
    """A construct given a value of the wrong type fails at the call, as it does without the shortcut."""
    chart = Chart(App(), "typed")
    with pytest.raises(TypeError, match="metadata"):
        k8s.KubeConfigMap(chart, "config", metadata="not-an-object-meta")  # type: ignore[arg-type]


def test_the_hints_of_a_stub_are_evaluated_once():
    """The same stub gives the same (remembered) hints; any other object is evaluated as typing does."""
    assert getattr(typing.get_type_hints, "remembers_stubs", False)
    stub = next(
        value
        for name, value in k8s.KubeConfigMap.__init__.__globals__.items()  # the module's own namespace
        if name.startswith("_typecheckingstub__")
    )
    assert typing.get_type_hints(stub) is typing.get_type_hints(stub)

    def other(x: int) -> None: ...

    assert typing.get_type_hints(other) is not typing.get_type_hints(other)
