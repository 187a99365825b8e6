"""Mutation testing of one guarantee-bearing module with the tests that cover it
(cosmic-ray: each mutant is applied in place, its tests run, the file put back).

Usage: ``python scripts/mutate.py MODULE [--timeout SECONDS]`` (``make mutate
MODULE=work``). CPU heavy, and the tests of the integration modules run against local
AWS: one module at a time, never while other tests run in the same checkout (the file
under test is mutated in place). Prints the score and the surviving mutants.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "layers/enforcer/ses_pool_enforcer"
# Each module, and the tests that hold its guarantees (docs/design/work-queue.md).
MODULES = {
    "work": ("work.py", ["tests/unit/test_work.py"]),
    "owed": (
        "owed.py",
        [
            "tests/unit/test_owed_windows.py",
            "tests/integration/test_exactly_once.py",
            "tests/integration/test_owed_corners.py",
        ],
    ),
    "budget": ("adapters/budget.py", ["tests/integration/test_shared_budget.py"]),
    "inventory": ("adapters/inventory.py", ["tests/integration/test_inventory_fence.py"]),
    "event_path": ("event_path.py", ["tests/integration/test_work_queue.py"]),
    "reconciler": (
        "reconciler.py",
        [
            "tests/integration/test_exactly_once.py",
            "tests/integration/test_work_queue.py",
            "tests/integration/test_owed_corners.py",
        ],
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("module", choices=sorted(MODULES))
    parser.add_argument("--timeout", type=float, default=120.0, help="per mutant, seconds")
    args = parser.parse_args()
    path, tests = MODULES[args.module]
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "cosmic-ray.toml"
        session = Path(tmp) / "session.sqlite"
        pytest = f"{bin_dir / 'pytest'} -x -q -p no:cacheprovider {' '.join(tests)}"
        config.write_text(
            "[cosmic-ray]\n"
            f'module-path = "{PACKAGE}/{path}"\n'
            f"timeout = {args.timeout}\n"
            "excluded-modules = []\n"
            f'test-command = "{pytest}"\n'
            "[cosmic-ray.distributor]\n"
            'name = "local"\n'
        )
        for step in (["init", str(config), str(session)], ["exec", str(config), str(session)]):
            subprocess.run([bin_dir / "cosmic-ray", *step], cwd=ROOT, check=True)  # noqa: S603 (our own venv's tools)
        report = subprocess.run(  # noqa: S603
            [bin_dir / "cr-report", str(session)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        print(report.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
