"""Names Kubernetes would refuse are refused at synthesis, and only those.

`name` and `namespace` are DNS labels in the config, but the objects an environment names after them, and
the objects their controllers make (a StatefulSet's pods, a Job's pods, a CronJob's Jobs, CloudNativePG's
instances and Jobs), have limits of their own. Each shipped environment at its longest `name` and `namespace`
synthesizes, and every name, host name and label value is one Kubernetes takes; one character more is a
config error naming the key, a name it makes too long with that name's limit, and the longest that works.
tests/apiserver/ holds the same limits against a real API server.
"""

from __future__ import annotations

import re

import pytest
from helpers import once_per_run
from repo_paths import REPO, environment_file, shipped_environments

from mlflow_constructs.config import ConfigError, Environment, load_environment, parse_environment
from mlflow_constructs.environment.chart import environment_objects
from mlflow_constructs.environment.limits import KEY_MAX_LENGTH, longest_accepted
from mlflow_constructs.k8s.name_rules import checked_values, problems
from mlflow_constructs.review.objects import load_documents
from mlflow_constructs.synth import build_app

ENVS = shipped_environments()
README_ROW = re.compile(r"^\| `(?P<env>[a-z0-9-]+)` \| (?P<name>\d+) \| (?P<namespace>\d+) \|", re.M)


def at_length(env: Environment, key: str, length: int) -> Environment:
    return env.model_copy(update={key: key[0] * length})


@pytest.fixture(scope="module")
def longest(tmp_path_factory) -> dict[str, tuple[int, int]]:
    """env -> (longest name, longest namespace with that name); searched once per run (~300 syntheses)."""

    def search() -> dict[str, list[int]]:
        found = {}
        for name in ENVS:
            env = load_environment(environment_file(name))
            name_length = longest_accepted(env, "name", environment_objects)
            env = at_length(env, "name", name_length)
            found[name] = [name_length, longest_accepted(env, "namespace", environment_objects)]
        return found

    return {env: tuple(lengths) for env, lengths in once_per_run(tmp_path_factory, "longest-names", search).items()}


def synthesized(env: Environment, tmp_path) -> list[dict]:
    return load_documents(build_app({"test": env}, tmp_path).synth_yaml())


@pytest.mark.parametrize("env_name", ENVS)
def test_longest_name_and_namespace_make_names_kubernetes_takes(longest, env_name, tmp_path):
    """At its longest `name` and `namespace` an environment synthesizes, and every name, host name and label
    value of its objects and of the objects their controllers make fits Kubernetes' rules for it."""
    name_length, namespace_length = longest[env_name]
    env = at_length(
        at_length(load_environment(environment_file(env_name)), "name", name_length), "namespace", namespace_length
    )
    objs = synthesized(env, tmp_path)
    checked = list(checked_values(objs))
    assert any(c.value == "n" * name_length for c in checked), "the name is not among the checked values"
    assert not [c.problem for c in checked if c.problem]


@pytest.mark.parametrize("env_name", ENVS)
def test_one_character_more_is_refused_with_the_longest_that_works(longest, env_name, tmp_path):
    """A `name` one character longer than the longest stops synthesis with an error naming the file, the key,
    a name it would make too long with that name's limit, and the longest name that works."""
    name_length, _ = longest[env_name]
    env = at_length(load_environment(environment_file(env_name)), "name", name_length + 1)
    with pytest.raises(ConfigError) as refused:
        build_app({env_name: env}, tmp_path, {env_name: environment_file(env_name)})
    message = str(refused.value)
    assert str(environment_file(env_name)) in message
    assert f"name: '{'n' * (name_length + 1)}' ({name_length + 1} characters) is too long" in message, message
    assert re.search(r"would be \d+ characters, more than the (52|63|50) Kubernetes takes", message), message
    assert message.rstrip().endswith(f"the longest name that works here has {name_length} characters"), message


def test_namespace_takes_a_whole_dns_label(longest):
    """No object is named after the namespace in a way that shortens it: every environment takes 63 characters,
    and 64 is refused by the config itself."""
    assert {namespace for _, namespace in longest.values()} == {KEY_MAX_LENGTH}
    with pytest.raises(ConfigError, match="namespace: .* is not a DNS label"):
        parse_environment({"namespace": "n" * (KEY_MAX_LENGTH + 1)}, source="long.yaml")


def test_readme_states_each_environments_longest_names(longest):
    """README, "Name lengths", lists the longest `name` and `namespace` of every shipped environment."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Name lengths", 1)[1].split("\n#", 1)[0]
    rows = {m["env"]: (int(m["name"]), int(m["namespace"])) for m in README_ROW.finditer(section)}
    assert rows == longest


def test_a_new_object_lowers_the_limit_without_a_list_to_update(tmp_path):
    """The limit follows from the objects themselves: an object named `<name>-` and 40 more characters (none
    of the shipped code makes one) brings the longest name to 63 - 41 = 22, and the error names it."""
    env = load_environment(environment_file("gke-gcs"))
    suffix = "-" + "x" * 40

    def with_extra(env: Environment) -> list[dict]:
        extra = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": env.name + suffix}, "spec": {}}
        return [*environment_objects(env), extra]

    assert longest_accepted(env, "name", environment_objects) == 46  # the migration Job, see the README
    assert longest_accepted(env, "name", with_extra) == KEY_MAX_LENGTH - len(suffix)


def test_a_name_made_twice_of_the_key_still_gets_its_longest():
    """Where a value holds the key twice, the first build's overflow is no answer (the value grows two
    characters per character of the key); the search still finds the longest that works: (63 - 1) // 2."""
    env = load_environment(environment_file("gke-gcs"))

    def doubled(env: Environment) -> list[dict]:
        return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{env.name}-{env.name}"}, "spec": {}}]

    assert longest_accepted(env, "name", doubled) == 31


# --- the rules, object by object ---------------------------------------------------------------------------
def workload(kind: str, name: str, **spec) -> dict:
    api = {"StatefulSet": "apps/v1", "Deployment": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1"}[kind]
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
    if kind == "CronJob":
        spec = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}, **spec}
    else:
        spec = {"selector": {"matchLabels": {"app": "x"}}, "template": template, **spec}
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def refused(objs: list[dict]) -> list[str]:
    return [str(c.problem) for c in problems(objs)]


def test_statefulset_names_leave_room_for_the_revision_hash():
    """The API server takes StatefulSet names of 63 characters, but the controller labels each pod
    `controller-revision-hash: <set>-<up to 10 characters>`: above 52 characters no pod is ever created."""
    assert not refused([workload("StatefulSet", "s" * 52, serviceName="s")])
    (problem,) = refused([workload("StatefulSet", "s" * 53, serviceName="s")])
    assert "label controller-revision-hash of Pod" in problem and "would be 64 characters" in problem


def test_job_names_are_labels_of_their_pods():
    """A Job's pods carry its name as the `job-name` labels: above 63 characters the Job is refused."""
    assert not refused([workload("Job", "j" * 63)])
    assert len(refused([workload("Job", "j" * 64)])) == 2  # job-name and batch.kubernetes.io/job-name


def test_cronjob_names_stop_at_52_characters():
    """The API server refuses CronJob names over 52 characters (room for the time suffix of its Jobs)."""
    assert not refused([workload("CronJob", "c" * 52)])
    problem = refused([workload("CronJob", "c" * 53)])[0]
    assert "the CronJob name" in problem and "more than the 52 Kubernetes takes" in problem


def test_service_names_start_with_a_letter():
    """Service names are DNS-1035 labels (Kubernetes before 1.34 refuses a leading digit)."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1mlflow"}, "spec": {}}
    assert refused([service]) == ["the Service name '1mlflow' would not be " + problems([service])[0].rule.format]


def test_cloudnativepg_jobs_of_a_long_lived_cluster_fit():
    """CloudNativePG names instance Jobs `<cluster>-<serial>-<role>` and uses the name as the pod's host name;
    with serials up to 99 and the major-upgrade role, clusters take 46 characters (its webhook alone: 50)."""
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "c" * 46, "namespace": "ns"},
        "spec": {"instances": 2},
    }
    assert not refused([cluster])
    cluster["metadata"]["name"] += "c"
    assert any(f"pod hostname of Job {'c' * 47}-99-major-upgrade" in p for p in refused([cluster]))
