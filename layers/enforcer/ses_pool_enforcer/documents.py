"""Documents people write (policies, test cases, templates), read as JSON or YAML with
one key each: a key written twice is refused with where it is, never resolved to the
last one. YAML is imported only when a document is not JSON: the functions read the
stored policy, which is JSON, and a cold start need not pay for a YAML parser."""

from __future__ import annotations

import json
from typing import Any


class DuplicateKey(ValueError):
    """A mapping names the same key twice."""


class NotADocument(ValueError):
    """Neither JSON nor YAML."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook`` that refuses a key written twice."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise DuplicateKey(f"duplicate key {key!r}: each key once")
        data[key] = value
    return data


def load(text: str | bytes) -> Any:
    """JSON, or else YAML (JSON is YAML, but JSON's errors are the clearer ones)."""
    try:
        return json.loads(text, object_pairs_hook=unique_keys)
    except DuplicateKey:
        raise
    except ValueError:
        pass
    import yaml

    from ses_pool_enforcer.yaml_text import OneKeyLoader

    try:
        return yaml.load(text, Loader=OneKeyLoader)  # noqa: S506 - a SafeLoader
    except DuplicateKey:
        raise
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: "!!int abc" and the like
        raise NotADocument(f"neither JSON nor YAML: {' '.join(str(exc).split())}") from exc
