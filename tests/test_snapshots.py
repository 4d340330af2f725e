"""Each shipped environment's output, locked as a reviewed YAML snapshot (``pytest --snapshot-update``)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from repo_paths import CONFIG, REPO, shipped_environments
from snapshot import YamlSnapshotExtension

from mlflow_constructs.synth import synthesize


@pytest.fixture
def snapshot_yaml(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


def test_default(snapshot_yaml, synthesized_text):
    assert synthesized_text["default"] == snapshot_yaml


def test_aks_azure(snapshot_yaml, synthesized_text):
    assert synthesized_text["aks-azure"] == snapshot_yaml


def test_basic_auth(snapshot_yaml, synthesized_text):
    assert synthesized_text["basic-auth"] == snapshot_yaml


def test_eks_s3(snapshot_yaml, synthesized_text):
    assert synthesized_text["eks-s3"] == snapshot_yaml


def test_gke_gcs(snapshot_yaml, synthesized_text):
    assert synthesized_text["gke-gcs"] == snapshot_yaml


def test_oauth2_proxy(snapshot_yaml, synthesized_text):
    assert synthesized_text["oauth2-proxy"] == snapshot_yaml


def test_oidc_aws_secrets(snapshot_yaml, synthesized_text):
    assert synthesized_text["oidc-aws-secrets"] == snapshot_yaml


def test_oidc_entra(snapshot_yaml, synthesized_text):
    assert synthesized_text["oidc-entra"] == snapshot_yaml


def test_oidc_keycloak(snapshot_yaml, synthesized_text):
    assert synthesized_text["oidc-keycloak"] == snapshot_yaml


def test_single_node_pvc(snapshot_yaml, synthesized_text):
    assert synthesized_text["single-node-pvc"] == snapshot_yaml


def test_every_environment_has_a_snapshot_test():
    """A new config/<env>.yaml without a named snapshot test would ship unreviewed."""
    module = sys.modules[__name__]
    missing = [env for env in shipped_environments() if not hasattr(module, f"test_{env.replace('-', '_')}")]
    assert not missing, f"add a snapshot test for: {missing}"


def test_output_is_deterministic(tmp_path, synthesized_text):
    """Re-synthesizing must not change a byte, or every run would produce a spurious diff."""
    synthesize(CONFIG, tmp_path / "again")
    for env, text in synthesized_text.items():
        assert (tmp_path / "again" / f"{env}.k8s.yaml").read_text() == text, env


def test_parallel_synthesis_writes_the_same_bytes(tmp_path, synthesized_text):
    """`python app.py` splits many environments across worker processes; the files must not change."""
    subprocess.run(
        [sys.executable, str(REPO / "app.py"), "--outdir", str(tmp_path / "dist")], check=True, capture_output=True
    )
    for env, text in synthesized_text.items():
        assert (tmp_path / "dist" / f"{env}.k8s.yaml").read_text() == text, env
