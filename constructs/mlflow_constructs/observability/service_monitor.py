"""A Prometheus Operator ServiceMonitor for MLflow's metrics (``--expose-prometheus``, served by the exporter
of :mod:`mlflow_constructs.observability.exporter`).

It selects the server's Service by its labels and scrapes the named metrics port the Service exposes, so the
two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from constructs import Construct

from mlflow_constructs.config.server import Metrics
from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.observability.exporter import METRICS_PATH


class Scraped(Protocol):
    """A Service with a metrics port (an ``MlflowServer`` with metrics on is one)."""

    service_labels: Mapping[str, str]
    metrics_port_name: str | None


class MlflowServiceMonitor(Construct):
    """``monitoring.coreos.com/v1`` ServiceMonitor (needs the Prometheus Operator CRDs)."""

    def __init__(self, scope: Construct, id: str, *, config: Metrics, naming: Naming, server: Scraped) -> None:
        super().__init__(scope, id)
        from imports.servicemonitors.com.coreos.monitoring import (  # noqa: PLC0415  (CRD bindings load slowly)
            ServiceMonitor,
            ServiceMonitorSpec,
            ServiceMonitorSpecEndpoints,
            ServiceMonitorSpecSelector,
        )

        assert server.metrics_port_name, "the server has no metrics port: give it the metrics config"
        ServiceMonitor(
            self,
            "servicemonitor",
            metadata={"name": naming.name(), "labels": {**naming.labels("mlflow"), **config.service_monitor_labels}},
            spec=ServiceMonitorSpec(
                selector=ServiceMonitorSpecSelector(match_labels=dict(server.service_labels)),
                endpoints=[
                    ServiceMonitorSpecEndpoints(
                        port=server.metrics_port_name, path=METRICS_PATH, interval=config.interval
                    )
                ],
            ),
        )
