"""NetworkPolicies: deny all ingress in the namespace, then admit each flow a pod really needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdk8s_plus_27 import k8s
from constructs import Construct

from mlflow_constructs.k8s.naming import Naming
from mlflow_constructs.k8s.objects import meta
from mlflow_constructs.k8s.pods import port_ref


@dataclass(frozen=True)
class Flow:
    """Pods selected by ``to`` accept TCP on ``ports`` from ``sources`` (pod selectors; None = anyone)
    and, when given, from namespaces labelled ``namespaces``."""

    name: str
    to: Mapping[str, str]
    ports: tuple[int | str, ...]
    sources: tuple[Mapping[str, str], ...] | None
    namespaces: Mapping[str, str] | None = None


def _policy(scope: Construct, id: str, *, name: str, labels: Mapping[str, str], spec: k8s.NetworkPolicySpec) -> None:
    k8s.KubeNetworkPolicy(scope, id, metadata=meta(name, labels), spec=spec)


class NetworkPolicies(Construct):
    """A default-deny policy plus one allow policy per :class:`Flow`."""

    def __init__(self, scope: Construct, id: str, *, naming: Naming, flows: Sequence[Flow]) -> None:
        super().__init__(scope, id)
        labels = naming.labels("network-policy")
        _policy(
            self,
            "default-deny",
            name=naming.name("default-deny-ingress"),
            labels=labels,
            spec=k8s.NetworkPolicySpec(pod_selector=k8s.LabelSelector(), policy_types=["Ingress"]),
        )
        for flow in flows:
            peers = [
                k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=dict(s))) for s in flow.sources or ()
            ]
            if flow.namespaces:
                peers.append(
                    k8s.NetworkPolicyPeer(namespace_selector=k8s.LabelSelector(match_labels=dict(flow.namespaces)))
                )
            rule = k8s.NetworkPolicyIngressRule(
                ports=[k8s.NetworkPolicyPort(protocol="TCP", port=port_ref(port)) for port in flow.ports],
                from_=peers or None,
            )
            _policy(
                self,
                flow.name,
                name=naming.name(f"allow-{flow.name}"),
                labels=labels,
                spec=k8s.NetworkPolicySpec(
                    pod_selector=k8s.LabelSelector(match_labels=dict(flow.to)),
                    policy_types=["Ingress"],
                    ingress=[rule],
                ),
            )
