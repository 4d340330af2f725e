"""``make test`` runs pytest with RUNTIME_TESTS=require: there a skipped test fails the run."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().with_name("conftest.py")


def test_a_skipped_test_fails_the_run_when_every_test_is_required(pytester, request, monkeypatch):
    """A test skipped for a missing tool or folder proves nothing; with skips allowed, `make test` would
    report green for a suite that never ran."""
    pytester.makepyfile(
        """
        import pytest

        def test_runs():
            pass

        def test_cannot_run():
            pytest.skip("tool not installed")

        @pytest.mark.xfail(reason="known bug", strict=True)
        def test_known_bug():
            assert False
        """
    )
    hooks = request.config.pluginmanager.get_plugin(str(CONFTEST))
    monkeypatch.delenv("RUNTIME_TESTS", raising=False)
    assert pytester.runpytest(plugins=[hooks]).ret == 0

    monkeypatch.setenv("RUNTIME_TESTS", "require")
    result = pytester.runpytest(plugins=[hooks])
    assert result.ret == 1
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["*skipped tests fail the run (RUNTIME_TESTS=require)*", "*test_cannot_run: *tool not installed"]
    )
