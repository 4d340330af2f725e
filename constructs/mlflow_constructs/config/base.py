"""Building blocks shared by the config models: closed, immutable models; images; resources."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from mlflow_constructs import images
from mlflow_constructs.config.types import ImageDigest, ImageRepository, ImageTag, Quantity


class Model(BaseModel):
    """Base: closed against unknown keys, immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Image(Model):
    """A container image: ``registry/name:tag``, or ``registry/name@digest`` when a digest is set."""

    registry: ImageRepository
    name: ImageRepository
    tag: ImageTag
    digest: ImageDigest | None = None
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"

    @property
    def ref(self) -> str:
        base = f"{self.registry}/{self.name}"
        return f"{base}@{self.digest}" if self.digest else f"{base}:{self.tag}"

    @classmethod
    def of(cls, spec: images.ImageSpec) -> Image:
        return cls(registry=spec.registry, name=spec.name, tag=spec.tag)


class ResourceList(Model):
    cpu: Quantity
    memory: Quantity


class Resources(Model):
    """Container requests and limits (both always rendered)."""

    requests: ResourceList
    limits: ResourceList


def resources_of(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ResourceList(cpu=cpu, memory=memory), limits=ResourceList(cpu=cpu_limit, memory=memory_limit)
    )
