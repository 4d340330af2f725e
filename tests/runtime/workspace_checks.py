"""What the workspace scenarios check, whatever the auth mode: MLflow's REST API as one user, naming the
workspace in ``X-MLFLOW-WORKSPACE`` as MLflow's client does, and the reads another workspace must refuse."""

from __future__ import annotations

import requests

WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"


class Api:
    """MLflow's REST API at ``base`` in ``session`` (its credentials or cookies, its headers)."""

    def __init__(self, session: requests.Session, base: str) -> None:
        self.session, self.base = session, base

    def call(self, method: str, path: str, workspace: str | None = None, **kwargs) -> requests.Response:
        headers = {WORKSPACE_HEADER: workspace} if workspace else {}
        return self.session.request(method, self.base + path, headers=headers, timeout=60, **kwargs)

    def ok(self, method: str, path: str, workspace: str | None = None, **kwargs) -> dict:
        response = self.call(method, path, workspace, **kwargs)
        assert response.status_code in (200, 201), (method, path, workspace, response.status_code, response.text)
        return response.json() if response.content else {}


def experiment_names(api: Api, workspace: str | None) -> set[str]:
    found = api.ok("POST", "/api/2.0/mlflow/experiments/search", workspace, json={"max_results": 100})
    return {e["name"] for e in found.get("experiments", [])}


def workspace_names(api: Api) -> set[str]:
    return {w["name"] for w in api.ok("GET", "/api/3.0/mlflow/workspaces").get("workspaces", [])}


def assert_unreadable(api: Api, theirs: dict[str, str], own: str, other: str) -> None:
    """``api``'s user, a member of ``own``, names ``other``: nothing of it is listed, and its experiment, run,
    registered model (and artifact, when ``theirs`` has one) are refused, whether asked in ``other`` or reached
    for with ``other``'s ids and paths from ``own``."""
    listed = api.call("POST", "/api/2.0/mlflow/experiments/search", other, json={"max_results": 100})
    assert listed.status_code != 200 or theirs["name"] not in listed.text, listed.text
    for workspace in (other, own):
        reads = {
            "experiment": api.call(
                "GET", "/api/2.0/mlflow/experiments/get", workspace, params={"experiment_id": theirs["experiment_id"]}
            ),
            "run": api.call("GET", "/api/2.0/mlflow/runs/get", workspace, params={"run_id": theirs["run_id"]}),
            "model": api.call(
                "GET", "/api/2.0/mlflow/registered-models/get", workspace, params={"name": theirs["model"]}
            ),
            "models": api.call(
                "GET", "/api/2.0/mlflow/registered-models/search", workspace, params={"max_results": 100}
            ),
        }
        if "artifact_path" in theirs:
            path = f"/api/2.0/mlflow-artifacts/artifacts/{theirs['artifact_path']}"
            reads["artifact"] = api.call("GET", path, workspace)
        for what, response in reads.items():
            if what == "models":  # a search answers, without theirs
                assert theirs["model"] not in response.text, (workspace, what, response.status_code, response.text)
            else:  # refused (a 404 may name what was asked for: it says no such thing here)
                assert response.status_code >= 400, (workspace, what, response.status_code, response.text)


def grant_workspace(admin: Api, workspace: str, user: str) -> None:
    """basic-auth's grant of a workspace to a team member: a role in ``workspace`` with ``USE`` on the workspace
    (access, creating) and ``EDIT`` on all its experiments and registered models, assigned to ``user``."""
    role = admin.ok("POST", "/api/3.0/mlflow/roles/create", json={"workspace": workspace, "name": f"{workspace}-users"})
    role_id = role["role"]["id"]
    for resource_type, permission in (("workspace", "USE"), ("experiment", "EDIT"), ("registered_model", "EDIT")):
        grant = {"role_id": role_id, "resource_type": resource_type, "resource_pattern": "*", "permission": permission}
        admin.ok("POST", "/api/3.0/mlflow/roles/permissions/add", json=grant)
    admin.ok("POST", "/api/3.0/mlflow/roles/assign", json={"username": user, "role_id": role_id})
