"""The Mermaid flowchart of an environment: its workloads (with the Services that select their pods), the routes
in from outside, the flows its NetworkPolicies allow and the connections to stores outside the namespace."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlflow_constructs.review.facts import data_of
from mlflow_constructs.review.objects import (
    Obj,
    pod_labels,
    run_once_prefix,
    selector_matches,
)
from mlflow_constructs.review.topology import (
    artifact_store,
    database_store,
    is_default_deny,
    name_of,
    of_kind,
    pod_runners,
    routes_into,
    server_and_container,
    services_of,
)


def _id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _pods_node(selector: dict, pods: list[Obj]) -> list[str]:
    """Node ids of the objects whose pods match a label selector."""
    labels = selector.get("matchLabels") or {}
    if selector.get("matchExpressions") or not labels:
        return []
    return [_node_id(o) for o in pods if selector_matches(labels, pod_labels(o))]


def _node_id(obj: Obj) -> str:
    return _id(obj["kind"].lower(), name_of(obj))


def _selector_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _ports(rule: Obj) -> str:
    ports = [str(p.get("port", "all")) for p in rule.get("ports", [])]
    return ", ".join(ports) or "all ports"


def allowed_flows(objects: list[Obj], pods: list[Obj]) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(source node, target node, ports) of every ingress flow the NetworkPolicies allow, and the nodes they need
    beyond the environment's own pods (other namespaces, address blocks, unmatched selectors) -> declaration."""
    flows: list[tuple[str, str, str]] = []
    extra: dict[str, str] = {}
    for policy in of_kind(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if is_default_deny(policy):
            continue
        targets = _pods_node(spec.get("podSelector") or {}, pods)
        if not targets:
            labels = spec.get("podSelector", {}).get("matchLabels") or {}
            node = _id("pods", _selector_text(labels) or "all")
            extra[node] = f"{node}[{_label('pods ' + (_selector_text(labels) or '(all)'))}]"
            targets = [node]
        for rule in spec.get("ingress", []):
            sources: list[str] = []
            for peer in rule.get("from") or [None]:
                if peer is None:
                    extra["anywhere"] = f"anywhere[{_label('any pod, namespace or address')}]"
                    sources.append("anywhere")
                elif "ipBlock" in peer:
                    node = _id("cidr", peer["ipBlock"]["cidr"])
                    extra[node] = f"{node}[{_label(peer['ipBlock']['cidr'])}]"
                    sources.append(node)
                elif "namespaceSelector" in peer:
                    labels = (peer["namespaceSelector"] or {}).get("matchLabels") or {}
                    node = _id("namespaces", _selector_text(labels) or "all")
                    text = f"namespaces {_selector_text(labels)}" if labels else "all namespaces"
                    if peer.get("podSelector"):
                        text = f"pods {_selector_text(peer['podSelector'].get('matchLabels') or {})} in {text}"
                        node = _id(node, _selector_text(peer["podSelector"].get("matchLabels") or {}))
                    extra[node] = f"{node}[{_label(text)}]"
                    sources.append(node)
                else:
                    matched = _pods_node(peer.get("podSelector") or {}, pods)
                    if not matched:
                        labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
                        node = _id("pods", _selector_text(labels) or "all")
                        extra[node] = f"{node}[{_label('pods ' + (_selector_text(labels) or '(all)'))}]"
                        matched = [node]
                    sources += matched
            flows += [(source, target, _ports(rule)) for source in sources for target in targets]
    return list(dict.fromkeys(flows)), extra


@dataclass
class _Chart:
    """The flowchart's lines by where they go: stores outside the namespace, traffic sources (a column left of
    the namespace), the namespace's own nodes, and the edges."""

    outside: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    inside: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)

    def render(self, namespace: str) -> list[str]:
        lines = ["```mermaid", "flowchart LR", *unique(self.outside)]
        if self.sources:  # a column of their own, left of the namespace: their arrows never cross its title
            lines += [f"  subgraph outside[{_label('outside the namespace')}]", *unique(self.sources), "  end"]
        lines.append(f"  subgraph {_id('ns', namespace)}[{_label(f'Namespace {namespace}')}]")
        return [*lines, *unique(self.inside), "  end", *unique(self.edges), "```"]


def _workload_nodes(chart: _Chart, objects: list[Obj], pods: list[Obj]) -> dict[str, str]:
    """A node per workload, naming the Services that select its pods, and one per Service that selects none of
    them; returns Service name -> its node."""
    node_of_service: dict[str, str] = {}
    for obj in pods:
        text = f"{obj['kind']} {name_of(obj)}"
        if obj["kind"] == "Job" and run_once_prefix(obj):
            text += "<br/>run-once hook"
        for service in services_of(obj, objects):
            ports = ", ".join(str(p["port"]) for p in service.get("spec", {}).get("ports", []))
            text += f"<br/>Service {name_of(service)} :{ports}"
            node_of_service.setdefault(name_of(service), _node_id(obj))
        if obj["kind"] == "Cluster":
            chart.inside.append(f"    {_node_id(obj)}[({_label(text + '<br/>CloudNativePG')})]")
        else:
            chart.inside.append(f"    {_node_id(obj)}[{_label(text)}]")
    for service in of_kind(objects, "Service"):
        if name_of(service) not in node_of_service:
            ports = ", ".join(str(p["port"]) for p in service.get("spec", {}).get("ports", []))
            chart.inside.append(f"    {_node_id(service)}([{_label(f'Service {name_of(service)} :{ports}')}])")
            node_of_service[name_of(service)] = _node_id(service)
    return node_of_service


def _route_nodes(chart: _Chart, objects: list[Obj], node_of_service: dict[str, str]) -> None:
    """The clients, a node per route in, and an edge from each route to the workload its backend selects."""
    routes = routes_into(objects)
    if routes:
        chart.sources.append(f"    clients(({_label('clients')}))")
    seen = set()
    for route, hosts, scheme, backend, port in routes:
        node = _node_id(route)
        if node not in seen:
            seen.add(node)
            urls = "<br/>".join(f"{scheme}://{h}" for h in hosts)
            text = _label(f"{route['kind']} {name_of(route)}<br/>{urls}")
            chart.inside.append(f"    {node}{{{{{text}}}}}")
            chart.edges.append(f"  clients -->|{_label(scheme)}| {node}")
        if backend in node_of_service:
            chart.edges.append(f"  {node} -->|{_label(f'{backend}:{port}')}| {node_of_service[backend]}")


def _flow_edges(chart: _Chart, objects: list[Obj], pods: list[Obj]) -> None:
    """The flows the NetworkPolicies allow, with the nodes they need beyond the environment's own pods."""
    flows, extra = allowed_flows(objects, pods)
    chart.sources += [f"    {line}" for node, line in extra.items() if not node.startswith("pods_")]
    chart.inside += [f"    {line}" for node, line in extra.items() if node.startswith("pods_")]
    chart.edges += [f"  {source} ==>|{_label(ports)}| {target}" for source, target, ports in flows]


def _store_edges(chart: _Chart, objects: list[Obj], namespace: str) -> None:
    """The database and artifact store outside the namespace, with a dotted edge from each pod that uses them
    (and from the clients, when they reach the artifact store directly)."""
    database = database_store(objects, namespace)
    if database and database.external_label:
        chart.outside.append(f"  external_db[({_label(database.external_label)})]")
        chart.edges += [f"  {_node_id(user)} -.->|{_label('SQL')}| external_db" for user in database.users]
    found = server_and_container(objects)
    artifacts = artifact_store(objects, *found, namespace) if found else None
    if artifacts and artifacts.external_label:
        chart.outside.append(f"  artifact_store[({_label(artifacts.external_label)})]")
        chart.edges += [f"  {_node_id(user)} -.->|{_label('artifacts')}| artifact_store" for user in artifacts.users]
        if not artifacts.proxied and routes_into(objects):
            chart.edges.append(f"  clients -.->|{_label('artifacts, directly')}| artifact_store")


def _layout_links(chart: _Chart, objects: list[Obj], pods: list[Obj]) -> None:
    """Invisible links (layout only): batch pods (Jobs, CronJobs) take the column after the server, so the
    server's arrows to the stores pass between them instead of through them; and stores outside the namespace
    the column after those inside it."""
    found = server_and_container(objects)
    if found:
        chart.edges += [f"  {_node_id(found[0])} ~~~ {_node_id(o)}" for o in pods if o["kind"] in ("Job", "CronJob")]
    stores = [n for n in ("external_db", "artifact_store") if any(ln.startswith(f"  {n}[") for ln in chart.outside)]
    chart.edges += [f"  {_node_id(o)} ~~~ {store}" for o in pods if data_of(o) for store in stores]


def diagram(objects: list[Obj], namespace: str) -> list[str]:
    """A Mermaid flowchart: each workload a node (with the Services that select its pods), the routes in from
    outside, the flows the NetworkPolicies allow (with their ports) and the connections to external stores.

    Services are folded into the workloads they select rather than drawn as nodes of their own with an edge
    to each: that edge ran beside every flow into the same pods, and Mermaid drew some of them through
    unrelated boxes. A default-deny policy is said in the namespace's title, not as a free-floating box."""
    pods = pod_runners(objects)
    chart = _Chart()
    node_of_service = _workload_nodes(chart, objects, pods)
    _route_nodes(chart, objects, node_of_service)
    _flow_edges(chart, objects, pods)
    _store_edges(chart, objects, namespace)
    _layout_links(chart, objects, pods)
    return chart.render(namespace)


def unique(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(lines))


LEGEND = (
    "Each box is a workload, with the Services that select its pods. Thin arrows are routes in from outside "
    "(labelled Service:port), thick arrows the flows the NetworkPolicies allow (labelled with ports), dotted "
    "arrows connections to a store outside the namespace."
)
