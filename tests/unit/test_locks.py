"""What the suite runs with is what the locks say, and the Lambda layer deploys the same.

The locks (requirements/dev.txt, requirements/tools.txt, layers/enforcer/requirements.txt)
are made by ``make lock`` / ``make upgrade`` (docs/dependencies.md). These tests fail when the
venv the suite runs in has drifted from the dev lock, or when the layer would deploy another
version of a library than the one the suite passed with.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements" / "dev.txt"
TOOLS_LOCK = ROOT / "requirements" / "tools.txt"
LAYER_LOCK = ROOT / "layers" / "enforcer" / "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """Name -> version of the lock's requirements that apply to this interpreter.

    A universal lock may pin one package twice, under exclusive environment markers.
    """
    found = {}
    for line in requirement_lines(lock):
        requirement = line.split(" --hash")[0].strip()
        match = PIN.match(requirement)
        assert match, f"{lock}: not an exact pin: {requirement[:80]}"
        _, _, marker = requirement.partition(";")
        if not marker.strip() or Marker(marker.strip()).evaluate():
            found[canonical(match[1])] = match[2]
    return found


def requirement_lines(lock: Path) -> list[str]:
    """Each requirement of a lock as one line (pip's continuations joined)."""
    text = lock.read_text().replace("\\\n", " ")
    return [line for line in text.splitlines() if line and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("lock", [DEV_LOCK, TOOLS_LOCK, LAYER_LOCK], ids=lambda p: p.name)
def test_every_requirement_of_a_lock_is_an_exact_version_with_hashes(lock: Path) -> None:
    # pip installs a lock only in hash-checking mode when every line is pinned and hashed.
    lines = requirement_lines(lock)
    assert lines, f"{lock} lists nothing"
    for line in lines:
        assert PIN.match(line.strip()), f"{lock}: not an exact pin: {line.strip()[:80]}"
        assert "--hash=sha256:" in line, f"{lock}: no hash: {line.strip()[:80]}"


def test_the_venv_the_suite_runs_in_is_the_dev_lock() -> None:
    # Given the dev lock, When each locked package is looked up in this interpreter's
    # environment, Then it is installed at exactly the locked version (markers aside:
    # packages locked for another platform or Python are not installed here at all).
    drifted = {}
    for name, version in pins(DEV_LOCK).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if installed != version:
            drifted[name] = (version, installed)
    assert not drifted, f"installed versions differ from requirements/dev.txt: {drifted}"
    # and the libraries the enforcer is made of are there at all
    for name in ("boto3", "botocore", "pydantic", "aws-lambda-powertools", "moto"):
        assert metadata.version(name) == pins(DEV_LOCK)[name]


def test_the_layer_deploys_the_versions_the_suite_ran_with() -> None:
    # Given the layer's lock (what sam build installs into the Lambda layer) and the dev lock
    layer, dev = pins(LAYER_LOCK), pins(DEV_LOCK)
    # Then every library in the layer is locked for the suite at the same version
    assert {"boto3", "botocore", "pydantic", "pydantic-core", "aws-lambda-powertools"} <= set(layer)
    differ = {
        name: (version, dev.get(name))
        for name, version in layer.items()
        if dev.get(name) != version
    }
    assert not differ, f"the layer would deploy other versions than the suite ran with: {differ}"
