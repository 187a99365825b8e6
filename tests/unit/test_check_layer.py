"""scripts/check_layer.py: what `make build` holds the built layer to."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_layer", ROOT / "scripts/check_layer.py")
assert _spec is not None and _spec.loader is not None
check_layer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_layer)

LOCK = (
    "# made by make lock\npydantic==2.14.4 \\\n    --hash=sha256:00\ntyping-extensions==4.16.0 \\\n"
)


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    """A layer as layers/enforcer/Makefile builds it: modules with their 3.13 bytecode."""
    root = tmp_path / "python"
    for module in ("pydantic/__init__.py", "typing_extensions.py"):
        path = root / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        cache = path.parent / "__pycache__"
        cache.mkdir(exist_ok=True)
        (cache / f"{path.stem}.cpython-313.pyc").write_bytes(b"")
    (root / "pydantic-2.14.4.dist-info").mkdir()
    (root / "typing_extensions-4.16.0.dist-info").mkdir()
    (tmp_path / "lock.txt").write_text(LOCK)
    return root


def test_a_layer_with_its_bytecode_and_the_locked_versions_passes(layer: Path) -> None:
    assert check_layer.problems(layer, layer.parent / "lock.txt") == []


def test_a_module_without_its_313_bytecode_is_named(layer: Path) -> None:
    (layer / "__pycache__" / "typing_extensions.cpython-313.pyc").rename(
        layer / "__pycache__" / "typing_extensions.cpython-311.pyc"
    )
    assert check_layer.problems(layer, layer.parent / "lock.txt") == [
        "typing_extensions.py: no cpython-313 bytecode"
    ]


def test_a_version_other_than_the_locks_is_named(layer: Path) -> None:
    (layer / "pydantic-2.14.4.dist-info").rename(layer / "pydantic-2.15.0.dist-info")
    assert check_layer.problems(layer, layer.parent / "lock.txt") == [
        "pydantic: built 2.15.0, locked 2.14.4"
    ]


def test_an_empty_layer_is_not_taken_for_a_good_one(tmp_path: Path) -> None:
    (tmp_path / "lock.txt").write_text(LOCK)
    assert check_layer.problems(tmp_path, tmp_path / "lock.txt")[0].endswith("was the layer built?")
