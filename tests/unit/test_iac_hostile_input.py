"""Inputs a pull request can put in front of the CI job that runs ``check``: alias
bombs, aliases that refer to themselves, nesting thousands deep, and files that are
almost templates. Each ends in well under a second with one line saying what was
refused or what is wrong: never a traceback, never gigabytes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ses_pool_enforcer.iac.declared import IacError
from ses_pool_enforcer.iac.sources import scan_file


def _alias_bomb() -> str:
    """Nine levels of nine aliases: 417 bytes, 9**9 strings once expanded."""
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    return text + "Resources: {Set: {Type: AWS::SES::ConfigurationSet, Properties: {Name: *i}}}\n"


HOSTILE = {
    "bomb.yaml": (_alias_bomb(), "refused: YAML aliases expand this document past 1,000,000"),
    "self.yaml": ("Resources: &r\n  Set: *r\n", "refused: a YAML alias refers to itself, line 1"),
    "self-list.yaml": ("a: &a [*a]\nResources: {}\n", "refused: a YAML alias refers to itself"),
    "deep.json": ('{"Resources":' + "[" * 3000 + "]" * 3000 + "}", "refused: nested more than"),
    "deep.yaml": ("Resources: " + "[" * 3000 + "]" * 3000 + "\n", "refused: nested"),
    "deep-300.json": ('{"Resources":' + "[" * 300 + "]" * 300 + "}", "nested more than 200"),
    "deep-300.yaml": ("Resources: " + "[" * 300 + "]" * 300 + "\n", "nested more than 200"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_refused_in_one_line_within_a_second(name: str, tmp_path: Path) -> None:
    # Given a file built to exhaust the reader
    text, message = HOSTILE[name]
    path = tmp_path / name
    path.write_text(text)

    # When it is read
    started = time.perf_counter()
    with pytest.raises(IacError) as raised:
        scan_file(str(path), {})
    elapsed = time.perf_counter() - started

    # Then it is refused, saying what, in one line and well under a second
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert elapsed < 0.8


def test_anchors_that_expand_modestly_are_read(tmp_path: Path) -> None:
    # Given a template that shares its tags through an anchor, as real ones do
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "Resources:\n"
        "  A: {Type: AWS::SES::ConfigurationSet,\n"
        "      Properties: {Name: a, Tags: &t [{Key: k, Value: v}]}}\n"
        "  B: {Type: AWS::SES::ConfigurationSet, Properties: {Name: b, Tags: *t}}\n"
    )

    # Then both sets carry the tags
    assert [s.tags for s in scan_file(str(path), {}).sets] == [{"k": "v"}, {"k": "v"}]


PARSE_ERRORS = {
    # A comment is not JSON: said at its line, not where a YAML reading trips later
    "comment.json": (
        '{\n  "Resources": {\n    // the mail sets\n'
        '    "S": {"Type": "AWS::SES::ConfigurationSet"}\n  }\n}\n',
        "not JSON: line 3, column 5: Expecting property name enclosed in double quotes",
    ),
    "two-documents.yaml": (
        "Resources: {}\n---\nResources: {}\n",
        "more than one YAML document (a second begins at line 2)",
    ),
    "list.json": ('[{"Resources": {}}]', "neither a CloudFormation template (no Resources)"),
}


@pytest.mark.parametrize("name", sorted(PARSE_ERRORS))
def test_a_parse_error_says_what_is_wrong_and_where(name: str, tmp_path: Path) -> None:
    text, message = PARSE_ERRORS[name]
    path = tmp_path / name
    path.write_text(text)

    with pytest.raises(IacError) as raised:
        scan_file(str(path), {})

    assert f"{name}: {message}" in str(raised.value)


def test_json_with_a_byte_order_mark_and_tabs_is_read_as_json(tmp_path: Path) -> None:
    # Given valid JSON, indented with tabs (not YAML), saved with a BOM
    path = tmp_path / "template.json"
    path.write_text(
        '\ufeff{\n\t"Resources": {\n\t\t"Set": {"Type": "AWS::SES::ConfigurationSet", '
        '"Properties": {"Name": "mkt-weekly"}}\n\t}\n}\n'
    )

    # Then it is read, and the set located at its key
    (declared,) = scan_file(str(path), {}).sets
    assert (declared.name, declared.position) == ("mkt-weekly", declared.position)
    assert declared.position is not None and declared.position.line == 3
