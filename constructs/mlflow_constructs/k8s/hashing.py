"""Stable short hashes of rendered content (checksum annotations, immutable Job names)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# A run-once Job is named <prefix>-<this many hex digits of its pod template's digest>.
JOB_NAME_HASH_LENGTH = 8


def digest(value: Any, length: int = 64) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
