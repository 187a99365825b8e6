"""A CDK cloud assembly (``cdk.out``): the templates ``cdk synth`` wrote."""

from __future__ import annotations

import json
from pathlib import Path

from ses_pool_enforcer.iac.declared import IacError

STACK = "aws:cloudformation:stack"
NESTED_ASSEMBLY = "cdk:cloud-assembly"  # a Stage: an assembly in a folder of its own


def templates(folder: Path) -> list[Path]:
    """The stack templates the manifest names (nested assemblies followed, nested
    stacks' templates included), or without a manifest every ``*.template.json``."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        found = sorted(folder.glob("*.template.json"))
        if not found:
            raise IacError(
                "no manifest.json and no *.template.json in this folder: nothing to read"
            )
        return found
    try:
        artifacts = json.loads(manifest.read_text(encoding="utf-8")).get("artifacts") or {}
    except (ValueError, AttributeError) as exc:
        raise IacError(f"{manifest} is not a CDK manifest: {exc}") from exc
    found = []
    for name, artifact in artifacts.items():
        properties = artifact.get("properties") or {}
        if artifact.get("type") == STACK and "templateFile" in properties:
            template = folder / properties["templateFile"]
            if not template.is_file():
                raise IacError(
                    f"{manifest} names {properties['templateFile']} as stack {name}'s "
                    "template, and the folder has no such file: run cdk synth again"
                )
            found.append(template)
        elif artifact.get("type") == NESTED_ASSEMBLY and "directoryName" in properties:
            found += templates(folder / properties["directoryName"])
    found += sorted(folder.glob("*.nested.template.json"))
    return found


def construct_paths(folder: Path) -> dict[str, dict[str, str]]:
    """For each stack template of the assembly (by file name), its resources' construct
    paths from the manifest's metadata (``aws:cdk:logicalId``): what a template written
    without ``aws:cdk:path`` metadata still tells through its manifest."""
    manifest = folder / "manifest.json"
    try:
        artifacts = json.loads(manifest.read_text(encoding="utf-8")).get("artifacts") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    found: dict[str, dict[str, str]] = {}
    for artifact in artifacts.values():
        properties = artifact.get("properties") or {}
        if artifact.get("type") != STACK or "templateFile" not in properties:
            continue
        paths = found.setdefault(str(folder / properties["templateFile"]), {})
        for path, entries in (artifact.get("metadata") or {}).items():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and entry.get("type") == "aws:cdk:logicalId":
                    paths[str(entry.get("data"))] = str(path).lstrip("/").removesuffix("/Resource")
    return found
