"""``docs/environments/<env>.md`` is what ``python app.py explain --write`` writes now, for every environment."""

from __future__ import annotations

import re

import pytest
from helpers import synth
from repo_paths import REPO

from mlflow_constructs.review.commands import DOCS_DIR, render_docs
from mlflow_constructs.review.diagram import diagram
from mlflow_constructs.review.environments import environment_files
from mlflow_constructs.review.explain import explain_environment
from mlflow_constructs.review.topology import artifact_store, login_of, routes_into, server_and_container
from mlflow_constructs.synth_cache import cache_for

EXPECTED_LOGIN = {"default": None, "basic-auth": "basic-auth", "oidc-keycloak": "oidc", "oauth2-proxy": None}
REGENERATE = "run `python app.py explain --write` and commit docs/environments/"


@pytest.fixture(scope="module")
def rendered(dist_dir) -> dict[str, str]:
    """What `python app.py explain --write` writes, rendered once for the tests of this module (through the
    synthesis cache, which holds what the session's `dist_dir` synthesized: not synthesized twice)."""
    return render_docs(REPO, cache_for(REPO))


def test_environment_docs_match_the_synthesized_objects(rendered):
    expected = rendered
    docs = REPO / DOCS_DIR
    present = {p.name: p.read_text() for p in docs.glob("*.md")} if docs.is_dir() else {}
    missing = sorted(set(expected) - set(present))
    stale = sorted(name for name in expected if name in present and present[name] != expected[name])
    extra = sorted(set(present) - set(expected))
    assert not (missing or stale or extra), (
        f"docs/environments/ is out of date (missing: {missing}, changed: {stale}, no environment: {extra}); "
        f"{REGENERATE}"
    )


def test_every_environment_has_a_page_with_a_mermaid_diagram_of_ascii_ids(rendered):
    docs = rendered
    assert sorted(docs) == sorted(f"{name}.md" for name in environment_files(REPO))
    for name, text in docs.items():
        diagram = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
        assert diagram.startswith("flowchart LR\n"), name
        for line in diagram.splitlines()[1:]:
            ids = re.findall(r"^\s*(?:subgraph )?([^\s\[\(\{>|-]+)", line)
            assert all(i.isascii() and re.fullmatch(r"[A-Za-z0-9_]+|end", i) for i in ids), (name, line)


def test_the_flow_count_counts_the_thick_arrows(rendered):
    """ "N NetworkPolicies: M allow K flows": K is the number of allowed flows drawn, not of policies."""
    for name, text in rendered.items():
        counted = re.search(r"(\d+) NetworkPolicies: (\d+) allows? (\d+) flows?", text)
        if counted is None:
            continue
        diagram = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
        assert int(counted.group(3)) == diagram.count(" ==>"), name
        assert int(counted.group(1)) == int(counted.group(2)) + text.count("denies all other ingress"), name


def test_the_login_is_read_from_the_servers_own_command_line(synthesized):
    """The page's "with ... login" sentence comes from the server container's command line (``--app-name``, or
    the oidc plugin's entry point), so a reviewer reads the login the pod really runs."""
    logins = {
        env: login_of(server_and_container(objects)[1]) for env, objects in synthesized.items() if env in EXPECTED_LOGIN
    }
    assert logins == EXPECTED_LOGIN


def test_an_unproxied_artifact_store_is_drawn_as_reached_by_the_clients(synthesized):
    """With ``artifacts.proxied: false`` clients read and write the store with their own credentials: the diagram
    must show that edge, and only then."""
    for env, objects in synthesized.items():
        server, container = server_and_container(objects)
        namespace = server["metadata"]["namespace"]
        store = artifact_store(objects, server, container, namespace)
        direct = any("artifacts, directly" in line for line in diagram(objects, namespace))
        assert direct == bool(store and store.external_label and not store.proxied and routes_into(objects)), env


def test_explain_says_https_where_tls_terminates_in_front_of_the_ingress(tmp_path):
    """An Ingress without TLS behind a front that terminates it (`public_url: https://...`) is reached over
    https: the page must not tell a reviewer that clients use plain HTTP."""
    config = {"ingress": {"enabled": True, "hosts": ["mlflow.example.com"]}, "public_url": "https://mlflow.example.com"}
    page = explain_environment("test", synth(config, tmp_path))
    assert "It is reachable at https://mlflow.example.com through Ingress `mlflow`" in page
    assert "http://mlflow.example.com" not in page


def test_explain_names_a_registry_database_of_its_own(tmp_path):
    """With ``database.registry`` the registered models are not in the tracking database: the page says where
    they are, so a reviewer backs up and restores the right database."""
    external = {"host": "pg.example.com"}
    config = {"database": {"type": "external", "external": external, "registry": {"enabled": True}}}
    page = explain_environment("test", synth(config, tmp_path))
    assert "The model registry is in a database of its own: database `mlflow-registry` on `pg.example.com`." in page
    assert "model registry" not in explain_environment("plain", synth({}, tmp_path / "plain"))
