"""What a cold start of the event function imports: only what the deployment switched on.
A single-account deployment's handler imports no organization lanes, no Security Hub code
and no YAML parser (the stored policy is JSON). And what it builds: no garbage collection
while its modules load, only the policy document's own validator, no SES writes' client
before a write. ``make bench`` measures what that buys (docs/design/cold-start.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from ses_pool_enforcer.config import Settings

ROOT = Path(__file__).resolve().parents[2]

SWITCHED_OFF = (
    "ses_pool_enforcer.lanes",  # organization mode: member lanes
    "ses_pool_enforcer.adapters.security_hub",  # SecurityHub=enabled
    "ses_pool_enforcer.compliance.security_hub",
    "ses_pool_enforcer.adapters.config",  # the Config rule's function
    "yaml",  # a policy written by hand; the CLI stores JSON
)
# An endpoint that refuses at once: a runtime's policy read ahead goes nowhere.
NOWHERE = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}


def _run(code: str, **environment: str) -> str:
    """The last line ``code`` prints in a fresh interpreter (the repository's root as its
    working directory, as the functions' tests run)."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", **environment}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    return out.strip().splitlines()[-1]


def _imported_by_the_handler(**environment: str) -> set[str]:
    """The modules a fresh interpreter holds once it has imported the event handler."""
    code = (
        "import json, sys\n"
        "from functions.on_event import app\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    return set(json.loads(_run(code, **environment)))


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


def test_a_first_parse_builds_only_the_documents_validator() -> None:
    # Given a fresh process that imported the handler
    code = (
        "import json\n"
        "from functions.on_event import app\n"
        "from ses_pool_enforcer import policy\n"
        "policy.parse_policy(json.dumps({'version': 1, 'mode': 'enforce', 'default': "
        "{'pool': 'bulk'}, 'rules': [{'id': 'm', 'match': {'names': ['mkt-*'], "
        "'regions': ['eu-*']}, 'pool': 'marketing', 'pool_health': {'min_ips': 1}}], "
        "'exemptions': [{'configuration_set': 'x', 'reason': 'r', 'expires': '2030-01-01'}], "
        "'identities': [{'id': 'i', 'match': {'identities': ['*']}, "
        "'default_configuration_set': 'required'}]}))\n"
        "models = [m for m in vars(policy).values() if isinstance(m, type) and "
        "issubclass(m, policy.BaseModel) and m.__module__ == policy.__name__]\n"
        "print(json.dumps(sorted(m.__name__ for m in models if m.__pydantic_complete__)))\n"
    )
    # When it parses a document that uses every part of the format
    built = json.loads(_run(code))
    # Then only Policy's validator was built: the parts are validated inside it
    assert built == ["Policy"]


def test_no_policy_default_is_built_by_a_builtin_factory() -> None:
    # pydantic reads a default factory's signature; a builtin's (list, dict) is parsed
    # from text by the tokenizer, whose first use costs a cold start about 1.5 ms
    from ses_pool_enforcer import policy

    models = [m for m in vars(policy).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    factories = {
        f"{m.__name__}.{name}": field.default_factory
        for m in models
        for name, field in m.model_fields.items()
        if field.default_factory is not None
    }
    assert {k: f for k, f in factories.items() if isinstance(f, type)} == {}


def test_the_runtime_builds_no_ses_writer_before_a_write() -> None:
    # Given a fresh process with the deployment's tables
    code = (
        "from ses_pool_enforcer.adapters import aws\n"
        "from ses_pool_enforcer.runtime import get_runtime\n"
        "get_runtime()\n"
        "print(aws.client.cache_info().currsize)\n"
    )
    # When it builds its runtime
    clients = int(_run(code, STATE_TABLE="state", INVENTORY_TABLE="inventory", **NOWHERE))
    # Then two clients: SES (reads) and DynamoDB; the writes' client waits for a write,
    # and the policy's for a read (only the event function reads it ahead)
    assert clients == 2


def test_the_handler_loads_with_no_collection_and_leaves_collection_on(tmp_path: Path) -> None:
    # Given a fresh process that counts the garbage collector's passes, with the bytecode
    # compiled already (as a warm bytecode cache has it: compiling is not importing)
    cache = {"PYTHONPYCACHEPREFIX": str(tmp_path), "PYTHONDONTWRITEBYTECODE": ""}
    _run("import functions.on_event.app\nprint(1)", **cache)
    code = (
        "import gc, json\n"
        "passes = []\n"
        "gc.callbacks.append(lambda phase, info: passes.append(phase))\n"
        "from functions.on_event import app\n"
        "print(json.dumps([len(passes), gc.isenabled(), gc.get_freeze_count() > 0]))\n"
    )
    # When it imports the event function's handler
    passes, collecting, frozen = json.loads(_run(code, **cache))
    # Then no pass ran while it loaded, what it loaded is frozen, and collection is back on
    assert (passes, collecting, frozen) == (0, True, True)


def test_the_runtime_is_built_with_no_collection_and_frozen_once(tmp_path: Path) -> None:
    # Given a fresh process that imported the event handler, counting the collector's passes
    code = (
        "import gc, json\n"
        "from functions.on_event import app\n"
        "from ses_pool_enforcer.runtime import forget_runtime, get_runtime\n"
        "passes = []\n"
        "gc.callbacks.append(lambda phase, info: passes.append(phase))\n"
        "frozen = gc.get_freeze_count()\n"
        "get_runtime()\n"
        "first = [len(passes), gc.isenabled(), gc.get_freeze_count() > frozen]\n"
        "forget_runtime()\n"
        "frozen = gc.get_freeze_count()\n"
        "get_runtime()\n"
        "print(json.dumps([first, [gc.isenabled(), gc.get_freeze_count() <= frozen]]))\n"
    )
    # When it builds its runtime (its clients: tens of thousands of objects), and again
    first, again = json.loads(_run(code, STATE_TABLE="s", INVENTORY_TABLE="i", **NOWHERE))
    # Then no pass ran while the first was built, what it built is frozen, collection is on
    assert first == [0, True, True]
    # And a second build (a test's, a CLI's) freezes nothing: its garbage stays collectable
    assert again == [True, True]


def test_the_functions_leave_pydantics_plugin_search_out() -> None:
    # Given the functions' environment as the template gives it (Globals)
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    code = (
        "import importlib.metadata as metadata\n"
        "searched = []\n"
        "real = metadata.entry_points\n"
        "metadata.entry_points = lambda **kw: searched.append(kw) or real(**kw)\n"
        "from ses_pool_enforcer import policy\n"
        'policy.parse_policy(\'{"version": 1, "default": {"pool": "bulk"}}\')\n'
        "print(len(searched))\n"
    )
    # When a fresh process builds the policy's validator and parses a document
    searched = int(_run(code, PYDANTIC_DISABLE_PLUGINS=variables["PYDANTIC_DISABLE_PLUGINS"]))
    # Then pydantic read no distribution's entry points looking for plugins
    assert searched == 0
    # (without it, it does: the test would see a search the variable does not stop)
    assert int(_run(code, PYDANTIC_DISABLE_PLUGINS="")) > 0
