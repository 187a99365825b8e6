"""Issue 10: ``ses-pool-enforcer test CASES``: PASS or FAIL per case, exit 0, 2 or 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ses_pool_enforcer.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "fixtures" / "cases"
EXAMPLES = ROOT / "examples"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str | Path) -> tuple[int, str, str]:
        status = main(["test", *map(str, args)])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def test_the_shipped_example_passes(run: Any) -> None:
    # When the example's cases are run (the policy named in the file)
    status, out, _ = run(EXAMPLES / "policy.tests.yaml")

    # Then every case passes, each on a line of its own
    assert status == 0
    assert out.count("PASS  ") == 10
    assert (
        "PASS  receipts on the wrong pool are reported, not moved (audit rule): violation "
        "(rule receipts, pool transactional)\n" in out
    )
    assert out.endswith("\n10 cases: 10 passed, 0 failed.\n")


def test_failing_cases_exit_2_with_the_difference(run: Any) -> None:
    status, out, _ = run(CASES / "drifted.tests.yaml")

    assert status == 2
    assert out == (
        "FAIL  receipts are moved back to the transactional pool\n"
        "      outcome: expected remediated, got violation\n"
        "      decided: on marketing, expected transactional (rule is in audit mode)\n"
        "FAIL  cases[1] mkt-weekly\n"
        "      outcome: expected remediated, got violation\n"
        "      rule: expected marketing, got default\n"
        "      pool: expected marketing, got ses-default-dedicated-pool\n"
        "      decided: on transactional, expected ses-default-dedicated-pool (rule is in "
        "audit mode)\n"
        "PASS  cases[2] ops-alerts: compliant (rule default, pool ses-default-dedicated-pool)\n"
        "\n3 cases: 1 passed, 2 failed.\n"
    )


def test_policy_option_overrides_the_cases_file(run: Any, tmp_path: Path) -> None:
    # Given the example policy with the receipts rule enforced
    enforced = tmp_path / "enforced.yaml"
    example = (EXAMPLES / "policy.yaml").read_text()
    enforced.write_text(
        example.replace("    mode: audit               # report, do not reassign\n", "")
    )

    # When the drifted cases are run against it
    status, out, _ = run(CASES / "drifted.tests.yaml", "--policy", enforced)

    # Then the receipts case now holds
    assert "PASS  receipts are moved back to the transactional pool" in out
    assert status == 2  # mkt-weekly still differs


def test_a_cases_file_naming_no_policy_needs_the_option(run: Any) -> None:
    status, out, err = run(CASES / "no-policy.tests.json")
    with_policy = run(CASES / "no-policy.tests.json", "--policy", EXAMPLES / "policy.yaml")

    assert (status, out) == (1, "")
    assert err == (
        f"error: {CASES / 'no-policy.tests.json'}: no policy to test: pass --policy FILE or "
        "name it in the cases file (policy: policy.yaml)\n"
    )
    assert with_policy[0] == 0
    assert with_policy[1].endswith("1 case: 1 passed, 0 failed.\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [CASES / "typo.tests.yaml"],
            "typo.tests.yaml: invalid cases file: cases[1].set.acount: unknown field (did "
            "you mean 'account'?); cases[1].expect.rul: unknown field (did you mean 'rule'?)",
        ),
        (
            [EXAMPLES / "policy.tests.yaml", "--policy", EXAMPLES / "invalid-policy.yaml"],
            "invalid-policy.yaml: invalid policy: rules[0].pool:",
        ),
        ([CASES / "missing.tests.yaml"], "no such file:"),
    ],
)
def test_errors_are_one_line_and_exit_1(run: Any, args: list[Any], message: str) -> None:
    status, out, err = run(*args)

    assert (status, out) == (1, "")
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err
