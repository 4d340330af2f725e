"""Contracts of the routes into the cluster and of the NetworkPolicies that admit the traffic."""

from __future__ import annotations

from helpers import find_all, synth

INGRESS = {"enabled": True, "hosts": ["mlflow.example.com"], "tls": {"secret_name": "tls"}}
SCRAPER = {"kubernetes.io/metadata.name": "monitoring"}


def admitted_namespaces(objs: list[dict], port: str = "http") -> dict[str, list[dict]]:
    """NetworkPolicy name -> the namespace selectors it admits to ``port`` of the pods it selects."""
    found = {}
    for policy in find_all(objs, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress") or []:
            if any(p.get("port") == port for p in rule.get("ports") or []):
                peers = [p for p in rule.get("from") or [] if "namespaceSelector" in p]
                found[policy["metadata"]["name"]] = [p["namespaceSelector"]["matchLabels"] for p in peers]
    return found


def test_prometheus_scrapes_mlflow_when_its_port_is_restricted(tmp_path):
    """With `ingress_from_namespaces` naming the ingress controller's namespace, the ServiceMonitor's
    Prometheus (in `metrics.scraper_namespace_labels`) must still reach the pods, or the metrics silently
    vanish; with the port open to every namespace no extra policy is needed."""
    restricted = {"kubernetes.io/metadata.name": "ingress-nginx"}
    objs = synth(
        {"ingress": INGRESS, "metrics": {"enabled": True}, "network_policies": {"ingress_from_namespaces": restricted}},
        tmp_path / "restricted",
    )
    assert admitted_namespaces(objs) == {"mlflow-allow-mlflow": [restricted], "mlflow-allow-metrics": [SCRAPER]}
    objs = synth({"ingress": INGRESS, "metrics": {"enabled": True}}, tmp_path / "open")
    assert admitted_namespaces(objs) == {"mlflow-allow-mlflow": []}
