"""The mlflow-oidc-auth plugin's user database through the plugin's own store: written with one plugin
release, read back with any.

    oidc_records.py populate   (env: OIDC_USERS_DB_URI; creates the schema with this plugin's migrations)
    oidc_records.py dump

``populate`` writes users (an admin, a service account), groups and memberships, and user and group
permissions on experiments and registered models, exact and by regex. ``dump`` reads every user with
its permissions and groups, and every group with its members and permissions. Prints one JSON object.
"""

import json
import sys

from canonical_json import canonical
from mlflow_oidc_auth.store import store

USERS = (
    ("alice@example.com", "Alice", False, False),
    ("carol@example.com", "Carol", True, False),
    ("batch-runner", "Batch runner", False, True),
)
MEMBERSHIPS = {"alice@example.com": ["mlflow-users"], "carol@example.com": ["mlflow-users", "mlflow-admins"]}


def populate():
    for username, display_name, is_admin, is_service_account in USERS:
        store.create_user(username, display_name, is_admin, is_service_account)
    store.populate_groups(["mlflow-users", "mlflow-admins", "contractors"])
    for username, groups in MEMBERSHIPS.items():
        store.set_user_groups(username, groups)
    store.create_experiment_permission("1", "alice@example.com", "EDIT")
    store.create_experiment_permission("2", "batch-runner", "READ")
    store.create_registered_model_permission("churn-classifier", "alice@example.com", "MANAGE")
    store.create_group_experiment_permission("mlflow-users", "1", "READ")
    store.create_group_experiment_permission("contractors", "2", "NO_PERMISSIONS")
    store.create_group_model_permission("mlflow-users", "churn-classifier", "READ")
    store.create_experiment_regex_permission("^team-a-.*", 1, "EDIT", "alice@example.com")
    store.create_registered_model_regex_permission("^forecast-.*", 2, "READ", "alice@example.com")
    store.create_group_experiment_regex_permission("mlflow-users", "^shared-.*", 3, "READ")
    store.create_group_registered_model_regex_permission("contractors", "^public-.*", 4, "READ")
    return {"users": len(USERS)}


def as_json(entities):
    return canonical([e.to_json() for e in entities])


def dump():
    users = {}
    for user in store.list_users(all=True):
        users[user.username] = {
            "user": canonical(store.get_user(user.username).to_json()),
            "groups": sorted(store.get_groups_for_user(user.username)),
            "experiment_regex": as_json(store.list_experiment_regex_permissions(user.username)),
            "model_regex": as_json(store.list_registered_model_regex_permissions(user.username)),
        }
    groups = {}
    for group in sorted(store.get_groups()):
        groups[group] = {
            "members": sorted(u.username for u in store.get_group_users(group)),
            "experiments": as_json(store.get_group_experiments(group)),
            "models": as_json(store.get_group_models(group)),
            "experiment_regex": as_json(store.list_group_experiment_regex_permissions(group)),
            "model_regex": as_json(store.list_group_registered_model_regex_permissions(group)),
        }
    return {"users": users, "groups": groups}


if __name__ == "__main__":
    print(json.dumps({"populate": populate, "dump": dump}[sys.argv[1]]()))
