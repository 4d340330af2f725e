"""Contracts of the routes into the cluster and of the NetworkPolicies that admit the traffic."""

from __future__ import annotations

from helpers import INGRESS, OIDC, OIDC_SERVER, config_error, container, find, find_all, synth

from mlflow_constructs.config.network import NGINX_BODY_SIZE

SCRAPER = {"kubernetes.io/metadata.name": "monitoring"}
PROXY = {
    "mode": "oauth2-proxy",
    "oauth2_proxy": {"issuer_url": "https://kc.example.com/realms/ml", "client_id": "mlflow", "allowed_groups": ["ml"]},
}


def admitted_namespaces(objs: list[dict], port: str = "http") -> dict[str, list[dict]]:
    """NetworkPolicy name -> the namespace selectors it admits to ``port`` of the pods it selects."""
    found = {}
    for policy in find_all(objs, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress") or []:
            if any(p.get("port") == port for p in rule.get("ports") or []):
                peers = [p for p in rule.get("from") or [] if "namespaceSelector" in p]
                found[policy["metadata"]["name"]] = [p["namespaceSelector"]["matchLabels"] for p in peers]
    return found


def test_prometheus_is_admitted_to_the_metrics_port_alone(tmp_path):
    """Prometheus (in `metrics.scraper_namespace_labels`) reaches the metrics port whether MLflow's own port is
    open, restricted to the ingress controller's namespace (in every auth mode), or closed behind OAuth2-Proxy,
    and through this flow nothing else: MLflow's API stays where the other policies put it."""
    nginx = {"kubernetes.io/metadata.name": "ingress-nginx"}
    restricted = {"ingress": INGRESS, "network_policies": {"ingress_from_namespaces": nginx}}
    cases = {
        "open": {"ingress": INGRESS},
        "restricted": restricted,
        "restricted-basic": {**restricted, "auth": {"mode": "basic"}},
        "restricted-oidc": {**restricted, "auth": OIDC, "server": OIDC_SERVER},
        "restricted-proxied": {**restricted, "auth": PROXY},
        "proxied": {"ingress": INGRESS, "auth": PROXY},
    }
    for case, config in cases.items():
        objs = synth({**config, "metrics": {"enabled": True}}, tmp_path / case)
        assert admitted_namespaces(objs, "metrics") == {"mlflow-allow-metrics": [SCRAPER]}, case
        assert SCRAPER not in [ns for peers in admitted_namespaces(objs).values() for ns in peers], case
    assert admitted_namespaces(synth({"ingress": INGRESS}, tmp_path / "off"), "metrics") == {}


GATEWAY = {
    "enabled": True,
    "kind": "httproute",
    "hosts": ["tools.example.com"],
    "gateway": {"parent_refs": [{"name": "shared", "namespace": "gateway-system", "section_name": "https"}]},
}


def settings(objs: list[dict]) -> dict[str, str]:
    return find(objs, "ConfigMap", "mlflow-settings")["data"]


def proxy_args(objs: list[dict]) -> list[str]:
    return container(find(objs, "Deployment", "mlflow-oauth2-proxy"), "oauth2-proxy")["args"]


def test_http_route_attaches_to_the_gateway_listener_with_hosts_path_and_backend(tmp_path):
    """`kind: httproute` writes one HTTPRoute (gateway.networking.k8s.io/v1, the standard channel's served
    version) naming the Gateway's listener, the hosts and the server's Service port, and no Ingress."""
    objs = synth({"ingress": GATEWAY}, tmp_path)
    route = find(objs, "HTTPRoute", "mlflow")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"] == {
        "parentRefs": [{"name": "shared", "namespace": "gateway-system", "sectionName": "https"}],
        "hostnames": ["tools.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": "mlflow", "port": 5000}],
            }
        ],
    }
    assert not find_all(objs, "Ingress") and not find_all(objs, "IngressRoute")


def test_http_route_hosts_are_allowed_with_the_listeners_scheme(tmp_path):
    """TLS terminates at the Gateway, so the public scheme comes from `gateway.scheme` (https unless said
    otherwise): the hosts are allowed Host headers and `<scheme>://<host>` the CORS origins, as for an Ingress."""
    data = settings(synth({"ingress": GATEWAY}, tmp_path / "https"))
    assert "tools.example.com" in data["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert data["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "https://tools.example.com"
    plain = {**GATEWAY, "gateway": {**GATEWAY["gateway"], "scheme": "http"}}
    assert settings(synth({"ingress": plain}, tmp_path / "http"))["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == (
        "http://tools.example.com"
    )


def test_http_route_sends_traffic_to_the_oauth2_proxy_in_that_mode(tmp_path):
    """In oauth2-proxy mode the route's backend is the proxy, and its login callback is on the route's host
    with the Gateway's https scheme."""
    objs = synth({"ingress": GATEWAY, "auth": PROXY}, tmp_path)
    assert find(objs, "HTTPRoute", "mlflow")["spec"]["rules"][0]["backendRefs"] == [
        {"name": "mlflow-oauth2-proxy", "port": 80}
    ]
    assert "--redirect-url=https://tools.example.com/oauth2/callback" in proxy_args(objs)


def test_gateway_namespaces_are_admitted_where_mlflows_port_is_restricted(tmp_path):
    """The Gateway's proxies must reach MLflow: with `ingress_from_namespaces` restricting the port, each
    Gateway namespace (a parent without one: the environment's own) is admitted too; unrestricted, every
    namespace already is and no policy is added."""
    two = {**GATEWAY, "gateway": {"parent_refs": [*GATEWAY["gateway"]["parent_refs"], {"name": "internal"}]}}
    envoy = {"kubernetes.io/metadata.name": "envoy-gateway-system"}
    objs = synth({"ingress": two, "network_policies": {"ingress_from_namespaces": envoy}}, tmp_path / "restricted")
    assert admitted_namespaces(objs) == {
        "mlflow-allow-mlflow": [envoy],
        "mlflow-allow-mlflow-from-gateway-system": [{"kubernetes.io/metadata.name": "gateway-system"}],
        "mlflow-allow-mlflow-from-mlflow": [{"kubernetes.io/metadata.name": "mlflow"}],
    }
    proxied = synth(
        {"ingress": GATEWAY, "auth": PROXY, "network_policies": {"ingress_from_namespaces": envoy}},
        tmp_path / "proxy",
    )
    assert admitted_namespaces(proxied)["mlflow-allow-oauth2-proxy-from-gateway-system"] == [
        {"kubernetes.io/metadata.name": "gateway-system"}
    ]
    assert admitted_namespaces(synth({"ingress": GATEWAY}, tmp_path / "open")) == {"mlflow-allow-mlflow": []}


def test_transition_keeps_the_ingress_beside_the_http_route(tmp_path):
    """While DNS moves to the Gateway both routes serve the same hosts, path and backend: the Ingress keeps
    its class and TLS Secret, the HTTPRoute attaches to the Gateway."""
    moving = {
        **GATEWAY,
        "class_name": "nginx",
        "tls": {"secret_name": "tools-tls"},
        "gateway": {**GATEWAY["gateway"], "transition_from": "ingress"},
    }
    objs = synth({"ingress": moving, "server": {"static_prefix": "/mlflow"}}, tmp_path)
    ingress, route = find(objs, "Ingress", "mlflow")["spec"], find(objs, "HTTPRoute", "mlflow")["spec"]
    assert ingress["ingressClassName"] == "nginx" and ingress["tls"] == [
        {"hosts": ["tools.example.com"], "secretName": "tools-tls"}
    ]
    (rule,) = ingress["rules"]
    assert rule["host"] == "tools.example.com" and route["hostnames"] == ["tools.example.com"]
    assert rule["http"]["paths"][0]["path"] == route["rules"][0]["matches"][0]["path"]["value"] == "/mlflow"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == route["rules"][0]["backendRefs"][0]["name"]


def test_static_prefix_is_the_path_of_every_kind_of_route(tmp_path):
    """MLflow answers only under `--static-prefix`: each route matches the prefix and what is below it (an
    Ingress Prefix path, an HTTPRoute PathPrefix, Traefik's Path or PathPrefix of `<prefix>/`), not `/`."""
    prefixed = {"server": {"static_prefix": "/tools/mlflow"}}
    ingress = find(synth({**prefixed, "ingress": INGRESS}, tmp_path / "ingress"), "Ingress", "mlflow")
    assert [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]] == ["/tools/mlflow"]
    route = find(synth({**prefixed, "ingress": GATEWAY}, tmp_path / "httproute"), "HTTPRoute", "mlflow")
    assert route["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/tools/mlflow"}}]
    traefik = {**INGRESS, "kind": "traefik", "hosts": ["a.example.com", "b.example.com"]}
    match = find(synth({**prefixed, "ingress": traefik}, tmp_path / "traefik"), "IngressRoute", "mlflow")
    assert match["spec"]["routes"][0]["match"] == (
        "(Host(`a.example.com`) || Host(`b.example.com`)) && (Path(`/tools/mlflow`) || PathPrefix(`/tools/mlflow/`))"
    )


def test_oauth2_proxy_serves_below_the_static_prefix(tmp_path):
    """With a prefix the proxy forwards that path (keeping it) and keeps its own pages and session cookie below
    it, so the callback registered at the provider is `https://<host><prefix>/oauth2/callback`."""
    args = proxy_args(synth({"ingress": INGRESS, "auth": PROXY, "server": {"static_prefix": "/mlflow"}}, tmp_path))
    assert "--upstream=http://mlflow:5000/mlflow/" in args
    assert "--proxy-prefix=/mlflow/oauth2" in args and "--cookie-path=/mlflow" in args
    assert "--redirect-url=https://mlflow.example.com/mlflow/oauth2/callback" in args


def test_request_timeout_reaches_the_route_rule(tmp_path):
    """Artifacts stream through MLflow: the Gateway's default timeout (Envoy: 15 s) would cut large
    transfers, so `request_timeout` sets the rule's `timeouts.request`."""
    slow = {**GATEWAY, "gateway": {**GATEWAY["gateway"], "request_timeout": "10m"}}
    route = find(synth({"ingress": slow}, tmp_path), "HTTPRoute", "mlflow")
    assert route["spec"]["rules"][0]["timeouts"] == {"request": "10m"}


def test_max_body_size_is_the_ingress_nginx_annotation(tmp_path):
    """Ingress-NGINX refuses bodies above 1 MiB unless told otherwise; `max_body_size` becomes its
    `proxy-body-size` in nginx's units (powers of 1024 as k/m/g, anything else in bytes), on the Ingress
    kept during a move to an HTTPRoute as well."""

    def annotation(ingress, name):
        objs = synth({"ingress": ingress}, tmp_path / name)
        return find(objs, "Ingress", "mlflow")["metadata"].get("annotations", {}).get(NGINX_BODY_SIZE)

    assert annotation({**INGRESS, "max_body_size": "1Gi"}, "binary") == "1g"
    assert annotation({**INGRESS, "max_body_size": "500M"}, "decimal") == "500000000"
    assert annotation({**INGRESS, "max_body_size": "0"}, "unlimited") == "0"
    assert annotation(INGRESS, "default") is None
    moving = {
        **GATEWAY,
        "tls": {"secret_name": "tools-tls"},
        "max_body_size": "64Mi",
        "gateway": {**GATEWAY["gateway"], "transition_from": "ingress"},
    }
    assert annotation(moving, "moving") == "64m"


def test_max_body_size_is_a_traefik_buffering_middleware(tmp_path):
    """Traefik has no body limit of its own: `max_body_size` adds a Buffering Middleware with
    `maxRequestBodyBytes` and the IngressRoute's rule goes through it; `0` (no limit) adds none, so
    requests are not buffered."""
    traefik = {**INGRESS, "kind": "traefik", "max_body_size": "64Mi"}
    objs = synth({"ingress": traefik}, tmp_path / "limited")
    middleware = find(objs, "Middleware", "mlflow-body-limit")
    assert middleware["spec"] == {"buffering": {"maxRequestBodyBytes": 64 * 1024 * 1024}}
    assert find(objs, "IngressRoute", "mlflow")["spec"]["routes"][0]["middlewares"] == [{"name": "mlflow-body-limit"}]
    unlimited = synth({"ingress": {**traefik, "max_body_size": "0"}}, tmp_path / "unlimited")
    assert not find_all(unlimited, "Middleware")
    assert "middlewares" not in find(unlimited, "IngressRoute", "mlflow")["spec"]["routes"][0]


def test_oidc_callback_and_cookies_follow_the_gateway_scheme(tmp_path):
    """With the TLS at the Gateway's listener, the oidc plugin's derived redirect URI is https and its session
    cookie Secure, exactly as with an Ingress carrying TLS."""
    objs = synth({"ingress": GATEWAY, "auth": OIDC, "server": OIDC_SERVER}, tmp_path)
    data = find(objs, "ConfigMap", "mlflow-settings")["data"]
    assert data["OIDC_REDIRECT_URI"] == "https://tools.example.com/callback"
    assert data["SESSION_COOKIE_SECURE"] == "true"


def test_a_wildcard_host_is_an_allowed_host_but_no_cors_origin(tmp_path):
    """`*.example.org` serves every team's sub-domain: MLflow accepts those Host headers, while an Origin names
    one host, so `https://*.example.org` would be a CORS origin no browser ever sends."""
    ingress = {**INGRESS, "hosts": ["mlflow.example.org", "*.example.org"]}
    data = settings(synth({"ingress": ingress}, tmp_path))
    assert "*.example.org" in data["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert data["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "https://mlflow.example.org"


# TLS terminated in front of the cluster (a tunnel, a load balancer, Traefik's default certificate).
PLAIN_INGRESS = {"enabled": True, "hosts": ["mlflow.example.com"]}


def test_public_url_makes_the_origins_https_without_ingress_tls(tmp_path):
    """Behind a front that terminates TLS, the route itself is plain HTTP: `public_url: https://...` makes the
    CORS origins https (browsers send `Origin: https://...`), and its host an allowed Host header."""
    data = settings(synth({"ingress": PLAIN_INGRESS, "public_url": "https://mlflow.example.com"}, tmp_path))
    assert data["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "https://mlflow.example.com"
    assert "mlflow.example.com" in data["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert "tls" not in find(synth({"ingress": PLAIN_INGRESS}, tmp_path / "plain"), "Ingress", "mlflow")["spec"]


def test_oauth2_proxy_behind_a_tunnel_derives_its_callback_from_public_url(tmp_path):
    """A tunnel sending clients straight to the proxy's Service needs no Ingress of this environment: the
    redirect URL is `public_url`'s (path included), the cookie Secure, and the host one MLflow accepts."""
    config = {"public_url": "https://tools.example.com/mlflow", "server": {"static_prefix": "/mlflow"}, "auth": PROXY}
    objs = synth(config, tmp_path)
    args = proxy_args(objs)
    assert "--redirect-url=https://tools.example.com/mlflow/oauth2/callback" in args
    assert "--cookie-secure=true" in args
    assert not find_all(objs, "Ingress") and not find_all(objs, "HTTPRoute")
    assert "tools.example.com" in settings(objs)["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")


def test_oidc_callback_and_cookies_follow_public_url(tmp_path):
    """The oidc plugin's redirect URI and Secure session cookie follow `public_url`, with the plain-HTTP ingress
    behind the front or with no ingress at all."""
    for name, ingress in {"plain-ingress": PLAIN_INGRESS, "no-ingress": {}}.items():
        config = {"ingress": ingress, "public_url": "https://mlflow.example.com", "auth": OIDC, "server": OIDC_SERVER}
        data = settings(synth(config, tmp_path / name))
        assert data["OIDC_REDIRECT_URI"] == "https://mlflow.example.com/callback", name
        assert data["SESSION_COOKIE_SECURE"] == "true", name


def test_public_url_contradicting_the_route_is_refused():
    """`public_url` may add TLS in front of the route, never contradict it: a host the route does not serve, or
    `http://` where the route serves https, or a path MLflow does not serve, is refused naming the fix."""
    refused = {
        "a host the ingress does not serve": (
            {"ingress": PLAIN_INGRESS, "public_url": "https://other.example.com"},
            "add it to ingress.hosts",
        ),
        "http with ingress.tls": (
            {"ingress": INGRESS, "public_url": "http://mlflow.example.com"},
            "remove ingress.tls",
        ),
        "http with an https listener": (
            {"ingress": GATEWAY, "public_url": "http://tools.example.com"},
            "set ingress.gateway.scheme: http",
        ),
        "a path without static_prefix": ({"public_url": "https://tools.example.com/mlflow"}, "server.static_prefix"),
    }
    for case, (config, fix) in refused.items():
        message = config_error(config)
        assert "public_url" in message and fix in message, (case, message)
    assert "public_url" in config_error({"public_url": "https://*.example.com"})


def test_public_url_names_the_callback_host_under_a_wildcard_route(tmp_path):
    """A wildcard first host gives no login callback; `public_url` names one host it serves (`*.example.com`
    matches one label), so the OAuth2-Proxy mode works there, and a host it does not serve is refused."""
    wildcard = {**INGRESS, "hosts": ["*.example.com"]}
    config = {"ingress": wildcard, "public_url": "https://team.example.com", "auth": PROXY}
    assert "--redirect-url=https://team.example.com/oauth2/callback" in proxy_args(synth(config, tmp_path))
    assert "add it to ingress.hosts" in config_error({**config, "public_url": "https://a.team.example.com"})
