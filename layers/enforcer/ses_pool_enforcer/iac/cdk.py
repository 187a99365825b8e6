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
    for artifact in artifacts.values():
        properties = artifact.get("properties") or {}
        if artifact.get("type") == STACK and "templateFile" in properties:
            found.append(folder / properties["templateFile"])
        elif artifact.get("type") == NESTED_ASSEMBLY and "directoryName" in properties:
            found += templates(folder / properties["directoryName"])
    found += sorted(folder.glob("*.nested.template.json"))
    return found
