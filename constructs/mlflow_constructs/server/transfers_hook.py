"""Keep artifact transfers on the server: a start-up hook mounted as ``sitecustomize.py`` into ``mlflow server``.

This file is not imported by the constructs: its text is the ``sitecustomize.py`` of a ConfigMap that
the server pod mounts read-only and puts on ``PYTHONPATH`` (``server/transfers.py``), for artifact stores
that clients cannot reach (the bundled MinIO, an S3-compatible endpoint inside the cluster).

Why: with ``--serve-artifacts`` and an ``s3://`` destination, MLflow 3.17's server-info
(``mlflow/server/handlers.py``, ``build_server_info_payload``) sets ``multipart_downloads_enabled`` and
``multipart_uploads_enabled`` from ``isinstance(artifact_repo, MultipartDownloadMixin / MultipartUploadMixin)``
alone, which ``S3ArtifactRepository`` always is; no server flag or env var enters that decision
(``MLFLOW_ENABLE_PROXY_MULTIPART_*`` are read by clients only). The client
(``mlflow/store/artifact/mlflow_artifacts_repo.py``, ``_is_multipart_download_enabled`` /
``_is_multipart_upload_enabled``) follows server-info unless its own env var is set, and then GETs
presigned URLs of the server's S3 endpoint (``/mlflow-artifacts/presigned/...``) or PUTs parts to them
(``/mlflow-artifacts/mpu/...``, files of ``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`` or more).

The same store is reached by ``/api/2.0/mlflow/artifacts/presigned-download-url`` and
``presigned-upload-url`` (``_create_presigned_download_url`` / ``_upload_url``): they refuse runs with
proxied (``mlflow-artifacts:``) URIs, but mint a URL of the store for any run whose artifact URI is a direct
``s3://`` one (an experiment created with ``artifact_location="s3://..."``).

What it changes, and nothing else: server-info reports both multipart flags ``False``, and the
proxied multipart handlers (``_validate_support_multipart_upload`` / ``_download``) and the presigned-URL
handlers (``_validate_support_presigned_upload`` / ``_download``) answer "not supported" (501), so a
client that forces multipart with its env var falls back to the proxied transfer (MLflow's client does so
on that answer) and no route hands out a URL of the store. Every other route, and the server's own S3
access, is untouched.

How: a ``sys.meta_path`` finder wraps the loading of ``mlflow.server.handlers`` and patches the module
right after it has run, before anything can import names from it (``server_info_api`` does
``from mlflow.server.handlers import build_server_info_payload``). ``sitecustomize`` runs in every
interpreter that has the env, so in the ``mlflow server`` process and in each uvicorn worker (spawned
interpreters); the CLI imports the module before it starts uvicorn, so a missing name fails the
container at start (``HookOutdated``) instead of silently advertising presigned transfers again.

Alternatives weighed:
- An MLflow setting: none exists (above); ``MLFLOW_ENABLE_PROXY_MULTIPART_*`` would have to be set in
  every client.
- An ``--app-name`` plugin: MLflow finds apps only through the ``mlflow.app`` entry point group, i.e.
  package metadata in the image, and one app name is already taken by ``basic-auth``.
- Another destination: every S3-speaking repository (``s3``, ``r2``, ``b2``) subclasses
  ``S3ArtifactRepository``; a repository plugin again needs entry-point metadata.
- Routing the presigned host: the URLs carry ``MLFLOW_S3_ENDPOINT_URL``, which the server also uses
  itself; exposing the store to every client undoes the point of proxying (and its NetworkPolicy).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

TARGET = "mlflow.server.handlers"
# Names the patch needs in TARGET; if MLflow renames one, the server must not start.
REQUIRED = (
    "build_server_info_payload",
    "_validate_support_multipart_upload",
    "_validate_support_multipart_download",
    "_UnsupportedMultipartUploadException",
    "_UnsupportedMultipartDownloadException",
    "_validate_support_presigned_upload",
    "_validate_support_presigned_download",
    "_UnsupportedPresignedUploadException",
    "_UnsupportedPresignedDownloadException",
    "SERVER_INFO_MULTIPART_UPLOADS_ENABLED",
    "SERVER_INFO_MULTIPART_DOWNLOADS_ENABLED",
)
MARKER = "_transfers_kept_on_server"


class HookOutdated(RuntimeError):
    """The MLflow version no longer has what this hook patches: update or remove the hook."""


def patch(handlers) -> None:
    """Server-info says no multipart transfers; the multipart and presigned-URL handlers refuse them."""
    if getattr(handlers, MARKER, False):
        return
    missing = [name for name in REQUIRED if not hasattr(handlers, name)]
    if missing:
        raise HookOutdated(
            f"{handlers.__name__} has no {', '.join(missing)}: the hook that keeps artifact transfers on the "
            "server does not fit this MLflow version"
        )
    build_server_info_payload = handlers.build_server_info_payload
    flags = (handlers.SERVER_INFO_MULTIPART_UPLOADS_ENABLED, handlers.SERVER_INFO_MULTIPART_DOWNLOADS_ENABLED)
    upload_refused = handlers._UnsupportedMultipartUploadException
    download_refused = handlers._UnsupportedMultipartDownloadException
    presigned_upload_refused = handlers._UnsupportedPresignedUploadException
    presigned_download_refused = handlers._UnsupportedPresignedDownloadException

    def server_info_without_multipart(*args, **kwargs):
        payload = build_server_info_payload(*args, **kwargs)
        return {**payload, **dict.fromkeys(flags, False)}

    def refuse_multipart_upload(artifact_repo):
        raise upload_refused()

    def refuse_multipart_download(artifact_repo):
        raise download_refused()

    def refuse_presigned_upload(artifact_repo):
        raise presigned_upload_refused()

    def refuse_presigned_download(artifact_repo):
        raise presigned_download_refused()

    server_info_without_multipart.__wrapped__ = build_server_info_payload
    handlers.build_server_info_payload = server_info_without_multipart
    handlers._validate_support_multipart_upload = refuse_multipart_upload
    handlers._validate_support_multipart_download = refuse_multipart_download
    handlers._validate_support_presigned_upload = refuse_presigned_upload
    handlers._validate_support_presigned_download = refuse_presigned_download
    setattr(handlers, MARKER, True)


class _PatchOnImport:
    """Meta path finder: load TARGET as usual, then :func:`patch` it (once)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            raise HookOutdated(f"cannot load {TARGET} through a path finder")
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            patch(module)

        spec.loader.exec_module = exec_module
        sys.meta_path.remove(self)
        return spec


def install() -> None:
    if TARGET in sys.modules:
        patch(sys.modules[TARGET])
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def _chain_next_sitecustomize() -> None:
    """Run a ``sitecustomize`` the image may have further down ``sys.path`` (this one shadows it)."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.origin and os.path.abspath(spec.origin) != os.path.abspath(__file__):
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if __name__ == "sitecustomize":
    install()
    _chain_next_sitecustomize()
