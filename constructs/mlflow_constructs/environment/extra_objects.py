"""``extra_objects``: manifests the config gives, written after the environment's own objects, never in
place of one of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cdk8s import ApiObject, ApiObjectMetadata, JsonPatch
from constructs import Construct

from mlflow_constructs.config.errors import ConfigError
from mlflow_constructs.k8s.naming import EXTRA_OBJECT_ANNOTATION
from mlflow_constructs.review.objects import ObjectKey, annotations, cluster_key_of


class ExtraObjects(Construct):
    """Each manifest as written, marked with ``mlflow-k8s/extra-object`` (what ``python app.py explain`` lists);
    without ``metadata.namespace`` it goes to the chart's namespace."""

    def __init__(self, scope: Construct, id: str, *, manifests: Sequence[dict[str, Any]]) -> None:
        super().__init__(scope, id)
        for index, manifest in enumerate(manifests):
            metadata = dict(manifest["metadata"])
            annotations = {**(metadata.pop("annotations", None) or {}), EXTRA_OBJECT_ANNOTATION: "true"}
            obj = ApiObject(
                self,
                str(index),
                api_version=manifest["apiVersion"],
                kind=manifest["kind"],
                metadata=ApiObjectMetadata(
                    name=metadata.pop("name"),
                    namespace=metadata.pop("namespace", None),
                    labels=metadata.pop("labels", None),
                    annotations=annotations,
                ),
            )
            for key, value in metadata.items():
                obj.add_json_patch(JsonPatch.add(f"/metadata/{key}", value))
            for key, value in manifest.items():
                if key not in ("apiVersion", "kind", "metadata"):
                    obj.add_json_patch(JsonPatch.add(f"/{key}", value))


def refuse_taken_objects(objects: list[dict[str, Any]]) -> None:
    """Raise :class:`ConfigError` when an object of ``extra_objects`` (written last) has the API group, kind,
    namespace and name of an earlier object of the output: applied together, the last one would silently win."""
    seen: dict[ObjectKey, bool] = {}
    index = 0  # of the next object of extra_objects
    for obj in objects:
        extra = annotations(obj).get(EXTRA_OBJECT_ANNOTATION) == "true"
        key = cluster_key_of(obj)
        if extra and key in seen:
            what = "given twice in extra_objects" if seen[key] else "an object this environment writes itself"
            raise ConfigError(
                f"extra_objects.{index}: {key.kind} {key.namespace}/{key.name} is {what}; give it another name (to "
                "change one of the environment's objects, use the config keys that write it)"
            )
        seen[key] = extra
        index += extra
