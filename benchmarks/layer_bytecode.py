"""What the layer's bytecode saves each cold start in Lambda.

Lambda mounts a layer read-only (under /opt), so Python cannot write the bytecode it
compiles: a layer shipped without ``__pycache__`` is compiled again, in memory, by every
new execution environment. ``make bench`` cannot see it (its processes reuse the bytecode
the checkout's imports wrote). This measures the layer ``sam build`` made, both ways: a
fresh Python 3.13 process run with ``-B`` (nothing written, as on a read-only /opt)
imports the event function's handler and builds the SES and DynamoDB clients,

* from the layer as built (``layers/enforcer/Makefile`` ships its bytecode), and
* from a copy of it without any ``__pycache__`` (what a build without bytecode ships).

Median of ``--runs`` processes each, interleaved; seconds and CPU seconds.

Usage: ``make build`` first, then ``python -m benchmarks.layer_bytecode [--runs 7]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"

CHILD = """
import time
wall, cpu = time.perf_counter(), time.process_time()
import app
import boto3
boto3.client("sesv2", region_name="us-east-1")
boto3.client("dynamodb", region_name="us-east-1")
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def _sample(python: str, layer: Path) -> tuple[float, float]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))},
        "PYTHONPATH": f"{layer}{os.pathsep}{BUILD / 'EventFunction'}",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    out = subprocess.run(
        [python, "-B", "-c", CHILD], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def _bytecode_files(layer: Path) -> int:
    return sum(1 for _ in layer.rglob("*.pyc"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=shutil.which("python3.13"), help="Python 3.13")
    args = parser.parse_args()
    layer = BUILD / "EnforcerLayer" / "python"
    if not layer.is_dir() or not (BUILD / "EventFunction" / "app.py").is_file():
        sys.exit(f"no built layer at {layer}: run make build first")
    if not args.python:
        sys.exit("no python3.13 on PATH (with pyenv: PYENV_VERSION=3.11.7:3.13.0)")
    if _bytecode_files(layer) == 0:
        sys.exit(f"{layer} holds no bytecode: was it built by layers/enforcer/Makefile?")
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "python"
        shutil.copytree(layer, bare, ignore=shutil.ignore_patterns("__pycache__"))
        runs: dict[str, list[tuple[float, float]]] = {"with bytecode": [], "without": []}
        _sample(args.python, layer)  # the file cache warmed for both alike
        _sample(args.python, bare)
        for _ in range(args.runs):
            runs["with bytecode"].append(_sample(args.python, layer))
            runs["without"].append(_sample(args.python, bare))
    print(f"layer {layer.relative_to(ROOT)}: {_bytecode_files(layer)} bytecode files")
    print(f"import the event handler and two clients, median of {args.runs} fresh processes:")
    medians = {}
    for label, samples in runs.items():
        wall = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[1] for s in samples)
        medians[label] = wall
        print(f"  {label:14} {wall:.3f} s  ({cpu:.3f} CPU s)")
    saved = medians["without"] - medians["with bytecode"]
    print(f"  the bytecode saves {saved:.3f} s of every cold start (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
