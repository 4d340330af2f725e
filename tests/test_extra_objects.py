"""Contracts of `extra_objects`: manifests added to the output as written, never a secret value or an object the
environment writes itself."""

from __future__ import annotations

import pytest
from helpers import config_error, find, synth

from mlflow_constructs.config import ConfigError

SEALED = {
    "apiVersion": "bitnami.com/v1alpha1",
    "kind": "SealedSecret",
    "metadata": {"name": "upstream", "labels": {"team": "ml"}},
    "spec": {"encryptedData": {"token": "AgBy8hCi"}},
}


def test_extra_objects_are_written_as_given_in_the_environments_namespace(tmp_path):
    """Every field of the manifest is kept; the object goes to the environment's namespace unless it names its
    own, and is marked as written by hand (what `explain` lists)."""
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca", "namespace": "shared"}, "data": {}}
    objs = synth({"extra_objects": [SEALED, other]}, tmp_path)
    sealed = find(objs, "SealedSecret", "upstream")
    assert sealed["spec"] == SEALED["spec"]
    assert sealed["metadata"]["namespace"] == "mlflow" and sealed["metadata"]["labels"]["team"] == "ml"
    assert sealed["metadata"]["annotations"] == {"mlflow-k8s/extra-object": "true"}
    assert find(objs, "ConfigMap", "ca")["metadata"]["namespace"] == "shared"
    assert objs[-2:] == [sealed, find(objs, "ConfigMap", "ca")]


def test_an_extra_object_never_replaces_one_of_the_environment(tmp_path):
    """Applied together, the last of two objects with one kind, namespace and name silently wins."""
    taken = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mlflow-settings"}, "data": {}}
    with pytest.raises(ConfigError, match="extra_objects.0: ConfigMap mlflow/mlflow-settings is an object this"):
        synth({"extra_objects": [taken]}, tmp_path)


def test_secret_values_and_cluster_scoped_objects_are_refused():
    """A Secret's data would be in `dist/` (use a SealedSecret or ExternalSecret); a cluster-scoped object is
    shared by every environment of the cluster."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "x"}}
    assert "SealedSecret/ExternalSecret" in config_error({"extra_objects": [secret]})
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}
    assert "cluster-scoped" in config_error({"extra_objects": [role]})
