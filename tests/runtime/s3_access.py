"""A bucket as the MLflow user sees it: list, read and write objects with the user's key, and check that a
wrong secret is refused. Shared by the bundled MinIO (bundled_minio.py) and the S3 stand-in (s3_standin.py)."""

from __future__ import annotations

from client_venv import run_client


class S3Access:
    """S3 at ``endpoint`` with the MLflow user's key (``credentials``: ``access_key_id``, ``secret_access_key``)."""

    endpoint: str
    credentials: dict[str, str]

    def _as_user(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.credentials["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self.credentials["secret_access_key"],
        }

    def keys(self, bucket: str) -> list[str]:
        return run_client("s3_admin.py", "objects", self.endpoint, bucket, env=self._as_user())["keys"]

    def read(self, bucket: str, key: str) -> str:
        return run_client("s3_admin.py", "get", self.endpoint, bucket, key, env=self._as_user())["body"]

    def put(self, bucket: str, key: str, body: str) -> None:
        run_client("s3_admin.py", "put", self.endpoint, bucket, key, body, env=self._as_user())

    def wrong_secret_error(self, bucket: str) -> str | None:
        return run_client("s3_admin.py", "check-auth", self.endpoint, bucket, env=self._as_user())["wrong_secret"]
