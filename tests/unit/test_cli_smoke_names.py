"""The throw-away set's name: one the rule's glob matches, that says what it is."""

from __future__ import annotations

import fnmatch

import pytest

from ses_pool_enforcer.cli.smoke import name_for

MARKER = "smoke-test-20261206-210226"


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("mkt-*", "mkt-smoke-test-20261206-210226"),
        ("*-bulk", "smoke-test-20261206-210226-bulk"),
        ("news-*-*", "news-smoke-test-20261206-210226-"),
        ("eu?-*", "eux-smoke-test-20261206-210226"),
        ("[ab]x-*", "ax-smoke-test-20261206-210226"),
        ("[!a]x-*", "xx-smoke-test-20261206-210226"),
    ],
)
def test_the_first_star_holds_the_marker(glob: str, expected: str) -> None:
    assert name_for(glob, MARKER) == expected
    assert fnmatch.fnmatchcase(expected, glob)


@pytest.mark.parametrize(
    "glob",
    [
        "newsletter",  # a literal: only a real set has that name
        "mkt.*",  # SES refuses a '.' in a set's name
        "m" * 40 + "-*",  # over SES's 64 characters
        "[!x]-*",  # a class whose filler it excludes
    ],
)
def test_no_name_when_the_glob_cannot_hold_a_throw_away_one(glob: str) -> None:
    assert name_for(glob, MARKER) is None
