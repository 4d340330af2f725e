"""A Prometheus Operator ServiceMonitor for MLflow's ``/metrics`` (``--expose-prometheus``).

It selects the server's Service by its labels and scrapes the same named port the Service exposes,
so the two cannot drift apart.
"""

from __future__ import annotations

from constructs import Construct

from mlflow_constructs.config import Metrics
from mlflow_constructs.naming import Naming
from mlflow_constructs.server import MlflowServer


class MlflowServiceMonitor(Construct):
    """``monitoring.coreos.com/v1`` ServiceMonitor (needs the Prometheus Operator CRDs)."""

    def __init__(self, scope: Construct, id: str, *, config: Metrics, naming: Naming, server: MlflowServer) -> None:
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
                selector=ServiceMonitorSpecSelector(match_labels=server.service_labels),
                endpoints=[
                    ServiceMonitorSpecEndpoints(port=server.port_name, path="/metrics", interval=config.interval)
                ],
            ),
        )
