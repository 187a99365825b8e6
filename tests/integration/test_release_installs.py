"""The pre-commit hook and the GitHub Action install their release from its lock, for real.

Each test makes a fresh venv outside the checkout, runs the install exactly as pre-commit or
the runner would, and then the installed command: the versions it got are the runtime lock's
(layers/enforcer/requirements.txt), whatever is newest on the package index.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import yaml

from ses_pool_enforcer import __version__

ROOT = Path(__file__).resolve().parents[2]
IAC = ROOT / "tests" / "fixtures" / "iac"
LOCK = ROOT / "layers" / "enforcer" / "requirements.txt"


def locked(name: str) -> str:
    found = re.search(rf"^{name}==(\S+)", LOCK.read_text(), re.M)
    assert found, name
    return found[1]


def installed(python: Path, name: str) -> str:
    code = f"from importlib import metadata; print(metadata.version({name!r}))"
    return subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_pre_commit_hook_installs_its_release_from_the_lock_once(tmp_path: Path) -> None:
    # Given no hook venv yet
    hook_venv = tmp_path / "hook-venv"
    run = [
        ROOT / "scripts" / "pre-commit-check",
        "--policy",
        IAC / "policy.yaml",
        IAC / "sam/template.yaml",
    ]
    env = {**os.environ, "SES_POOL_ENFORCER_HOOK_VENV": str(hook_venv), "PYTHON": sys.executable}

    # When pre-commit runs the hook twice
    first = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    second = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)

    # Then the first run installed the release with the lock's versions, and both checked
    assert "installing the hook's release" in first.stderr
    assert "installing" not in second.stderr
    assert first.returncode == second.returncode == 2, first.stderr  # the fixture has findings
    assert "wrong-pool" in second.stdout
    python = hook_venv / "bin" / "python"
    assert installed(python, "ses-pool-enforcer") == __version__
    for name in ("boto3", "pydantic", "aws-lambda-powertools"):
        assert installed(python, name) == locked(name)


def test_the_action_installs_its_release_from_the_lock(tmp_path: Path) -> None:
    # Given the Action's install step, and a fresh Python as setup-python gives it
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    (install,) = [
        s for s in action["runs"]["steps"] if s.get("name") == "Install ses-pool-enforcer"
    ]
    runner = tmp_path / "runner"
    venv.create(runner, with_pip=True)
    env = {
        **os.environ,
        "PATH": f"{runner / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "ACTION_PATH": str(ROOT),
    }

    # (a step that resolved afresh would install the same versions as long as the lock is the
    # newest, so the step must say where its versions come from)
    from_lock = (
        '--require-hashes --no-deps \\\n  -r "$ACTION_PATH/layers/enforcer/requirements.txt"'
    )
    assert from_lock in install["run"]

    # When the runner runs it (bash, as the step says)
    assert install["shell"] == "bash"
    subprocess.run(
        ["bash", "-e", "-c", install["run"]], cwd=tmp_path, env=env, check=True, capture_output=True
    )

    # Then the command is this release, on the lock's versions
    done = subprocess.run(
        [runner / "bin" / "ses-pool-enforcer", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"ses-pool-enforcer {__version__}"
    for name in ("boto3", "pydantic", "aws-lambda-powertools"):
        assert installed(runner / "bin" / "python", name) == locked(name)
