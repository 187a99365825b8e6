"""Seed local AWS with pools, configuration sets and a policy, as a user would.

From a shell, against the endpoint ``AWS_ENDPOINT_URL`` names (``make local-aws``)::

    python -m local_aws.seed pool marketing
    python -m local_aws.seed set mkt-weekly --pool transactional --tag team=growth
    python -m local_aws.seed move mkt-weekly transactional
    python -m local_aws.seed show mkt-weekly

(the aws CLI does the same: ``aws sesv2 create-dedicated-ip-pool ...``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import boto3


@contextlib.contextmanager
def as_account(account: str, role: str = "seed") -> Iterator[None]:
    """The seed calls made inside act in ``account`` (another account of local AWS, on
    credentials of a role assumed there), as its own people would."""
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="seed"
    )["Credentials"]
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(
        AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
        AWS_SESSION_TOKEN=credentials["SessionToken"],
    )
    boto3.DEFAULT_SESSION = None  # it keeps the credentials it first found
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = None


def sesv2(region: str = "us-east-1") -> Any:
    return boto3.client("sesv2", region_name=region)


def create_pool(name: str, region: str = "us-east-1") -> None:
    sesv2(region).create_dedicated_ip_pool(PoolName=name, ScalingMode="STANDARD")


def delete_pool(name: str, region: str = "us-east-1") -> None:
    sesv2(region).delete_dedicated_ip_pool(PoolName=name)


def create_set(
    name: str,
    *,
    pool: str | None = None,
    tls_policy: str | None = None,
    max_delivery_seconds: int | None = None,
    tags: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> None:
    options: dict[str, Any] = {}
    if pool:
        options["SendingPoolName"] = pool
    if tls_policy:
        options["TlsPolicy"] = tls_policy
    if max_delivery_seconds:
        options["MaxDeliverySeconds"] = max_delivery_seconds
    kwargs: dict[str, Any] = {"ConfigurationSetName": name}
    if options:
        kwargs["DeliveryOptions"] = options
    if tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    sesv2(region).create_configuration_set(**kwargs)


def set_pool(name: str, pool: str | None, region: str = "us-east-1") -> None:
    """Another actor moves a set (a full overwrite, as SES does: other options reset)."""
    kwargs: dict[str, Any] = {"ConfigurationSetName": name}
    if pool:
        kwargs["SendingPoolName"] = pool
    sesv2(region).put_configuration_set_delivery_options(**kwargs)


def delivery_options(name: str, region: str = "us-east-1") -> dict[str, Any]:
    answer = sesv2(region).get_configuration_set(ConfigurationSetName=name)
    return dict(answer.get("DeliveryOptions") or {})


def tag_set(name: str, tags: Mapping[str, str], region: str = "us-east-1") -> None:
    client = sesv2(region)
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    client.tag_resource(
        ResourceArn=f"arn:aws:ses:{region}:{account}:configuration-set/{name}",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


def put_policy(
    text: str, name: str = "/ses-pool-enforcer/policy", region: str = "us-east-1"
) -> int:
    """Store a policy document as-is (valid or not): what a careless console edit does."""
    answer = boto3.client("ssm", region_name=region).put_parameter(
        Name=name, Value=text, Type="String", Overwrite=True
    )
    return int(answer["Version"])


def inventory_entry(
    table: str,
    name: str,
    region: str = "us-east-1",
    *,
    key: str = "configuration_set",
    **fields: str,
) -> None:
    """An inventory entry as an earlier run left it (outcome fields only, no holder);
    ``key="identity"`` for the identity table's. A member lane's (named
    ``<account>/<region>/<name>``) carries its ``lane``, as a look's claim writes it."""
    item = {key: {"S": name}, **{k: {"S": v} for k, v in fields.items()}}
    if name.count("/") >= 2:
        account, lane_region, _ = name.split("/", 2)
        item.setdefault("lane", {"S": f"{account}#{lane_region}"})
    boto3.client("dynamodb", region_name=region).put_item(TableName=table, Item=item)


def create_identity(
    name: str,
    *,
    configuration_set: str | None = None,
    tags: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> None:
    """A sending identity (a domain, or an address), with a default configuration set."""
    kwargs: dict[str, Any] = {"EmailIdentity": name}
    if configuration_set:
        kwargs["ConfigurationSetName"] = configuration_set
    if tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    sesv2(region).create_email_identity(**kwargs)


def default_set(identity: str, region: str = "us-east-1") -> str | None:
    """The identity's default configuration set, as SES answers it."""
    answer = sesv2(region).get_email_identity(EmailIdentity=identity)
    name: str | None = answer.get("ConfigurationSetName")
    return name


def set_default(identity: str, configuration_set: str, region: str = "us-east-1") -> None:
    """Another actor changes an identity's default configuration set."""
    sesv2(region).put_email_identity_configuration_set_attributes(
        EmailIdentity=identity, ConfigurationSetName=configuration_set
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws.seed", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("pool", help="create a dedicated pool").add_argument("name")
    created = commands.add_parser("set", help="create a configuration set")
    created.add_argument("name")
    created.add_argument("--pool", help="its sending pool (default: none)")
    created.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    moved = commands.add_parser("move", help="put a set on a pool, as anyone with access can")
    moved.add_argument("name")
    moved.add_argument("pool")
    commands.add_parser("show", help="a set's pool").add_argument("name")
    args = parser.parse_args(argv)
    if not os.environ.get("AWS_ENDPOINT_URL"):
        print("error: AWS_ENDPOINT_URL is not set: seed only local AWS", file=sys.stderr)
        return 1
    if args.command == "pool":
        create_pool(args.name)
    elif args.command == "set":
        tags = dict(tag.split("=", 1) for tag in args.tag)
        create_set(args.name, pool=args.pool, tags=tags)
    elif args.command == "move":
        set_pool(args.name, args.pool)
    else:
        pool = delivery_options(args.name).get("SendingPoolName") or "(no pool)"
        print(f"{args.name}: {pool}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
