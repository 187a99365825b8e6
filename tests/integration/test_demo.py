"""The README's first command keeps working: the demo, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_shows_the_enforcer_at_work_on_embedded_local_aws() -> None:
    # Given a clean environment with no AWS configuration at all
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

    # When the demo runs
    done = subprocess.run(
        [sys.executable, "-m", "demo"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip

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
    assert out.count("100% compliant  (eu-west-1 1 sets, us-east-1 1 sets)") == 2
    assert "Traceback" not in done.stderr
