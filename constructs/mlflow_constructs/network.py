"""NetworkPolicies: deny all ingress in the namespace, then admit each flow a pod really needs."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from mlflow_constructs.naming import Naming
from mlflow_constructs.objects import k8s_object


@dataclass(frozen=True)
class Flow:
    """Pods selected by ``to`` accept TCP on ``ports`` from ``sources`` (pod selectors; None = anyone)."""

    name: str
    to: dict[str, str]
    ports: tuple[int | str, ...]
    sources: tuple[dict[str, str], ...] | None
    namespaces: dict[str, str] | None = None


class NetworkPolicies(Construct):
    """A default-deny policy plus one allow policy per :class:`Flow`."""

    def __init__(self, scope: Construct, id: str, *, naming: Naming, flows: list[Flow]) -> None:
        super().__init__(scope, id)
        labels = naming.labels("network-policy")
        k8s_object(
            self,
            "default-deny",
            api_version="networking.k8s.io/v1",
            kind="NetworkPolicy",
            name=naming.name("default-deny-ingress"),
            labels=labels,
            spec={"podSelector": {}, "policyTypes": ["Ingress"]},
        )
        for flow in flows:
            rule: dict = {"ports": [{"protocol": "TCP", "port": port} for port in flow.ports]}
            peers: list[dict] = []
            if flow.sources is not None:
                peers += [{"podSelector": {"matchLabels": source}} for source in flow.sources]
            if flow.namespaces:
                peers.append({"namespaceSelector": {"matchLabels": flow.namespaces}})
            if peers:
                rule["from"] = peers
            k8s_object(
                self,
                flow.name,
                api_version="networking.k8s.io/v1",
                kind="NetworkPolicy",
                name=naming.name(f"allow-{flow.name}"),
                labels=labels,
                spec={"podSelector": {"matchLabels": flow.to}, "policyTypes": ["Ingress"], "ingress": [rule]},
            )
