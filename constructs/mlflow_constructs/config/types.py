"""Constrained value types shared by the config models, with messages that say what is valid."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    GetJsonSchemaHandler,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from mlflow_constructs.k8s.quantities import quantity_of

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
# Go's time.ParseDuration (OAuth2-Proxy flags, External Secrets): units ns, us/µs/μs, ms, s, m, h, in any
# order, decimals allowed; a bare "0" is the one unitless value. No sign: a negative duration is never meant.
_GO_DURATION = re.compile(r"^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$")
# Prometheus' model.ParseDuration (ServiceMonitor intervals): whole numbers, units y w d h m s ms in this order.
_PROMETHEUS_DURATION = re.compile(r"^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$")
# Gateway API's Duration (GEP-2257), as the HTTPRoute CRD's pattern has it: 1-4 parts of up to 5 digits and a unit.
_GATEWAY_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")
# A URL path prefix: "/" and segments of RFC 3986 unreserved characters, none of them "." or "..", no trailing "/".
_PATH_PREFIX = re.compile(r"^(/(?!\.{1,2}(/|$))[A-Za-z0-9._~-]+)+$")
# The URL clients use: http(s), a host name (no wildcard, no IP address), an optional port and path prefix.
_PUBLIC_URL = re.compile(
    r"^https?://[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*$"
)
_CRON = re.compile(r"^[-*/,0-9A-Za-z?]+( [-*/,0-9A-Za-z?]+){4}$")
# The fields of a 5-field cron expression as github.com/robfig/cron/v3 reads them (the parser of CronJobs and,
# with a leading seconds field, of CloudNativePG's ScheduledBackups): name, lowest, highest, names (lowercase).
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i for i, name in enumerate(_MONTHS, 1)}),
    ("weekday", 0, 6, {name: i for i, name in enumerate(_WEEKDAYS)}),
)
_RETENTION = re.compile(r"^[1-9][0-9]*[dwm]$")
# `mlflow gc --older-than`: days, hours, minutes, seconds in this order, at least one.
_GC_AGE = re.compile(r"^(?=.)([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$")
# MLflow 3.17's trace archival retention: one whole number of minutes, hours or days.
_TRACE_RETENTION = re.compile(r"^[1-9][0-9]{0,5}[mhd]$")
# A size in whole bytes: an integer with an optional decimal or binary suffix (no "m", no fraction).
_BYTES = re.compile(r"^[0-9]+(k|M|G|T|Ki|Mi|Gi|Ti)?$")
# apimachinery's qualified name (label and annotation key names) and label value.
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ANNOTATIONS_MAX_BYTES = 256 * 1024
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# Image references, after the grammar of github.com/distribution/reference (regexp.go):
#   reference := name [ ":" tag ] [ "@" digest ];  name := [domain "/"] path-component ["/" path-component]*
#   domain := host [":" port];  host := domain-name | "[" IPv6 "]"
#   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
#   path-component := [a-z0-9]+ (separator [a-z0-9]+)*;  separator := [_.] | "__" | "-"+
#   tag := [\w][\w.-]{0,127};  digest := algorithm ":" hex
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
IMAGE_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_IMAGE_PART = re.compile(rf"^{_PATH_COMPONENT}(/{_PATH_COMPONENT})*$")
_IMAGE_REGISTRY = re.compile(rf"^{_DOMAIN}(/{_PATH_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The largest value of an int32 field of the Kubernetes API (replicas, maxReplicas, ...).
INT32_MAX = 2**31 - 1


def _matching(pattern: re.Pattern[str], what: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    check.pattern = pattern.pattern  # type: ignore[attr-defined]
    return check


class Matching(AfterValidator):
    """The check of :func:`_matching`, whose pattern the JSON Schema carries too (editors and generated configs
    then know the shape; the check keeps the message that says what is valid)."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(core_schema), "pattern": self.func.pattern}  # type: ignore[union-attr]


def _positive_size(value: str) -> str:
    if quantity_of(value) <= 0:
        raise ValueError(f"{value!r} is no space at all: a volume needs a size above 0, e.g. 10Gi")
    return value


def _cron_number(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number" + (f" or a name ({', '.join(names)})" if names else ""))
    return int(text)


def _cron_item(item: str, low: int, high: int, names: dict[str, int]) -> None:
    """One comma-separated part of a field: ``*``, ``?``, ``n``, ``a-b``, each with an optional ``/step``."""
    span, slash, step = item.partition("/")
    if slash and (not step.isdigit() or int(step) == 0):
        raise ValueError(f"the step of {item!r} must be a whole number above 0")
    if span in ("*", "?"):
        return
    first, dash, last = span.partition("-")
    start = _cron_number(first, names)
    end = _cron_number(last, names) if dash else start
    if start < low or end > high:
        raise ValueError(f"{span!r} is outside {low}-{high}")
    if start > end:
        raise ValueError(f"the range {span!r} starts after it ends")


def _cron(value: str) -> str:
    if not _CRON.match(value):
        raise ValueError(
            f"{value!r} is not a 5-field cron expression (minute hour day-of-month month weekday) such as 0 3 * * *"
        )
    for text, (field, low, high, names) in zip(value.split(" "), _CRON_FIELDS, strict=True):
        try:
            for item in text.split(","):
                _cron_item(item, low, high, names)
        except ValueError as error:
            sunday = " (Sunday is 0)" if field == "weekday" else ""
            raise ValueError(
                f"{value!r}: the {field} field {text!r} is invalid: {error}; use {low}-{high}{sunday}, '*', "
                "ranges a-b, lists a,b and steps */n, e.g. 0 3 * * *"
            ) from None
    return value


def _not_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("an empty entry matches nothing; remove it or write the value")
    return value


def list_item(value: str) -> str:
    _not_empty(value)
    if "," in value:
        raise ValueError(
            f"{value!r} holds a comma, but the list is passed on as one comma-separated setting, which would read "
            "it as several entries; write each entry as its own list item"
        )
    return value


_HTTP_URL = TypeAdapter(HttpUrl)


def exact_url(value: str) -> str:
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError as error:
        problem = error.errors()[0]["msg"]
        raise ValueError(
            f"{value!r} is not an http(s) URL ({problem}), e.g. https://idp.example.com/realms/ml"
        ) from None
    return value


def _proxy_network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR; write e.g. 10.0.0.0/8 or 10.1.2.3") from None
    if network.prefixlen == 0 or (network.version == 4 and network.prefixlen < 8):
        raise ValueError(
            f"{value!r} covers (nearly) every address, so any client could claim any address and scheme; list the "
            "ingress controller's networks, e.g. 10.0.0.0/8"
        )
    return value


def _hostname(value: str) -> str:
    """A host of an Ingress rule or HTTPRoute: a DNS subdomain of two labels or more, at most 253 characters, each
    label at most 63, optionally after a ``*.`` wildcard label; no IP address (the API server refuses one)."""
    what = (
        "a fully qualified host name such as mlflow.example.com or *.example.com (lowercase, no scheme, no port, "
        "at most 253 characters and 63 per label, '*' only as the whole first label)"
    )
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        raise ValueError(f"{value!r} is an IP address, which Ingress and HTTPRoute hosts may not be; use {what}")
    labels = value.removeprefix("*.").split(".")
    if not _HOSTNAME.match(value) or len(value) > 253 or max(map(len, labels)) > 63:
        raise ValueError(f"{value!r} is not {what}")
    return value


def _public_url(value: str) -> str:
    what = (
        "an http(s) URL of a host name with an optional path, such as https://mlflow.example.com or "
        "https://tools.example.com/mlflow (lowercase host, no '*', no IP address, no trailing '/', no query)"
    )
    parts = urlsplit(value)
    try:
        port = parts.port  # None, or raises above 65535
    except ValueError:
        port = 0
    if not _PUBLIC_URL.match(value) or port == 0 or (parts.path and not _PATH_PREFIX.match(parts.path)):
        raise ValueError(f"{value!r} is not {what}")
    _hostname(str(parts.hostname))
    return value


def _secret_key(value: str) -> str:
    """apimachinery's ``IsConfigMapKey``, the rule of Secret and ConfigMap keys."""
    if len(value) > 253 or not _SECRET_KEY.match(value) or value in (".", "..") or value.startswith(".."):
        raise ValueError(
            f"{value!r} is not a Secret key: 1-253 letters, digits, '-', '_' or '.', not starting with '..', "
            "e.g. database-uri"
        )
    return value


def is_dns_label(value: str) -> bool:
    """Whether ``value`` is a DNS label (RFC 1123): what Kubernetes requires of namespaces and most names."""
    return bool(_DNS_LABEL.match(value))


def dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            f"{value!r} is not a valid Kubernetes name: use lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit (at most 253 characters)"
        )
    return value


DnsLabel = Annotated[
    str,
    Matching(
        _matching(
            _DNS_LABEL,
            "a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
        )
    ),
]
Dns1035Label = Annotated[
    str,
    Matching(
        _matching(
            _DNS_1035_LABEL,
            "a DNS-1035 label: 1-63 lowercase letters, digits or '-', starting with a letter and ending with a "
            "letter or digit",
        )
    ),
]
DnsSubdomain = Annotated[
    str,
    AfterValidator(dns_subdomain),
    WithJsonSchema({"type": "string", "pattern": _DNS_SUBDOMAIN.pattern, "maxLength": 253}),
]
Hostname = Annotated[
    str, AfterValidator(_hostname), WithJsonSchema({"type": "string", "pattern": _HOSTNAME.pattern, "maxLength": 253})
]
Quantity = Annotated[
    str,
    Matching(_matching(_QUANTITY, "a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi")),
]
NonEmpty = Annotated[str, AfterValidator(_not_empty), WithJsonSchema({"type": "string", "pattern": r"\S"})]
ListItem = Annotated[
    str, AfterValidator(list_item), WithJsonSchema({"type": "string", "pattern": r"^[^,]*[^\s,][^,]*$"})
]
"""An entry of a list passed on as one comma-separated setting: not empty, no comma."""
ExactHttpUrl = Annotated[
    str,
    AfterValidator(exact_url),
    WithJsonSchema({"type": "string", "format": "uri", "minLength": 1, "maxLength": 2083}),
]
"""An http(s) URL kept byte for byte as written (an OIDC issuer is compared as a string: no added or removed '/')."""
ProxyNetwork = Annotated[str, AfterValidator(_proxy_network)]
StorageSize = Annotated[Quantity, AfterValidator(_positive_size)]
GoDuration = Annotated[
    str,
    Matching(_matching(_GO_DURATION, "a Go duration such as 8h, 30m, 1h30m or 168h0m0s (units ns, us, ms, s, m, h)")),
]
PrometheusDuration = Annotated[
    str,
    Matching(
        _matching(
            _PROMETHEUS_DURATION,
            "a Prometheus duration such as 30s, 1m or 1h30m (whole numbers; units y, w, d, h, m, s, ms in that order)",
        )
    ),
]
GatewayDuration = Annotated[
    str,
    Matching(
        _matching(
            _GATEWAY_DURATION,
            "a Gateway API duration such as 10m, 1h or 90s (1-4 whole numbers of up to 5 digits, units h, m, s, ms)",
        )
    ),
]
PublicUrl = Annotated[
    str, AfterValidator(_public_url), WithJsonSchema({"type": "string", "pattern": _PUBLIC_URL.pattern})
]
"""The URL clients use (scheme, host, optional port and path), kept as written."""
PathPrefix = Annotated[
    str,
    Matching(
        _matching(
            _PATH_PREFIX,
            "a URL path prefix such as /mlflow or /tools/mlflow: a leading '/', no trailing '/', segments of "
            "letters, digits, '-', '.', '_' or '~' (not '.' or '..' alone)",
        )
    ),
]
CronSchedule = Annotated[str, AfterValidator(_cron), WithJsonSchema({"type": "string", "pattern": _CRON.pattern})]
RetentionPolicy = Annotated[
    str, Matching(_matching(_RETENTION, "a retention such as 30d, 4w or 3m (days, weeks, months)"))
]
GcAge = Annotated[
    str, AfterValidator(_matching(_GC_AGE, "an age such as 30d, 12h or 1d12h (whole d, h, m, s in that order)"))
]
TraceRetention = Annotated[
    str,
    AfterValidator(_matching(_TRACE_RETENTION, "a retention such as 30d, 12h or 90m (a whole number and m, h or d)")),
]
ByteQuantity = Annotated[
    str,
    Matching(
        _matching(
            _BYTES,
            "a size in whole bytes such as 192Mi, 500M, 1Gi or 1048576 "
            "(an integer with an optional suffix k, M, G, T, Ki, Mi, Gi, Ti)",
        )
    ),
]

# An emptyDir's size: whole bytes, above 0.
VolumeBytes = Annotated[ByteQuantity, AfterValidator(_positive_size)]


def byte_count(quantity: str) -> int:
    """The bytes of a :data:`ByteQuantity`: ``1Mi`` is 1048576, ``500M`` is 500000000."""
    return int(quantity_of(quantity))


SecretKey = Annotated[str, AfterValidator(_secret_key)]
ImageRepository = Annotated[
    str,
    Matching(_matching(_IMAGE_PART, "an image path such as ghcr.io/mlflow or mlflow (lowercase, no tag)")),
]
ImageRegistry = Annotated[
    str,
    Matching(
        _matching(
            _IMAGE_REGISTRY,
            "an image registry (and path) such as ghcr.io/mlflow, docker.io/library or registry.local:5000/team",
        )
    ),
]
ImageTag = Annotated[str, Matching(_matching(_TAG, "an image tag such as v3.17.2-full"))]
ImageDigest = Annotated[str, Matching(_matching(_DIGEST, "an image digest such as sha256:<64 hex digits>"))]
EnvName = Annotated[str, Matching(_matching(_ENV_NAME, "an environment variable name"))]
Port = Annotated[int, Field(ge=1, le=65535)]
StorageAccount = Annotated[
    str,
    Matching(
        _matching(re.compile(r"^[a-z0-9]{3,24}$"), "an Azure storage account name (3-24 lowercase letters/digits)")
    ),
]


def _qualified_key(value: str, *, what: str) -> str:
    """apimachinery's ``IsQualifiedName``: ``[prefix/]name``, prefix a DNS subdomain (<= 253), name <= 63."""
    prefix, slash, name = value.rpartition("/")
    problem = None
    if slash and (not prefix or "/" in prefix):
        problem = "at most one '/', with a DNS-subdomain prefix before it"
    elif slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        problem = (
            "the prefix before '/' must be a DNS subdomain (lowercase letters, digits, '-', '.'; <= 253 characters)"
        )
    elif not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        problem = (
            "the name (after the optional 'prefix/') must be 1-63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    if problem:
        raise ValueError(f"{value!r} is not a valid {what} key: {problem}; e.g. 'team' or 'example.com/team'")
    return value


def _label_key(value: str) -> str:
    return _qualified_key(value, what="label")


def _annotation_key(value: str) -> str:
    # ValidateAnnotations checks the lower-cased key, so upper-case prefixes are accepted there.
    _qualified_key(value.lower(), what="annotation")
    return value


def _label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(
            f"{value!r} is not a valid label value: use at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit (or leave it empty), e.g. 'ml-platform'"
        )
    return value


def _annotations_size(value: dict[str, str]) -> dict[str, str]:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
    if size > _ANNOTATIONS_MAX_BYTES:
        raise ValueError(
            f"annotations total {size} bytes, more than the API server's limit of 262144 (256 KiB); "
            "shorten or drop some"
        )
    return value


LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
AnnotationKey = Annotated[str, AfterValidator(_annotation_key)]
Labels = dict[LabelKey, LabelValue]
Annotations = Annotated[dict[AnnotationKey, str], AfterValidator(_annotations_size)]
