"""``test CASES``: run a policy's test cases (``ses_pool_enforcer.policy_cases``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ses_pool_enforcer.cli.common import (
    EXIT_CHANGES,
    EXIT_OK,
    CliError,
    read_text,
    utc_today,
)
from ses_pool_enforcer.policy import Policy, PolicyError, parse_policy
from ses_pool_enforcer.policy_cases import CaseResult, CasesError, CasesFile, parse_cases, run_case

DESCRIPTION = """\
Test a policy against cases: each case gives a configuration set (name, tags, its pool
now) and what the policy must decide for it (outcome, and optionally the rule and the
required pool). Each case is decided by the enforcer's own evaluate and printed PASS or
FAIL with the difference. The policy is --policy FILE, or the file the cases name
('policy:', relative to the cases file). An outcome of 'error' expects the policy not to
decide the set (a rule scoped by an account, region or OU the case does not give).

It runs offline: no AWS call and no credentials, so it fits a pre-commit hook or CI. It
does not check that the pools exist; 'validate --live' and 'plan' do.

Exit status: 0 every case passes, 2 a case fails, 1 error (an invalid cases file or
policy)."""

EPILOG = """\
examples:
  ses-pool-enforcer test examples/policy.tests.yaml
  ses-pool-enforcer test policy.tests.yaml --policy draft.yaml

a cases file:
  policy: policy.yaml
  cases:
    - name: receipts are only reported
      set: {name: tx-password-reset, pool: marketing}
      expect: {outcome: violation, rule: receipts, pool: transactional}
    - set: {name: legacy-billing, pool: marketing}
      date: 2028-01-01               # judge as of this day: the exemption has expired
      expect: {outcome: violation, rule: default}"""


def add_parser(commands: Any, parents: list[argparse.ArgumentParser], default_rate: float) -> None:
    parser = commands.add_parser(
        "test",
        parents=parents,
        help="run a policy's test cases offline: PASS or FAIL per case (exit 2 if any fails)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("cases", metavar="CASES", help="the cases file, YAML or JSON")
    parser.add_argument(
        "--policy", metavar="FILE", help="the policy document (default: the cases file's)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        cases = parse_cases(read_text(args.cases))
    except CasesError as exc:
        raise CliError(f"{args.cases}: {exc}") from exc
    policy = _policy(args, cases)
    today = utc_today()
    results = [run_case(policy, case, i, today) for i, case in enumerate(cases.cases)]
    for result in results:
        print(_line(result))
    failed = sum(not r.passed for r in results)
    noun = "case" if len(results) == 1 else "cases"
    print(f"\n{len(results)} {noun}: {len(results) - failed} passed, {failed} failed.")
    return EXIT_CHANGES if failed else EXIT_OK


def _policy(args: argparse.Namespace, cases: CasesFile) -> Policy:
    if args.policy is not None:
        path = args.policy
    elif cases.policy is not None:
        path = str(Path(args.cases).parent / cases.policy)
    else:
        raise CliError(
            f"{args.cases}: no policy to test: pass --policy FILE or name it in the cases file "
            "(policy: policy.yaml)"
        )
    try:
        return parse_policy(read_text(path))
    except PolicyError as exc:
        raise CliError(f"{path}: {exc}") from exc


def _line(result: CaseResult) -> str:
    decision = result.decision
    if result.passed:
        detail = ", ".join(
            f"{field} {value}"
            for field, value in (("rule", decision.rule_id), ("pool", decision.expected_pool))
            if value
        )
        return f"PASS  {result.label}: {decision.outcome.value}" + (
            f" ({detail})" if detail else ""
        )
    lines = [f"FAIL  {result.label}", *(f"      {d}" for d in result.differences)]
    lines.append(f"      decided: {decision.reason}")
    return "\n".join(lines)
