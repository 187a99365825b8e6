"""The resources ``template.yaml`` declares, made on local AWS for tests and the demo.

Key schemas and indexes mirror the template; ``tests/infrastructure`` checks that they
do not drift apart. Works against whatever endpoint boto3 is pointed at (``mock_aws`` in
process, or the local server through ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any, cast

import boto3

INVENTORY_KEY = "configuration_set"
INVENTORY_INDEX = "by-expected-pool"
LANE_INDEX, LANE_INDEX_KEY = "by-lane", "lane"  # a member lane's entries, in both tables
INVENTORY_INDEX_KEY = "expected_pool"
IDENTITY_KEY = "identity"
IDENTITY_INDEX = "by-default-configuration-set"
IDENTITY_INDEX_KEY = "default_configuration_set"
STATE_KEY = "id"
STATE_TTL = "expiration"


@dataclass(frozen=True)
class LocalStack:
    region: str
    policy_parameter: str
    alert_topic_arn: str
    alert_queue_url: str
    alert_fallback_queue_url: str
    work_queue_url: str
    dead_letter_queue_url: str
    inventory_table: str
    identity_table: str
    state_table: str
    report_bucket: str
    account_id: str

    def environment(self) -> dict[str, str]:
        """The Lambda environment variables ``template.yaml`` sets, for local resources."""
        return {
            "POLICY_PARAMETER": self.policy_parameter,
            "ALERT_TOPIC_ARN": self.alert_topic_arn,
            "ALERT_FALLBACK_QUEUE_URL": self.alert_fallback_queue_url,
            "WORK_QUEUE_URL": self.work_queue_url,
            "INVENTORY_TABLE": self.inventory_table,
            "IDENTITY_TABLE": self.identity_table,
            "STATE_TABLE": self.state_table,
            "REPORT_BUCKET": self.report_bucket,
            "ACCOUNT_ID": self.account_id,
        }


def _client(service: str, region: str) -> Any:
    return cast(Any, boto3).client(service, region_name=region)


def provision(
    region: str = "us-east-1",
    prefix: str = "ses-pool-enforcer",
    policy_parameter: str = "/ses-pool-enforcer/policy",
) -> LocalStack:
    sqs, sns, ddb = _client("sqs", region), _client("sns", region), _client("dynamodb", region)

    dlq = sqs.create_queue(QueueName=f"{prefix}-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    work = sqs.create_queue(
        QueueName=f"{prefix}-events",
        Attributes={
            "VisibilityTimeout": "360",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    fallback = sqs.create_queue(QueueName=f"{prefix}-alerts-undelivered")["QueueUrl"]

    topic = sns.create_topic(Name=f"{prefix}-alerts")["TopicArn"]
    # What an operator's queue subscriber sees: the SNS envelope, subject included.
    alert_queue = sqs.create_queue(QueueName=f"{prefix}-alerts-inbox")["QueueUrl"]
    alert_queue_arn = sqs.get_queue_attributes(QueueUrl=alert_queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=alert_queue_arn)

    inventory = f"{prefix}-inventory"
    identities = f"{prefix}-identities"
    for table, key, index, index_key in (
        (inventory, INVENTORY_KEY, INVENTORY_INDEX, INVENTORY_INDEX_KEY),
        (identities, IDENTITY_KEY, IDENTITY_INDEX, IDENTITY_INDEX_KEY),
    ):
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": key, "AttributeType": "S"},
                {"AttributeName": index_key, "AttributeType": "S"},
                {"AttributeName": LANE_INDEX_KEY, "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": index,
                    "KeySchema": [{"AttributeName": index_key, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
                {
                    "IndexName": LANE_INDEX,
                    "KeySchema": [{"AttributeName": LANE_INDEX_KEY, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
        )
    state = f"{prefix}-state"
    ddb.create_table(
        TableName=state,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": STATE_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": STATE_KEY, "AttributeType": "S"}],
    )
    ddb.update_time_to_live(
        TableName=state,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": STATE_TTL},
    )
    bucket = f"{prefix}-reports"
    s3 = _client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    return LocalStack(
        region=region,
        policy_parameter=policy_parameter,
        alert_topic_arn=topic,
        alert_queue_url=alert_queue,
        alert_fallback_queue_url=fallback,
        work_queue_url=work,
        dead_letter_queue_url=dlq,
        inventory_table=inventory,
        identity_table=identities,
        state_table=state,
        report_bucket=bucket,
        account_id=str(_client("sts", region).get_caller_identity()["Account"]),
    )


def received_alerts(stack: LocalStack, wait_seconds: int = 0) -> list[dict[str, Any]]:
    """Drain the alert inbox: each item has ``subject``, ``alert`` (the JSON document)
    and ``attributes`` (SNS message attributes)."""
    sqs = _client("sqs", stack.region)
    alerts: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=stack.alert_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        messages = answer.get("Messages", [])
        if not messages:
            return alerts
        for message in messages:
            envelope = json.loads(message["Body"])
            alerts.append(
                {
                    "subject": envelope.get("Subject"),
                    "alert": json.loads(envelope["Message"]),
                    "attributes": {
                        k: v.get("Value") for k, v in envelope.get("MessageAttributes", {}).items()
                    },
                }
            )
            sqs.delete_message(
                QueueUrl=stack.alert_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        wait_seconds = 0


def register(stack: LocalStack, name: str, *, enforcement_mode: str = "enforce") -> None:
    """A CloudFormation stack ``name`` whose outputs (and EnforcementMode parameter) are
    those ``template.yaml`` declares, naming ``stack``'s resources: what the CLI reads
    with ``--stack``. Its one resource is a placeholder; the resources are ``stack``'s."""
    outputs = {
        "AlertTopicArn": stack.alert_topic_arn,
        "EventQueueUrl": stack.work_queue_url,
        "EventDeadLetterQueueUrl": stack.dead_letter_queue_url,
        "AlertFallbackQueueUrl": stack.alert_fallback_queue_url,
        "InventoryTableName": stack.inventory_table,
        "IdentityTableName": stack.identity_table,
        "StateTableName": stack.state_table,
        "ReportBucketName": stack.report_bucket,
        "PolicyParameterName": stack.policy_parameter,
    }
    template = {
        "Parameters": {"EnforcementMode": {"Type": "String", "Default": "enforce"}},
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    with warnings.catch_warnings():  # (moto makes nothing of the placeholder, and says so)
        warnings.simplefilter("ignore", UserWarning)
        _client("cloudformation", stack.region).create_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "EnforcementMode", "ParameterValue": enforcement_mode}],
        )
