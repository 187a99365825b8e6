"""The README's first command keeps working: the demo, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def demo(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The demo as a user runs it, in a clean environment with no AWS configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "demo", *map(str, args)], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_demo_shows_the_enforcer_at_work_on_embedded_local_aws(tmp_path: Path) -> None:
    # When the demo runs
    done = demo("--report-dir", tmp_path)

    # Then it succeeds and shows the moves, the alerts and the sweep's report
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "mkt-weekly         marketing" in out
    assert "<- was transactional" in out
    assert "[error     ] [ses-pool-enforcer] error: list-members could not be enforced" in out
    assert "sweep succeeded: 7 sets read in 1 step, then the compliance report" in out
    assert "Already running?" not in out  # the state machine's inner names stay inside
    assert "MAX DELIVERY  CHANGE" in out  # every column has a header
    assert "older SES v1 API created legacy-promo" in out
    assert "newsletter-daily is now on marketing" in out
    assert "compliance report: 85.71% compliant, 1 non-compliant" in out
    assert "news.example.com given its required default configuration set" in out
    assert "1 identity: 1 compliant" in out
    # The organization scene: a member's event enforced in that member, then every lane
    assert "moved in shop's eu-west-1, on the member role: mkt-shop is on marketing" in out
    assert "sweep succeeded: 5 lanes" in out
    assert "organization report: 90.91% compliant, 3 accounts" in out
    assert out.count("100% compliant  (eu-west-1 1 set, us-east-1 1 set)") == 2
    assert "rule lists requires pool lists" in out
    # And the sweep's HTML page outlives local S3, at the path it printed
    page = tmp_path / "compliance-report.html"
    assert f"the HTML page, saved (local S3 goes when the demo ends): {page}" in out
    assert "<h1>SES pool compliance report</h1>" in page.read_text()
    # A move refused because the target pool is still warming, then made once it is warm
    assert "error: not moved: target pool promotions is not ready (STANDARD, 1 IP" in out
    assert "-> remediated: moved from marketing to promotions" in out
    # A tenant's sets follow the tenant's rule
    assert out.count("-> remediated: moved from ses-default-dedicated-pool to marketing") == 2
    assert "Traceback" not in done.stderr


def test_the_demo_enforces_the_policy_it_is_given(tmp_path: Path) -> None:
    # Given a policy of the user's own: marketing sets on marketing, nothing else managed
    policy = tmp_path / "mine.yaml"
    policy.write_text(
        "version: 1\nmode: enforce\n"
        "rules:\n  - {id: mine, match: {names: ['mkt-*', 'newsletter-*']}, pool: marketing}\n"
    )

    # When the demo runs with it
    done = demo("--policy", policy, "--report-dir", tmp_path)

    # Then that policy was stored and enforced: mkt-weekly moved, tx-receipts left alone
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"policy: {policy} stored as /ses-pool-enforcer/policy (version 1)" in out
    assert "moved from transactional to marketing" in out
    assert "tx-receipts" in out and "tx-receipts        marketing" in out  # not moved back
    assert "rule lists" not in out


def test_the_demo_refuses_an_invalid_policy_in_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "typo.yaml"
    policy.write_text("version: 1\nrules: [{id: m, match: {name: [x]}, pool: p}]\n")
    done = demo("--policy", policy)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {policy}: invalid policy: ")
    assert "(did you mean 'names'?)" in done.stderr
    assert done.stdout == ""
