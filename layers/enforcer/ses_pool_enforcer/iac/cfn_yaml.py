"""CloudFormation YAML: the short-form intrinsic tags (``!Ref``, ``!Sub``, ``!GetAtt``...)
read as their long forms, and the position of every key kept from the loader's marks."""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError

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
MAX_VALUES = 1_000_000
"""Values a document may hold with its aliases expanded: a few hundred bytes of nested
aliases (an alias bomb) expand to billions."""
MAX_DEPTH = 200
"""Levels of nesting a document may have: real templates have a few dozen."""


class TemplateLoader(TextDatesLoader):
    """SafeLoader with CloudFormation's tags; dates stay text, as CloudFormation reads them.
    Nesting is refused past MAX_DEPTH while composing, before Python's stack gives out."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise IacError(f"refused: nested more than {MAX_DEPTH} levels deep, line {line}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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


_OPENERS = re.compile(r"(?:[\[{][ \t\r\n]*){" + str(MAX_DEPTH + 1) + "}")


def _measure(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand past MAX_VALUES, refer to themselves, or
    that nests past MAX_DEPTH; each node is walked once, aliases are never expanded."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_nodes: set[int] = set()
    # Iterative post-order walk: (node, depth, children done?)
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            depths[key] = 1 + max((depths[id(child)] for child in _children(node)), default=0)
            if sizes[key] > MAX_VALUES:
                raise IacError(
                    f"refused: YAML aliases expand this document past {MAX_VALUES:,} values "
                    f"(an alias bomb), line {_mark(node).line}"
                )
            continue
        if key in open_nodes:
            raise IacError(f"refused: a YAML alias refers to itself, line {_mark(node).line}")
        if key in sizes:
            continue
        if depth > MAX_DEPTH:
            raise IacError(
                f"refused: nested more than {MAX_DEPTH} levels deep, line {_mark(node).line}"
            )
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node))
    if depths[id(root)] > MAX_DEPTH:
        raise IacError(f"refused: aliases nest this document more than {MAX_DEPTH} levels deep")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _positions(node: yaml.Node, path: Path, found: dict[Path, Position], seen: set[int]) -> None:
    """Each key's position; an aliased node is walked once, at its anchor."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if (*path, key) in found:
                line = key_node.start_mark.line + 1
                raise IacError(f"line {line}: duplicate key {key!r}: each key once")
            found[(*path, key)] = _mark(key_node)
            _positions(value_node, (*path, key), found, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found[(*path, index)] = _mark(item)
            _positions(item, (*path, index), found, seen)


def _mark(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def load_yaml(text: str) -> tuple[Any, dict[Path, Position]]:
    """The document's data, long-form intrinsics, and the position of each key."""
    run = _OPENERS.search(text)
    if run is not None:  # PyYAML's scanner takes seconds over these before composing
        line = text.count("\n", 0, run.start()) + 1
        raise IacError(f"refused: nested more than {MAX_DEPTH} levels deep, line {line}")
    loader = TemplateLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _measure(node)
        found: dict[Path, Position] = {}
        _positions(node, (), found, set())
        return loader.construct_document(node), found
    except ComposerError as exc:
        if exc.problem is not None and exc.problem.startswith("but found another document"):
            line = exc.problem_mark.line + 1 if exc.problem_mark else 0
            raise IacError(
                f"more than one YAML document (a second begins at line {line}): a template "
                "is one document; split the file"
            ) from exc
        raise _yaml_error(exc) from exc
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc) from exc
    except RecursionError as exc:
        raise IacError(f"refused: nested too deeply to read (over {MAX_DEPTH} levels)") from exc
    except IacError:
        raise
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: "!!int abc" and the like
        raise IacError(f"not JSON or YAML: {' '.join(str(exc).split())}") from exc
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.MarkedYAMLError) -> IacError:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = " ".join(str(exc.problem or exc.context or exc).split())
    if problem.startswith(_NO_CONSTRUCTOR):
        problem = problem.replace(_NO_CONSTRUCTOR, "unknown tag")
        problem += " (not a CloudFormation intrinsic function)"
    return IacError(f"not JSON or YAML: {where}{problem}")
