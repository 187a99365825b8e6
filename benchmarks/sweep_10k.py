"""A full sweep of 10,000 configuration sets against local AWS, at a simulated SES limit.

Two processes, as in AWS: this one is "AWS" (moto's server with the local_aws
extensions, seeded with 10,000 compliant sets; SES throttles the account at ``--rate``
calls per second, answering HTTP 429 beyond it), and Step Functions: moto's engine runs
``statemachine/sweep.asl.json``, started through StartExecution. A child process is
"Lambda": the sweep function's warm process, which each Lambda task of the execution
invokes (start, step ... step, finish), calling local AWS over HTTP.
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

With ``--tenants T``, the policy asks its pool's health (``pool_health``) and matches
sets by tenant: the sets are spread over T tenants, and the figures say what reading
the pool's state and the tenants cost on top of the sets' own calls (once a sweep:
docs/design/sweep-view.md).

Usage: python -m benchmarks.sweep_10k [--sets 10000] [--rate 50] [--tenants T] [--tracemalloc]
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
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks.local import SETS_POLICY, local_credentials, memory_size
from local_aws import call_counts, seed, set_throttle, sfn, throttle_stats
from local_aws.server import start_local_aws
from local_aws.sfn import HISTORY_LIMIT
from local_aws.stack import provision

MB = 1024 * 1024
RATE_TARGET = 0.95  # of the budget: a sweep this fast is bound by the budget
IDLE_NEGLIGIBLE = 0.05  # of the step time waiting for slots: hardly any
POOL_AND_TENANT_CALLS = (
    "GetDedicatedIps",
    "ListTenants",
    "ListTenantResources",
    "ListResourceTenants",
    "GetTenant",
)
REAL_STEP_SECONDS = 600  # Settings.sweep_step_seconds at the deployed 1 call/s
WORKER_FLAG = "--worker"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sets", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="SES calls/s: limit and budget")
    parser.add_argument(
        "--burst", type=float, default=None, help="SES token bucket size (default: rate / 20)"
    )
    parser.add_argument(
        "--tenants", type=int, default=0, help="spread the sets over this many tenants"
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
    """The sweep function's warm process: one invocation per line of standard input (the
    event), one answer per line of standard output (its result, or its error's type and
    message); at the end of the input, a line of figures about this process."""
    from functions.sweep import app
    from local_aws.replay import LambdaContext
    from ses_pool_enforcer.observability import logger
    from ses_pool_enforcer.runtime import get_runtime

    # The function logs a JSON line per set: keep the cost, drop the text.
    logger.registered_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115, PTH123
    answers = sys.stdout
    rss_before = peak_rss_mb()
    if trace:
        tracemalloc.start()
    for line in sys.stdin:
        event = json.loads(line)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # metrics (EMF) go to stdout
                answer = {"result": app.handler(event, LambdaContext(remaining_ms=900_000))}
        except Exception as exc:  # a function error: Step Functions decides what follows
            answer = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    budget = get_runtime().ses.budget
    figures = {
        "rss_before_mb": rss_before,
        "rss_peak_mb": peak_rss_mb(),
        "tracemalloc_peak_mb": tracemalloc.get_traced_memory()[1] / MB if trace else None,
        "budget_waited": budget.waited if budget is not None else 0.0,
    }
    answers.write(json.dumps(figures) + "\n")


class FunctionProcess:
    """The sweep function as Lambda runs it: a warm process of its own (``worker``), which
    the state machine's Lambda tasks invoke one at a time."""

    def __init__(self, command: list[str], environment: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            command, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._lock = threading.Lock()
        self.step_times: list[float] = []

    def __call__(self, event: dict[str, Any], _context: Any) -> Any:
        from local_aws.sfn import FunctionError

        process = self._process
        assert process.stdin is not None and process.stdout is not None
        with self._lock:
            began = time.perf_counter()
            process.stdin.write(json.dumps(event) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
            if event.get("action") == "step":
                self.step_times.append(time.perf_counter() - began)
        if not line:
            raise FunctionError("Runtime.ExitError", "the function's process ended")
        answer = json.loads(line)
        if "errorType" in answer:
            raise FunctionError(answer["errorType"], answer["errorMessage"])
        return answer["result"]

    def close(self) -> dict[str, Any]:
        """End the process; its figures."""
        stdout, _ = self._process.communicate(timeout=60)
        if self._process.returncode != 0:
            sys.exit(f"the function's process failed (exit {self._process.returncode})")
        figures: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return figures


def bound_by(rate_share: float, idle: float) -> str:
    """What bound the sweep, from the SES call rate it achieved (a share of the budget)
    and the share of its time it spent waiting for a budget slot."""
    if rate_share >= RATE_TARGET:
        return "bound by the budget (its calls came as fast as the budget allows)"
    if idle < IDLE_NEGLIGIBLE:
        return (
            f"bound by the work, not the budget (it hardly waited for a slot and made "
            f"{rate_share:.0%} of the budget's calls: each set's work outlasts 1/rate)"
        )
    return (
        f"bound by neither alone (it waited for slots and still made only {rate_share:.0%} "
        "of the budget's calls: slots taken by others, or retries)"
    )


# --------------------------------------------------------------------------- local AWS


def _seed(sets: int, tenants: int) -> None:
    seed.create_pool("marketing")
    seed.put_policy(TENANTS_POLICY if tenants else SETS_POLICY)
    ses = seed.sesv2()
    for i in range(sets):
        ses.create_configuration_set(
            ConfigurationSetName=f"set-{i:05d}",
            DeliveryOptions={"SendingPoolName": "marketing", "TlsPolicy": "REQUIRE"},
        )
    if not tenants:
        return
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="marketing")
    for t in range(tenants):
        ses.create_tenant(TenantName=f"tenant-{t:04d}")
    for i in range(sets):
        ses.create_tenant_resource_association(
            TenantName=f"tenant-{i % tenants:04d}",
            ResourceArn=f"arn:aws:ses:us-east-1:123456789012:configuration-set/set-{i:05d}",
        )


# Every set of a tenant, on a pool that must have an IP: the pool's state and the tenants
# are read, and every set is still compliant (one SES call each).
TENANTS_POLICY = """
version: 1
mode: enforce
rules:
  - id: tenants
    match: {names: ["set-*"], tenants: ["tenant-*"]}
    pool: marketing
    pool_health: {min_ips: 1, min_warmup_percent: 90}
"""


def main() -> None:
    args = _arguments()
    local_credentials(POWERTOOLS_TRACE_DISABLED="1")
    if args.worker:
        worker(args.tracemalloc)
        return
    step_seconds = max(1, round(REAL_STEP_SECONDS / args.rate))
    burst = args.burst if args.burst is not None else max(2.0, args.rate / 20)

    with start_local_aws() as aws:
        os.environ["AWS_ENDPOINT_URL"] = aws.endpoint_url
        stack = provision()
        print(f"seeding {args.sets:,} compliant sets ...", file=sys.stderr, flush=True)
        _seed(args.sets, args.tenants)
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
        function = FunctionProcess(command, environment)
        began = time.perf_counter()
        execution = sfn.run_sweep(function, {"trigger": "manual"}, timeout=24 * 3600.0)
        wall = time.perf_counter() - began
        set_throttle(None)
        figures = function.close()
        counts_after, stats_after = call_counts(), throttle_stats()
        if execution.status != "SUCCEEDED":
            print(f"the execution {execution.status}: {execution.error} {execution.cause}")
        # The history of a Standard workflow holds at most 25,000 events.
        history_events = len(execution.history)
        failed_attempts = sum(1 for e in execution.history if e["type"] == "TaskFailed")
        transitions = len(execution.states)

    calls = {
        op: n - counts_before.get(op, 0)
        for op, n in counts_after.items()
        if n != counts_before.get(op, 0)
    }
    total = sum(calls.values())
    throttled = stats_after.throttled - stats_before.throttled
    output = execution.output or {}
    report = output.get("report") or {}
    compliant = (report.get("counts") or {}).get("compliant", 0)
    step_time = sum(function.step_times)
    steps_at_1_per_s = -(-args.sets // REAL_STEP_SECONDS)

    print(f"\nSweep of {args.sets:,} sets; SES limit and sweep budget {args.rate:g} calls/s")
    print(f"  execution                   {execution.status} {execution.error or ''}")
    print(f"  sets compliant (report)     {compliant:,} of {report.get('total', 0):,}")
    print(f"  SES calls                   {total:,} {dict(sorted(calls.items()))}")
    print(
        f"  achieved SES call rate      {total / step_time:.1f}/s while stepping = "
        f"{total / step_time / args.rate:.3f} of the budget (target >= {RATE_TARGET}); "
        f"{total / wall / args.rate:.3f} over the whole execution"
    )
    idle = figures["budget_waited"] / step_time
    print(
        f"  idle, waiting for the budget {idle:.1%} of the step time: "
        f"{bound_by(total / step_time / args.rate, idle)}"
    )
    print(f"  SES calls per compliant set {total / max(compliant, 1):.4f} (target <= 1.01)")
    if args.tenants:
        extra = sum(calls.get(op, 0) for op in POOL_AND_TENANT_CALLS)
        steps = len(function.step_times)
        target = 1 + 1 + args.tenants  # GetDedicatedIps, ListTenants, ListTenantResources
        print(
            f"  pool state and tenant calls {extra} for the sweep of {steps} steps, for 1 pool "
            f"and {args.tenants} tenants (target: {target} = 1 per pool and 1 per tenant, "
            "+1 ListTenants, once a sweep; 0 per step, 0 per set)"
        )
    print(f"  throttled answers (429)     {throttled} (the SDK retries them)")
    print(
        f"  throttling not recovered    {failed_attempts} failed invocations, "
        f"{args.sets - compliant} sets not compliant (target 0)"
    )
    memory = memory_size("SweepFunction")
    print(
        f"  peak memory (peak RSS)      {figures['rss_peak_mb']:.1f} MB, the function's process "
        f"({figures['rss_before_mb']:.1f} MB once imported): "
        f"{figures['rss_peak_mb'] / memory:.0%} of its MemorySize {memory} MB (template.yaml)"
    )
    if figures["tracemalloc_peak_mb"] is not None:
        print(
            f"  peak memory (tracemalloc)   {figures['tracemalloc_peak_mb']:.1f} MB during the run"
        )
    print(
        f"  wall time                   {wall:.1f} s for the execution "
        f"({len(function.step_times)} steps, {step_time:.1f} s)"
    )
    print(
        f"  state machine               {transitions} transitions, "
        f"{history_events} history events (GetExecutionHistory; Standard limit "
        f"{HISTORY_LIMIT:,}); "
        f"at 1 call/s: {steps_at_1_per_s} steps of {REAL_STEP_SECONDS} s, ~{total / 3600:.1f} h"
    )
    print(f"  report                      {output.get('report_uri')}")


if __name__ == "__main__":
    main()
