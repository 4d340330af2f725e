"""The server start-up hook (``server/transfers_hook.py``) against a stand-in ``mlflow.server.handlers``;
the real MLflow is exercised by tests/runtime/test_scenario_default.py."""

from __future__ import annotations

import types

import pytest

from mlflow_constructs.server import transfers_hook


class Unsupported(Exception):
    pass


def fake_handlers(**drop: bool) -> types.ModuleType:
    module = types.ModuleType("mlflow.server.handlers")
    module.SERVER_INFO_MULTIPART_UPLOADS_ENABLED = "multipart_uploads_enabled"
    module.SERVER_INFO_MULTIPART_DOWNLOADS_ENABLED = "multipart_downloads_enabled"
    module._UnsupportedMultipartUploadException = type("Up", (Unsupported,), {})
    module._UnsupportedMultipartDownloadException = type("Down", (Unsupported,), {})
    module._UnsupportedPresignedUploadException = type("PresignedUp", (Unsupported,), {})
    module._UnsupportedPresignedDownloadException = type("PresignedDown", (Unsupported,), {})
    module.build_server_info_payload = lambda: {
        "store_type": "SqlStore",
        "multipart_uploads_enabled": True,
        "multipart_downloads_enabled": True,
    }
    module._validate_support_multipart_upload = lambda repo: None
    module._validate_support_multipart_download = lambda repo: None
    module._validate_support_presigned_upload = lambda repo: None
    module._validate_support_presigned_download = lambda repo: None
    for name in drop:
        delattr(module, name)
    return module


def test_server_info_reports_no_multipart_and_the_handlers_refuse_it():
    handlers = fake_handlers()
    transfers_hook.patch(handlers)
    assert handlers.build_server_info_payload() == {
        "store_type": "SqlStore",
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }
    with pytest.raises(handlers._UnsupportedMultipartUploadException):
        handlers._validate_support_multipart_upload(object())
    with pytest.raises(handlers._UnsupportedMultipartDownloadException):
        handlers._validate_support_multipart_download(object())
    patched = handlers.build_server_info_payload
    transfers_hook.patch(handlers)  # idempotent: not wrapped twice
    assert handlers.build_server_info_payload is patched


def test_presigned_url_handlers_refuse_to_mint_urls_of_the_store():
    """`/api/2.0/mlflow/artifacts/presigned-download-url` (and `-upload-url`) would hand a client a URL of the
    store for a run with a direct `s3://` artifact URI: where transfers stay on the server, both answer "not
    supported" instead."""
    handlers = fake_handlers()
    transfers_hook.patch(handlers)
    with pytest.raises(handlers._UnsupportedPresignedDownloadException):
        handlers._validate_support_presigned_download(object())
    with pytest.raises(handlers._UnsupportedPresignedUploadException):
        handlers._validate_support_presigned_upload(object())


@pytest.mark.parametrize("name", transfers_hook.REQUIRED)
def test_a_missing_name_fails_loudly(name):
    handlers = fake_handlers(**{name: True})
    with pytest.raises(transfers_hook.HookOutdated, match=name):
        transfers_hook.patch(handlers)
