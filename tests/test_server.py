"""Contracts of the MLflow server Deployment, Service and their wiring."""

from __future__ import annotations

import pytest
from helpers import config_error, container, env_of, find, find_all, synth

from mlflow_constructs.config import ConfigError
from mlflow_constructs.k8s.quantities import quantity_of

S3_IRSA = {
    "database": {"type": "external"},
    "artifacts": {"type": "s3", "s3": {"bucket": "b", "credentials": "irsa"}},
    "server": {"service_account_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}},
}


def test_server_runs_mlflow_server_with_explicit_command(tmp_path):
    """The image's entrypoint must not decide what runs: command and args are explicit. The command is
    the launcher, which runs `mlflow server` in-process and becomes the uvicorn process MLflow builds."""
    server = container(find(synth({}, tmp_path), "Deployment", "mlflow"), "mlflow")
    assert server["command"][:2] == ["python", "-c"] and len(server["command"]) == 3
    assert "mlflow.server._exec_cmd = become" in server["command"][2]
    assert server["command"][2].endswith('\nmlflow_server(["server", *sys.argv[1:]])\n')
    args = server["args"]
    assert args[:6] == ["--host", "0.0.0.0", "--port", "5000", "--workers", "1"]


def test_job_execution_keeps_mlflow_server_as_the_supervisor(tmp_path):
    """`mlflow server` starts MLflow's job runner next to uvicorn: with job execution it stays."""
    server = container(find(synth({"server": {"job_execution": True}}, tmp_path), "Deployment", "mlflow"), "mlflow")
    assert server["command"] == ["mlflow", "server"]


def test_workers_follow_the_cpu_limit_unless_given(tmp_path):
    """One worker uses at most one core: by default (`auto`) the pod runs one per whole CPU of its limit,
    one with the default limit (served in the launcher's own process); an explicit count wins."""

    def workers(server: dict, path) -> str:
        args = container(find(synth({"server": server}, path), "Deployment", "mlflow"), "mlflow")["args"]
        return args[args.index("--workers") + 1]

    limits = {"requests": {"cpu": "100m", "memory": "768Mi"}, "limits": {"cpu": "2500m", "memory": "3Gi"}}
    assert workers({}, tmp_path / "default") == "1"
    assert workers({"resources": limits}, tmp_path / "auto") == "2"
    half = {**limits, "limits": {"cpu": "500m", "memory": "1Gi"}}
    assert workers({"resources": half}, tmp_path / "half") == "1"
    assert workers({"resources": limits, "workers": 3}, tmp_path / "explicit") == "3"


def test_cpu_quantities_in_cores():
    """`server.workers: auto` counts whole CPUs of the limit, whatever way the limit is spelled."""
    assert [quantity_of(q) for q in ("500m", "1", "2", "1.5", "2k")] == [0.5, 1, 2, 1.5, 2000]


def test_telemetry_is_off_in_every_container_that_runs_mlflow(tmp_path):
    """MLflow calls home on `import mlflow` unless told not to: the server (settings), its schema gate and the
    migration Job carry both switches; `server.telemetry: true` leaves MLflow's default."""
    objects = synth({"auth": {"mode": "basic"}}, tmp_path / "off")
    settings = find(objects, "ConfigMap", "mlflow-settings")["data"]
    assert settings["MLFLOW_DISABLE_TELEMETRY"] == "true" and settings["DO_NOT_TRACK"] == "true"
    (job,) = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"].startswith("mlflow-migrate-")]
    for workload, name in ((job, "upgrade"), (find(objects, "Deployment", "mlflow"), "wait-for-schema")):
        env = env_of(container(workload, name))
        assert env["MLFLOW_DISABLE_TELEMETRY"] == "true" and env["DO_NOT_TRACK"] == "true", name
    objects = synth({"server": {"telemetry": True}}, tmp_path / "on")
    assert "MLFLOW_DISABLE_TELEMETRY" not in find(objects, "ConfigMap", "mlflow-settings")["data"]


def test_workspaces_reach_the_server_its_gate_and_the_migration(tmp_path):
    """`mlflow server`, the oidc plugin and MLflow's stores all read `MLFLOW_ENABLE_WORKSPACES`: the server (its
    settings), its schema gate and the migration Job carry it when workspaces are on, and nothing does when off."""
    on = synth({"server": {"workspaces": True}, "auth": {"mode": "basic"}}, tmp_path / "on")
    assert find(on, "ConfigMap", "mlflow-settings")["data"]["MLFLOW_ENABLE_WORKSPACES"] == "true"
    (job,) = [o for o in on if o["kind"] == "Job" and o["metadata"]["name"].startswith("mlflow-migrate-")]
    for workload, name in ((job, "upgrade"), (find(on, "Deployment", "mlflow"), "wait-for-schema")):
        assert env_of(container(workload, name))["MLFLOW_ENABLE_WORKSPACES"] == "true", name
    off = synth({"auth": {"mode": "basic"}}, tmp_path / "off")
    assert "MLFLOW_ENABLE_WORKSPACES" not in find(off, "ConfigMap", "mlflow-settings")["data"]


def test_probes_make_the_pod_ready_soon_after_the_server_answers(tmp_path):
    """The kubelet probes every period from the container's start, readiness only after startup passed:
    short periods so a ~7 s start is not rounded up by tens of seconds; still 180 s allowed to start."""
    server = container(find(synth({}, tmp_path), "Deployment", "mlflow"), "mlflow")
    startup, readiness = server["startupProbe"], server["readinessProbe"]
    assert startup["periodSeconds"] <= 2 and readiness["periodSeconds"] <= 5
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 180


def test_store_uris_come_from_env_never_args(tmp_path):
    """Store URIs may carry passwords: they reach the process through env from Secrets."""
    server = container(find(synth({"database": {"type": "external"}}, tmp_path), "Deployment", "mlflow"), "mlflow")
    env = env_of(server)
    assert env["MLFLOW_BACKEND_STORE_URI"] == {"secretKeyRef": {"name": "mlflow-credentials", "key": "database-uri"}}
    assert env["MLFLOW_REGISTRY_STORE_URI"] == env["MLFLOW_BACKEND_STORE_URI"]
    assert not any("backend-store-uri" in a or "://" in a and "@" in a for a in server["args"])


def test_bundled_database_password_reaches_libpq_not_the_uri(tmp_path):
    """The bundled URI names no password; libpq reads PGPASSWORD, so any character works."""
    server = container(find(synth({}, tmp_path), "Deployment", "mlflow"), "mlflow")
    env = env_of(server)
    assert env["MLFLOW_BACKEND_STORE_URI"] == "postgresql+psycopg2://mlflow@mlflow-postgresql:5432/mlflow"
    assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "mlflow-credentials", "key": "postgres-password"}}


def test_proxied_artifacts_flags(tmp_path):
    server = container(find(synth({}, tmp_path), "Deployment", "mlflow"), "mlflow")
    args = server["args"]
    assert "--serve-artifacts" in args
    assert args[args.index("--artifacts-destination") + 1] == "s3://mlflow"
    assert args[args.index("--default-artifact-root") + 1] == "mlflow-artifacts:/"


def test_unproxied_artifacts_point_clients_at_the_store(tmp_path):
    config = {**S3_IRSA, "artifacts": {**S3_IRSA["artifacts"], "proxied": False}}
    args = container(find(synth(config, tmp_path), "Deployment", "mlflow"), "mlflow")["args"]
    assert "--no-serve-artifacts" in args
    assert args[args.index("--default-artifact-root") + 1] == "s3://b"


def test_allowed_hosts_cover_service_names_and_ingress_hosts(tmp_path):
    """MLflow 3 answers 403 "Invalid Host header" to any host not listed."""
    config = {"ingress": {"enabled": True, "hosts": ["mlflow.example.com"]}}
    settings = find(synth(config, tmp_path), "ConfigMap", "mlflow-settings")["data"]
    hosts = settings["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    for host in ["mlflow", "mlflow.mlflow.svc", "mlflow.mlflow.svc.cluster.local:*", "mlflow.example.com", "localhost"]:
        assert host in hosts
    assert settings["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] == "http://mlflow.example.com"


def test_probes_hit_health_on_the_named_port(tmp_path):
    objs = synth({}, tmp_path)
    server = container(find(objs, "Deployment", "mlflow"), "mlflow")
    assert {p["name"] for p in server["ports"]} == {"http"}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert server[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert find(objs, "Service", "mlflow")["spec"]["ports"][0]["targetPort"] == "http"


def test_static_prefix_reaches_mlflow_and_moves_every_probe(tmp_path):
    """Under `--static-prefix` MLflow 3.17 mounts /health at `<prefix>/health` and answers 404 on `/health`
    (community-charts#290: pods never ready), in default and basic-auth mode alike: all three probes move."""
    for auth in ("none", "basic"):
        objs = synth({"server": {"static_prefix": "/mlflow"}, "auth": {"mode": auth}}, tmp_path / auth)
        server = container(find(objs, "Deployment", "mlflow"), "mlflow")
        assert server["args"][server["args"].index("--static-prefix") + 1] == "/mlflow", auth
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert server[probe]["httpGet"] == {"path": "/mlflow/health", "port": "http"}, (auth, probe)
    assert (
        "--static-prefix" not in container(find(synth({}, tmp_path / "root"), "Deployment", "mlflow"), "mlflow")["args"]
    )


def test_service_monitor_scrapes_the_metrics_port_at_the_root(tmp_path):
    """The ServiceMonitor scrapes `/metrics` on the Service port `metrics`, which targets the metrics container,
    not MLflow's `http` port (behind its login in basic-auth mode), and stays at the root under a static prefix
    (the route, which matches only the prefix, never exposes it)."""
    objs = synth({"server": {"static_prefix": "/mlflow"}, "metrics": {"enabled": True, "port": 9100}}, tmp_path)
    (endpoint,) = find(objs, "ServiceMonitor", "mlflow")["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics" and endpoint["port"] == "metrics"
    ports = {p["name"]: p for p in find(objs, "Service", "mlflow")["spec"]["ports"]}
    assert ports["metrics"] == {"name": "metrics", "port": 9100, "targetPort": "metrics"}
    exporter = container(find(objs, "Deployment", "mlflow"), "metrics")
    assert exporter["ports"] == [{"containerPort": 9100, "name": "metrics"}]


def test_pod_is_restricted_and_has_no_api_token(tmp_path):
    deployment = find(synth({}, tmp_path), "Deployment", "mlflow")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    for c in [*pod["initContainers"], *pod["containers"]]:
        ctx = c["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"] == {"drop": ["ALL"]}


def test_settings_change_rolls_the_pods(tmp_path):
    """A ConfigMap edit alone does not restart pods; the checksum annotation makes it."""
    a = find(synth({}, tmp_path / "a"), "Deployment", "mlflow")
    b = find(synth({"server": {"extra_allowed_hosts": ["x.example.com"]}}, tmp_path / "b"), "Deployment", "mlflow")
    key = "checksum/config"
    assert (
        a["spec"]["template"]["metadata"]["annotations"][key] != b["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_service_account_carries_identity_annotations(tmp_path):
    account = find(synth(S3_IRSA, tmp_path), "ServiceAccount", "mlflow")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}
    assert account["automountServiceAccountToken"] is False


def test_single_replica_has_no_pdb_or_spread(tmp_path):
    objs = synth({}, tmp_path)
    assert not find_all(objs, "PodDisruptionBudget")
    assert "topologySpreadConstraints" not in find(objs, "Deployment", "mlflow")["spec"]["template"]["spec"]


def test_several_replicas_get_pdb_and_spread(tmp_path):
    objs = synth({**S3_IRSA, "server": {**S3_IRSA["server"], "replicas": 3}}, tmp_path)
    pdb = find(objs, "PodDisruptionBudget", "mlflow")
    deployment = find(objs, "Deployment", "mlflow")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]


def test_autoscaling_owns_the_replica_count(tmp_path):
    config = {**S3_IRSA, "server": {**S3_IRSA["server"], "autoscaling": {"enabled": True, "max_replicas": 4}}}
    objs = synth(config, tmp_path)
    hpa = find(objs, "HorizontalPodAutoscaler", "mlflow")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mlflow"}
    assert "replicas" not in find(objs, "Deployment", "mlflow")["spec"]


def test_metrics_container_reads_what_mlflow_writes(tmp_path):
    """MLflow writes its series into the writable `--expose-prometheus` directory; the metrics container reads
    that same volume, read-only, and serves it on the server's host and the metrics port."""
    deployment = find(synth({"metrics": {"enabled": True}}, tmp_path), "Deployment", "mlflow")
    server, exporter = container(deployment, "mlflow"), container(deployment, "metrics")
    directory = server["args"][server["args"].index("--expose-prometheus") + 1]
    (written,) = [m for m in server["volumeMounts"] if m["mountPath"] == directory]
    (read,) = [m for m in exporter["volumeMounts"] if m["mountPath"] == directory]
    assert written["name"] == read["name"] and not written.get("readOnly") and read["readOnly"] is True
    assert exporter["args"] == [directory, "0.0.0.0", "9090"]
    assert exporter["image"] == server["image"] and exporter["command"][:2] == ["python", "-c"]


def test_rwo_artifact_volume_uses_recreate(tmp_path):
    """A ReadWriteOnce volume cannot be attached by a surge pod on another node."""
    deployment = find(synth({"artifacts": {"type": "pvc"}}, tmp_path), "Deployment", "mlflow")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_image_digest_wins_over_tag(tmp_path):
    image = {"registry": "ghcr.io/mlflow", "name": "mlflow", "tag": "v3", "digest": "sha256:" + "a" * 64}
    server = container(find(synth({"server": {"image": image}}, tmp_path), "Deployment", "mlflow"), "mlflow")
    assert server["image"] == "ghcr.io/mlflow/mlflow@sha256:" + "a" * 64


def test_server_tmp_is_sized_by_config_and_backed_by_ephemeral_storage(tmp_path):
    """MLflow spools proxied artifact transfers through `/tmp`: its size comes from `server.tmp_size`, and the
    container requests and is limited to that much ephemeral storage plus 64Mi for logs, so the pod lands on
    a node with the disk and is not evicted below the emptyDir's own limit."""
    for size, storage in (({}, "2112Mi"), ({"tmp_size": "10Gi"}, "10304Mi")):
        objs = synth({"server": size}, tmp_path / storage)
        pod = find(objs, "Deployment", "mlflow")["spec"]["template"]["spec"]
        tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
        assert tmp["emptyDir"] == {"sizeLimit": size.get("tmp_size", "2Gi")}
        server = container(find(objs, "Deployment", "mlflow"), "mlflow")["resources"]
        assert server["requests"]["ephemeral-storage"] == server["limits"]["ephemeral-storage"] == storage


def mebibytes(size: str) -> int:
    return int(size.removesuffix("Gi")) * 1024 if size.endswith("Gi") else int(size.removesuffix("Mi"))


def test_every_container_requests_the_ephemeral_storage_it_writes(synthesized):
    """In every shipped environment each container requests, and is limited to, at least the disk-backed
    emptyDirs it writes plus 64Mi of logs: the kubelet evicts a pod that writes more than its containers'
    limits add up to, and schedules by the requests."""
    for env, objs in synthesized.items():
        for obj in objs:
            spec = obj.get("spec", {})
            template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
            if obj["kind"] not in ("Deployment", "StatefulSet", "Job", "CronJob") or template is None:
                continue
            pod = template["spec"]
            disk = {
                v["name"]: mebibytes(v["emptyDir"]["sizeLimit"])
                for v in pod.get("volumes", [])
                if "emptyDir" in v and v["emptyDir"].get("medium") != "Memory"
            }
            for c in [*pod.get("initContainers", []), *pod["containers"]]:
                written = [m["name"] for m in c.get("volumeMounts", []) if not m.get("readOnly")]
                needed = 64 + sum(disk.get(name, 0) for name in written)
                where = f"{env}: {obj['kind']} {obj['metadata']['name']} container {c['name']}"
                request = c["resources"]["requests"].get("ephemeral-storage")
                assert request and request == c["resources"]["limits"].get("ephemeral-storage"), where
                assert mebibytes(request) >= needed, where


# Seeds of the oidc plugin set SESSION_TYPE/SESSION_CACHE_DIR, which the model does not name.
EXTRA_ENV = {
    "SESSION_TYPE": "cachelib",
    "SESSION_CACHE_DIR": "/tmp/session",
    "WORKERS": 4,
    "UPSTREAM_TOKEN": {"secret_key_ref": {"name": "upstream", "key": "token"}},
    "FEATURE": {"config_map_key_ref": {"name": "features", "key": "feature"}},
}


def test_extra_env_reaches_the_server_container_by_value_or_reference(tmp_path):
    """`server.extra_env` is the escape hatch for settings the model does not name: literal values (YAML numbers
    as text) and Secret/ConfigMap key references land on the server container, the objects referenced are listed
    as prerequisites, and the Deployment names what was added by hand (what `explain` shows)."""
    objs = synth({"server": {"extra_env": EXTRA_ENV}}, tmp_path)
    server = find(objs, "Deployment", "mlflow")
    env = {e["name"]: e for e in container(server, "mlflow")["env"]}
    assert env["SESSION_TYPE"] == {"name": "SESSION_TYPE", "value": "cachelib"}
    assert env["WORKERS"]["value"] == "4"
    assert env["UPSTREAM_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "upstream", "key": "token"}}
    assert env["FEATURE"]["valueFrom"] == {"configMapKeyRef": {"name": "features", "key": "feature"}}
    listed = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"].split(",")
    assert {"Secret/upstream", "ConfigMap/features"} <= set(listed)
    assert server["metadata"]["annotations"]["mlflow-k8s/extra-env"] == ",".join(EXTRA_ENV)


def test_extra_env_never_overrides_what_the_environment_sets(tmp_path):
    """An env var of the container wins over the settings ConfigMap (`envFrom`) and a duplicate name is
    ambiguous, so a name the environment sets, in its settings or its env, is refused naming the key."""
    for name in ("MLFLOW_SERVER_ALLOWED_HOSTS", "MLFLOW_CRYPTO_KEK_PASSPHRASE"):
        with pytest.raises(ConfigError, match=f"server.extra_env.{name}: this environment sets {name} itself"):
            synth({"server": {"extra_env": {name: {"secret_key_ref": {"name": "x", "key": "y"}}}}}, tmp_path)


def test_extra_env_refuses_a_secret_looking_name_with_a_literal_value():
    """A literal value is written to `dist/`: names that look secret must come from a Secret."""
    for name in ("DB_PASSWORD", "api_token", "SIGNING_KEY", "CLIENT_SECRET"):
        assert "secret_key_ref" in config_error({"server": {"extra_env": {name: "literal"}}}), name


EXTRA_VOLUMES = [
    {"name": "session", "empty_dir": {"size_limit": "64Mi"}},
    {"name": "ca", "config_map": {"name": "corporate-ca"}},
    {"name": "shared", "persistent_volume_claim": {"claim_name": "shared-data"}},
]
EXTRA_MOUNTS = [
    {"name": "session", "mount_path": "/var/cache/session", "read_only": False},
    {"name": "ca", "mount_path": "/etc/ssl/corporate"},
]


def test_extra_volumes_are_mounted_in_the_server_container(tmp_path):
    """`server.extra_volumes`/`extra_mounts` add volumes to the server pod, mounted read-only unless said
    otherwise; a disk-backed emptyDir the server writes counts in its ephemeral storage, and the ConfigMaps and
    claims it names are prerequisites."""
    base = container(find(synth({}, tmp_path / "base"), "Deployment", "mlflow"), "mlflow")
    objs = synth({"server": {"extra_volumes": EXTRA_VOLUMES, "extra_mounts": EXTRA_MOUNTS}}, tmp_path / "extra")
    server = find(objs, "Deployment", "mlflow")
    volumes = {v["name"]: v for v in server["spec"]["template"]["spec"]["volumes"]}
    assert volumes["session"]["emptyDir"] == {"sizeLimit": "64Mi"}
    assert volumes["ca"]["configMap"] == {"name": "corporate-ca"}
    mounts = {m["mountPath"]: m for m in container(server, "mlflow")["volumeMounts"]}
    assert mounts["/var/cache/session"] == {"name": "session", "mountPath": "/var/cache/session"}
    assert mounts["/etc/ssl/corporate"] == {"name": "ca", "mountPath": "/etc/ssl/corporate", "readOnly": True}
    before = int(base["resources"]["limits"]["ephemeral-storage"].removesuffix("Mi"))
    assert container(server, "mlflow")["resources"]["limits"]["ephemeral-storage"] == f"{before + 64}Mi"
    listed = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"].split(",")
    assert {"ConfigMap/corporate-ca", "PersistentVolumeClaim/shared-data"} <= set(listed)
    assert server["metadata"]["annotations"]["mlflow-k8s/extra-volumes"] == "session,ca,shared"


def test_extra_volumes_never_take_a_name_or_folder_of_the_environment(tmp_path):
    """The API server refuses two volumes of one name or two mounts at one path; a folder the environment mounts
    (or one below it) is refused naming the key, as is a mount of no extra volume."""
    with pytest.raises(ConfigError, match="server.extra_volumes: 'tmp' names a volume of this environment"):
        synth({"server": {"extra_volumes": [{"name": "tmp", "empty_dir": {}}]}}, tmp_path)
    volume = [{"name": "scratch", "empty_dir": {}}]
    assert "overlaps /tmp" in config_error(
        {"server": {"extra_volumes": volume, "extra_mounts": [{"name": "scratch", "mount_path": "/tmp/x"}]}}
    )
    assert "none of server.extra_volumes" in config_error(
        {"server": {"extra_volumes": volume, "extra_mounts": [{"name": "other", "mount_path": "/srv"}]}}
    )
