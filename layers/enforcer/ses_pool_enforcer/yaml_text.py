"""YAML loaders whose dates stay text: the models validate dates, so a bad one
(``2027-02-30``) is reported against its field instead of crashing the loader, and a
template's ``AWSTemplateFormatVersion: 2010-09-09`` stays the string CloudFormation reads."""

from __future__ import annotations

import yaml

TIMESTAMP = "tag:yaml.org,2002:timestamp"


class TextDatesLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver."""


TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
