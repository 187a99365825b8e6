"""Names a template only partly decides: ``${AWS::StackName}-marketing`` is a pattern,
a known text around holes that stand for any text. A policy glob may match every name
the pattern can take (``*-marketing``), none of them (``mkt-*``), or some only.

A hole is written into the name as ``HOLE_START`` + what it stands for + ``HOLE_END``:
characters no template writes, so a pattern is an ordinary string. Read as a plain
string, the pattern is one of the names it stands for, so a glob that matches every name
(or none) matches it (or not) too: ``evaluate`` may be given it once the question is
decided here.
"""

from __future__ import annotations

import fnmatch
import re
from functools import cache

HOLE_START, HOLE_END = "\ue000", "\ue001"
_HOLE = re.compile(f"{HOLE_START}([^{HOLE_END}]*){HOLE_END}")
_STAR, _ONE = "*", "?"


def hole(stands_for: str) -> str:
    """A hole standing for ``stands_for``'s value (a parameter's name)."""
    return f"{HOLE_START}{stands_for}{HOLE_END}"


def has_hole(text: str) -> bool:
    return HOLE_START in text


def holes(text: str) -> list[str]:
    """What each hole of ``text`` stands for."""
    return _HOLE.findall(text)


def shown(text: str) -> str:
    """``${AWS::StackName}-marketing``: each hole as CloudFormation would write it."""
    return _HOLE.sub(lambda m: "${" + m.group(1) + "}", text)


def _tokens(pattern: str) -> tuple[str | None, ...]:
    """The pattern's characters, a hole as None."""
    found: list[str | None] = []
    position = 0
    for match in _HOLE.finditer(pattern):
        found += pattern[position : match.start()]
        found.append(None)
        position = match.end()
    return (*found, *pattern[position:])


def _glob(glob: str) -> tuple[str, ...]:
    """The glob's elements: ``*``, ``?``, a ``[...]`` class or one literal character."""
    elements: list[str] = []
    index = 0
    while index < len(glob):
        if glob[index] == "[":
            end = glob.find("]", index + 2)
            if end != -1:
                elements.append(glob[index : end + 1])
                index = end + 1
                continue
        elements.append(glob[index])
        index += 1
    return tuple(elements)


def _one(element: str, char: str) -> bool:
    """Whether one glob element other than ``*`` matches ``char``."""
    if element == _ONE:
        return True
    if len(element) > 1:  # a [...] class, as fnmatch reads it
        return fnmatch.fnmatchcase(char, element)
    return element == char


def every_match(pattern: str, glob: str) -> bool:
    """Whether every name ``pattern`` can take matches ``glob``: each hole must fall
    inside one ``*`` of the glob (sufficient; a glob written otherwise is not trusted)."""
    tokens, elements = _tokens(pattern), _glob(glob)

    @cache
    def walk(g: int, t: int) -> bool:
        if g == len(elements):
            return t == len(tokens)
        if elements[g] == _STAR:
            return walk(g + 1, t) or (t < len(tokens) and walk(g, t + 1))
        token = tokens[t] if t < len(tokens) else None
        return token is not None and _one(elements[g], token) and walk(g + 1, t + 1)

    return walk(0, 0)


def some_match(pattern: str, glob: str) -> bool:
    """Whether some name ``pattern`` can take matches ``glob``: a hole may stand for any
    text, so it may take the place of any part of the glob."""
    tokens, elements = _tokens(pattern), _glob(glob)

    @cache
    def walk(g: int, t: int) -> bool:
        if g == len(elements) and t == len(tokens):
            return True
        in_hole = t < len(tokens) and tokens[t] is None
        if in_hole and (walk(g, t + 1) or (g < len(elements) and walk(g + 1, t))):
            return True
        if g < len(elements) and elements[g] == _STAR:
            return walk(g + 1, t) or (t < len(tokens) and walk(g, t + 1))
        if g < len(elements) and t < len(tokens):
            token = tokens[t]
            return token is not None and _one(elements[g], token) and walk(g + 1, t + 1)
        return False

    return walk(0, 0)
