"""Constrained value types shared by the config models, with messages that say what is valid."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h))+$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_IMAGE_PART = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _matching(pattern: re.Pattern[str], what: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return check


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            f"{value!r} is not a valid Kubernetes name: use lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit (at most 253 characters)"
        )
    return value


DnsLabel = Annotated[
    str,
    AfterValidator(
        _matching(
            _DNS_LABEL,
            "a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
        )
    ),
]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
Hostname = Annotated[
    str,
    AfterValidator(
        _matching(_HOSTNAME, "a fully qualified host name such as mlflow.example.com (lowercase, no scheme, no port)")
    ),
]
Quantity = Annotated[
    str,
    AfterValidator(_matching(_QUANTITY, "a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi")),
]
Duration = Annotated[str, AfterValidator(_matching(_DURATION, "a duration such as 30s, 5m or 1h"))]
SecretKey = Annotated[str, AfterValidator(_matching(_SECRET_KEY, "a Secret key: letters, digits, '-', '_' or '.'"))]
ImageRepository = Annotated[
    str,
    AfterValidator(_matching(_IMAGE_PART, "an image path such as ghcr.io/mlflow or mlflow (lowercase, no tag)")),
]
ImageTag = Annotated[str, AfterValidator(_matching(_TAG, "an image tag such as v3.17.2-full"))]
ImageDigest = Annotated[str, AfterValidator(_matching(_DIGEST, "an image digest such as sha256:<64 hex digits>"))]
EnvName = Annotated[str, AfterValidator(_matching(_ENV_NAME, "an environment variable name"))]
Port = Annotated[int, Field(ge=1, le=65535)]
StorageAccount = Annotated[
    str,
    AfterValidator(
        _matching(re.compile(r"^[a-z0-9]{3,24}$"), "an Azure storage account name (3-24 lowercase letters/digits)")
    ),
]
