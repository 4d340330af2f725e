"""Two MLflow replicas behind a round-robin balancer: login sessions work across them.

oidc: the oidc-keycloak variant of oidc_scenario.py with ``auth.oidc.cache.type: bundled`` and
``server.replicas: 2`` (plus the ``redis-password`` remote ref that combination requires). The
bundled Redis runs from its synthesized container (command, args, env; the host's ``redis-server``
stands in for the image, pod_images.py) with the password from the test Secret. Two server processes
run from the same pod spec; the second gets another port (``--port`` and ``containerPort``), since pods
share the host network. The ingress host reaches a round-robin balancer (``rolling.ServiceBalancer``, a
loopback TCP forwarder alternating between the replicas per connection; every request here opens a
new connection). The same holds for the shipped single-replica spec (``cache.type: none``) run as two
processes behind the same balancer: plugin 11.0.2 keeps sessions in signed cookies, so the per-pod cache
does not lose them (and several pods are allowed without Redis).
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import urljoin

import pytest
import requests
from ingress_client import IngressAdapter
from oidc_scenario import USERS, cluster_secrets, ingress_host, oidc_environment, provider_for
from podrunner import find_object, run_job, run_pod
from postgres import free_port
from rolling import ServiceBalancer
from scenario import SERVICE_HOST, migration_job, replica_on_port, require_free_port, start_cnpg_postgres

pytestmark = pytest.mark.runtime

DB_PASSWORD = "cnpg-app-password"
REDIS_PASSWORD = "redis-pass_for-runtime-tests-42"  # URL-safe: it goes into CACHE_REDIS_URL
API = "/api/2.0/mlflow/experiments/search?max_results=5"


def fresh_session(host: str, port: int) -> requests.Session:
    """A browser-like session whose every request opens a new connection (so the balancer alternates)."""
    session = requests.Session()
    session.mount(f"https://{host}/", IngressAdapter(host, port))
    session.headers["Connection"] = "close"
    return session


@contextlib.contextmanager
def two_replicas(tmp_path_factory, edit, name):
    idp_port = free_port()
    objects = oidc_environment(idp_port, tmp_path_factory.mktemp(name), name=name, edit=edit)
    redis = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "mlflow-redis"]
    secrets, hosts = cluster_secrets(objects, DB_PASSWORD, extra={"redis-password": REDIS_PASSWORD} if redis else None)
    deployment = find_object(objects, "Deployment", "mlflow")
    with contextlib.ExitStack() as stack, provider_for(objects, idp_port):
        pg = start_cnpg_postgres(objects, DB_PASSWORD)
        stack.callback(pg.stop)
        if redis:
            require_free_port(6379, "Redis")
            pod = stack.enter_context(run_pod(redis[0], objects, secrets))
            pod.wait_for_probe(timeout=60)
        run_job(migration_job(objects), objects, secrets, timeout=300, extra_hosts=hosts)
        require_free_port(5000, "the MLflow server")
        port_b = free_port()
        a = stack.enter_context(run_pod(deployment, objects, secrets, extra_hosts=hosts))
        b = stack.enter_context(run_pod(replica_on_port(deployment, port_b), objects, secrets, extra_hosts=hosts))
        a.wait_for_probe(timeout=240)
        b.wait_for_probe(timeout=240)
        balancer = stack.enter_context(ServiceBalancer(backends=[a.port("http"), port_b]))
        yield {"objects": objects, "balancer": balancer, "host": ingress_host(objects), "replicas": (a, b)}


def login_across_replicas(env) -> tuple[requests.Session, list[requests.Response], list[int]]:
    """``/login`` -> provider -> ``/callback`` -> landing through the balancer; the replica ports used."""
    session = fresh_session(env["host"], env["balancer"].port)
    base = f"https://{env['host']}"
    start = len(env["balancer"].used)
    hops = [session.get(f"{base}/login", allow_redirects=False, timeout=30)]
    response = hops[0]
    while response.is_redirect:
        response = session.get(urljoin(response.url, response.headers["location"]), allow_redirects=False, timeout=30)
        hops.append(response)
    action = re.search(r'action="([^"]+)"', response.text).group(1)
    user = {"username": "alice", "password": USERS["alice"]["password"]}
    response = session.post(urljoin(response.url, action), data=user, allow_redirects=False, timeout=30)
    hops.append(response)
    while response.is_redirect and len(hops) < 20:
        response = session.get(urljoin(response.url, response.headers["location"]), allow_redirects=False, timeout=30)
        hops.append(response)
    return session, hops, env["balancer"].used[start:]


def test_login_and_session_work_across_replicas_with_shared_redis(tmp_path_factory):
    """cache.type bundled, 2 replicas: /login on one replica, /callback on the other succeeds; the
    session then answers on both replicas, and so does a per-user access token."""

    def edit(config):
        config["auth"]["oidc"]["cache"] = {"type": "bundled"}
        config.setdefault("server", {})["replicas"] = 2
        config["secrets"]["external_secrets"]["remote_refs"]["redis-password"] = {
            "key": "mlflow/redis",
            "property": "password",
        }

    with two_replicas(tmp_path_factory, edit, "oidc-redis") as env:
        session, hops, used = login_across_replicas(env)
        assert len(set(used)) == 2, used  # the login touched both replicas
        callback = [h for h in hops if h.url.split("?")[0].endswith("/callback")][0]
        assert callback.status_code == 302 and "error" not in callback.headers["location"], callback.headers
        base = f"https://{env['host']}"
        statuses = [session.get(base + "/api/2.0/mlflow/users/current", timeout=30).status_code for _ in range(4)]
        assert statuses == [200] * 4, statuses  # alternating replicas
        token = session.patch(f"{base}/api/2.0/mlflow/users/access-token", json={}, timeout=30).json()["token"]
        for port in (r.port("http") for r in env["replicas"]):
            answer = requests.get(
                f"http://127.0.0.1:{port}{API}",
                headers={"Host": SERVICE_HOST},
                auth=("alice@example.com", token),
                timeout=30,
            )
            assert answer.status_code == 200, (port, answer.text)


def test_per_pod_cache_keeps_a_login_across_replicas(tmp_path_factory):
    """The shipped single-replica spec (cache.type none) run as two processes behind the same balancer:
    the login that starts on one replica and ends on the other yields a session that works on both, since
    plugin 11 keeps login state and session in a cookie signed with the shared SECRET_KEY. This is why
    several oidc pods do not require Redis."""
    with two_replicas(tmp_path_factory, None, "oidc-per-pod") as env:
        session, hops, used = login_across_replicas(env)
        assert len(set(used)) == 2, used
        base = f"https://{env['host']}"
        statuses = [session.get(base + "/api/2.0/mlflow/users/current", timeout=30).status_code for _ in range(4)]
        assert statuses == [200] * 4, (statuses, [(h.status_code, h.url) for h in hops])
