"""Checks the layer `sam build` made (`make build` runs it after the build).

* every module ships its Python 3.13 bytecode: Lambda mounts a layer read-only, so a module
  without it is compiled again by every cold start (layers/enforcer/Makefile says why);
* the layer holds exactly the versions of layers/enforcer/requirements.txt, the lock the
  test suite ran with.

Usage: python scripts/check_layer.py [LAYER_DIR]   (default .aws-sam/build/EnforcerLayer/python)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = "cpython-313"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def problems(layer: Path, lock: Path) -> list[str]:
    found = []
    modules = [p for p in layer.rglob("*.py") if "__pycache__" not in p.parts]
    if not modules:
        return [f"{layer}: no Python modules: was the layer built?"]
    for module in modules:
        if not (module.parent / "__pycache__" / f"{module.stem}.{TAG}.pyc").is_file():
            found.append(f"{module.relative_to(layer)}: no {TAG} bytecode")
    locked = {
        _canonical(m.group(1)): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock.read_text(), re.M)
    }
    built = {}
    for info in layer.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        built[_canonical(name)] = version
    if built != locked:
        for name in sorted(set(built) | set(locked)):
            if built.get(name) != locked.get(name):
                found.append(f"{name}: built {built.get(name)}, locked {locked.get(name)}")
    return found


def main() -> int:
    layer = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".aws-sam/build/EnforcerLayer/python"
    found = problems(layer, ROOT / "layers/enforcer/requirements.txt")
    for line in found[:20]:
        print(f"layer: {line}", file=sys.stderr)
    if found:
        print(f"layer: {len(found)} problem(s) in {layer}", file=sys.stderr)
        return 1
    print(f"layer: every module has its {TAG} bytecode; the locked versions, no others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
