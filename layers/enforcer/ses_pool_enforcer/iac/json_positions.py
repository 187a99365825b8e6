"""Where each key and array item of a JSON document is written: ``json`` parses the
values, this scanner finds their line and column, so that a finding can point at the
resource's logical id in a template or its entry in a plan."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field

from ses_pool_enforcer.iac.declared import IacError, Path, Position

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


@dataclass
class _Container:
    path: Path
    is_object: bool
    key: str = ""
    index: int = 0
    expecting_key: bool = field(default=True)

    def child(self) -> Path:
        return (*self.path, self.key if self.is_object else self.index)


def json_positions(text: str, max_depth: int) -> dict[Path, Position]:
    """The position of every object key and array item of ``text``, which must be valid
    JSON (parse it with ``json.loads`` first); IacError past ``max_depth`` levels."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(offset: int) -> Position:
        line = bisect.bisect_right(line_starts, offset)
        return Position(line, offset - line_starts[line - 1] + 1)

    found: dict[Path, Position] = {}
    stack: list[_Container] = []
    for token in _TOKEN.finditer(text):
        value, top = token.group(), stack[-1] if stack else None
        if top is not None and top.is_object and top.expecting_key and value.startswith('"'):
            top.key, top.expecting_key = json.loads(value), False
            found[top.child()] = position(token.start())
        elif value == ",":
            if top is not None and top.is_object:
                top.expecting_key = True
            elif top is not None:
                top.index += 1
        elif value in ("}", "]"):
            stack.pop()
        elif value != ":":
            path: Path = top.child() if top is not None else ()
            if top is not None and not top.is_object:
                found[path] = position(token.start())
            if value in ("{", "["):
                stack.append(_Container(path, is_object=value == "{"))
                if len(stack) > max_depth:
                    raise IacError(
                        f"refused: nested more than {max_depth} levels deep, "
                        f"line {position(token.start()).line}"
                    )
    return found
