"""moto's TransactWriteItems, patched to back up only the items it names: all or nothing as
before, at a cost that does not grow with the table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import local_aws

TABLE = "state"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    local_aws.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def update(name: str, value: str, condition: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "TableName": TABLE,
        "Key": {"id": {"S": name}},
        "UpdateExpression": "SET v = :v",
        "ExpressionAttributeValues": {":v": {"S": value}},
    }
    if condition:
        op["ConditionExpression"] = condition
    return {"Update": op}


def value(ddb: Any, name: str) -> str | None:
    item = ddb.get_item(TableName=TABLE, Key={"id": {"S": name}}).get("Item")
    return item["v"]["S"] if item else None


def test_a_cancelled_transaction_leaves_every_item_as_it_was(ddb: Any) -> None:
    # Given an item, and a transaction that changes it and creates another, then fails
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "a"}, "v": {"S": "before"}})
    items = [
        update("a", "after"),
        update("b", "new"),
        update("c", "never", condition="attribute_exists(id)"),
    ]

    # When
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(TransactItems=items)

    # Then nothing of it was applied
    assert exc.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert (value(ddb, "a"), value(ddb, "b"), value(ddb, "c")) == ("before", None, None)


def test_a_transaction_is_applied_whole_and_costs_no_copy_of_the_table(ddb: Any) -> None:
    # Given a table of 5,000 items
    for n in range(0, 5000, 25):
        ddb.batch_write_item(
            RequestItems={
                TABLE: [
                    {"PutRequest": {"Item": {"id": {"S": f"i{k}"}, "v": {"S": "x"}}}}
                    for k in range(n, n + 25)
                ]
            }
        )

    # When 50 transactions run
    began = time.perf_counter()
    for n in range(50):
        ddb.transact_write_items(TransactItems=[update(f"i{n}", "y"), update(f"new{n}", "z")])
    seconds = time.perf_counter() - began

    # Then each applied both writes, without copying 5,000 items each time
    assert [value(ddb, f"i{n}") for n in (0, 49)] == ["y", "y"]
    assert value(ddb, "new7") == "z"
    assert seconds < 5.0
