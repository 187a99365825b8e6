"""Read the paths given to ``check``: a template or a plan per file, a CDK assembly per
folder. Each file is told apart by its content, not its name."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ses_pool_enforcer.documents import DuplicateKey, unique_keys
from ses_pool_enforcer.iac import cdk, cloudformation, terraform
from ses_pool_enforcer.iac.cfn_yaml import MAX_DEPTH, load_yaml
from ses_pool_enforcer.iac.declared import IacError, Position, Scan, Unresolved
from ses_pool_enforcer.iac.declared import Path as KeyPath
from ses_pool_enforcer.iac.json_positions import json_positions

BOM = "\ufeff"


MAX_NESTING = 5
"""Levels of nested stacks followed."""
INHERITED = frozenset({"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::URLSuffix"})
"""Pseudo parameters a nested stack shares with its parent (not its name or id)."""


def scan_path(path: str, parameters: Mapping[str, str]) -> list[Scan]:
    """Everything ``path`` declares, nested stacks whose template is on this disk
    included; IacError names the file and what is wrong with it."""
    folder = Path(path)
    constructs: dict[str, dict[str, str]] = {}
    if folder.is_dir():
        try:
            files = cdk.templates(folder)
        except IacError as exc:
            raise IacError(f"{path}: {exc}") from exc
        for file in files:
            constructs.update(cdk.construct_paths(file.parent))
    else:
        files = [Path(path)]
    scans: list[Scan] = []
    seen: set[Path] = set()
    for file in files:
        if file.resolve() not in seen:
            scans += _with_nested(str(file), parameters, seen, 0)
    return [_with_constructs(scan, constructs.get(scan.source, {})) for scan in scans]


def _with_constructs(scan: Scan, constructs: Mapping[str, str]) -> Scan:
    """Each set's construct path, from the manifest when the template has none."""
    scan.sets[:] = [
        replace(s, construct=constructs[s.resource])
        if s.construct is None and s.resource in constructs
        else s
        for s in scan.sets
    ]
    return scan


def _with_nested(
    path: str, parameters: Mapping[str, str], seen: set[Path], depth: int
) -> list[Scan]:
    seen.add(Path(path).resolve())
    scan = scan_file(path, parameters)
    found = [scan]
    for stack in scan.nested:
        where = f"Resources.{stack.resource} (nested stack)"
        if isinstance(stack.location, Unresolved):
            scan.notes.append(f"{where}: not checked: {stack.location.reason}")
            continue
        nested = Path(path).parent / stack.location
        if nested.resolve() in seen:
            continue  # read already: a CDK assembly lists its nested templates
        if not nested.is_file():
            scan.notes.append(f"{where}: not checked: no file {nested}")
        elif depth >= MAX_NESTING:
            scan.notes.append(f"{where}: not checked: nested more than {MAX_NESTING} deep")
        else:
            inherited = {k: v for k, v in parameters.items() if k in INHERITED}
            found += _with_nested(str(nested), {**inherited, **stack.parameters}, seen, depth + 1)
    return found


def scan_file(path: str, parameters: Mapping[str, str]) -> Scan:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise IacError(f"{path}: not JSON or YAML: the file is not UTF-8 text") from exc
    try:
        data, positions = parse(text)
        if terraform.is_plan(data):
            return terraform.scan(path, data, positions)
        if cloudformation.is_template(data):
            kind = "CDK template" if _synthesized_by_cdk(data) else "CloudFormation template"
            return cloudformation.scan(path, data, positions, parameters, kind)
    except IacError as exc:
        raise IacError(f"{path}: {exc}") from exc
    raise IacError(
        f"{path}: neither a CloudFormation template (no Resources) nor a Terraform plan "
        "(no format_version): nothing to read"
    )


def parse(text: str) -> tuple[Any, dict[KeyPath, Position]]:
    """JSON, or else YAML with CloudFormation's tags; the data and each key's position.
    A file that starts with ``{`` and is not JSON is reported as JSON's error: YAML's
    would point elsewhere (JSON with a comment is not YAML either)."""
    text = text.removeprefix(BOM)  # json refuses it; YAML skips it
    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except DuplicateKey as exc:
        raise IacError(str(exc)) from exc
    except RecursionError as exc:
        raise IacError(f"refused: nested more than {MAX_DEPTH} levels deep") from exc
    except json.JSONDecodeError as exc:
        if not text.lstrip().startswith("{"):
            return load_yaml(text)
        try:
            return load_yaml(text)
        except IacError:
            raise IacError(f"not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except ValueError:  # e.g. an integer of more digits than Python converts
        return load_yaml(text)
    return data, json_positions(text, MAX_DEPTH)


def _synthesized_by_cdk(data: Mapping[str, Any]) -> bool:
    return "CheckBootstrapVersion" in (data.get("Rules") or {}) or any(
        "aws:cdk:path" in (resource.get("Metadata") or {})
        for resource in data["Resources"].values()
        if isinstance(resource, dict)
    )
