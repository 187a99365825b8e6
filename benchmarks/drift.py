"""The drift check over an organization: ACCOUNTS accounts x SETS sets, 1% drifted.

In process, on moto with the local_aws extensions: the sets are put straight into moto's
SES backends (the API would take longer than the check), Config "records" them once
(``local_aws.config.record``), and the drift finder (``drift.find_drift``) pages through
the organization aggregator, 100 sets a call, and queues its suspects on SQS.

Prints: Config calls, pages, the finder's wall time here, suspects found against sets
truly drifted (and whether the queued names are exactly those), SES calls made by the
finder (target 0), and the time the same calls take at Config's rate for
SelectAggregateResourceConfig. AWS documents no rate for that action in what could be
found (the Config endpoints-and-quotas page and the API reference list none): the
projection is given at an assumed 1, 5 and 10 calls a second, and for comparison the
paced sweep's time at SES's 1 call a second per account and region.

Usage: python -m benchmarks.drift [--accounts 10] [--sets 1000] [--drifted 0.01]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import boto3
from moto import mock_aws

from benchmarks.local import SETS_POLICY, local_credentials
from local_aws import MOTO_CONFIG, install
from local_aws import config as config_extension
from local_aws.sesv2 import call_counts

REGION = "us-east-1"
HUB = "123456789012"
AGGREGATOR = "org-aggregator"
ASSUMED_RATES = (1.0, 5.0, 10.0)  # Config calls a second; see the docstring


def seed(accounts: list[str], per_account: int, share: float) -> set[tuple[str, str]]:
    """Sets straight into moto's SES backends; returns the drifted (account, name)."""
    from moto.ses.models import ConfigurationSet, ses_backends

    drifted: set[tuple[str, str]] = set()
    every = max(1, round(1 / share))
    for account in accounts:
        backend = ses_backends[account][REGION]
        for n in range(per_account):
            name = f"set-{n:05d}"
            wrong = n % every == every // 2
            pool = "transactional" if wrong else "marketing"
            backend.config_sets[name] = ConfigurationSet(
                name, delivery_options={"SendingPoolName": pool, "TlsPolicy": "REQUIRE"}
            )
            if wrong:
                drifted.add((account, name))
    return drifted


def queued_names(queue_url: str) -> set[tuple[str, str]]:
    sqs = boto3.client("sqs", region_name=REGION)
    found: set[tuple[str, str]] = set()
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in messages:
            body = json.loads(message["Body"])
            lane = body.get("lane") or {"account": HUB}
            found.add((lane["account"], body["configuration_set"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def run(accounts_wanted: int, per_account: int, share: float) -> dict[str, Any]:
    local_credentials(
        REGION, POWERTOOLS_METRICS_NAMESPACE="SesPoolEnforcer", POWERTOOLS_LOG_LEVEL="WARNING"
    )
    install()
    config_extension.reset()
    with mock_aws(config=MOTO_CONFIG):
        organizations = boto3.client("organizations", region_name=REGION)
        organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
        accounts = [HUB] + [
            organizations.create_account(AccountName=f"m{i}", Email=f"m{i}@example.com")[
                "CreateAccountStatus"
            ]["AccountId"]
            for i in range(accounts_wanted - 1)
        ]
        boto3.client("config", region_name=REGION).put_configuration_aggregator(
            ConfigurationAggregatorName=AGGREGATOR,
            OrganizationAggregationSource={
                "RoleArn": f"arn:aws:iam::{HUB}:role/aggregator",
                "AllAwsRegions": True,
            },
        )
        queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="work")[
            "QueueUrl"
        ]
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/ses-pool-enforcer/policy", Value=SETS_POLICY, Type="String"
        )
        os.environ.update(
            ACCOUNT_ID=HUB,
            ORGANIZATION_ID=organization["Id"],
            MEMBER_ROLE_NAME="ses-pool-enforcer-member",
            MEMBER_REGIONS=REGION,
            WORK_QUEUE_URL=queue_url,
            CONFIG_AGGREGATOR_NAME=AGGREGATOR,
        )
        started = time.perf_counter()
        drifted = seed(accounts, per_account, share)
        config_extension.record()
        seeded = time.perf_counter() - started

        from ses_pool_enforcer.adapters.aggregator import Aggregator
        from ses_pool_enforcer.drift import find_drift
        from ses_pool_enforcer.runtime import get_runtime

        runtime = get_runtime()
        ses_before = sum(call_counts().values())
        started = time.perf_counter()
        result = find_drift(runtime, Aggregator(AGGREGATOR))
        wall = time.perf_counter() - started
        queued = queued_names(queue_url)
        return {
            "accounts": accounts_wanted,
            "sets": accounts_wanted * per_account,
            "seed_seconds": round(seeded, 1),
            "config_calls": result.config_calls,
            "pages": result.pages,
            "finder_wall_seconds": round(wall, 2),
            "suspects": result.suspects,
            "truly_drifted": len(drifted),
            "queued_exactly_the_drifted": queued == drifted,
            "ses_calls_by_finder": sum(call_counts().values()) - ses_before,
            "projected_seconds_at_config_rate": {
                f"{rate:g}/s": round(result.config_calls / rate) for rate in ASSUMED_RATES
            },
            "paced_sweep_hours_per_account_region_at_1_ses_call_per_second": round(
                per_account / 3600, 2
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--sets", type=int, default=1000, help="sets per account")
    parser.add_argument("--drifted", type=float, default=0.01)
    args = parser.parse_args()
    print(json.dumps(run(args.accounts, args.sets, args.drifted), indent=2))


if __name__ == "__main__":
    main()
