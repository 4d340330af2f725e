"""Settings the API server, OAuth2-Proxy, Redis or MLflow would refuse or misread are refused at load time."""

from __future__ import annotations

import fnmatch
import ipaddress
import itertools
from pathlib import Path

import pytest
from helpers import INGRESS, OIDC, OIDC_SERVER, config_error, container, env_of, find, synth
from repo_paths import environment_file, shipped_environments

from mlflow_constructs.config import ConfigError, Image, RedisCache, Server, load_environment, parse_environment
from mlflow_constructs.config.server import decimal_range_globs, ipv4_host_patterns
from mlflow_constructs.k8s.naming import RESERVED_LABEL_PREFIXES, RESERVED_LABELS

PROXY = {
    "mode": "oauth2-proxy",
    "oauth2_proxy": {"issuer_url": "https://kc.example.com/realms/ml", "client_id": "mlflow", "allowed_groups": ["ml"]},
}


def parse(config: dict):
    return parse_environment(config, source="config/good.yaml")


def mlflow_allows(allowed_hosts: list[str], host: str) -> bool:
    """MLflow's Host check (mlflow.server.security_utils.is_allowed_host_header)."""
    return any(fnmatch.fnmatch(host, a) if "*" in a else host == a for a in allowed_hosts)


# 1a: oauth2-proxy needs TLS ------------------------------------------------------------------------


def test_oauth2_proxy_without_tls_is_refused():
    """The proxy always sets a Secure cookie: over plain HTTP the login never completes."""
    ingress = {"enabled": True, "hosts": ["mlflow.example.com"]}
    message = config_error({"ingress": ingress, "auth": PROXY})
    assert "ingress.tls" in message and "clear text" in message and "set ingress.tls.secret_name" in message


# 1b: durations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["8h", "168h0m0s", "30m", "1h30m", "1.5h", "500ms", "10us", "0"])
def test_cookie_expire_accepts_go_durations(value):
    """OAuth2-Proxy parses --cookie-expire with Go's time.ParseDuration."""
    assert parse(
        {"ingress": INGRESS, "auth": {**PROXY, "oauth2_proxy": {**PROXY["oauth2_proxy"], "cookie_expire": value}}}
    )


@pytest.mark.parametrize("value", ["eight hours", "8", "1d", "8 h", "-1h", ""])
def test_cookie_expire_refuses_what_oauth2_proxy_cannot_parse(value):
    """A value Go cannot parse makes the proxy exit at start; refuse it with the accepted forms."""
    message = config_error(
        {"ingress": INGRESS, "auth": {**PROXY, "oauth2_proxy": {**PROXY["oauth2_proxy"], "cookie_expire": value}}}
    )
    assert "auth.oauth2_proxy.cookie_expire" in message and "Go duration such as 8h" in message


def test_refresh_interval_is_a_go_duration():
    """ExternalSecret.refreshInterval is a Go duration: decimals work, days do not."""
    store = {"store_ref": {"name": "vault"}}
    ok = parse({"secrets": {"provider": "external-secrets", "external_secrets": {**store, "refresh_interval": "1.5h"}}})
    assert ok.secrets.external_secrets.refresh_interval == "1.5h"
    message = config_error(
        {"secrets": {"provider": "external-secrets", "external_secrets": {**store, "refresh_interval": "1d"}}}
    )
    assert "secrets.external_secrets.refresh_interval" in message and "Go duration" in message


@pytest.mark.parametrize(
    "value,valid", [("30s", True), ("1h30m", True), ("1d", True), ("30s1m", False), ("1.5m", False)]
)
def test_metrics_interval_is_a_prometheus_duration(value, valid):
    """The Prometheus Operator rejects ServiceMonitors whose interval Prometheus cannot parse."""
    config = {"metrics": {"enabled": True, "interval": value}}
    if valid:
        assert parse(config).metrics.interval == value
    else:
        assert "metrics.interval" in config_error(config) and "Prometheus duration" in config_error(config)


# 1c: labels and annotations -------------------------------------------------------------------------

LABEL_FIELDS = [
    ("labels",),
    ("metrics", "service_monitor_labels"),
    ("metrics", "scraper_namespace_labels"),
    ("network_policies", "ingress_from_namespaces"),
]
ANNOTATION_FIELDS = [
    ("server", "pod_annotations"),
    ("server", "service_account_annotations"),
    ("ingress", "annotations"),
]


def nested(path: tuple[str, ...], value) -> dict:
    for key in reversed(path):
        value = {key: value}
    return value


@pytest.mark.parametrize("path", LABEL_FIELDS + ANNOTATION_FIELDS, ids=".".join)
def test_label_and_annotation_keys_are_kubernetes_qualified_names(path):
    """A bad key lands on objects the API server then rejects, all of them at once."""
    message = config_error(nested(path, {"team name": "ml"}))
    assert ".".join(path) in message and "'team name'" in message and "example.com/team" in message


@pytest.mark.parametrize("path", LABEL_FIELDS, ids=".".join)
def test_label_values_are_kubernetes_label_values(path):
    """Label values are at most 63 name characters: "ML Platform!" is rejected by the API server."""
    message = config_error(nested(path, {"team": "ML Platform!"}))
    assert ".".join(path) in message and "not a valid label value" in message and "ml-platform" in message


@pytest.mark.parametrize(
    "key,valid",
    [
        ("team", True),
        ("app.kubernetes.io/version", True),
        ("example.com/Team_1.x", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("Example.com/team", False),
        ("/team", False),
        ("a/b/c", False),
        ("example.com/", False),
        ("-team", False),
        ("team-", False),
        (("a" * 60 + ".") * 5 + "b/x", False),
    ],
)
def test_label_keys_follow_apimachinery(key, valid):
    """Same rules as k8s.io/apimachinery IsQualifiedName, so nothing accepted here fails at apply."""
    config = {"labels": {key: "x"}}
    if valid:
        assert parse(config).labels == {key: "x"}
    else:
        assert "labels" in config_error(config)


@pytest.mark.parametrize(
    "key",
    [
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/part-of",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/component",
        "kubernetes.io/metadata.name",
        "pod-security.kubernetes.io/enforce",
        "pod-security.kubernetes.io/warn-version",
    ],
)
def test_labels_the_project_sets_are_refused(key):
    """On most objects the project's value wins: the user's label would be dropped without a word, except on
    the Namespace (where a pod-security label would change what Pod Security enforces)."""
    message = config_error({"labels": {key: "x"}})
    assert f"labels: {key!r} is reserved" in message and "example.com/team" in message


def test_every_label_the_project_sets_is_reserved(synthesized):
    """The reserved list covers what the constructs really write (user labels are the only others)."""
    envs = [load_environment(environment_file(name)) for name in shipped_environments()]
    users = {key for env in envs for key in [*env.labels, *env.metrics.service_monitor_labels]}
    own = {key for objs in synthesized.values() for obj in objs for key in obj["metadata"].get("labels") or {}}
    own -= users
    reserved = [k for k in own if k in RESERVED_LABELS or k.startswith(tuple(RESERVED_LABEL_PREFIXES))]
    assert own and sorted(reserved) == sorted(own)


@pytest.mark.parametrize(
    "value,valid", [("", True), ("v1.2_3-a", True), ("a" * 63, True), ("a" * 64, False), ("-a", False)]
)
def test_label_values_follow_apimachinery(value, valid):
    """Empty is a valid label value; 64 characters or a leading '-' are not."""
    config = {"labels": {"team": value}}
    if valid:
        assert parse(config).labels == {"team": value}
    else:
        assert "not a valid label value" in config_error(config)


def test_annotation_values_are_free_text_but_bounded_in_total():
    """Annotation values may be any text; the API server caps keys plus values at 256 KiB."""
    assert parse({"server": {"pod_annotations": {"example.com/note": "ML Platform! ✓"}}})
    message = config_error({"server": {"pod_annotations": {"a": "x" * 200_000, "b": "y" * 70_000}}})
    assert "server.pod_annotations" in message and "256 KiB" in message


# 1d: Redis maxmemory ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "quantity,redis",
    [
        ("192Mi", "192mb"),
        ("500M", "500m"),
        ("1Gi", "1gb"),
        ("2G", "2g"),
        ("64Ki", "64kb"),
        ("64k", "64k"),
        ("1048576", "1048576"),
        ("1T", "1000g"),
        ("2Ti", "2048gb"),
    ],
)
def test_max_memory_is_spelled_for_redis_with_the_same_bytes(quantity, redis):
    """Redis reads m as 10^6 and mb as 2^20: 500M must stay 500 000 000 bytes, not become 500mb."""
    assert RedisCache(max_memory=quantity).redis_max_memory == redis


@pytest.mark.parametrize("value", ["500m", "1.5Gi", "1e9", "100Pi", "192MB"])
def test_max_memory_refuses_non_byte_quantities(value):
    """500m is half a byte as a Kubernetes quantity; Redis cannot take fractions or P/E."""
    message = config_error({"auth": {"mode": "oidc", "oidc": {**OIDC["oidc"], "cache": {"max_memory": value}}}})
    assert "auth.oidc.cache.max_memory" in message and "whole bytes" in message


def test_rendered_redis_maxmemory_keeps_the_bytes(tmp_path):
    """The bundled Redis gets maxmemory in Redis units of the configured size."""
    cache = {"type": "bundled", "max_memory": "500M"}
    objs = synth(
        {"server": OIDC_SERVER, "ingress": INGRESS, "auth": {"mode": "oidc", "oidc": {**OIDC["oidc"], "cache": cache}}},
        tmp_path,
    )
    assert env_of(container(find(objs, "Deployment", "mlflow-redis"), "redis"))["MAX_MEMORY"] == "500m"


# 1e: pod networks in the allowed hosts ----------------------------------------------------------


def test_decimal_range_globs_match_exactly_the_range():
    """Every octet range expands to globs that match its decimal spellings and nothing else in 0..999."""
    for low, high in [(16, 31), (64, 127), (0, 255), (5, 5), (0, 9), (10, 99), (96, 103), (128, 255), (199, 201)]:
        globs = decimal_range_globs(low, high)
        for n in range(1000):
            assert any(fnmatch.fnmatchcase(str(n), g) for g in globs) == (low <= n <= high), (low, high, n, globs)


CIDRS = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "100.64.0.0/10",
    "192.168.0.0/16",
    "10.20.16.0/20",
    "10.1.2.3/32",
    "10.1.2.0/24",
]


@pytest.mark.parametrize("cidr", CIDRS)
def test_pod_ip_patterns_admit_exactly_the_network(cidr):
    """Every address:port inside the CIDR passes MLflow's Host check, and no IPv4 address outside does."""
    network = ipaddress.IPv4Network(cidr)
    patterns = ipv4_host_patterns(network)
    first = network.network_address.packed
    third_octets = sorted({0, 1, 15, 16, 17, 31, 32, 127, 255, first[2], (first[2] + 1) % 256, (first[2] - 1) % 256})
    fourth_octets = sorted({0, 1, 2, 3, 4, 9, 99, 255})
    for a, b in itertools.product([first[0] - 1, first[0], first[0] + 1, 1, 100, 172, 192], range(256)):
        for c, d in itertools.product(third_octets, fourth_octets):
            address = ipaddress.IPv4Address(f"{a % 256}.{b}.{c}.{d}")
            host = f"{address}:5000"
            assert mlflow_allows(patterns, host) == (address in network), (host, patterns)


@pytest.mark.parametrize(
    "host", ["10.evil.com:5000", "10.1.2.3.evil.com:5000", "100.1.2.3:5000", "172.32.0.1:5000", "10.example.com"]
)
def test_pod_ip_patterns_refuse_host_names(host):
    """A DNS-rebinding name that merely starts like a pod IP is not an allowed host."""
    assert not mlflow_allows(Server().pod_ip_host_patterns, host)


def test_default_pod_networks_include_the_shared_range(tmp_path):
    """Pod IPs in 100.64.0.0/10 (EKS custom networking) pass the Host check, so Prometheus gets /metrics."""
    settings = find(synth({}, tmp_path), "ConfigMap", "mlflow-settings")["data"]
    hosts = settings["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert mlflow_allows(hosts, "100.64.3.4:5000") and mlflow_allows(hosts, "172.20.1.5:5000")
    assert not mlflow_allows(hosts, "172.200.1.5:5000") and not mlflow_allows(hosts, "172.15.1.5:5000")


def test_pod_networks_are_configurable_and_checked():
    """A cluster with other pod CIDRs lists them; a CIDR with host bits or wider than /8 is refused."""
    assert Server(pod_networks=["10.244.0.0/16"]).pod_ip_host_patterns == ["10.244.*[0-9]:*"]
    assert "server.pod_networks" in config_error({"server": {"pod_networks": ["10.244.0.1/16"]}})
    message = config_error({"server": {"pod_networks": ["0.0.0.0/0"]}})
    assert "server.pod_networks" in message and "wider than a /8" in message


# 1f: YAML errors name the file ----------------------------------------------------------------------


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path):
    """Users fix YAML typos by line number; '<unicode string>' tells them nothing."""
    path = tmp_path / "prod.yaml"
    path.write_text("namespace: mlflow\nserver: {replicas: 2\n")
    with pytest.raises(ConfigError) as info:
        load_environment(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid YAML")
    assert "line 2, column 9" in message and "<unicode string>" not in message


# 1g: image reference strings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference,registry,name,tag,digest",
    [
        ("docker.io/library/postgres:16.6", "docker.io/library", "postgres", "16.6", None),
        ("postgres:16.6", "docker.io/library", "postgres", "16.6", None),
        ("library/postgres:16.6", "docker.io/library", "postgres", "16.6", None),
        ("team/app:1", "docker.io/team", "app", "1", None),
        ("registry.local:5000/team/mlflow:1.0", "registry.local:5000/team", "mlflow", "1.0", None),
        ("localhost:5000/mlflow:1.0", "localhost:5000", "mlflow", "1.0", None),
        ("ghcr.io/mlflow/mlflow@sha256:" + "a" * 64, "ghcr.io/mlflow", "mlflow", None, "sha256:" + "a" * 64),
        ("quay.io/minio/minio:v1@sha256:" + "b" * 64, "quay.io/minio", "minio", "v1", "sha256:" + "b" * 64),
    ],
)
def test_image_reference_strings_are_accepted(reference, registry, name, tag, digest):
    """The README documents images as reference strings, the way every registry and tool writes them."""
    image = Image.model_validate(reference)
    assert (image.registry, image.name, image.tag, image.digest) == (registry, name, tag, digest)
    assert image.pull_policy == "IfNotPresent"


@pytest.mark.parametrize(
    "path",
    [
        ("server", "image"),
        ("database", "bundled", "image"),
        ("artifacts", "minio", "image"),
        ("artifacts", "minio", "client_image"),
    ],
    ids=".".join,
)
def test_every_image_setting_takes_a_reference_string(path, tmp_path):
    """Each image key takes the string form, and the manifests use that image."""
    objs = synth(nested(path, "registry.local:5000/mirror/thing:1.0"), tmp_path)
    assert "registry.local:5000/mirror/thing:1.0" in str(objs)


def test_redis_and_proxy_images_take_reference_strings():
    """The images of the auth add-ons take the string form too."""
    cache = {"type": "bundled", "image": "redis:7.4.2-alpine"}
    env = parse(
        {"server": OIDC_SERVER, "ingress": INGRESS, "auth": {"mode": "oidc", "oidc": {**OIDC["oidc"], "cache": cache}}}
    )
    assert env.auth.oidc.cache.image.ref == "docker.io/library/redis:7.4.2-alpine"
    proxy = {**PROXY, "oauth2_proxy": {**PROXY["oauth2_proxy"], "image": "quay.io/oauth2-proxy/oauth2-proxy:v7.9.0"}}
    assert parse({"ingress": INGRESS, "auth": proxy}).auth.oauth2_proxy.image.ref.endswith("oauth2-proxy:v7.9.0")


def test_image_mapping_form_still_sets_pull_policy():
    """The mapping form is the way to set pull_policy."""
    image = {"registry": "ghcr.io/mlflow", "name": "mlflow", "tag": "v1", "pull_policy": "Always"}
    assert parse({"server": {"image": image}}).server.image.pull_policy == "Always"


@pytest.mark.parametrize("reference", ["postgres", "docker.io/library/postgres"])
def test_image_without_tag_or_digest_is_refused(reference):
    """An implicit :latest changes under a deployment; pinning is required."""
    message = config_error({"database": {"bundled": {"image": reference}}})
    assert "database.bundled.image" in message and "neither a tag nor a digest" in message and ":latest" in message


@pytest.mark.parametrize("reference", ["Postgres:16", "ghcr.io/x/mlflow:", "ghcr.io/x/mlflow@md5:abc", "a b:1"])
def test_malformed_image_reference_is_refused(reference):
    """A malformed reference is refused with the accepted forms."""
    message = config_error({"server": {"image": reference}})
    assert "server.image" in message and "registry/name:tag" in message


# static prefix and Gateway API ---------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/mlflow", "/tools/mlflow", "/ml-flow_2.x~"])
def test_static_prefix_accepts_url_path_prefixes(prefix):
    assert parse({"server": {"static_prefix": prefix}}).server.static_prefix == prefix


@pytest.mark.parametrize(
    "prefix", ["mlflow", "/mlflow/", "/", "//mlflow", "/a//b", "/a/../b", "/ml flow", "/{x}", "/%2F"]
)
def test_static_prefix_refuses_what_mlflow_or_a_route_would_misread(prefix):
    """MLflow refuses a trailing '/' and '{}'; routes refuse '//', '/../' and encoded slashes (the HTTPRoute
    CRD's CEL rules); spaces and other characters need escaping, which a prefix given to four programs
    (MLflow, the route, the probes, OAuth2-Proxy) would get wrong somewhere."""
    message = config_error({"server": {"static_prefix": prefix}})
    assert "server.static_prefix" in message and "URL path prefix such as /mlflow" in message


def test_static_prefix_is_refused_in_oidc_mode():
    """The oidc plugin keeps /login, /callback and /oidc/ui at the root whatever the prefix: a route for the
    prefix alone would leave sign-in unreachable."""
    message = config_error({"server": {**OIDC_SERVER, "static_prefix": "/mlflow"}, "ingress": INGRESS, "auth": OIDC})
    assert "server.static_prefix" in message and "/callback" in message and "host name of its own" in message
