"""Contracts of the Secrets a config section names for its own concern: the database's user and password
(CloudNativePG's ``<cluster>-app`` shape, with the store URIs composed from host, port and name), the S3 keys,
the OAuth2-Proxy's client and cookie secrets, the oidc plugin's session key and client, basic-auth's initial
admin. Each is read by reference, and a Secret of another name than the environment's is a prerequisite."""

from __future__ import annotations

import base64

import pytest
from helpers import INGRESS, OIDC, OIDC_SERVER, container, env_of, find, synth

from mlflow_constructs.config import ConfigError

EXTERNAL = {
    "type": "external",
    "external": {
        "host": "postgres-cluster-rw.postgres",
        "port": 5433,
        "credentials": {"secret": "mlflow-db-secret", "username_key": "username", "password_key": "password"},
    },
}
URI = "postgresql+psycopg2://postgres-cluster-rw.postgres:5433/mlflow"


def test_store_uris_hold_host_port_and_name_and_libpq_reads_the_credentials(tmp_path):
    """The server and the migration Job connect as the Secret's user: PGUSER and PGPASSWORD come from the named
    Secret (libpq reads them as they are, so a password needs no URL encoding), the URIs carry neither."""
    objs = synth({"database": EXTERNAL}, tmp_path)
    migration = next(o for o in objs if o["metadata"]["name"].startswith("mlflow-migrate-"))
    for workload in (find(objs, "Deployment", "mlflow"), migration):
        env = env_of(container(workload, "mlflow" if workload["kind"] == "Deployment" else "upgrade"))
        assert env["PGUSER"] == {"secretKeyRef": {"name": "mlflow-db-secret", "key": "username"}}
        assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "mlflow-db-secret", "key": "password"}}
        assert env["MLFLOW_BACKEND_STORE_URI"] == URI
        assert env["MLFLOW_REGISTRY_STORE_URI"] == URI


def test_the_credentials_secret_is_a_prerequisite_beside_the_environments(tmp_path):
    """A Secret named for the database is the user's (or an operator's) to create: the Namespace lists it, and
    the environment's Secret is no longer asked for a database URI (nor generated here: it stays listed too)."""
    objs = synth({"database": EXTERNAL, "secrets": {"generate": False}}, tmp_path)
    prerequisites = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert prerequisites.split(",") == ["Secret/mlflow-credentials", "Secret/mlflow-db-secret"]
    assert "database-uri" not in str(objs)


def test_auth_databases_are_composed_beside_the_tracking_one(tmp_path):
    """basic-auth and the oidc plugin reach `<name>_auth` on the same server as the same user, without a URI
    key in any Secret."""
    basic = synth({"database": EXTERNAL, "auth": {"mode": "basic"}}, tmp_path / "basic")
    render = container(find(basic, "Deployment", "mlflow"), "render-auth-config")
    assert env_of(render)["AUTH_DATABASE_URI"] == f"{URI}_auth"
    assert "auth-database-uri" not in str(basic)
    oidc = synth({"database": EXTERNAL, "auth": OIDC, "server": OIDC_SERVER, "ingress": INGRESS}, tmp_path / "oidc")
    assert find(oidc, "ConfigMap", "mlflow-settings")["data"]["OIDC_USERS_DB_URI"] == f"{URI}_auth"
    assert "auth-database-uri" not in str(oidc)


def test_credentials_in_the_environments_secret_come_from_its_provider(tmp_path):
    """Without `credentials.secret`, the keys are read from `secrets.name`, so the provider produces them with
    the others: an ExternalSecret needs a remote_ref for each."""
    database = {"type": "external", "external": {"host": "db.example.com"}}
    secrets = {
        "provider": "external-secrets",
        "external_secrets": {"store_ref": {"name": "vault"}, "remote_refs": {"kek-passphrase": {"key": "kek"}}},
    }
    with pytest.raises(ConfigError) as refused:
        synth({"database": database, "artifacts": {"type": "pvc"}, "secrets": secrets}, tmp_path / "refused")
    message = str(refused.value)
    assert "secrets.external_secrets.remote_refs" in message and "password, username" in message
    refs = {key: {"key": key} for key in ("kek-passphrase", "username", "password")}
    secrets["external_secrets"]["remote_refs"] = refs
    objs = synth({"database": database, "artifacts": {"type": "pvc"}, "secrets": secrets}, tmp_path)
    produced = [d["secretKey"] for d in find(objs, "ExternalSecret", "mlflow-credentials")["spec"]["data"]]
    assert produced == ["kek-passphrase", "password", "username"]
    prerequisites = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert prerequisites == "ClusterSecretStore/vault"


S3 = {"type": "s3", "s3": {"bucket": "mlflow", "endpoint_url": "http://minio.minio.svc.cluster.local:9000"}}


def test_s3_keys_come_from_the_secret_the_access_keys_name(tmp_path):
    """`artifacts.s3.access_keys` points boto3's variables at the store's own Secret (defaults: the keys named
    like the variables); the environment's Secret is no longer asked for S3 keys, and the Namespace lists both."""
    artifacts = {**S3, "s3": {**S3["s3"], "access_keys": {"secret": "mlflow-s3-secret"}}}
    objs = synth({"database": EXTERNAL, "artifacts": artifacts}, tmp_path)
    env = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[variable] == {"secretKeyRef": {"name": "mlflow-s3-secret", "key": variable}}
    assert "s3-access-key-id" not in str(objs)
    prerequisites = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert prerequisites.split(",") == [
        "Secret/mlflow-credentials",
        "Secret/mlflow-db-secret",
        "Secret/mlflow-s3-secret",
    ]


def test_cloudnativepg_backups_are_not_derived_from_keys_the_instances_cannot_read(tmp_path):
    """The Barman Cloud Plugin reads S3 keys from the environment's Secret; with the artifacts' keys elsewhere,
    a backup destination beside the artifacts would fail at the first WAL archive, so the config is refused."""
    artifacts = {**S3, "s3": {**S3["s3"], "prefix": "artifacts", "access_keys": {"secret": "mlflow-s3-secret"}}}
    with pytest.raises(ConfigError) as refused:
        synth({"database": {"type": "cloudnativepg"}, "artifacts": artifacts}, tmp_path)
    assert "database.backup.object_store" in str(refused.value) and "artifacts.s3.access_keys" in str(refused.value)


PROXY = {
    "mode": "oauth2-proxy",
    "oauth2_proxy": {
        "issuer_url": "https://keycloak.example.com/realms/ncsa",
        "client_id": "mlflow",
        "allowed_groups": ["mlflow"],
        "credentials": {"secret": "mlflow-oauth2-proxy"},
    },
}


def test_oauth2_proxy_reads_its_two_key_secret(tmp_path):
    """A proxy Secret holding just `client_secret` and `cookie_secret` is read as it is; the environment's
    Secret is no longer asked for either, and the Namespace lists the proxy's (the environment's too, not
    generated here)."""
    objs = synth({"auth": PROXY, "ingress": INGRESS, "secrets": {"generate": False}}, tmp_path)
    env = env_of(container(find(objs, "Deployment", "mlflow-oauth2-proxy"), "oauth2-proxy"))
    assert env["OAUTH2_PROXY_CLIENT_SECRET"] == {
        "secretKeyRef": {"name": "mlflow-oauth2-proxy", "key": "client_secret"}
    }
    assert env["OAUTH2_PROXY_COOKIE_SECRET"] == {
        "secretKeyRef": {"name": "mlflow-oauth2-proxy", "key": "cookie_secret"}
    }
    prerequisites = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert prerequisites.split(",") == ["Secret/mlflow-credentials", "Secret/mlflow-oauth2-proxy"]
    default_keys = {"client_secret", "cookie_secret"}
    read_from_environment = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for o in objs
        for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        for e in c.get("env", [])
        if e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == "mlflow-credentials"
    }
    assert not default_keys & read_from_environment


def test_sealed_secrets_make_one_sealed_secret_per_secret_named(tmp_path):
    """With sealed-secrets, each Secret a section names and `other_secrets` lists becomes a SealedSecret of
    that name holding exactly its ciphertexts (strict: bound to that name, no scope annotation); one not listed
    stays a prerequisite."""
    ciphertext = base64.b64encode(bytes(range(64))).decode()
    sealed = {
        "scope": "strict",
        "namespace": "mlflow",
        "encrypted_data": {"username": ciphertext, "password": ciphertext},
    }
    secrets = {
        "provider": "sealed-secrets",
        "sealed_secrets": {
            "scope": "cluster-wide",
            "encrypted_data": {"kek-passphrase": ciphertext},
            "other_secrets": {"mlflow-db-secret": {**sealed, "name": "mlflow-db-secret"}},
        },
    }
    objs = synth(
        {
            "database": EXTERNAL,
            "artifacts": {**S3, "s3": {**S3["s3"], "access_keys": {"secret": "mlflow-s3-secret"}}},
            "secrets": secrets,
        },
        tmp_path,
    )
    database = find(objs, "SealedSecret", "mlflow-db-secret")
    assert sorted(database["spec"]["encryptedData"]) == ["password", "username"]
    assert not database["metadata"].get("annotations")
    assert database["spec"]["template"]["metadata"]["name"] == "mlflow-db-secret"
    own = find(objs, "SealedSecret", "mlflow-credentials")
    assert sorted(own["spec"]["encryptedData"]) == ["kek-passphrase"]
    prerequisites = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert prerequisites == "Secret/mlflow-s3-secret"


def test_external_secrets_make_one_external_secret_per_secret_named(tmp_path):
    """With external-secrets, a Secret a section names and `other_secrets` lists gets an ExternalSecret of its
    own, from the environment's store, with exactly the keys read from it (a missing remote_ref is refused
    naming that entry); the store is made once."""
    remote = {"key": "mlflow/postgres"}
    store = {"type": "vault", "vault": {"server": "https://vault.example.com", "role": "mlflow"}}
    secrets = {
        "provider": "external-secrets",
        "external_secrets": {
            "create_store": store,
            "remote_refs": {"kek-passphrase": {"key": "mlflow/kek"}},
            "other_secrets": {"mlflow-db-secret": {"remote_refs": {"username": remote}}},
        },
    }
    config = {"database": EXTERNAL, "artifacts": {"type": "pvc"}, "secrets": secrets}
    with pytest.raises(ConfigError, match=r"other_secrets\.mlflow-db-secret\.remote_refs: no entry for password"):
        synth(config, tmp_path / "refused")
    secrets["external_secrets"]["other_secrets"]["mlflow-db-secret"]["remote_refs"]["password"] = remote
    objs = synth(config, tmp_path)
    database = find(objs, "ExternalSecret", "mlflow-db-secret")
    assert database["spec"]["target"]["name"] == "mlflow-db-secret"
    assert [d["secretKey"] for d in database["spec"]["data"]] == ["password", "username"]
    assert database["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "mlflow-secret-store"}
    assert len([o for o in objs if o["kind"] == "SecretStore"]) == 1
    assert "mlflow-k8s/prerequisites" not in str(find(objs, "Namespace")["metadata"])


ADMIN_KEYS = ("username", "password")
OIDC_OWN = {**OIDC, "oidc": {**OIDC["oidc"], "credentials": {"secret": "mlflow-secrets"}}}


def test_the_oidc_plugin_reads_its_client_from_a_secret_of_its_own(tmp_path):
    """The plugin's session key, client id and client secret come from the Secret `auth.oidc.credentials`
    names, keys spelled as the plugin's variables, in the server and in the migration Job (whose plugin code
    reads them too); the environment's Secret is no longer asked for them, and the Namespace lists the new one
    (beside the environment's, not generated here)."""
    config = {"auth": OIDC_OWN, "server": OIDC_SERVER, "ingress": INGRESS, "secrets": {"generate": False}}
    objs = synth(config, tmp_path)
    migration = next(o for o in objs if o["metadata"]["name"].startswith("mlflow-migrate-"))
    for pod in (container(find(objs, "Deployment", "mlflow"), "mlflow"), container(migration, "upgrade")):
        env = env_of(pod)
        for variable in ("SECRET_KEY", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
            assert env[variable] == {"secretKeyRef": {"name": "mlflow-secrets", "key": variable}}, pod["name"]
    prerequisites = find(objs, "Namespace")["metadata"]["annotations"]["mlflow-k8s/prerequisites"]
    assert prerequisites.split(",") == ["Secret/mlflow-credentials", "Secret/mlflow-secrets"]


def test_oidc_credentials_are_refused_where_the_plugin_reads_files(tmp_path):
    """With the Secret mounted as files the plugin reads its client from `secrets.name`'s files, so a Secret
    named for it would be ignored: refused, naming the key and both ways out."""
    secrets = {"mount_as_files": {"enabled": True}}
    with pytest.raises(ConfigError) as refused:
        synth({"auth": OIDC_OWN, "server": OIDC_SERVER, "ingress": INGRESS, "secrets": secrets}, tmp_path)
    message = str(refused.value)
    assert "auth.oidc.credentials" in message and "secrets.mount_as_files.enabled: false" in message


def test_basic_auth_reads_its_admin_from_a_basic_auth_secret(tmp_path):
    """The initial admin comes from a `kubernetes.io/basic-auth` shaped Secret (`username`, `password`); the
    environment's Secret keeps the Flask key only, and with external-secrets the admin's Secret gets an
    ExternalSecret of its own when `other_secrets` lists it."""
    admin = {"secret": "mlflow-admin"}
    secrets = {
        "provider": "external-secrets",
        "external_secrets": {
            "store_ref": {"name": "vault"},
            "remote_refs": {
                key: {"key": f"mlflow/{key}"} for key in ("postgres-password", "flask-secret-key", "kek-passphrase")
            },
            "other_secrets": {"mlflow-admin": {"remote_refs": {k: {"key": f"mlflow/admin/{k}"} for k in ADMIN_KEYS}}},
        },
    }
    config = {"auth": {"mode": "basic", "basic": {"admin": admin}}, "artifacts": {"type": "pvc"}, "secrets": secrets}
    objs = synth(config, tmp_path)
    env = env_of(container(find(objs, "Deployment", "mlflow"), "mlflow"))
    assert env["MLFLOW_AUTH_ADMIN_USERNAME"] == {"secretKeyRef": {"name": "mlflow-admin", "key": "username"}}
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == {"secretKeyRef": {"name": "mlflow-admin", "key": "password"}}
    produced = [d["secretKey"] for d in find(objs, "ExternalSecret", "mlflow-admin")["spec"]["data"]]
    assert sorted(produced) == ["password", "username"]
    own = [d["secretKey"] for d in find(objs, "ExternalSecret", "mlflow-credentials")["spec"]["data"]]
    assert "admin-username" not in own and "admin-password" not in own and "flask-secret-key" in own
