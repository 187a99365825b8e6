"""The verdict a careful reader gives each real input under tests/fixtures/iac/real
(README.md there names each source), against the project's examples/policy.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ses_pool_enforcer.iac.sources import scan_path
from ses_pool_enforcer.iac.verdict import judge
from ses_pool_enforcer.policy import parse_policy

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "fixtures" / "iac" / "real"
POLICY = parse_policy((ROOT / "examples" / "policy.yaml").read_text())
NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)


def results(name: str, **parameters: str) -> dict[str, tuple[str, str]]:
    scans = scan_path(str(REAL / name), parameters)
    pools = set().union(*(s.pools for s in scans))
    return {
        s.resource: (
            (verdict := judge(POLICY, s, pools, NOW)).result,
            verdict.findings[0].message if verdict.findings else "",
        )
        for scan in scans
        for s in scan.sets
    }


@pytest.mark.parametrize(
    ("name", "parameters", "expected"),
    [
        (
            "userguide-configuration-set.yaml",
            {},
            {"ConfigSet": ("unresolved", "the exemption for 'legacy-*' covers some of its values")},
        ),
        (
            "userguide-configuration-set.yaml",
            {"ConfigSetName": "tx-receipts"},
            {"ConfigSet": ("wrong-pool", "the policy requires transactional (rule receipts")},
        ),
        (
            "userguide-configuration-set.yaml",
            {"ConfigSetName": "ops-alerts"},
            {"ConfigSet": ("compliant", "")},
        ),
        (
            "cdk-configuration-set.template.json",
            {},
            {
                "ConfigurationSet3DD38186": (
                    "unresolved",
                    "no Name: CloudFormation generates one at deploy",
                )
            },
        ),
        ("cdk-dedicated-ip-pool.template.json", {}, {}),
        (
            "environment-set.yaml",
            {},
            {
                "ConfigSet": ("compliant", ""),
                "NewsletterSet": ("unresolved", "read from SSM (/mail/pools/marketing) at deploy"),
            },
        ),
        (
            "environment-set.yaml",
            {"Environment": "dev"},
            {"ConfigSet": ("compliant", "")},
        ),
        (
            "environment-set.yaml",
            {"Environment": "prod", "MarketingPoolName": "marketing"},
            {
                "ConfigSet": ("compliant", ""),
                # on the right pool, which no checked file declares (--live looks in AWS)
                "NewsletterSet": ("undefined-pool", "pool marketing is declared in none"),
            },
        ),
    ],
)
def test_each_real_input_gets_the_verdict_a_careful_reader_gives(
    name: str, parameters: dict[str, str], expected: dict[str, tuple[str, str]]
) -> None:
    found = results(name, **parameters)

    assert {k: v[0] for k, v in found.items()} == {k: v[0] for k, v in expected.items()}
    for resource, (_, message) in expected.items():
        assert message in found[resource][1]
