"""A Prometheus Operator ServiceMonitor for MLflow's ``/metrics`` (``--expose-prometheus``).

It selects the server's Service by its labels and scrapes the same named port the Service exposes,
so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from constructs import Construct

from mlflow_constructs.config.server import Metrics
from mlflow_constructs.k8s.naming import Naming


class Scraped(Protocol):
    """A Service with a metrics port (an ``MlflowServer`` is one)."""

    service_labels: Mapping[str, str]
    port_name: str


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

        ServiceMonitor(
            self,
            "servicemonitor",
            metadata={"name": naming.name(), "labels": {**naming.labels("mlflow"), **config.service_monitor_labels}},
            spec=ServiceMonitorSpec(
                selector=ServiceMonitorSpecSelector(match_labels=dict(server.service_labels)),
                endpoints=[
                    ServiceMonitorSpecEndpoints(port=server.port_name, path="/metrics", interval=config.interval)
                ],
            ),
        )
