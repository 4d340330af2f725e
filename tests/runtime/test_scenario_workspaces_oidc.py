"""Workspaces isolated by the oidc plugin: examples/oidc-keycloak.yaml with ``server.workspaces: true``, run for
real against the local OpenID provider (see oidc_scenario.py and test_scenario_oidc.py for the stand-ins).

carol (group mlflow-admins) creates team-a and team-b, an experiment with a run and a registered model in
each, and grants alice team-a and dave team-b with the plugin's workspace permissions. Every request goes
through the ingress host with the browser session of its user, naming the workspace in
``X-MLFLOW-WORKSPACE`` as MLflow's client does. This environment's artifacts are in S3 outside the cluster,
with no stand-in here: the artifact reads are checked in test_scenario_workspaces.py (basic-auth).
"""

from __future__ import annotations

import pytest
from oidc_scenario import cluster_secrets, logged_in, oidc_environment, provider_for
from podrunner import find_object
from postgres import free_port
from scenario import migrated_server, service_port, start_cnpg_postgres
from workspace_checks import Api, assert_unreadable, experiment_names, workspace_names

pytestmark = pytest.mark.runtime

DB_PASSWORD = "cnpg-password-for-tests"
MEMBERS = {"alice": "team-a", "dave": "team-b"}


def log_experiment(api: Api, workspace: str) -> dict[str, str]:
    name = f"{workspace}-experiment"
    experiment_id = api.ok("POST", "/api/2.0/mlflow/experiments/create", workspace, json={"name": name})[
        "experiment_id"
    ]
    run = api.ok("POST", "/api/2.0/mlflow/runs/create", workspace, json={"experiment_id": experiment_id})["run"]
    model = f"{workspace}-model"
    api.ok("POST", "/api/2.0/mlflow/registered-models/create", workspace, json={"name": model})
    return {"name": name, "experiment_id": experiment_id, "run_id": run["info"]["run_id"], "model": model}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Provider, CloudNativePG stand-in, migration Job, the server pod with workspaces on; carol's setup."""
    idp_port = free_port()

    def workspaces_on(config: dict) -> None:
        config["server"]["workspaces"] = True

    objects = oidc_environment(idp_port, tmp_path_factory.mktemp("oidc-workspaces"), edit=workspaces_on)
    assert find_object(objects, "ConfigMap", "mlflow-settings")["data"]["MLFLOW_ENABLE_WORKSPACES"] == "true"
    secrets, hosts = cluster_secrets(objects, DB_PASSWORD)
    with provider_for(objects, idp_port):
        pg = start_cnpg_postgres(objects, DB_PASSWORD)
        try:
            port = service_port(objects, "mlflow")
            with migrated_server(objects, secrets, extra_hosts=hosts) as (pod, migration):
                users = {}
                for user in ("carol", *MEMBERS):
                    session, base, _ = logged_in(objects, port, user)
                    users[user] = Api(session, base)
                carol = users["carol"]
                teams = {}
                for user, team in MEMBERS.items():
                    carol.ok("POST", "/api/3.0/mlflow/workspaces", json={"name": team})
                    grant = {"username": f"{user}@example.com", "permission": "EDIT"}
                    carol.ok("POST", f"/api/3.0/mlflow/permissions/workspaces/{team}/users", json=grant)
                    teams[team] = log_experiment(carol, team)
                yield {"pod": pod, "users": users, "teams": teams, "migration": migration}
        finally:
            pg.stop()


def test_a_user_lists_only_the_workspaces_granted_to_them(stack):
    """alice, granted team-a, does not even learn that team-b exists; carol (admin) sees both."""
    names = workspace_names(stack["users"]["alice"])
    assert "team-a" in names and "team-b" not in names, names
    assert {"team-a", "team-b"} <= workspace_names(stack["users"]["carol"])


def test_a_user_works_in_their_own_workspace(stack):
    """Within team-a alice sees team-a's experiment, run and registered model (the grant is real)."""
    alice, mine = stack["users"]["alice"], stack["teams"]["team-a"]
    assert mine["name"] in experiment_names(alice, "team-a")
    alice.ok("GET", "/api/2.0/mlflow/runs/get", "team-a", params={"run_id": mine["run_id"]})
    alice.ok("GET", "/api/2.0/mlflow/registered-models/get", "team-a", params={"name": mine["model"]})


def test_a_user_can_neither_list_nor_read_another_workspace(stack):
    """alice names team-b: nothing of it is listed, and its experiment, run and registered model are refused,
    whether she asks in team-b or reaches for team-b's ids from team-a."""
    assert_unreadable(stack["users"]["alice"], stack["teams"]["team-b"], "team-a", "team-b")


def test_the_admin_sees_every_workspace(stack):
    """carol reads each team's experiment in its workspace."""
    carol = stack["users"]["carol"]
    for team, logged in stack["teams"].items():
        assert logged["name"] in experiment_names(carol, team)
