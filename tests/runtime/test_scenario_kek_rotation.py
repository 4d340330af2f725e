"""Rotating the AI gateway's passphrase (README, "Rotating the AI gateway's passphrase") run for real.

The default environment, its gateway allowed to call a stand-in provider on this host (an OpenAI-style
``/chat/completions`` that records the API key it is sent):

1. passphrase A (version 1): the migration Job, then a server pod; a provider key is stored through the
   gateway's API and an invocation proves the server decrypts it (the stand-in receives the key);
2. the manifests synthesized again with ``kek_version: 2`` and ``rotate_kek: true``, the Secret holding B in
   ``kek-passphrase`` and a wrong value in ``previous-kek-passphrase``: the Job and a new server pod start
   together, the Job refuses (exit 3) with the stored key untouched, and the new pod waits in its gate;
3. the Secret fixed (A in ``previous-kek-passphrase``), the same manifests applied all at once again: the Job
   re-wraps the key, the new pod starts and its invocation sends the same key; the old pod (still on A)
   can no longer store a key; a second run of the Job re-wraps nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from podrunner import JobResult, find_object, run_job, run_pod
from postgres import free_port
from rolling import BackgroundPod
from s3_standin import S3StandIn
from scenario import (
    SERVICE_HOST,
    container_of,
    default_credentials,
    hashed_job,
    literal_env,
    migration_job,
    replica_on_port,
    service_port,
    shipped_config,
    start_bundled_postgres,
    synth_environment,
)

pytestmark = pytest.mark.runtime

ENV = "default"
POSTGRES_PASSWORD = "pg-password-for-the-rotation"
PASSPHRASE_A = "kek-passphrase-a-for-the-rotation-0123456789abcdef"
PASSPHRASE_B = "kek-passphrase-b-for-the-rotation-fedcba9876543210"
API_KEY = "sk-rotation-test-0123456789abcdefghij"
HOST = {"Host": f"{SERVICE_HOST}:5000"}
API = "/ajax-api/3.0/mlflow/gateway"
GUARD = "mlflow_k8s_kek_version_guard"
WAITING = 30  # seconds the new pod must stay in its gate while the rotation is refused


class Provider(ThreadingHTTPServer):
    """An OpenAI-style chat completions endpoint on 127.0.0.1 that records the bearer keys it receives."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                provider.keys.append(self.headers.get("Authorization", "").removeprefix("Bearer "))
                body = json.dumps(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": "gpt-4o-mini",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def synth(workdir: Path, name: str, **gateway: object) -> list[dict]:
    """The default environment, its gateway allowed to reach the stand-in provider (http, loopback)."""
    config = shipped_config(ENV)
    api_base = {"allowed_schemes": ["https", "http"], "allow_private_addresses": True}
    config.setdefault("server", {})["ai_gateway"] = {"api_base": api_base, **gateway}
    return synth_environment(config, ENV, workdir / name)


def with_passphrases(secrets: dict, current: str, previous: str | None = None) -> dict:
    values = {**secrets["mlflow-credentials"], "kek-passphrase": current}
    if previous is not None:
        values["previous-kek-passphrase"] = previous
    return {"mlflow-credentials": values}


def call(port: int, method: str, path: str, body: dict | None = None) -> requests.Response:
    return requests.request(method, f"http://127.0.0.1:{port}{path}", json=body, headers=HOST, timeout=60)


def store_key(port: int, provider: Provider, name: str) -> requests.Response:
    body = {
        "secret_name": name,
        "secret_value": {"api_key": API_KEY},
        "provider": "openai",
        "auth_config": {"api_base": provider.api_base},
    }
    return call(port, "POST", f"{API}/secrets/create", body)


def invoke(port: int, endpoint: str) -> requests.Response:
    body = {"messages": [{"role": "user", "content": "hello"}]}
    return requests.post(
        f"http://127.0.0.1:{port}/gateway/{endpoint}/mlflow/invocations", json=body, headers=HOST, timeout=120
    )


def stored(pg, database: str) -> str:
    return pg.psql("SELECT secret_name, kek_version, encode(wrapped_dek, 'hex') FROM secrets ORDER BY 1", database)


def guarded(pg, database: str) -> bool:
    return pg.psql(f"SELECT count(*) FROM pg_trigger WHERE tgname = '{GUARD}'", database) == "1"


def create_chat_endpoint(port: int, secret_id: str) -> None:
    """The gateway endpoint ``chat`` on a model definition that uses the stored key ``secret_id``."""
    model = call(
        port,
        "POST",
        f"{API}/model-definitions/create",
        {"name": "gpt", "secret_id": secret_id, "provider": "openai", "model_name": "gpt-4o-mini"},
    ).json()["model_definition"]
    call(
        port,
        "POST",
        f"{API}/endpoints/create",
        {
            "name": "chat",
            "model_configs": [{"model_definition_id": model["model_definition_id"], "linkage_type": "PRIMARY"}],
        },
    ).raise_for_status()


def refused_rotation(after: list[dict], base: dict, pg, database: str) -> dict:
    """2. The rotation refused: a wrong previous passphrase, while a new pod waits in its gate."""
    wrong = with_passphrases(base, PASSPHRASE_B, previous="not-the-previous-passphrase")
    deployment = replica_on_port(find_object(after, "Deployment", "mlflow"), free_port())
    with BackgroundPod(deployment, after, wrong) as waiting:
        refused = run_job(migration_job(after), after, wrong, timeout=300, check=False)
        time.sleep(WAITING)
        waited = not waiting.past_init
    return {
        "refused": refused,
        "waited": waited,
        "rows_refused": stored(pg, database),
        "guarded_refused": guarded(pg, database),
    }


def rotation_beside_an_old_pod(
    after: list[dict], base: dict, pg, database: str, provider: Provider, old_port: int
) -> dict:
    """3. The fixed Secret, applied all at once: the Job and the new pod start together, an old pod (on
    ``old_port``) still serving; then the Job once more."""
    secrets_b = with_passphrases(base, PASSPHRASE_B, previous=PASSPHRASE_A)
    port = free_port()
    result: dict = {}
    with BackgroundPod(replica_on_port(find_object(after, "Deployment", "mlflow"), port), after, secrets_b) as new:
        result["rotated"] = run_job(migration_job(after), after, secrets_b, timeout=300, check=False)
        run = new.wait_running(300)
        run.wait_for_probe(timeout=180)
        provider.keys.clear()
        result["invoked_after"] = invoke(port, "chat")
        result["keys_after"] = list(provider.keys)
        result["rows_after"] = stored(pg, database)
        result["old_stores"] = store_key(old_port, provider, "stored-by-an-old-pod")
        result["new_stores"] = store_key(port, provider, "stored-by-a-new-pod")
        result["again"] = run_job(migration_job(after), after, secrets_b, timeout=300, check=False)
        result["rows_again"] = stored(pg, database)
    return result


@pytest.fixture(scope="module")
def rotation(tmp_path_factory) -> Iterator[dict]:
    workdir = tmp_path_factory.mktemp("kek-rotation")
    before = synth(workdir, "a")
    after = synth(workdir, "b", kek_version=2, rotate_kek=True)
    result: dict = {"after": after}
    bucket = literal_env(container_of(hashed_job(before, "mlflow-minio-bucket"), "mc"))["BUCKET"]
    database = "mlflow"  # the bundled PostgreSQL's tracking database
    with S3StandIn(service_port(before, "mlflow-minio")) as s3, Provider() as provider:
        base = default_credentials(POSTGRES_PASSWORD, s3.provision(bucket, user="mlflow"))
        secrets_a = with_passphrases(base, PASSPHRASE_A)
        pg = start_bundled_postgres(before, secrets_a)
        try:
            assert run_job(migration_job(before), before, secrets_a, timeout=300).succeeded
            with run_pod(find_object(before, "Deployment", "mlflow"), before, secrets_a) as old:
                old.wait_for_probe(timeout=180)
                old_port = service_port(before, "mlflow")
                result["stored"] = store_key(old_port, provider, "openai-key")
                secret_id = result["stored"].json()["secret"]["secret_id"]
                create_chat_endpoint(old_port, secret_id)
                result["invoked_before"] = invoke(old_port, "chat")
                result["keys_before"] = list(provider.keys)
                result["rows_before"] = stored(pg, database)

                result |= refused_rotation(after, base, pg, database)
                result |= rotation_beside_an_old_pod(after, base, pg, database, provider, old_port)
            yield result
        finally:
            pg.stop()


def test_the_server_decrypts_a_key_stored_under_the_first_passphrase(rotation):
    """The baseline: a provider key stored through the gateway's API reaches the provider, so the rotation
    below starts from a key the server really decrypts."""
    assert rotation["stored"].status_code == 200, rotation["stored"].text
    assert rotation["invoked_before"].status_code == 200, rotation["invoked_before"].text
    assert rotation["keys_before"] == [API_KEY]
    assert "|1|" in rotation["rows_before"]


def test_a_wrong_previous_passphrase_is_refused_with_nothing_changed(rotation):
    """A wrong ``previous-kek-passphrase`` fails the Job at once (exit 3, no retry), leaves the stored key and
    the table as they were (no guard), and the new pod waits in its gate rather than serve keys it cannot
    decrypt."""
    refused: JobResult = rotation["refused"]
    assert refused.exit_codes == {"upgrade": 3}, refused.exit_codes
    assert "previous_kek_passphrase" in refused.logs["upgrade"]
    assert rotation["rows_refused"] == rotation["rows_before"]
    assert not rotation["guarded_refused"]
    assert rotation["waited"]


def test_the_rotated_key_is_read_back_by_the_new_server(rotation):
    """Applied all at once with the old passphrase in ``previous-kek-passphrase``: the Job re-wraps the key to
    version 2, the new pod starts once it has, and its invocation sends the very key stored under A."""
    assert rotation["rotated"].succeeded, rotation["rotated"].logs
    assert "|2|" in rotation["rows_after"] and "|1|" not in rotation["rows_after"]
    assert rotation["invoked_after"].status_code == 200, rotation["invoked_after"].text
    assert rotation["keys_after"] == [API_KEY]


def test_an_old_pod_cannot_store_a_key_after_the_rotation(rotation):
    """The fence: a pod still running with passphrase A (version 1) cannot store a key the new servers could
    not read; a new pod can."""
    assert rotation["old_stores"].status_code >= 400, rotation["old_stores"].text
    assert rotation["new_stores"].status_code == 200, rotation["new_stores"].text


def test_running_the_rotation_again_changes_nothing(rotation):
    """Idempotent: the Job run again (a retry, a re-apply) finds every key at version 2 and re-wraps none."""
    again: JobResult = rotation["again"]
    assert again.succeeded, again.logs
    assert "nothing to re-wrap" in again.logs["upgrade"]
    rows_again = [r for r in rotation["rows_again"].splitlines() if not r.startswith("stored-by-a-new-pod")]
    assert rows_again == rotation["rows_after"].splitlines()
