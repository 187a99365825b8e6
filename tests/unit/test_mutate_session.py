"""scripts/mutate.py: a kept session is gone on with only for the scope and text it was
drawn from (a mutant's position in another text would mutate the wrong code)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mutate", ROOT / "scripts/mutate.py")
assert _spec is not None and _spec.loader is not None
mutate = importlib.util.module_from_spec(_spec)
sys.modules["mutate"] = mutate  # (its dataclasses look their module up)
_spec.loader.exec_module(mutate)

SOURCE = "def f(x):\n    return x + 1\n"


def _args(lines: str | None = "1-2") -> argparse.Namespace:
    return argparse.Namespace(module="work", functions=None, lines=lines)


def _kept(tmp_path: Path) -> Path:
    session = tmp_path / "run.sqlite"
    session.write_bytes(b"")  # (what cosmic-ray wrote; only its existence is read here)
    mutate._scope(session).write_text(mutate._fingerprint(SOURCE, _args()))
    return session


def test_no_session_file_starts_a_new_run(tmp_path: Path) -> None:
    assert mutate._resumable(tmp_path / "run.sqlite", SOURCE, _args()) is False


def test_a_session_of_the_same_scope_and_text_is_gone_on_with(tmp_path: Path) -> None:
    assert mutate._resumable(_kept(tmp_path), SOURCE, _args()) is True


@pytest.mark.parametrize(
    ("source", "args"),
    [
        (SOURCE.replace("+ 1", "+ 2"), _args()),  # the module edited since
        (SOURCE, _args(lines="1-1")),  # another scope
    ],
    ids=["module edited", "other lines"],
)
def test_a_session_of_another_scope_or_text_is_refused(
    tmp_path: Path, source: str, args: argparse.Namespace
) -> None:
    session = _kept(tmp_path)
    with pytest.raises(SystemExit, match="another scope or of work as it was before an edit"):
        mutate._resumable(session, source, args)
    assert session.exists()  # refused, not overwritten


def test_a_session_without_its_scope_file_is_refused(tmp_path: Path) -> None:
    session = _kept(tmp_path)
    mutate._scope(session).unlink()
    with pytest.raises(SystemExit):
        mutate._resumable(session, SOURCE, _args())
