"""YAML loaders whose dates stay text: the models validate dates, so a bad one
(``2027-02-30``) is reported against its field instead of crashing the loader, and a
template's ``AWSTemplateFormatVersion: 2010-09-09`` stays the string CloudFormation reads."""

from __future__ import annotations

from typing import Any

import yaml

from ses_pool_enforcer.documents import DuplicateKey

TIMESTAMP = "tag:yaml.org,2002:timestamp"


class TextDatesLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver."""


TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class OneKeyLoader(TextDatesLoader):
    """Dates as text, and a key written twice refused with its line."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise DuplicateKey(f"duplicate key {key!r} on line {line}: each key once")
            seen.add(key)
        return super().construct_mapping(node, deep)
