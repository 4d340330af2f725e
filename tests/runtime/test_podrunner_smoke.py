"""Proof that the pod runner runs a pod template the way a cluster would.

Handwritten manifests shaped like the app's output: a migration Job (``mlflow db upgrade
$(MLFLOW_BACKEND_STORE_URI)``) and a Deployment (``mlflow server`` with the store URI from a Secret
that is only referenced, emptyDir volumes, a read-only root filesystem, probes on ``/health``, init
containers on the busybox and postgres helper images), plus a Service whose link variables the
kubelet would inject. The port is a free unprivileged one instead of 5000, since pods share the
host network here.
"""

from __future__ import annotations

import time

import pytest
import requests
from podrunner import find_object, run_job, run_pod
from postgres import free_port
from scenario import SERVICE_HOST

pytestmark = pytest.mark.runtime

IMAGE = "ghcr.io/mlflow/mlflow:v3.17.2-full"
ALLOWED_HOSTS = f"{SERVICE_HOST},{SERVICE_HOST}:*,localhost,localhost:*,127.0.0.1,127.0.0.1:*"


def manifests(port: int, db_port: int) -> list[dict]:
    db_env = [{"name": "MLFLOW_BACKEND_STORE_URI", "valueFrom": {"secretKeyRef": {"name": "mlflow-db", "key": "uri"}}}]
    migrate = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "mlflow-db-migrate", "namespace": "mlflow"},
        "spec": {
            "backoffLimit": 2,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "migrate",
                            "image": IMAGE,
                            "command": ["mlflow", "db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"],
                            "env": db_env,
                            "securityContext": {"readOnlyRootFilesystem": True},
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                }
            },
        },
    }
    probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 2, "timeoutSeconds": 2}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "mlflow", "namespace": "mlflow", "labels": {"app.kubernetes.io/name": "mlflow"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "mlflow"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "mlflow"}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "initContainers": [
                        {
                            "name": "wait-for-db",
                            "image": "postgres:15-alpine",
                            "command": ["sh", "-c", "until pg_isready -h $(DB_HOST) -p $(DB_PORT); do sleep 1; done"],
                            "env": [
                                {"name": "DB_HOST", "value": "127.0.0.1"},
                                {"name": "DB_PORT", "value": str(db_port)},
                            ],
                        },
                        {
                            "name": "prepare",
                            "image": "busybox:1.36",
                            "command": ["sh", "-c", "echo $$HOSTNAME > /mlflow/tmp/prepared-by"],
                            "volumeMounts": [{"name": "tmp", "mountPath": "/mlflow/tmp"}],
                        },
                    ],
                    "containers": [
                        {
                            "name": "mlflow",
                            "image": IMAGE,
                            "command": ["mlflow", "server"],
                            "args": [
                                "--host",
                                "0.0.0.0",
                                "--port",
                                str(port),
                                "--workers",
                                "1",
                                "--serve-artifacts",
                                "--artifacts-destination",
                                "/mlflow/artifacts",
                                "--default-artifact-root",
                                "mlflow-artifacts:/",
                            ],
                            "ports": [{"name": "http", "containerPort": port}],
                            "env": [
                                *db_env,
                                {
                                    "name": "MLFLOW_SERVER_ALLOWED_HOSTS",
                                    "value": ALLOWED_HOSTS,
                                },
                                {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},
                                {"name": "TMPDIR", "value": "/mlflow/tmp"},
                                {"name": "HOME", "value": "/mlflow/tmp"},
                            ],
                            "securityContext": {"readOnlyRootFilesystem": True},
                            "startupProbe": {**probe, "failureThreshold": 60},
                            "readinessProbe": {**probe, "failureThreshold": 3},
                            "volumeMounts": [
                                {"name": "artifacts", "mountPath": "/mlflow/artifacts"},
                                {"name": "tmp", "mountPath": "/mlflow/tmp"},
                                {"name": "tmp", "mountPath": "/tmp", "subPath": "system-tmp"},
                            ],
                        }
                    ],
                    "volumes": [{"name": "artifacts", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mlflow", "namespace": "mlflow"},
        "spec": {
            "selector": {"app.kubernetes.io/name": "mlflow"},
            "ports": [{"name": "http", "port": 5000, "targetPort": "http"}],
        },
    }
    return [migrate, deployment, service]


def test_migration_job_then_server_answers_through_service_host(postgres_server):
    uri = postgres_server.create_database("mlflow", owner="mlflow", password="not-a-secret")
    secrets = {"mlflow-db": {"uri": uri}}
    port = free_port()
    objects = manifests(port, postgres_server.port)

    started = time.monotonic()
    job = run_job(find_object(objects, "Job", "mlflow-db-migrate"), objects, secrets, timeout=300)
    assert job.succeeded, job.logs
    assert postgres_server.psql("SELECT count(*) FROM alembic_version", database="mlflow") == "1"
    migrated = time.monotonic() - started

    with run_pod(find_object(objects, "Deployment", "mlflow"), objects, secrets) as pod:
        ready_after = pod.wait_for_probe(timeout=180)
        api = pod.url("http") + "/api/2.0/mlflow/experiments/search?max_results=1"

        response = requests.get(api, headers={"Host": f"{SERVICE_HOST}:5000"}, timeout=30)
        assert response.status_code == 200, response.text
        assert "experiments" in response.json()

        foreign = requests.get(api, headers={"Host": "mlflow.example.com"}, timeout=30)
        assert foreign.status_code == 403, foreign.text

        # What the container sees: the init container's output on the shared emptyDir, the Service
        # link variables, a read-only root filesystem with writable volumes, the Service's DNS name.
        seen = pod.exec(
            [
                "sh",
                "-c",
                "cat /mlflow/tmp/prepared-by; echo $MLFLOW_SERVICE_HOST; "
                "touch /etc/x 2>/dev/null && echo root-rw || echo root-ro; "
                "touch /mlflow/artifacts/x && echo vol-rw; "
                f"python -c 'import socket; print(socket.gethostbyname(\"{SERVICE_HOST}\"))'",
            ]
        )
        assert seen.returncode == 0, seen.stderr
        lines = seen.stdout.split()
        assert lines[0] == pod.info.name
        assert lines[1].startswith("10.96.")
        assert lines[2:] == ["root-ro", "vol-rw", "127.0.0.1"]  # Service names resolve to loopback

        # SIGTERM to PID 1 shuts the server down within the grace period.
        server = pod.container("mlflow")
        pod.stop()
        assert not server.killed, server.log_tail()

    print(
        f"\nmigration job {migrated:.1f} s, server ready {ready_after:.1f} s after start, "
        f"stopped in {server.stop_seconds:.1f} s"
    )
