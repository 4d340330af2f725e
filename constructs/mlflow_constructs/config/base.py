"""Building blocks shared by the config models: closed, immutable models; images; resources."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from mlflow_constructs import images
from mlflow_constructs.config.types import (
    IMAGE_REFERENCE,
    ImageDigest,
    ImageRegistry,
    ImageRepository,
    ImageTag,
    Quantity,
)
from mlflow_constructs.k8s.quantities import quantity_of


class Model(BaseModel):
    """Base: closed against unknown keys, immutable once loaded; the string under each field is its description."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# The tag a registry moves to every new push, the same as no tag at all.
LATEST = "latest"


def _split_reference(value: str) -> dict[str, Any]:
    """``registry/name:tag@digest`` -> the mapping form, with Docker Hub short names made explicit
    (``postgres:16.6`` -> ``docker.io/library/postgres``), as ``docker pull`` resolves them."""
    match = IMAGE_REFERENCE.match(value)
    if not match:
        raise ValueError(
            f"{value!r} is not an image reference; write registry/name:tag (e.g. docker.io/library/postgres:16.6), "
            "registry/name@sha256:<64 hex digits>, or the mapping form with registry, name and tag"
        )
    if not match["digest"] and match["tag"] in (None, LATEST):
        what = "names neither a tag nor a digest, so it would mean" if not match["tag"] else "names"
        raise ValueError(
            f"{value!r} {what} :latest, which changes under you; pin it, e.g. {match['name']}:<tag> or "
            f"{match['name']}@sha256:<digest>"
        )
    first, _, rest = match["name"].partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost" and first == first.lower()):
        first, rest = "docker.io", match["name"]
    if first == "index.docker.io":
        first = "docker.io"
    if first == "docker.io" and "/" not in rest:
        rest = f"library/{rest}"
    path, _, name = rest.rpartition("/")
    registry = f"{first}/{path}" if path else first
    spec = {"registry": registry, "name": name, "tag": match["tag"], "digest": match["digest"]}
    return {key: part for key, part in spec.items() if part is not None}


class Image(Model):
    """A container image: a reference string ``registry/name:tag`` (or ``@sha256:...``), or a mapping with
    ``registry``, ``name``, ``tag``, ``digest`` and ``pull_policy``. Rendered as ``registry/name@digest``
    when a digest is set, else ``registry/name:tag``."""

    registry: ImageRegistry
    """Registry and path, e.g. `ghcr.io/mlflow` or `docker.io/library`."""
    name: ImageRepository
    """Image name, e.g. `mlflow`."""
    tag: ImageTag | None = None
    """Tag; required unless `digest` is set."""
    digest: ImageDigest | None = None
    """`sha256:<64 hex digits>`; when set, used instead of the tag."""
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    """`IfNotPresent`, `Always` or `Never`."""

    @model_validator(mode="before")
    @classmethod
    def _from_reference(cls, data: Any) -> Any:
        if isinstance(data, str):
            return _split_reference(data)
        if not isinstance(data, dict):
            raise ValueError(
                f"{data!r} is not an image: write a reference such as docker.io/library/postgres:16.6, or a mapping "
                "with registry, name and tag"
            )
        return data

    @model_validator(mode="after")
    def _pinned(self) -> Image:
        if self.digest is None and self.tag in (None, LATEST):
            raise ValueError(
                "set tag or digest: without them (or with tag latest) the image means :latest, which changes under "
                "you; e.g. tag: '1.0' or digest: sha256:<64 hex digits>"
            )
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        mapping = handler(core_schema)
        reference = {
            "type": "string",
            "pattern": re.sub(r"\(\?P<\w+>", "(?:", IMAGE_REFERENCE.pattern),  # ECMA-262: no (?P<name>
            "description": "registry/name:tag, registry/name@sha256:<digest> or registry/name:tag@sha256:<digest>",
        }
        return {"anyOf": [reference, mapping]}

    @property
    def ref(self) -> str:
        base = f"{self.registry}/{self.name}"
        return f"{base}@{self.digest}" if self.digest else f"{base}:{self.tag}"

    @property
    def reference(self) -> str:
        """The image as one would write it in the config: ``registry/name[:tag][@digest]``."""
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.name}{tag}{digest}"

    @classmethod
    def of(cls, spec: images.ImageSpec) -> Image:
        return cls(registry=spec.registry, name=spec.name, tag=spec.tag)


class ResourceList(Model):
    cpu: Quantity
    """CPU, e.g. `250m` or `1`."""
    memory: Quantity
    """Memory, e.g. `512Mi`."""


class Resources(Model):
    """Container requests and limits (both always rendered)."""

    requests: ResourceList
    """Requested `cpu` and `memory`."""
    limits: ResourceList
    """`cpu` and `memory` limits."""

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for what in ("cpu", "memory"):
            request, limit = getattr(self.requests, what), getattr(self.limits, what)
            if quantity_of(request) > quantity_of(limit):
                raise ValueError(
                    f"requests.{what} {request} is more than limits.{what} {limit}, which the API server refuses; "
                    f"lower requests.{what} or raise limits.{what}"
                )
        return self


def resources_of(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ResourceList(cpu=cpu, memory=memory), limits=ResourceList(cpu=cpu_limit, memory=memory_limit)
    )
