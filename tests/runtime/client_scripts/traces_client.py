"""Traces sent two ways, then read back through MLflow's API.

    traces_client.py <tracking uri> <experiment name> [<attribute bytes>]
        env: MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN (as any MLflow client), and
        REQUESTS_CA_BUNDLE for https

1. An OpenTelemetry application: the SDK's TracerProvider with the OTLP/HTTP exporter of
   ``opentelemetry-exporter-otlp`` posting protobuf to ``<tracking uri>/v1/traces``, with the
   experiment in ``x-mlflow-experiment-id`` and the same credentials as an ``Authorization`` header.
   A root span and a child; ``<attribute bytes>`` (default 0) adds an attribute of that size to the
   child, and an output of that size to the traced function below, to make the requests large.
2. ``mlflow.tracing``: a function traced with ``@mlflow.trace`` calling another one. Exported in order
   (``MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false``): the spans through ``/v1/traces``, then the trace's info. With
   MLflow's default async export the info can arrive first, and the client then also uploads the spans as a
   ``traces.json`` artifact, which would make the result depend on the artifact store.

Prints one JSON object: the exporter's results and the HTTP statuses (and reasons) it got, the warnings and
errors both clients logged (what a user sees), and every trace of the experiment with its spans (name, parent
name, attribute keys) as MLflow's API returns them.
"""

import base64
import json
import logging
import os
import sys

import mlflow
import requests
from mlflow.tracking import MlflowClient
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"


class Collect(logging.Handler):
    """Keeps the warnings and errors the clients log."""

    messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}"[:500])


for logger in ("mlflow", "opentelemetry"):
    logging.getLogger(logger).addHandler(Collect(logging.WARNING))

uri, name = sys.argv[1].rstrip("/"), sys.argv[2]
attribute_bytes = int(sys.argv[3]) if len(sys.argv) > 3 else 0
mlflow.set_tracking_uri(uri)
experiment_id = mlflow.set_experiment(name).experiment_id


def authorization() -> dict[str, str]:
    """The header an OTLP exporter is configured with: what MLflow's client would send."""
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return {"Authorization": f"Bearer {token}"}
    if user := os.environ.get("MLFLOW_TRACKING_USERNAME"):
        pair = f"{user}:{os.environ['MLFLOW_TRACKING_PASSWORD']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


class Recording(OTLPSpanExporter):
    """The OTLP exporter, keeping the result of each export."""

    results: list[str] = []

    def export(self, spans):
        result = super().export(spans)
        self.results.append(result.name)
        return result


statuses: list[int] = []  # every HTTP response the exporter got, redirects included
reasons: list[str] = []
session = requests.Session()
session.hooks["response"].append(lambda response, *args, **kwargs: statuses.append(response.status_code))
session.hooks["response"].append(lambda response, *args, **kwargs: reasons.append(response.reason))
exporter = Recording(
    endpoint=f"{uri}/v1/traces",
    headers={"x-mlflow-experiment-id": experiment_id, **authorization()},
    timeout=30,
    session=session,
)
provider = TracerProvider(resource=Resource.create({"service.name": "otel-app"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = provider.get_tracer("traces_client")
with tracer.start_as_current_span("otel-root") as root:
    root.set_attribute("app.stage", "ingest")
    with tracer.start_as_current_span("otel-child") as child:
        child.set_attribute("app.rows", 3)
        if attribute_bytes:
            child.set_attribute("app.payload", "x" * attribute_bytes)
otel_trace_id = format(root.get_span_context().trace_id, "032x")
provider.shutdown()


@mlflow.trace(name="mlflow-step")
def step(x: int) -> int | str:
    return "x" * attribute_bytes if attribute_bytes else x * 2


@mlflow.trace(name="mlflow-root")
def pipeline(x: int) -> int:
    return len(str(step(x)))


pipeline(20)
mlflow.flush_trace_async_logging()
mlflow_trace_id = mlflow.get_last_active_trace_id()

traces = {}
for trace in MlflowClient().search_traces(locations=[experiment_id]):
    names = {span.span_id: span.name for span in trace.data.spans}
    spans = [
        {"name": span.name, "parent": names.get(span.parent_id), "attributes": sorted(span.attributes)}
        for span in trace.data.spans
    ]
    traces[trace.info.trace_id] = {
        "state": trace.info.state.value,
        "spans_location": trace.info.tags.get("mlflow.trace.spansLocation"),
        "spans": sorted(spans, key=lambda s: s["name"]),
    }
print(
    json.dumps(
        {
            "experiment_id": experiment_id,
            "otlp_results": exporter.results,
            "otlp_statuses": statuses,
            "otlp_reasons": reasons,
            "client_log": Collect.messages,
            "otel_trace_id": otel_trace_id,
            "mlflow_trace_id": mlflow_trace_id,
            "traces": traces,
        }
    )
)
