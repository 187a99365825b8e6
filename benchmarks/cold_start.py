"""Cold start of the event function: importing the handler and building its first client,
against the floor any boto3 Lambda pays (``import boto3`` and one ``sesv2`` client).

Each sample is a fresh interpreter; the figure is the median of N runs. Prints a table.
Usage: python -m benchmarks.cold_start [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOOR = """
import time, resource, json
t0 = time.perf_counter()
import boto3
t1 = time.perf_counter()
boto3.session.Session().client("sesv2")
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "client": t2 - t1,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# What any function built on the same libraries pays before its own code: boto3, pydantic
# (one model), the Powertools Logger and Metrics, and the clients the event function makes
# on its first event (SES, DynamoDB, SSM).
LIBRARIES = """
import time, resource, json
t0 = time.perf_counter()
import boto3
from pydantic import BaseModel
from aws_lambda_powertools import Logger, Metrics
class Settings(BaseModel):
    name: str = "x"
Logger(service="x"); Metrics(namespace="x", service="x"); Settings()
t1 = time.perf_counter()
session = boto3.session.Session()
for service in ("sesv2", "dynamodb", "ssm"):
    session.client(service)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "client": t2 - t1,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

HANDLER = """
import time, resource, json
t0 = time.perf_counter()
from functions.on_event import app
t1 = time.perf_counter()
from ses_pool_enforcer.runtime import get_runtime
from ses_pool_enforcer.adapters.aws import client
get_runtime()  # the first invocation's set-up: settings, budget, SES and DynamoDB clients
client("ssm")  # and the policy's first read
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "client": t2 - t1,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def sample(code: str) -> dict[str, float]:
    env = dict(
        os.environ,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        PYTHONDONTWRITEBYTECODE="0",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for code in (FLOOR, LIBRARIES, HANDLER):
        sample(code)  # warm the bytecode caches, as a deployed package has them
    rows = []
    for label, code in (
        ("floor: import boto3 + sesv2 client", FLOOR),
        ("libraries: + pydantic, Logger, 3 clients", LIBRARIES),
        ("event function", HANDLER),
    ):
        runs = [sample(code) for _ in range(args.runs)]
        imp = statistics.median(r["import"] for r in runs) * 1000
        cli = statistics.median(r["client"] for r in runs) * 1000
        rss = statistics.median(r["rss_mb"] for r in runs)
        rows.append((label, imp, cli, imp + cli, rss))
    print(f"cold start, median of {args.runs} fresh interpreters (Python {sys.version.split()[0]})")
    print(f"{'':38} {'import ms':>10} {'client ms':>10} {'total ms':>10} {'peak RSS MB':>12}")
    for label, imp, cli, total, rss in rows:
        print(f"{label:38} {imp:10.1f} {cli:10.1f} {total:10.1f} {rss:12.1f}")
    floor, libraries, ours = rows[0][3], rows[1][3], rows[2][3]
    print(f"libraries over the floor: +{libraries - floor:.1f} ms ({libraries / floor:.2f}x)")
    print(f"event function over the floor: +{ours - floor:.1f} ms ({ours / floor:.2f}x)")
    print(f"event function over the libraries: +{ours - libraries:.1f} ms (the project's own code)")


if __name__ == "__main__":
    main()
