"""Contracts of the auth modes: what each adds to the server, and what it refuses."""

from __future__ import annotations

import pytest
from helpers import INGRESS, OIDC, OIDC_SERVER, config_error, container, env_of, find, find_all, synth

from mlflow_constructs.server.launcher import launcher_command

PROXY = {
    "mode": "oauth2-proxy",
    "oauth2_proxy": {"issuer_url": "https://kc.example.com/realms/ml", "client_id": "mlflow", "allowed_groups": ["ml"]},
}


def deployment(objs, name="mlflow"):
    return find(objs, "Deployment", name)


# basic ---------------------------------------------------------------------------------------------


def test_basic_auth_runs_the_basic_auth_app_with_a_rendered_ini(tmp_path):
    objs = synth({"auth": {"mode": "basic"}}, tmp_path)
    pod = deployment(objs)["spec"]["template"]["spec"]
    server = container(deployment(objs), "mlflow")
    assert server["args"][-2:] == ["--app-name", "basic-auth"]
    env = env_of(server)
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == "/mlflow/auth/basic_auth.ini"
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"]["secretKeyRef"]["key"] == "flask-secret-key"
    assert {"name": "auth-config", "mountPath": "/mlflow/auth", "readOnly": True} in server["volumeMounts"]
    render = container(deployment(objs), "render-auth-config")
    assert {"name": "auth-config", "mountPath": "/mlflow/auth"} in render["volumeMounts"]
    # The schema gate reads the auth database's URI from the rendered INI, so it runs after the render.
    assert [c["name"] for c in pod["initContainers"]] == ["render-auth-config", "wait-for-schema"]


def test_basic_auth_template_holds_placeholders_not_values(tmp_path):
    objs = synth({"auth": {"mode": "basic", "basic": {"default_permission": "NO_PERMISSIONS"}}}, tmp_path)
    template = find(objs, "ConfigMap", "mlflow-auth-template")["data"]["basic_auth.ini.template"]
    assert "database_uri = ${AUTH_DATABASE_URI}" in template
    assert "default_permission = NO_PERMISSIONS" in template
    render = env_of(container(deployment(objs), "render-auth-config"))
    assert render["AUTH_DATABASE_URI"] == "postgresql+psycopg2://mlflow@mlflow-postgresql:5432/mlflow_auth"


def test_basic_auth_admin_account_is_env_from_the_secret_never_a_file(tmp_path):
    """MLflow reads `MLFLOW_AUTH_ADMIN_USERNAME`/`_PASSWORD` before the INI, so the admin password stays a
    Secret reference on the server container and is never written to the node's disk; the rendered INI (whose
    auth database URI may come from the Secret with a password in it) sits on tmpfs."""
    objs = synth({"auth": {"mode": "basic"}}, tmp_path)
    template = find(objs, "ConfigMap", "mlflow-auth-template")["data"]["basic_auth.ini.template"]
    assert "admin_" not in template
    server = env_of(container(deployment(objs), "mlflow"))
    assert server["MLFLOW_AUTH_ADMIN_USERNAME"] == {
        "secretKeyRef": {"name": "mlflow-credentials", "key": "admin-username"}
    }
    assert server["MLFLOW_AUTH_ADMIN_PASSWORD"] == {
        "secretKeyRef": {"name": "mlflow-credentials", "key": "admin-password"}
    }
    render = env_of(container(deployment(objs), "render-auth-config"))
    assert not [name for name in render if "ADMIN" in name]
    volumes = {v["name"]: v for v in deployment(objs)["spec"]["template"]["spec"]["volumes"]}
    assert volumes["auth-config"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Mi"}


def test_basic_auth_database_is_migrated_by_the_job_and_awaited_by_the_server(tmp_path):
    """Both the Job and the server's gate know the auth store (from the rendered INI), so the server never
    starts on, nor migrates, an auth database behind its image."""
    objs = synth({"auth": {"mode": "basic"}}, tmp_path)
    job = next(j for j in find_all(objs, "Job") if j["metadata"]["name"].startswith("mlflow-migrate-"))
    spec = job["spec"]["template"]["spec"]
    steps = [c["name"] for c in [*spec["initContainers"], *spec["containers"]]]
    assert steps == ["render-auth-config", "pg-dump", "upgrade"]
    for workload, name in ((job, "upgrade"), (deployment(objs), "wait-for-schema")):
        env = env_of(container(workload, name))
        assert env["SCHEMA_STORES"] == "tracking basic-auth", name
        assert env["MLFLOW_AUTH_CONFIG_PATH"] == "/mlflow/auth/basic_auth.ini", name


def test_basic_auth_upgrade_keeps_denies_unless_accepted(tmp_path):
    """The migration refuses to drop explicit denies by default; accepting them, or changing the default
    permission the denies would turn into (in the INI template, a ConfigMap), gives the Job a new name, so
    after either fix a re-apply runs it again."""

    def upgrade_env(basic):
        objs = synth({"auth": {"mode": "basic", "basic": basic}}, tmp_path)
        job = next(j for j in find_all(objs, "Job") if j["metadata"]["name"].startswith("mlflow-migrate-"))
        return job["metadata"]["name"], env_of(container(job, "upgrade"))

    refusing_name, refusing = upgrade_env({})
    accepting_name, accepting = upgrade_env({"accept_dropped_denies": True})
    denying_name, _ = upgrade_env({"default_permission": "NO_PERMISSIONS"})
    assert (refusing["ACCEPT_DROPPED_DENIES"], accepting["ACCEPT_DROPPED_DENIES"]) == ("false", "true")
    assert len({refusing_name, accepting_name, denying_name}) == 3


def test_basic_auth_with_external_database_reads_the_auth_uri_from_the_secret(tmp_path):
    objs = synth({"database": {"type": "external"}, "auth": {"mode": "basic"}}, tmp_path)
    render = env_of(container(deployment(objs), "render-auth-config"))
    assert render["AUTH_DATABASE_URI"] == {"secretKeyRef": {"name": "mlflow-credentials", "key": "auth-database-uri"}}


# oidc ----------------------------------------------------------------------------------------------


def test_oidc_runs_the_plugin_wrapper_with_its_probes(tmp_path):
    objs = synth({"server": OIDC_SERVER, "ingress": INGRESS, "auth": OIDC}, tmp_path)
    server = container(deployment(objs), "mlflow")
    # The launcher runs the plugin's wrapper in-process; the wrapper's `mlflow server` becomes uvicorn.
    assert server["command"] == launcher_command(("mlflow-oidc-server",))
    assert "from mlflow_oidc_auth.cli import run" in server["command"][2]
    assert server["image"] == OIDC_SERVER["image"]
    assert server["startupProbe"]["httpGet"]["path"] == "/health/startup"
    assert server["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert server["readinessProbe"]["httpGet"]["path"] == "/health/ready"


def test_oidc_user_database_is_migrated_by_the_job_not_by_a_serving_replica(tmp_path):
    """The plugin's store is one the Job migrates and the server's gate waits for, found with the very
    settings the server reads."""
    objs = synth({"server": OIDC_SERVER, "ingress": INGRESS, "auth": OIDC}, tmp_path)
    job = next(j for j in find_all(objs, "Job") if j["metadata"]["name"].startswith("mlflow-migrate-"))
    settings = find(objs, "ConfigMap", "mlflow-settings")["data"]
    for workload, name in ((job, "upgrade"), (deployment(objs), "wait-for-schema")):
        env = env_of(container(workload, name))
        assert env["SCHEMA_STORES"] == "tracking oidc", name
        assert env["OIDC_USERS_DB_URI"] == settings["OIDC_USERS_DB_URI"], name
        assert env["OIDC_ALEMBIC_VERSION_TABLE"] == settings["OIDC_ALEMBIC_VERSION_TABLE"], name


def test_oidc_settings_live_in_the_configmap_with_safe_defaults(tmp_path):
    settings = find(
        synth({"server": OIDC_SERVER, "ingress": INGRESS, "auth": OIDC}, tmp_path), "ConfigMap", "mlflow-settings"
    )["data"]
    assert settings["OIDC_REDIRECT_URI"] == "https://mlflow.example.com/callback"
    assert settings["DEFAULT_MLFLOW_PERMISSION"] == "NO_PERMISSIONS"
    assert settings["SESSION_COOKIE_SECURE"] == "true"
    assert settings["TRUSTED_PROXIES"] == "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
    assert settings["OIDC_SCOPE"] == "openid,profile,email,groups"
    assert settings["OIDC_GROUP_NAME"] == "mlflow-users"
    assert settings["OIDC_USERS_DB_URI"].endswith("/mlflow_auth")
    for secret in ("SECRET_KEY", "OIDC_CLIENT_SECRET", "OIDC_CLIENT_ID"):
        assert secret not in settings


def test_oidc_secrets_are_references(tmp_path):
    env = env_of(
        container(deployment(synth({"server": OIDC_SERVER, "ingress": INGRESS, "auth": OIDC}, tmp_path)), "mlflow")
    )
    for name in ("SECRET_KEY", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
        assert env[name] == {"secretKeyRef": {"name": "mlflow-credentials", "key": name}}


def test_oidc_replicas_share_sessions_through_redis(tmp_path):
    config = {
        "server": {**OIDC_SERVER, "replicas": 2},
        "ingress": INGRESS,
        "auth": {"mode": "oidc", "oidc": {**OIDC["oidc"], "cache": {"type": "bundled"}}},
    }
    objs = synth(config, tmp_path)
    env = env_of(container(deployment(objs), "mlflow"))
    settings = find(objs, "ConfigMap", "mlflow-settings")["data"]
    assert settings["CACHE_BACKEND"] == "redis"
    assert env["CACHE_REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@mlflow-redis:6379/0"
    redis = find(objs, "Service", "mlflow-redis")
    assert redis["spec"]["ports"][0]["port"] == 6379
    assert "requirepass" not in str(container(deployment(objs, "mlflow-redis"), "redis").get("args", []))


def test_oidc_replicas_with_the_per_pod_cache_are_accepted(tmp_path):
    """Plugin 11 sessions are signed cookies (a runtime test logs in across replicas), so Redis is optional."""
    objs = synth({"server": {**OIDC_SERVER, "replicas": 2}, "ingress": INGRESS, "auth": OIDC}, tmp_path)
    assert find(objs, "Deployment", "mlflow")["spec"]["replicas"] == 2
    assert find(objs, "ConfigMap", "mlflow-settings")["data"]["CACHE_BACKEND"] == "local"


def test_oidc_without_discovery_url_is_refused():
    message = config_error({"ingress": INGRESS, "auth": {"mode": "oidc", "oidc": {}}})
    assert "auth.oidc.discovery_url" in message


def test_oidc_without_redirect_or_ingress_is_refused():
    assert "auth.oidc.redirect_uri" in config_error({"server": OIDC_SERVER, "auth": OIDC})


def test_two_auth_modes_are_refused():
    message = config_error({"ingress": INGRESS, "auth": {**OIDC, "basic": {"default_permission": "READ"}}})
    assert "exactly one auth mode" in message


def test_trust_everything_proxies_are_refused():
    config = {"ingress": INGRESS, "auth": {"mode": "oidc", "oidc": {**OIDC["oidc"], "trusted_proxies": ["*"]}}}
    assert "trusted_proxies" in config_error(config)


# oauth2-proxy --------------------------------------------------------------------------------------


def test_ingress_routes_only_to_the_proxy(tmp_path):
    objs = synth({"ingress": INGRESS, "auth": PROXY}, tmp_path)
    backend = find(objs, "Ingress", "mlflow")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == "mlflow-oauth2-proxy"
    proxy = container(deployment(objs, "mlflow-oauth2-proxy"), "oauth2-proxy")
    assert "--upstream=http://mlflow:5000/" in proxy["args"]


def test_mlflow_pods_admit_only_the_proxy(tmp_path):
    """MLflow has no auth of its own in this mode; the NetworkPolicy is what closes the bypass."""
    objs = synth({"ingress": INGRESS, "auth": PROXY}, tmp_path)
    server_labels = deployment(objs)["spec"]["template"]["metadata"]["labels"]
    proxy_labels = deployment(objs, "mlflow-oauth2-proxy")["spec"]["template"]["metadata"]["labels"]
    admitting = [
        p
        for p in find_all(objs, "NetworkPolicy")
        if p["spec"].get("ingress")
        and p["spec"]["podSelector"].get("matchLabels", {}).items() <= server_labels.items()
        and p["spec"]["podSelector"].get("matchLabels")
    ]
    assert len(admitting) == 1
    sources = admitting[0]["spec"]["ingress"][0]["from"]
    assert len(sources) == 1 and sources[0]["podSelector"]["matchLabels"].items() <= proxy_labels.items()


def test_proxy_accepts_bearer_tokens_and_skips_the_provider_button(tmp_path):
    args = container(
        deployment(synth({"ingress": INGRESS, "auth": PROXY}, tmp_path), "mlflow-oauth2-proxy"), "oauth2-proxy"
    )["args"]
    for flag in (
        "--skip-jwt-bearer-tokens=true",
        "--skip-provider-button=true",
        "--reverse-proxy=true",
        "--cookie-secure=true",
    ):
        assert flag in args
    assert "--provider=keycloak-oidc" in args and "--allowed-group=ml" in args
    assert "--redirect-url=https://mlflow.example.com/oauth2/callback" in args


@pytest.mark.parametrize("issuer", ["https://acme.eu.auth0.com/", "https://kc.example.com/realms/ml"])
def test_proxy_gets_the_issuer_url_byte_for_byte(tmp_path, issuer):
    """go-oidc compares the issuer of the discovery document as a string: Auth0's ends in '/', Keycloak's
    does not, and a '/' added or removed keeps the proxy from starting."""
    proxy = {**PROXY, "oauth2_proxy": {**PROXY["oauth2_proxy"], "issuer_url": issuer}}
    objs = synth({"ingress": INGRESS, "auth": proxy}, tmp_path)
    assert f"--oidc-issuer-url={issuer}" in container(deployment(objs, "mlflow-oauth2-proxy"), "oauth2-proxy")["args"]


def test_proxy_answers_clients_401_instead_of_a_login_redirect(tmp_path):
    """Without a valid token, the paths MLflow's clients and OTLP exporters call get 401 (``--api-route``),
    under the static prefix too: an exporter takes a redirect to the provider for a successful export."""

    def api_routes(config):
        proxy = container(deployment(synth(config, tmp_path), "mlflow-oauth2-proxy"), "oauth2-proxy")
        return [arg for arg in proxy["args"] if arg.startswith("--api-route=")]

    assert api_routes({"ingress": INGRESS, "auth": PROXY}) == ["--api-route=^/(api/|v1/traces|version|gateway/)"]
    prefixed = {"ingress": INGRESS, "auth": PROXY, "server": {"static_prefix": "/ml-flow"}}
    assert api_routes(prefixed) == ["--api-route=^/ml\\-flow/(api/|v1/traces|version|gateway/)"]


def test_proxy_secrets_use_the_seed_key_names(tmp_path):
    proxy = container(
        deployment(synth({"ingress": INGRESS, "auth": PROXY}, tmp_path), "mlflow-oauth2-proxy"), "oauth2-proxy"
    )
    env = env_of(proxy)
    assert env["OAUTH2_PROXY_CLIENT_SECRET"]["secretKeyRef"]["key"] == "client_secret"
    assert env["OAUTH2_PROXY_COOKIE_SECRET"]["secretKeyRef"]["key"] == "cookie_secret"


def test_public_client_sends_no_secret(tmp_path):
    public = {**PROXY, "oauth2_proxy": {**PROXY["oauth2_proxy"], "client_type": "public"}}
    proxy = container(
        deployment(synth({"ingress": INGRESS, "auth": public}, tmp_path), "mlflow-oauth2-proxy"), "oauth2-proxy"
    )
    assert "OAUTH2_PROXY_CLIENT_SECRET" not in env_of(proxy)
    assert "--code-challenge-method=S256" in proxy["args"]


def test_proxy_letting_everyone_in_is_refused():
    config = {
        "ingress": INGRESS,
        "auth": {"mode": "oauth2-proxy", "oauth2_proxy": {**PROXY["oauth2_proxy"], "allowed_groups": []}},
    }
    assert "allowed_groups" in config_error(config) and "allow_any_account: true" in config_error(config)


def test_proxy_open_to_every_account_of_the_provider_only_when_said_so(tmp_path):
    """A dedicated realm whose every account may use MLflow (no groups): an explicit opt-in, then no group check."""
    anyone = {**PROXY, "oauth2_proxy": {**PROXY["oauth2_proxy"], "allowed_groups": [], "allow_any_account": True}}
    args = container(
        deployment(synth({"ingress": INGRESS, "auth": anyone}, tmp_path), "mlflow-oauth2-proxy"), "oauth2-proxy"
    )["args"]
    assert "--email-domain=*" in args and not [arg for arg in args if arg.startswith("--allowed-group")]


def test_opting_in_to_every_account_while_restricting_is_refused():
    """``allow_any_account`` beside groups would say two things at once: which one was meant is the user's call."""
    config = {
        "ingress": INGRESS,
        "auth": {**PROXY, "oauth2_proxy": {**PROXY["oauth2_proxy"], "allow_any_account": True}},
    }
    assert "allow_any_account" in config_error(config) and "restrict" in config_error(config)


def test_oidc_without_an_image_says_how_to_build_one():
    """No public image carries the plugin with this MLflow: the error must lead to images/mlflow-oidc."""
    message = config_error({"ingress": INGRESS, "auth": OIDC})
    assert "server.image" in message and "docker build" in message and "images/mlflow-oidc" in message
