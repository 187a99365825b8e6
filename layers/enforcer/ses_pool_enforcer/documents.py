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
    """Neither JSON nor YAML; ``line`` and ``column`` (from 1) say where, when known, and
    ``source`` is that line of the text."""

    def __init__(
        self, message: str, line: int | None = None, column: int | None = None, source: str = ""
    ) -> None:
        super().__init__(message)
        self.line, self.column, self.source = line, column, source

    def caret(self) -> str:
        """The offending line with a caret under the column, or "" if unknown."""
        if self.line is None or self.column is None or not self.source:
            return ""
        return f"  {self.source}\n  {' ' * (self.column - 1)}^"


# The tags of CloudFormation's short-form intrinsic functions: a YAML document that uses
# one is a template (a policy has no tags).
CLOUDFORMATION_TAGS = frozenset(
    {
        "!Ref", "!Sub", "!GetAtt", "!Join", "!Select", "!Split", "!If", "!Not", "!Equals",
        "!And", "!Or", "!Condition", "!FindInMap", "!ImportValue", "!Base64", "!Cidr",
        "!GetAZs", "!Transform",
    }
)  # fmt: skip


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
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if exc.problem and any(f"'{tag}'" in exc.problem for tag in CLOUDFORMATION_TAGS):
            raise NotADocument(
                "a CloudFormation template (it uses the tags !Ref, !Sub...), not a policy document"
            ) from exc
        if mark is None:
            raise NotADocument(f"neither JSON nor YAML: {' '.join(str(exc).split())}") from exc
        lines = (text.decode(errors="replace") if isinstance(text, bytes) else text).splitlines()
        source = lines[mark.line] if mark.line < len(lines) else ""
        raise NotADocument(
            f"neither JSON nor YAML: line {mark.line + 1}, column {mark.column + 1}: {exc.problem}",
            mark.line + 1,
            mark.column + 1,
            source,
        ) from exc
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: "!!int abc" and the like
        raise NotADocument(f"neither JSON nor YAML: {' '.join(str(exc).split())}") from exc
