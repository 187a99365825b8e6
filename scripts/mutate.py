"""Mutation testing of one guarantee-bearing module with the tests that hold it
(cosmic-ray: each mutant is applied, its tests run, the file put back).

Usage: ``python scripts/mutate.py MODULE [--functions F,G] [--lines A-B,C-D] [--timeout
SECONDS] [--dry-run] [--session FILE]`` (``make mutate MODULE=owed``). With ``--session``,
a run stopped early (the order is random) is taken up where it stopped by running the
same command again, provided the module's source is unchanged: its tests may have grown.
The run happens in a scratch copy of the checkout (tracked and untracked files, as they
are now), so the checkout is never left mutated, even by a killed run. CPU heavy: one
module at a time. Prints the score, what was skipped and why, and each surviving mutant's
diff. What is scoped and skipped, and why: docs/design/work-queue.md ("Mutation
testing").
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "layers/enforcer/ses_pool_enforcer"
EXACTLY_ONCE = "tests/integration/test_exactly_once.py"
FENCE = "tests/integration/test_inventory_fence.py"
QUEUE = "tests/integration/test_work_queue.py"


@dataclass(frozen=True)
class Target:
    path: str  # under PACKAGE
    # The tests that hold the module's guarantees, fastest and most telling first (pytest
    # runs them in this order, and -x stops at the first failure): the tests that run
    # the mutated functions, measured per test with a line tracer.
    tests: tuple[str, ...]
    # The functions (or methods) mutated; empty: the whole module.
    functions: tuple[str, ...] = ()
    # Per mutant, seconds: well above the tests' own time (a mutant that loops is killed).
    timeout: float = 120.0


MODULES = {
    "work": Target("work.py", ("tests/unit/test_work.py",)),
    "owed": Target(
        "owed.py",
        (
            "tests/unit/test_owed_windows.py",  # (no local AWS: a second, for the windows)
            "tests/integration/test_owed.py",
            FENCE,
            f"{EXACTLY_ONCE}::test_a_violation_sns_and_the_fallback_queue_refused_is_alerted_once_on_the_retry",
            f"{EXACTLY_ONCE}::test_sns_and_the_fallback_queue_failing_once_give_one_alert_on_the_retry",
            f"{EXACTLY_ONCE}::test_a_process_killed_right_after_the_write_owes_the_alert_and_the_retry_sends_it_once",
            f"{EXACTLY_ONCE}::test_a_process_killed_after_recording_the_move_sends_its_alert_on_the_retry",
            f"{EXACTLY_ONCE}::test_an_identity_whose_process_died_after_its_write_is_alerted_once",
            f"{EXACTLY_ONCE}::test_the_one_window_left_repeats_the_alert_under_the_same_id",
            f"{EXACTLY_ONCE}::test_a_violation_whose_process_died_after_recording_it_is_alerted_on_the_retry",
            f"{EXACTLY_ONCE}::test_a_failed_inventory_write_after_the_move_is_retried_into_one_alert",
            f"{QUEUE}::test_an_option_someone_set_while_the_enforcer_moved_the_set_is_put_back",
            "tests/integration/test_owed_corners.py",
        ),
    ),
    "budget": Target(
        "adapters/budget.py",
        (
            *(
                f"tests/integration/test_shared_budget.py::{test}"
                for test in (
                    "test_two_processes_share_one_budget",
                    "test_a_slot_after_the_deadline_is_refused_and_left_for_others",
                    "test_a_local_budget_keeps_only_its_own_process_to_the_budget",
                    "test_a_local_budget_refuses_a_slot_past_the_deadline",
                    "test_an_idle_budget_costs_one_write_per_call",
                    "test_the_deployment_uses_the_shared_budget_when_it_has_a_state_table",
                    "test_many_threads_reserving_at_once_never_share_a_slot",
                )
            ),
            f"{EXACTLY_ONCE}::test_a_budget_item_no_caller_could_have_left_does_not_stall_the_lane",
        ),
        # The slots: taken, spaced, refused past a deadline, prepaid with a claim (not the
        # Protocol, whose signatures never run, nor the exception's message).
        ("_PerThread", "LocalBudget", "SharedBudget"),
        timeout=60.0,
    ),
    "inventory": Target(
        "adapters/inventory.py",
        (FENCE, "tests/integration/test_owed.py", EXACTLY_ONCE, QUEUE),
        # The claim, the fence and what it guards (leases, intents, write windows, the
        # covering refusal). Left out: the item's encoding (Intent, LastWrite, Previous,
        # _Update: every path's test reads it back) and the reading side (rows, the sweep's
        # seen_by and remove_unseen, lanes).
        (
            "_refusal",
            "claim",
            "unclaim",
            "_fenced",
            "release",
            "begin_move",
            "finish_move",
            "clear_intent",
            "drop_intent",
        ),
        timeout=240.0,
    ),
    "event_path": Target(
        "event_path.py",
        (
            "tests/integration/test_event_path.py",
            QUEUE,
            # (not the kill matrix's SIGKILL tests: a child process and a server each, and
            # a batch of one message; what they test is the reconciler's and owed.py's)
            *(
                f"{EXACTLY_ONCE}::{test}"
                for test in (
                    "test_a_wake_up_sharing_a_batch_with_an_event_is_kept_for_its_time",
                    "test_a_message_delivered_again_is_looked_at_whatever_claim_came_after_it",
                    "test_a_look_whose_read_failed_covers_no_event",
                    "test_a_worker_that_lost_its_set_puts_its_work_back_instead_of_failing_it",
                    "test_each_look_judges_by_a_policy_no_older_than_the_cache_allows",
                    "test_a_persons_option_lost_under_a_write_is_put_back_though_another_look_covered_it",
                )
            ),
            # (a batch's member lanes: one unreachable, or its session refused, the others
            # carry on; a member's pool change looked at in its lane)
            *(
                f"tests/integration/test_member_lanes.py::{test}"
                for test in (
                    "test_a_member_whose_role_cannot_be_assumed_is_one_alert_and_the_others_carry_on",
                    "test_a_member_whose_role_is_deleted_under_a_warm_hub_is_one_alert_and_no_write",
                    "test_a_pool_deleted_in_a_member_fans_out_to_that_members_sets_only",
                )
            ),
            "tests/integration/test_faults.py::test_ssm_unreachable_stops_the_batch_at_its_first_set",
            # (`_read`'s fan-outs: a deleted set's identities, and none for a set that
            # still exists; a tenant's, an account's and an IP's changes; a sweep told
            # its view of the pools and tenants is stale)
            *(
                f"tests/integration/test_identities.py::{test}"
                for test in (
                    "test_deleting_a_set_alerts_each_identity_that_used_it_as_default",
                    "test_a_change_to_a_set_that_still_exists_looks_at_none_of_its_identities",
                )
            ),
            "tests/integration/test_account_and_tenant_events.py",
            "tests/integration/test_pools_and_tenants.py::test_an_ip_s_warm_up_re_judges_the_sets_waiting_for_that_pool",
            "tests/integration/test_pools_and_tenants.py::test_a_tenant_association_event_re_judges_its_set",
            "tests/integration/test_sweep_view.py::test_a_tenant_association_heard_during_a_sweep_makes_it_read_the_tenants_again",
            "tests/integration/test_sweep_view.py::test_a_set_change_heard_during_a_sweep_leaves_its_view_as_read",
            # (a member's alert names the account as people know it)
            "tests/integration/test_member_lanes.py::test_a_set_changed_in_a_member_account_is_enforced_there_and_nowhere_else",
        ),
        ("handle_batch", "_read", "_put_back"),
    ),
    "reconciler": Target(
        "reconciler.py",
        (
            EXACTLY_ONCE,
            QUEUE,
            FENCE,
            "tests/integration/test_owed_corners.py",
            # (an outcome's finding owed, paid, and a deleted set's closed: _conclude)
            *(
                f"tests/integration/test_security_hub.py::{test}"
                for test in (
                    "test_an_event_that_finds_a_violation_creates_one_failed_finding",
                    "test_a_set_moved_or_exempted_has_its_finding_passed_and_archived",
                    "test_a_set_a_person_puts_right_has_its_finding_passed_in_one_import",
                    "test_a_problem_that_changes_keeps_its_finding_and_its_creation_time",
                    "test_a_deleted_set_has_its_finding_closed_and_one_gone_unseen_is_closed_by_the_sweep",
                )
            ),
            "tests/integration/test_flapping.py",
        ),
        # Claims and covering, the read's slot, settlement, moves, outcomes and alerts.
        ("reconcile", "_claim", "_read_slot", "_judge", "_conclude", "_move", "_settle"),
        # (a survivor runs every test above: 95 to 115 s on a core of its own, more on
        # a shared one; 120 s timed survivors out, and a time-out counts as a kill)
        timeout=300.0,
    ),
}

# Mutants of these operators change nothing that runs, whatever the module (why:
# docs/design/work-queue.md). Regular expressions on cosmic-ray's operator names.
EXCLUDED_OPERATORS = (
    # An arithmetic operator made a bitwise or shift one: on the floats (times) and
    # strings these modules compute with, a TypeError wherever the line runs; a test of
    # coverage, not of the arithmetic, which the other replacements (+ - * / // % **) test.
    r"core/ReplaceBinaryOperator_(Add|Sub|Mul|Div|FloorDiv|Mod|Pow)_(RShift|LShift|BitOr|BitAnd|BitXor)$",
    # A comparison of values made one of identity (``a == b`` to ``a is b``): whether two
    # equal strings or numbers are one object is CPython's interning, not the code's logic.
    # (``is None`` made ``is not None`` stays.)
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot)$",
)


def _defined(tree: ast.Module, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """The line ranges of the classes and functions called ``names`` (any depth)."""
    found = [
        (node.lineno, node.end_lineno or node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.name in names
    ]
    missing = set(names) - {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    if missing:
        raise SystemExit(f"scripts/mutate.py names functions the module lacks: {sorted(missing)}")
    return found


def _operators_that_run(source: str) -> set[tuple[int, int]]:
    """Where each binary operator evaluated at run time starts (line, column): not
    those of annotations (never evaluated under ``from __future__ import annotations``),
    nor a ``*``/``**`` that unpacks or marks keyword-only arguments (no operator)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    annotations: set[int] = set()
    for node in ast.walk(tree):
        parts: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            parts.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            parts.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            parts.append(node.annotation)
        annotations.update(id(sub) for part in parts if part for sub in ast.walk(part))
    starts = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.BinOp) or id(node) in annotations:
            continue
        # the operator is the first token after the left operand (and its parentheses)
        row = node.left.end_lineno or 0
        text = lines[row - 1]
        column = len(text.encode()[: node.left.end_col_offset].decode())
        while column >= len(text) or text[column] in " \t\\)\n":
            column += 1
            if column >= len(text):
                row, column = row + 1, 0
                text = lines[row - 1]
        starts.add((row, column))
    return starts


def _skip_non_operators(db: WorkDB, source: str) -> int:
    """Mark skipped the binary-operator mutants of what is no operator at run time
    (cosmic-ray mutates every ``|``, ``*`` and ``**`` token its parser sees)."""
    runs = _operators_that_run(source)
    skipped = []
    for item in db.pending_work_items:
        for mutation in item.mutations:
            if not mutation.operator_name.startswith("core/ReplaceBinaryOperator"):
                continue
            if tuple(mutation.start_pos) not in runs:
                skipped.append(item.job_id)
    if skipped:
        db.set_multiple_results(
            skipped,
            WorkResult(output="not an operator at run time", worker_outcome=WorkerOutcome.SKIPPED),
        )
    return len(skipped)


def _scratch(tmp: Path) -> Path:
    """A copy of the checkout's files (tracked, and untracked but not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    copy = tmp / "src"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def _summary(db: WorkDB) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _, result in db.results:
        if result.worker_outcome == WorkerOutcome.SKIPPED:
            counts[f"skipped ({result.output or 'pragma: no mutate'})"] += 1
        elif result.output == "timeout":
            counts["timed out (killed)"] += 1
        elif result.test_outcome == TestOutcome.KILLED:
            counts["killed"] += 1
        elif result.test_outcome == TestOutcome.SURVIVED:
            counts["survived"] += 1
        else:
            counts[f"{result.worker_outcome} {result.test_outcome}"] += 1
    counts["pending"] = db.num_work_items - db.num_results
    return counts


def _fingerprint(source: str, args: argparse.Namespace) -> str:
    """What a session's mutants were drawn from: the module's text and the scope asked."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    return f"{args.module} {args.functions or ''} {args.lines or ''} {digest}\n"


def _scope(session: Path) -> Path:
    return session.with_name(session.name + ".scope")


def _resumable(session: Path, source: str, args: argparse.Namespace) -> bool:
    """Whether ``session`` holds a run of this very scope to go on with; a session of
    another scope, or of a module edited since (its mutants' positions would be wrong),
    is refused rather than overwritten."""
    if not session.exists():
        return False
    scope = _scope(session)
    if not scope.exists() or scope.read_text() != _fingerprint(source, args):
        raise SystemExit(
            f"{session} holds a run of another scope or of {args.module} as it was before an "
            "edit: delete it (and its .scope file) to start over"
        )
    print(f"going on with {session}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("module", choices=sorted(MODULES))
    parser.add_argument("--timeout", type=float, help="per mutant, seconds (default: the module's)")
    parser.add_argument("--dry-run", action="store_true", help="count the mutants; run none")
    parser.add_argument(
        "--functions", help="comma-separated: mutate only these (default: the module's list)"
    )
    parser.add_argument(
        "--lines",
        help="comma-separated line ranges (10-20,31-40): mutate only these, inside the functions",
    )
    parser.add_argument(
        "--session",
        type=Path,
        help="keep the session file here; if it exists, go on with its pending mutants",
    )
    args = parser.parse_args()
    target = MODULES[args.module]
    if args.functions:
        target = replace(target, functions=tuple(args.functions.split(",")))
    module = f"{PACKAGE}/{target.path}"
    source = (ROOT / module).read_text()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        copy = _scratch(Path(tmp))
        config = Path(tmp) / "cosmic-ray.toml"
        session = args.session.resolve() if args.session else Path(tmp) / "session.sqlite"
        resumed = _resumable(session, source, args)
        pytest = f"{bin_dir / 'pytest'} -x -q -p no:cacheprovider {' '.join(target.tests)}"
        lines = ""
        if target.functions or args.lines:
            ranges = (
                _defined(ast.parse(source), target.functions)
                if target.functions
                else [(1, len(source.splitlines()))]
            )
            if args.lines:  # (a part of a module too large to run in one go)
                wanted = [tuple(map(int, part.split("-"))) for part in args.lines.split(",")]
                ranges = [
                    (max(start, low), min(end, high))
                    for start, end in ranges
                    for low, high in wanted
                    if low <= end and high >= start
                ]
            lines = ", ".join(f'"{start}-{end}"' for start, end in sorted(ranges))
        config.write_text(
            "[cosmic-ray]\n"
            f'module-path = "{module}"\n'
            f"timeout = {args.timeout or target.timeout}\n"
            "excluded-modules = []\n"
            f'test-command = "{pytest}"\n'
            "[cosmic-ray.distributor]\n"
            'name = "local"\n'
            "[cosmic-ray.filters.operators-filter]\n"
            f"exclude-operators = {list(EXCLUDED_OPERATORS)!r}\n"
            "[cosmic-ray.filters.line-filter.lines]\n"
            f'"{module}" = [{lines}]\n'
        )
        # The package the tests import is the scratch copy's (ahead of the editable install).
        env = {**os.environ, "PYTHONPATH": f"{copy / 'layers/enforcer'}{os.pathsep}{copy}"}

        def tool(*command: str) -> None:
            subprocess.run([bin_dir / command[0], *command[1:]], cwd=copy, env=env, check=True)  # noqa: S603 (our own venv's tools)

        if not resumed:
            tool("cosmic-ray", "init", str(config), str(session))
            with use_db(str(session)) as db:
                _skip_non_operators(db, source)
            if lines:
                tool("cr-filter-lines", str(session), "--config", str(config))
            tool("cr-filter-operators", str(session), str(config))
            tool("cr-filter-pragma", str(session))
            _scope(session).write_text(_fingerprint(source, args))
        if not args.dry_run:
            tool("cosmic-ray", "exec", str(config), str(session))
            tool("cr-report", "--surviving-only", "--show-diff", str(session))
        with use_db(str(session)) as db:
            counts = _summary(db)
    total = sum(counts.values())
    ran = total - sum(n for what, n in counts.items() if what.startswith("skipped"))
    print(f"{args.module}: {total} mutants, {ran} to run")
    for what, n in sorted(counts.items()):
        print(f"  {what}: {n}")
    killed = counts["killed"] + counts["timed out (killed)"]
    if not args.dry_run and ran:
        print(f"  score: {killed}/{ran} = {100 * killed / ran:.1f}% killed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
