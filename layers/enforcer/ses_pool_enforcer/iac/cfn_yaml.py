"""CloudFormation YAML: the short-form intrinsic tags (``!Ref``, ``!Sub``, ``!GetAtt``...)
read as their long forms, and the position of every key kept from the loader's marks."""

from __future__ import annotations

from typing import Any

import yaml

from ses_pool_enforcer.iac.declared import IacError, Path, Position
from ses_pool_enforcer.yaml_text import TextDatesLoader

SHORT_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "And",
            "Base64",
            "Cidr",
            "Equals",
            "FindInMap",
            "GetAZs",
            "GetAtt",
            "If",
            "ImportValue",
            "Join",
            "Length",
            "Not",
            "Or",
            "Select",
            "Split",
            "Sub",
            "ToJsonString",
            "Transform",
        )
    },
}


_NO_CONSTRUCTOR = "could not determine a constructor for the tag"


class TemplateLoader(TextDatesLoader):
    """SafeLoader with CloudFormation's tags; dates stay text, as CloudFormation reads them."""


def _long_form(function: str) -> Any:
    def construct(loader: TemplateLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if function == "Fn::GetAtt":  # !GetAtt Pool.PoolName
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            assert isinstance(node, yaml.MappingNode)
            value = loader.construct_mapping(node, deep=True)
        return {function: value}

    return construct


for _tag, _function in SHORT_FORMS.items():
    TemplateLoader.add_constructor(f"!{_tag}", _long_form(_function))


def _positions(node: yaml.Node, path: Path, found: dict[Path, Position]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if (*path, key) in found:
                line = key_node.start_mark.line + 1
                raise IacError(f"line {line}: duplicate key {key!r}: each key once")
            found[(*path, key)] = _mark(key_node)
            _positions(value_node, (*path, key), found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found[(*path, index)] = _mark(item)
            _positions(item, (*path, index), found)


def _mark(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def load_yaml(text: str) -> tuple[Any, dict[Path, Position]]:
    """The document's data, long-form intrinsics, and the position of each key."""
    loader = TemplateLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        found: dict[Path, Position] = {}
        _positions(node, (), found)
        return loader.construct_document(node), found
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(str(exc.problem or exc.context or exc).split())
        if problem.startswith(_NO_CONSTRUCTOR):
            problem = problem.replace(_NO_CONSTRUCTOR, "unknown tag")
            problem += " (not a CloudFormation intrinsic function)"
        raise IacError(f"not JSON or YAML: {where}{problem}") from exc
    except IacError:
        raise
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: "!!int abc" and the like
        raise IacError(f"not JSON or YAML: {' '.join(str(exc).split())}") from exc
    finally:
        loader.dispose()
