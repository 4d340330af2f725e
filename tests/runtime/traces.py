"""Traces sent through an environment's front (``client_scripts/traces_client.py``) and what must come back.

One client run sends an OpenTelemetry application's spans with the OTLP/HTTP exporter to ``/v1/traces``
and traces a function with ``mlflow.tracing``; :func:`assert_traces_stored` checks that MLflow's API
returns both traces from the experiment, span by span.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from client_venv import run_client

OTEL_SPANS = [
    {"name": "otel-child", "parent": "otel-root", "attributes": ["app.rows"]},
    {"name": "otel-root", "parent": None, "attributes": ["app.stage"]},
]
MLFLOW_SPANS = ["mlflow-root", "mlflow-step"]


def send_traces(
    url: str,
    experiment: str,
    *,
    hosts: Iterable[str],
    env: Mapping[str, str] | None = None,
    attribute_bytes: int = 0,
) -> dict:
    """Run the traces client against ``url`` (a tracking URI) with the credentials in ``env``."""
    return run_client("traces_client.py", url, experiment, str(attribute_bytes), hosts=hosts, env=env)


def otel_trace(result: dict) -> dict | None:
    """The OpenTelemetry application's trace as MLflow's API returned it (MLflow names it ``tr-<trace id>``)."""
    return result["traces"].get(f"tr-{result['otel_trace_id']}")


def assert_traces_stored(result: dict) -> None:
    """Both exports were accepted (HTTP 200 each, no redirect) and both traces are in the experiment with
    every span and its parent: the OTLP one as exported, the ``mlflow.tracing`` one as traced."""
    assert result["otlp_results"] == ["SUCCESS", "SUCCESS"], result
    assert result["otlp_statuses"] == [200, 200], result
    otel = otel_trace(result)
    assert otel is not None, result["traces"]
    assert [
        {**span, "attributes": [a for a in span["attributes"] if a.startswith("app.")]} for span in otel["spans"]
    ] == OTEL_SPANS
    traced = result["traces"].get(result["mlflow_trace_id"])
    assert traced is not None, result["traces"]
    assert traced["state"] == "OK", traced
    # The client logged the spans themselves through /v1/traces, not as a file beside the trace.
    assert traced["spans_location"] == "TRACKING_STORE", traced
    assert [(s["name"], s["parent"]) for s in traced["spans"]] == [
        ("mlflow-root", None),
        ("mlflow-step", "mlflow-root"),
    ]
