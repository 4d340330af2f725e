"""The objects controllers make from ours (Kubernetes' own, and the operators the output relies on), named
and labelled the way they name and label them.

The API server checks the names of the objects we write, but controllers derive more from them later: a
StatefulSet's pods ``<set>-<ordinal>`` with the label ``controller-revision-hash: <set>-<hash>``, a Job's pods
labelled with the Job's name, a CronJob's Jobs ``<cronjob>-<time>``, CloudNativePG's instances, Services and
Jobs, its scheduled Backups. A name too long for one of those is not refused when applied: the controller
fails to create the object, on every retry. :func:`made_from` returns those objects as plain manifests, with
the longest suffixes the controllers append, so that :mod:`mlflow_constructs.k8s.name_rules` checks them like
ours; each carries enough of a spec for the API server to take it (tests create them, dry run).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from mlflow_constructs.k8s.naming import GENERATES_SECRET_ANNOTATION, PART_OF

Obj = dict[str, Any]

# A ControllerRevision hash (StatefulSet revisions, a Deployment's pod-template-hash): an fnv32 sum printed in
# decimal, then rand.SafeEncodeString, so at most 10 characters of bcdfghjklmnpqrstvwxz2456789.
REVISION_HASH = "7d9c6b5f48"
# The CronJob controller names each Job `<cronjob>-<scheduled time in minutes>`; the API server's 52-character
# CronJob limit keeps 11 characters for that suffix, so 10 digits here.
CRONJOB_TIME = "2963577600"
# A Job's controller-uid label (a UID).
JOB_UID = "3f1c2a4e-8b7d-4c6a-9e0f-1a2b3c4d5e6f"
# CloudNativePG: a ScheduledBackup names each Backup `<scheduled backup>-<YYYYMMDDhhmmss>`; instances get serial
# numbers from 1 up, and a new serial each time one is replaced or added, so a long-lived cluster runs its join
# and major-upgrade Jobs on two-digit serials (up to 99 instances created over its life are covered).
CNPG_TIME = "20261203030000"
CNPG_LATE_SERIAL = 99
# Jobs CloudNativePG runs for an instance, `<cluster>-<serial>-<role>`: initdb (the Cluster's creation), join (a
# new replica), full-recovery (a Cluster recovered from its backups under the same name, as the README's
# restore does) and major-upgrade (a new PostgreSQL major in `imageName`).
CNPG_FIRST_JOBS = ("initdb", "full-recovery")
CNPG_LATER_JOBS = ("join", "major-upgrade")
CNPG_SERVICE_SUFFIXES = ("-rw", "-ro", "-r", "-any")
CNPG_SECRET_SUFFIXES = ("-app", "-superuser", "-ca", "-replication", "-server")


def made_from(obj: Obj) -> list[Obj]:
    """Every object controllers make from ``obj``, and from those in turn (a CronJob's Job, then its pod)."""
    make = _MAKERS.get((group_of(obj), obj.get("kind", "")))
    made = make(obj) if make else []
    return [o for m in made for o in (m, *made_from(m))]


def group_of(obj: Obj) -> str:
    """The API group of ``obj`` (``""`` for the core group)."""
    api_version = obj.get("apiVersion", "")
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _object(
    api_version: str, kind: str, like: Obj, name: str, labels: dict[str, str], *, generated: bool = False, **fields: Any
) -> Obj:
    """A manifest in ``like``'s namespace; ``generated``: ``name`` is the prefix the API server completes."""
    metadata = {"generateName" if generated else "name": name, "namespace": like["metadata"].get("namespace")}
    metadata["labels"] = labels
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}


def _labels(template: Obj | None) -> dict[str, str]:
    return dict(((template or {}).get("metadata") or {}).get("labels") or {})


def _stateful_set(sts: Obj) -> list[Obj]:
    """A ControllerRevision ``<set>-<hash>``; per ordinal a pod ``<set>-<ordinal>`` (its host name, and the
    labels ``statefulset.kubernetes.io/pod-name`` and ``controller-revision-hash: <set>-<hash>``) and a claim
    ``<template>-<set>-<ordinal>`` per volumeClaimTemplate."""
    name, spec = sts["metadata"]["name"], sts["spec"]
    template, selector = spec["template"], spec["selector"].get("matchLabels") or {}
    revision = f"{name}-{REVISION_HASH}"
    made = [
        _object(
            "apps/v1",
            "ControllerRevision",
            sts,
            revision,
            {**_labels(template), "controller.kubernetes.io/hash": REVISION_HASH},
            data={},
            revision=1,
        )
    ]
    start = (spec.get("ordinals") or {}).get("start", 0)
    for ordinal in range(start, start + spec.get("replicas", 1)):
        pod_name = f"{name}-{ordinal}"
        pod_spec = copy.deepcopy(template.get("spec") or {})
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{claim['metadata']['name']}-{name}-{ordinal}"
            labels = {**_labels(claim), **selector}
            made.append(_object("v1", "PersistentVolumeClaim", sts, claim_name, labels, spec=claim["spec"]))
            volume = {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
            pod_spec.setdefault("volumes", []).append(volume)
        labels = {
            **_labels(template),
            "controller-revision-hash": revision,
            "statefulset.kubernetes.io/pod-name": pod_name,
            "apps.kubernetes.io/pod-index": str(ordinal),
        }
        pod_spec |= {"hostname": pod_name, "subdomain": spec.get("serviceName")}
        made.append(_object("v1", "Pod", sts, pod_name, labels, spec=pod_spec))
    return made


def _deployment(deployment: Obj) -> list[Obj]:
    """A ReplicaSet ``<deployment>-<pod-template-hash>`` (its pods get generated names and no host name)."""
    spec = deployment["spec"]
    hashed = {"pod-template-hash": REVISION_HASH}
    template = copy.deepcopy(spec["template"])
    template["metadata"] = {**template.get("metadata", {}), "labels": {**_labels(template), **hashed}}
    selector = {"matchLabels": {**(spec["selector"].get("matchLabels") or {}), **hashed}}
    name = f"{deployment['metadata']['name']}-{REVISION_HASH}"
    rs_spec = {"replicas": spec.get("replicas", 1), "selector": selector, "template": template}
    return [_object("apps/v1", "ReplicaSet", deployment, name, {**_labels(template)}, spec=rs_spec)]


def _job(job: Obj) -> list[Obj]:
    """A pod named ``<job>-<5 random characters>`` (the API server shortens a long Job name there), labelled with
    the Job's name and UID."""
    name, template = job["metadata"]["name"], job["spec"]["template"]
    labels = {
        **_labels(template),
        "controller-uid": JOB_UID,
        "batch.kubernetes.io/controller-uid": JOB_UID,
        "job-name": name,
        "batch.kubernetes.io/job-name": name,
    }
    spec = copy.deepcopy(template.get("spec") or {})
    made = [_object("v1", "Pod", job, f"{name}-", labels, generated=True, spec=spec)]
    generates = (job["metadata"].get("annotations") or {}).get(GENERATES_SECRET_ANNOTATION)
    if generates:  # the keygen Job (secrets.generate) creates the environment's Secret
        made.append(_object("v1", "Secret", job, generates.partition(": ")[0], {"app.kubernetes.io/part-of": PART_OF}))
    return made


def _cron_job(cron_job: Obj) -> list[Obj]:
    """A Job ``<cronjob>-<scheduled time>`` from the job template."""
    job_template = cron_job["spec"]["jobTemplate"]
    name = f"{cron_job['metadata']['name']}-{CRONJOB_TIME}"
    return [_object("batch/v1", "Job", cron_job, name, _labels(job_template), spec=copy.deepcopy(job_template["spec"]))]


def _cnpg_cluster(cluster: Obj) -> list[Obj]:
    """CloudNativePG's instance pods ``<cluster>-<serial>`` and their claims, Services ``<cluster>-rw`` ...,
    Secrets ``<cluster>-app`` ..., and instance Jobs ``<cluster>-<serial>-<role>`` (see ``CNPG_*``)."""
    name = cluster["metadata"]["name"]
    base = {
        "cnpg.io/cluster": name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/component": "database",
        "app.kubernetes.io/managed-by": "cloudnative-pg",
    }
    made = [
        _object(
            "v1",
            "Service",
            cluster,
            f"{name}{suffix}",
            base,
            spec={"selector": {"cnpg.io/cluster": name}, "ports": [{"name": "postgres", "port": 5432}]},
        )
        for suffix in CNPG_SERVICE_SUFFIXES
    ]
    made += [_object("v1", "Secret", cluster, f"{name}{suffix}", base) for suffix in CNPG_SECRET_SUFFIXES]
    instances = range(1, cluster["spec"].get("instances", 1) + 1)
    for serial in (*instances, CNPG_LATE_SERIAL):
        instance = f"{name}-{serial}"
        labels = {**base, "cnpg.io/instanceName": instance, "cnpg.io/podRole": "instance"}
        made.append(_object("v1", "PersistentVolumeClaim", cluster, instance, labels, spec=_cnpg_claim(cluster)))
        made.append(
            _object("v1", "Pod", cluster, instance, labels, spec={"hostname": instance, "subdomain": f"{name}-any"})
        )
        for role in CNPG_FIRST_JOBS if serial == 1 else CNPG_LATER_JOBS if serial == CNPG_LATE_SERIAL else ():
            job_name = f"{instance}-{role}"
            job_labels = {**base, "cnpg.io/instanceName": instance, "cnpg.io/jobRole": role}
            template = {"metadata": {"labels": job_labels}, "spec": {"hostname": job_name, "restartPolicy": "Never"}}
            made.append(_object("batch/v1", "Job", cluster, job_name, job_labels, spec={"template": template}))
    return made


def _cnpg_claim(cluster: Obj) -> Obj:
    storage = cluster["spec"].get("storage") or {}
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage.get("size", "1Gi")}}}
    if storage.get("storageClass"):
        spec["storageClassName"] = storage["storageClass"]
    return spec


def _cnpg_scheduled_backup(scheduled: Obj) -> list[Obj]:
    """A Backup ``<scheduled backup>-<time>`` per run, labelled with the ScheduledBackup's name."""
    name, spec = scheduled["metadata"]["name"], scheduled["spec"]
    labels = {
        "cnpg.io/cluster": spec["cluster"]["name"],
        "cnpg.io/immediateBackup": "false",
        "cnpg.io/scheduled-backup": name,
    }
    backup = {key: spec[key] for key in ("cluster", "method", "pluginConfiguration", "target") if key in spec}
    return [_object(scheduled["apiVersion"], "Backup", scheduled, f"{name}-{CNPG_TIME}", labels, spec=backup)]


def _secret_of(target: Callable[[Obj], str]) -> Callable[[Obj], list[Obj]]:
    """The Secret an operator writes from a custom resource, named ``target(resource)``."""
    return lambda obj: [_object("v1", "Secret", obj, target(obj), {})]


_MAKERS: dict[tuple[str, str], Callable[[Obj], list[Obj]]] = {
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "Deployment"): _deployment,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("postgresql.cnpg.io", "Cluster"): _cnpg_cluster,
    ("postgresql.cnpg.io", "ScheduledBackup"): _cnpg_scheduled_backup,
    ("external-secrets.io", "ExternalSecret"): _secret_of(
        lambda es: (es["spec"].get("target") or {}).get("name") or es["metadata"]["name"]
    ),
    ("bitnami.com", "SealedSecret"): _secret_of(lambda sealed: sealed["metadata"]["name"]),
}
