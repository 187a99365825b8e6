"""What the sweep benchmarks share: the policy their generated sets (``set-00000``, ...)
are judged by, and the environment a process needs to talk to local AWS."""

from __future__ import annotations

import os
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"

SETS_POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["set-*"]}
    pool: marketing
"""


def local_credentials(region: str = "us-east-1", **extra: str) -> None:
    """This process's environment for local AWS (any credentials do), plus ``extra``."""
    os.environ.update(
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        **extra,
    )


def memory_size(function: str) -> int:
    """``function``'s MemorySize in ``template.yaml`` (its own, else the Globals'), in MB:
    what a benchmark's peak memory is measured against."""
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(TEMPLATE))
    own = template["Resources"][function]["Properties"].get("MemorySize")
    size = own if own is not None else template["Globals"]["Function"].get("MemorySize", 128)
    return int(size)
