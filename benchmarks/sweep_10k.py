"""A full sweep of 10,000 configuration sets against local AWS, at a simulated SES limit.

Two processes, as in AWS: this one is "AWS" (moto's server with the SES v2 extension,
seeded with 10,000 compliant sets; SES throttles the account at ``--rate`` calls per
second, answering HTTP 429 beyond it); a child process is "Lambda and Step Functions":
it runs ``statemachine/sweep.asl.json`` through the local ASL runner, which invokes the
real sweep function (start, step ... step, finish) in process, over HTTP to local AWS.
The sweep's budget (SES_CALLS_PER_SECOND) is the same rate: the deployed 1 call/s
scaled up so that the run takes minutes, not hours; steps are scaled alike (600 s at
1/s is 600 sets a step: ``600 / rate`` seconds here). The child's memory is the
function's alone, moto's store being in this process.

Prints: the SES call rate achieved as a fraction of the budget (target >= 0.95), SES
calls per compliant set (target <= 1.01), throttling errors not recovered (target 0),
peak memory of the function's process (peak RSS; tracemalloc with --tracemalloc, which
slows the run), wall time.

The rate is limited by what local AWS adds to each set: over local HTTP a set costs
about 6 ms besides its SES call (moto's DynamoDB write, connections), against 1 s per
call in AWS; at 50 calls/s that leaves the sweep budget-bound, as it is in AWS, where at
100/s it would become bound by local AWS instead (the budget's idle share says which).

Usage: python -m benchmarks.sweep_10k [--sets 10000] [--rate 50] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from local_aws import call_counts, seed, set_throttle, throttle_stats
from local_aws.server import start_local_aws
from local_aws.stack import provision
from local_aws.stepfunctions import HISTORY_LIMIT

POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["set-*"]}
    pool: marketing
"""
MB = 1024 * 1024
REAL_STEP_SECONDS = 600  # Settings.sweep_step_seconds at the deployed 1 call/s
WORKER_FLAG = "--worker"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sets", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="SES calls/s: limit and budget")
    parser.add_argument(
        "--burst", type=float, default=None, help="SES token bucket size (default: rate / 20)"
    )
    parser.add_argument("--tracemalloc", action="store_true", help="trace the function's memory")
    parser.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


# --------------------------------------------------------------------------- the function


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process's own address
    space; ru_maxrss would also count the parent's, copied before the exec."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(trace: bool) -> None:
    """Run one sweep execution as Step Functions and Lambda would; print a JSON result."""
    from functions.sweep import app
    from local_aws.replay import LambdaContext
    from local_aws.stepfunctions import sweep_state_machine
    from ses_pool_enforcer.observability import logger
    from ses_pool_enforcer.runtime import get_runtime

    # The function logs a JSON line per set: keep the cost, drop the text.
    logger.registered_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115, PTH123
    step_times: list[float] = []

    def invoke(payload: dict[str, Any]) -> Any:
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # metrics (EMF) go to stdout
            result = app.handler(payload, LambdaContext(remaining_ms=900_000))
        if payload["action"] == "step":
            step_times.append(time.perf_counter() - began)
        return result

    machine = sweep_state_machine(invoke)
    rss_before = peak_rss_mb()
    if trace:
        tracemalloc.start()
    began = time.perf_counter()
    execution = machine.run({"trigger": "manual"})
    wall = time.perf_counter() - began
    traced = tracemalloc.get_traced_memory()[1] / MB if trace else None
    budget = get_runtime().ses.budget
    tasks = [s for s in execution.states if machine.definition["States"][s]["Type"] == "Task"]
    print(
        json.dumps(
            {
                "status": execution.status,
                "error": execution.error,
                "cause": execution.cause,
                "output": execution.output,
                "wall": wall,
                "step_times": step_times,
                "failed_attempts": execution.task_attempts - len(tasks),
                "transitions": len(execution.states),
                "history_events": execution.history_events,
                "rss_before_mb": rss_before,
                "rss_peak_mb": peak_rss_mb(),
                "tracemalloc_peak_mb": traced,
                "budget_waited": budget.waited if budget is not None else 0.0,
            }
        )
    )


# --------------------------------------------------------------------------- local AWS


def _seed(sets: int) -> None:
    seed.create_pool("marketing")
    seed.put_policy(POLICY)
    ses = seed.sesv2()
    for i in range(sets):
        ses.create_configuration_set(
            ConfigurationSetName=f"set-{i:05d}",
            DeliveryOptions={"SendingPoolName": "marketing", "TlsPolicy": "REQUIRE"},
        )


def main() -> None:
    args = _arguments()
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        POWERTOOLS_TRACE_DISABLED="1",
    )
    if args.worker:
        worker(args.tracemalloc)
        return
    step_seconds = max(1, round(REAL_STEP_SECONDS / args.rate))
    burst = args.burst if args.burst is not None else max(2.0, args.rate / 20)

    with start_local_aws() as aws:
        os.environ["AWS_ENDPOINT_URL"] = aws.endpoint_url
        stack = provision()
        print(f"seeding {args.sets:,} compliant sets ...", file=sys.stderr, flush=True)
        _seed(args.sets)
        environment = {
            **os.environ,
            **stack.environment(),
            "SES_CALLS_PER_SECOND": f"{args.rate:g}",
            "SWEEP_STEP_SECONDS": str(step_seconds),
        }
        counts_before, stats_before = call_counts(), throttle_stats()
        set_throttle(args.rate, burst)
        print(
            f"sweeping at {args.rate:g} SES calls/s (burst {burst:g}), {step_seconds} s steps ...",
            file=sys.stderr,
            flush=True,
        )
        command = [sys.executable, "-m", "benchmarks.sweep_10k", WORKER_FLAG]
        if args.tracemalloc:
            command.append("--tracemalloc")
        began = time.perf_counter()
        child = subprocess.run(command, env=environment, capture_output=True, text=True)
        elapsed = time.perf_counter() - began
        set_throttle(None)
        if child.returncode != 0:
            sys.exit(f"the sweep process failed:\n{child.stderr[-4000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        counts_after, stats_after = call_counts(), throttle_stats()

    calls = {
        op: n - counts_before.get(op, 0)
        for op, n in counts_after.items()
        if n != counts_before.get(op, 0)
    }
    total = sum(calls.values())
    throttled = stats_after.throttled - stats_before.throttled
    output = result["output"] or {}
    report = output.get("report") or {}
    compliant = (report.get("counts") or {}).get("compliant", 0)
    step_time = sum(result["step_times"])
    steps_at_1_per_s = -(-args.sets // REAL_STEP_SECONDS)

    print(f"\nSweep of {args.sets:,} sets; SES limit and sweep budget {args.rate:g} calls/s")
    print(f"  execution                   {result['status']} {result['error'] or ''}")
    print(f"  sets compliant (report)     {compliant:,} of {report.get('total', 0):,}")
    print(f"  SES calls                   {total:,} {dict(sorted(calls.items()))}")
    print(
        f"  achieved SES call rate      {total / step_time:.1f}/s while stepping = "
        f"{total / step_time / args.rate:.3f} of the budget (target >= 0.95); "
        f"{total / result['wall'] / args.rate:.3f} over the whole execution"
    )
    print(
        f"  budget idle                 {result['budget_waited'] / step_time:.1%} of the step time "
        "(waiting for the budget: the sweep is budget-bound, not work-bound)"
    )
    print(f"  SES calls per compliant set {total / max(compliant, 1):.4f} (target <= 1.01)")
    print(f"  throttled answers (429)     {throttled} (the SDK retries them)")
    print(
        f"  throttling not recovered    {result['failed_attempts']} failed invocations, "
        f"{args.sets - compliant} sets not compliant (target 0)"
    )
    print(
        f"  peak memory (peak RSS)      {result['rss_peak_mb']:.1f} MB, the function's process "
        f"({result['rss_before_mb']:.1f} MB once imported) (target < 128 MB)"
    )
    if result["tracemalloc_peak_mb"] is not None:
        print(
            f"  peak memory (tracemalloc)   {result['tracemalloc_peak_mb']:.1f} MB during the run"
        )
    print(
        f"  wall time                   {result['wall']:.1f} s for the execution "
        f"({len(result['step_times'])} steps, {step_time:.1f} s), {elapsed:.1f} s with start-up"
    )
    print(
        f"  state machine               {result['transitions']} transitions, "
        f"~{result['history_events']} history events (Standard limit {HISTORY_LIMIT:,}); "
        f"at 1 call/s: {steps_at_1_per_s} steps of {REAL_STEP_SECONDS} s, ~{total / 3600:.1f} h"
    )
    print(f"  report                      {output.get('report_uri')}")


if __name__ == "__main__":
    main()
