"""The README's library example is a working program (its output also goes through every validity check)."""

from __future__ import annotations

from readme_example import CHART, run_example


def test_readme_library_example_runs_as_written(tmp_path):
    """Users copy this example first: it must run unchanged and say which Secret keys to create."""
    outdir = tmp_path / "dist"
    result = run_example(outdir)
    assert (outdir / f"{CHART}.k8s.yaml").is_file()
    assert (
        "create Secret tracking-credentials with keys: client_secret, cookie_secret, database-uri, kek-passphrase"
        in result.stdout
    )
