"""The committed JSON Schema and example policies agree with the pydantic model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ses_pool_enforcer.policy import Policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema" / "policy.schema.json"
EXAMPLES = ROOT / "examples"
SSM_STANDARD_PARAMETER_LIMIT = 4096


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_schema", ROOT / "scripts" / "generate_schema.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate_schema = _load_generator()


def _objects(node: Any) -> list[dict[str, Any]]:
    """Every schema object that declares ``properties``, however deeply nested."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append(node)
        for value in node.values():
            found.extend(_objects(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_objects(value))
    return found


def test_committed_schema_is_what_the_model_generates() -> None:
    # Given the schema committed in the repository
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""

    # When the model generates it afresh
    generated = generate_schema.render()

    # Then they are identical, byte for byte
    assert committed == generated, (
        f"{SCHEMA_FILE.relative_to(ROOT)} is stale: the policy model changed. "
        "Regenerate it with `make schema` (python scripts/generate_schema.py --write) "
        "and commit the result."
    )


def test_schema_declares_its_dialect_and_title() -> None:
    # Given the committed schema
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

    # Then it names the JSON Schema dialect and the document it describes
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "version 1" in schema["title"]
    assert set(schema["required"]) == {"version"}


def test_schema_forbids_unknown_fields_at_every_level() -> None:
    # Given the committed schema
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

    # When every object definition in it is collected
    objects = _objects(schema)

    # Then each of them (document, rule, match, default, exemption) rejects extra fields
    titles = {node.get("title") for node in objects}
    assert {"Match", "Rule", "DefaultRule", "Exemption"} <= titles
    assert all(node.get("additionalProperties") is False for node in objects)


def test_generator_check_mode_flags_a_stale_file(tmp_path: Path) -> None:
    # Given a schema file that differs from the model's
    stale = tmp_path / "policy.schema.json"
    stale.write_text("{}\n", encoding="utf-8")

    # When the generator checks it, then rewrites it
    before = generate_schema.main(["--check", "--path", str(stale)])
    generate_schema.main(["--write", "--path", str(stale)])
    after = generate_schema.main(["--check", "--path", str(stale)])

    # Then the check fails first, and passes once the file was regenerated
    assert (before, after) == (1, 0)
    assert stale.read_text(encoding="utf-8") == generate_schema.render()


@pytest.mark.parametrize("name", ["policy.yaml", "policy.json"])
def test_example_policy_is_valid(name: str) -> None:
    # Given an example policy shipped with the project
    text = (EXAMPLES / name).read_text(encoding="utf-8")

    # When it is parsed
    policy = parse_policy(text)

    # Then it is a complete, enforceable document
    assert isinstance(policy, Policy)
    assert policy.rules and policy.exemptions and policy.default is not None


def test_yaml_and_json_examples_say_the_same_thing() -> None:
    # Given the two example files
    yaml_text = (EXAMPLES / "policy.yaml").read_text(encoding="utf-8")
    json_text = (EXAMPLES / "policy.json").read_text(encoding="utf-8")

    # When both are parsed
    from_yaml, from_json = parse_policy(yaml_text), parse_policy(json_text)

    # Then they are the same policy, with the same canonical JSON
    assert from_yaml == from_json
    assert from_yaml.to_json() == from_json.to_json()


def test_example_fits_a_standard_ssm_parameter() -> None:
    # Given the example policy
    policy = parse_policy((EXAMPLES / "policy.yaml").read_text(encoding="utf-8"))

    # When it is serialised as it is stored in SSM
    stored = policy.to_json().encode("utf-8")

    # Then it fits a standard (4 KB) String parameter
    assert len(stored) <= SSM_STANDARD_PARAMETER_LIMIT
