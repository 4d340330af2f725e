"""``canonical``: a record read through an API in one order, so two readings compare equal."""

import json


def canonical(value):
    """Lists of records (tags, params, aliases, permissions) sorted: the order rows come back in is not part
    of the record. Other lists keep their order."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        if all(isinstance(v, dict) for v in items):
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return items
    return value
