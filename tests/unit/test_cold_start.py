"""What a cold start of the event function imports: only what the deployment switched on.
A single-account deployment's handler imports no organization lanes, no Security Hub code
and no YAML parser (the stored policy is JSON); ``make bench`` measures what that buys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from ses_pool_enforcer.config import Settings

ROOT = Path(__file__).resolve().parents[2]

SWITCHED_OFF = (
    "ses_pool_enforcer.lanes",  # organization mode: member lanes
    "ses_pool_enforcer.adapters.security_hub",  # SecurityHub=enabled
    "ses_pool_enforcer.compliance.security_hub",
    "ses_pool_enforcer.adapters.config",  # the Config rule's function
    "yaml",  # a policy written by hand; the CLI stores JSON
)


def _imported_by_the_handler(**environment: str) -> set[str]:
    """The modules a fresh interpreter holds once it has imported the event handler."""
    code = (
        "import json, sys\n"
        "from functions.on_event import app\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", **environment}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_a_single_account_handler_imports_nothing_switched_off() -> None:
    # Given a fresh process with the single-account environment
    # When it imports the event function's handler
    imported = _imported_by_the_handler(SECURITY_HUB="disabled", MEMBER_ROLE_NAME="")
    # Then none of the switched-off features' modules came with it
    assert "ses_pool_enforcer.event_path" in imported  # the handler did import
    assert sorted(set(SWITCHED_OFF) & imported) == []


def test_member_role_names_are_iams_characters() -> None:
    # IAM role names: letters, digits and + = , . @ _ - (the template's MemberRoleName)
    assert Settings(member_role_name="Enforcer_role+x=1,a.b@c-d").member_role_name
    # A letter IAM refuses is refused here too, as the template's pattern refuses it
    with pytest.raises(ValidationError):
        Settings(member_role_name="rôle")
