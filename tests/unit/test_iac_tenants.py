"""A template's AWS::SES::Tenant associates configuration sets by ARN
(``ResourceAssociations``, CloudFormation's template reference for AWS::SES::Tenant):
check reads those associations and judges rules that match by tenant, as the enforcer
will once deployed. A set no file associates leaves such a rule undecided."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ses_pool_enforcer.cli.check_output import to_document
from ses_pool_enforcer.iac.sources import scan_file
from ses_pool_enforcer.iac.verdict import judge
from ses_pool_enforcer.policy import parse_policy

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
POLICY = parse_policy(
    "version: 1\nmode: enforce\nrules:\n"
    "  - id: acme\n    match: {tenants: ['acme-*']}\n    pool: acme\n"
    "default:\n  pool: ses-default-dedicated-pool\n"
)
SET_ARN = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set"
TEMPLATE = f"""
Resources:
  Acme:
    Type: AWS::SES::DedicatedIpPool
    Properties: {{PoolName: acme}}
  AcmeNews:
    Type: AWS::SES::ConfigurationSet
    Properties:
      Name: acme-news
      DeliveryOptions: {{SendingPoolName: acme}}
  AcmeOffers:
    Type: AWS::SES::ConfigurationSet
    Properties: {{Name: acme-offers}}
  GlobexNews:
    Type: AWS::SES::ConfigurationSet
    Properties: {{Name: globex-news}}
  Loose:
    Type: AWS::SES::ConfigurationSet
    Properties: {{Name: loose}}
  AcmeEu:
    Type: AWS::SES::Tenant
    Properties:
      TenantName: acme-eu
      ResourceAssociations:
        - ResourceArn: !Sub "{SET_ARN}/${{AcmeNews}}"
        - ResourceArn: !Sub "{SET_ARN}/${{AcmeOffers}}"
  Globex:
    Type: AWS::SES::Tenant
    Properties:
      TenantName: globex
      ResourceAssociations:
        - ResourceArn: arn:aws:ses:eu-west-1:123456789012:configuration-set/globex-news
"""


def test_sets_a_template_associates_with_a_tenant_are_judged_by_the_tenant_rules(
    tmp_path: Path,
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    scan = scan_file(str(path), {})
    declared = {s.resource: s for s in scan.sets}

    # The associations, by the sets' ARNs as Fn::Sub builds them or as written
    assert declared["AcmeNews"].tenants == ("acme-eu",)
    assert declared["AcmeOffers"].tenants == ("acme-eu",)
    assert declared["GlobexNews"].tenants == ("globex",)
    assert declared["Loose"].tenants is None

    results = {name: judge(POLICY, s, scan.pools, NOW).result for name, s in declared.items()}
    # acme-eu's sets follow the tenant rule: one on its pool, one not
    assert results["AcmeNews"] == "compliant"
    assert results["AcmeOffers"] == "wrong-pool"
    # globex's set is the default's, on the default pool
    assert results["GlobexNews"] == "compliant"
    # a set no file associates: its tenants are not known before deploy
    assert results["Loose"] == "unresolved"


def test_check_s_json_names_the_tenants_a_file_associates(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    scan = scan_file(str(path), {})
    verdicts = [judge(POLICY, s, scan.pools, NOW) for s in scan.sets]
    document = to_document(verdicts, [scan], "policy.yaml")
    entries = {e["resource"]: e for e in document["configuration_sets"]}
    assert entries["AcmeNews"]["tenants"] == ["acme-eu"]
    assert "tenants" not in entries["Loose"]
