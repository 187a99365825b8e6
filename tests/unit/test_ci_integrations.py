"""Issue 10: where people run check: the pre-commit hook and the composite GitHub Action.

The hook's file filter is applied to this repository's files the way pre-commit does
(Python ``re.search`` on the path), and the Action's check step runs as the runner
would run it: its bash script, its env with the inputs filled in, a GITHUB_OUTPUT file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IAC = "tests/fixtures/iac"
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
BIN = Path(sys.executable).parent


def hook() -> dict[str, Any]:
    (found,) = [h for h in HOOKS if h["id"] == "ses-pool-enforcer-check"]
    return dict(found)


def step(name: str) -> dict[str, Any]:
    (found,) = [s for s in ACTION["runs"]["steps"] if s.get("name") == name]
    return dict(found)


# --------------------------------------------------------------------------- pre-commit


def test_the_hook_runs_the_released_check_command_once_for_all_files() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

    entry = hook()["entry"].split()
    script = (ROOT / entry[0]).read_text()

    # a script of this repository (pre-commit runs it from its clone at the pinned rev) that
    # installs that release from the runtime lock, then runs its check command
    assert entry == ["scripts/pre-commit-check"]
    assert hook()["language"] == "script"
    assert "--require-hashes" in script and "layers/enforcer/requirements.txt" in script
    assert 'exec "$venv/bin/ses-pool-enforcer" check "$@"' in script
    assert "ses-pool-enforcer" in scripts
    assert hook()["require_serial"] is True  # pools declared in one file count for all


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        ("template.yaml", True),
        ("services/mailer/template.yml", True),
        ("infra/mail.template.json", True),
        ("cdk.out/MailStack.template.json", True),
        ("stacks/pools.cfn.yaml", True),
        ("plan.json", True),
        ("terraform/tfplan.json", True),
        ("terraform/prod.tfplan.json", True),
        ("policy.yaml", False),
        ("cdk.out/manifest.json", False),
        ("templates/README.md", False),
        ("package.json", False),
        ("explanation.json", False),
    ],
)
def test_the_hook_selects_templates_and_plans(path: str, selected: bool) -> None:
    assert bool(re.search(hook()["files"], path)) is selected


def test_the_hook_as_pre_commit_runs_it_checks_the_selected_fixtures() -> None:
    # Given the repository's files the hook's filter selects among the IaC fixtures
    tracked = subprocess.run(
        ["git", "ls-files", IAC], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    files = [f for f in tracked if re.search(hook()["files"], f)]

    # When its entry runs with a user's args and those files, as pre-commit runs it (with this
    # venv as the hook's: tests/integration/test_release_installs.py makes a fresh one)
    done = subprocess.run(
        [ROOT / hook()["entry"], "--policy", f"{IAC}/policy.yaml", *files],
        cwd=ROOT,
        env={**os.environ, "SES_POOL_ENFORCER_HOOK_VENV": sys.prefix},
        capture_output=True,
        text=True,
        check=False,
    )

    # Then the SAM, CDK and Terraform fixtures are checked (a nested stack's template is also
    # followed from its parent), and their findings fail it
    assert sorted(files) == [
        f"{IAC}/cdk-stage.out/assembly-Prod/ProdMailStack.template.json",
        f"{IAC}/cdk-stage.out/assembly-Prod/ProdMailStackPools1A2B3C4D.nested.template.json",
        f"{IAC}/cdk.out/MailStack.template.json",
        f"{IAC}/identities/template.yaml",
        f"{IAC}/real/cdk-configuration-set.template.json",
        f"{IAC}/real/cdk-dedicated-ip-pool.template.json",
        f"{IAC}/real/terraform/default-tags.plan.json",
        f"{IAC}/real/terraform/pools.plan.json",
        f"{IAC}/real/terraform/untagged.plan.json",
        f"{IAC}/sam/template.yaml",
        f"{IAC}/terraform/plan.json",
    ]
    assert done.returncode == 2, done.stderr
    # (a nested stack's template is read once more, from its parent)
    assert f"configuration sets in {len(files) + 1} files" in done.stdout


# --------------------------------------------------------------------------- GitHub Action


def run_check_step(inputs: dict[str, str], output: Path) -> subprocess.CompletedProcess[str]:
    """The Action's check step, as a runner runs it: bash, the step's env with the
    inputs (or their defaults) filled in, the installed command on PATH."""
    check = step("Check templates and plans")
    defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    values = {**defaults, **inputs}

    def fill(text: str) -> str:
        return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], text)

    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        **{key: fill(value) for key, value in check["env"].items()},
    }
    assert check["shell"] == "bash"
    return subprocess.run(
        ["bash", "-e", "-c", check["run"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_action_writes_sarif_and_lets_the_upload_run_on_findings(tmp_path: Path) -> None:
    # When the check step runs on the SAM template and a glob of plans, a parameter given
    sarif, output = tmp_path / "results.sarif", tmp_path / "github_output"
    done = run_check_step(
        {
            "paths": f"{IAC}/sam/template.yaml\n{IAC}/terraform/plan*.json",
            "policy": f"{IAC}/policy.yaml",
            "parameters": "Team=mkt\nStage=prod",
            "sarif-file": str(sarif),
        },
        output,
    )

    # Then the step succeeds (so the upload runs), reports exit code 2, and the SARIF
    # holds the findings of all three files; the table went to the log
    assert done.returncode == 0, done.stderr
    assert output.read_text() == "exit-code=2\n"
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {f"{IAC}/sam/template.yaml", f"{IAC}/terraform/plan.json"}
    assert "mkt-daily-prod" in done.stdout  # Stage=prod reached the template
    assert "mkt-digest" in done.stdout  # Team=mkt named the digest set


def test_the_action_fails_at_once_on_an_error(tmp_path: Path) -> None:
    output = tmp_path / "github_output"

    done = run_check_step(
        {
            "paths": f"{IAC}/bad/unknown-tag.yaml",
            "policy": f"{IAC}/policy.yaml",
            "sarif-file": str(tmp_path / "results.sarif"),
        },
        output,
    )

    assert done.returncode == 1
    assert output.read_text() == "exit-code=1\n"
    assert "unknown tag '!Lookup'" in done.stderr


def test_the_action_uploads_the_sarif_it_wrote_and_fails_on_findings_after() -> None:
    upload = step("Upload SARIF to code scanning")
    fail = step("Fail on findings")
    steps = [s.get("name") for s in ACTION["runs"]["steps"]]

    assert ACTION["runs"]["using"] == "composite"
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    assert "steps.check.outputs.exit-code == '2'" in upload["if"]
    assert "always()" in upload["if"]
    assert steps.index("Upload SARIF to code scanning") < steps.index("Fail on findings")
    assert "steps.check.outputs.exit-code == '2'" in fail["if"]
    assert step("Install ses-pool-enforcer")["env"]["ACTION_PATH"] == "${{ github.action_path }}"
