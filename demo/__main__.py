"""Start local AWS (moto's server mode), build the account, replay CloudTrail events
through the real event handler, run a full sweep (an execution of the real state machine
definition on moto's Step Functions engine), and show what the enforcer changed and said."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from local_aws import seed, sfn
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.server import start_local_aws
from local_aws.stack import LocalStack, provision, received_alerts
from ses_pool_enforcer.policy import PolicyError, parse_policy

HERE = Path(__file__).resolve().parent

# name, pool it is created on, TLS policy, max delivery seconds, tags
SETS: list[tuple[str, str | None, str | None, int | None, dict[str, str]]] = [
    ("mkt-weekly", "transactional", "REQUIRE", 600, {}),
    ("tx-receipts", "marketing", "REQUIRE", None, {}),
    ("bulk-import", "marketing", None, None, {"stream": "bulk"}),
    ("legacy-promo", "transactional", None, None, {}),
    ("list-members", None, None, None, {}),
    ("newsletter-daily", "marketing", "REQUIRE", None, {}),
    ("ops-alerts", None, None, None, {}),
]

# (sample event file, set it is about, what happened in the account)
SCENARIO: list[tuple[str, str, str]] = [
    (
        "create_configuration_set_v2.json",
        "mkt-weekly",
        "alice created mkt-weekly on the transactional pool",
    ),
    (
        "put_delivery_options_v2.json",
        "tx-receipts",
        "alice moved tx-receipts to the marketing pool",
    ),
    ("tag_resource.json", "bulk-import", "alice tagged bulk-import stream=bulk"),
    (
        "create_configuration_set_v1.json",
        "legacy-promo",
        "an app on the older SES v1 API created legacy-promo (exempt); CloudTrail records\n"
        "     v1 calls in another shape, which the enforcer reads just the same",
    ),
    (
        "create_configuration_set_v2.json",
        "list-members",
        "alice created list-members (its pool does not exist)",
    ),
    (
        "create_configuration_set_v2.json",
        "newsletter-daily",
        "alice created newsletter-daily on the right pool",
    ),
    (
        "create_configuration_set_v2.json",
        "ops-alerts",
        "alice created ops-alerts (matches no rule: default, audit)",
    ),
    (
        "put_delivery_options_by_enforcer.json",
        "mkt-weekly",
        "CloudTrail echoes the enforcer's own write",
    ),
    ("delete_configuration_set.json", "tx-retired", "someone deleted tx-retired (already gone)"),
    (
        "create_email_identity.json",
        "news.example.com",
        "alice added the sending domain news.example.com with no default configuration set\n"
        "     (its mail that names no set would escape the pool policy)",
    ),
]
IDENTITY_EVENTS = frozenset({"create_email_identity.json"})


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def say(text: str = "") -> None:
    print(text, flush=True)


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in [header, ["-" * w for w in widths], *rows]:
        say("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


def snapshot() -> dict[str, dict[str, Any]]:
    return {name: seed.delivery_options(name) for name, *_ in SETS}


def show_sets(
    state: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]] | None = None
) -> None:
    rows = []
    for name, options in state.items():
        pool = options.get("SendingPoolName") or "(none: default dedicated pool)"
        changed = ""
        if before is not None and before[name] != options:
            was = before[name].get("SendingPoolName") or "(none)"
            changed = f"<- was {was}"
        rows.append(
            [
                name,
                pool,
                options.get("TlsPolicy", "-"),
                str(options.get("MaxDeliverySeconds", "-")),
                changed,
            ]
        )
    table(rows, ["CONFIGURATION SET", "POOL", "TLS", "MAX DELIVERY", "CHANGE"])


def inventory_entry(stack: LocalStack, name: str, identity: bool = False) -> str:
    """What the enforcer recorded for ``name`` in the compliance inventory (or, for an
    identity, in the identity table)."""
    table, key = (
        (stack.identity_table, "identity")
        if identity
        else (stack.inventory_table, "configuration_set")
    )
    item = boto3.client("dynamodb").get_item(TableName=table, Key={key: {"S": name}}).get("Item")
    if item is None:
        return "not in the inventory (no such set)"
    return f"{item['outcome']['S']}: {item['reason']['S']}"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


def save_html_report(links: dict[str, Any], directory: Path) -> Path | None:
    """Copy the sweep's HTML page out of local S3 (gone when the demo exits) to a file."""
    uri = links.get("html_uri")
    if not uri:
        return None
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    page = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "compliance-report.html"
    path.write_bytes(page)
    return path


def run(stack: LocalStack, handler: Any, policy: Path, report_dir: Path) -> None:
    say(
        "1. The account: two dedicated pools, seven configuration sets, a sending domain,\n"
        "   a policy in SSM"
    )
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    for name, pool, tls, max_seconds, tags in SETS:
        seed.create_set(
            name, pool=pool, tls_policy=tls, max_delivery_seconds=max_seconds, tags=tags
        )
    version = seed.put_policy(policy.read_text(), stack.policy_parameter)
    say(f"   policy: {shown(policy)} stored as {stack.policy_parameter} (version {version})")
    before = snapshot()
    show_sets(before)

    say("\n2. CloudTrail events arrive (EventBridge -> SQS -> the event function)")
    seed.create_identity("news.example.com")
    for file, name, story in SCENARIO:
        identity = file in IDENTITY_EVENTS
        about = {"identity": name} if identity else {"configuration_set": name}
        event = sample_event(file, fresh_id=True, **about)
        with contextlib.redirect_stdout(io.StringIO()):  # its JSON logs and EMF metrics
            result = handler(sqs_event([event]), LambdaContext())
        failed = " (failed: will be retried)" if result["batchItemFailures"] else ""
        say(f"   - {story}{failed}")
        say(f"       -> {inventory_entry(stack, name, identity)}")

    say("\n3. The sets afterwards")
    show_sets(snapshot(), before)

    say("\n4. Alerts received on the SNS topic (read from an SQS subscriber)")
    alerts = received_alerts(stack, wait_seconds=1)
    for alert in alerts:
        doc = alert["alert"]
        say(f"   [{doc['outcome']:<10}] {alert['subject']}")
        by = doc["actor"] or "-"
        say(f"                {doc['reason']}; rule {doc['rule_id'] or '-'}; changed by {by}")
    say(
        f"   {len(alerts)} alerts; attributes on each: outcome, configuration_set (or "
        "identity), and alert_id on a remediation, the same if a retry ever sends it again"
    )

    say("\n5. A change CloudTrail never delivered: someone moves newsletter-daily to transactional")
    seed.set_pool("newsletter-daily", "transactional")
    say("   (no event arrives; the set stays on the wrong pool until the sweep)")

    say("\n6. The scheduled sweep runs: statemachine/sweep.asl.json, run by local Step Functions")
    say("   (moto's engine), calls the sweep function (start, step until every set is done,")
    say("   finish with the report)")
    from functions.sweep.app import handler as sweep_handler

    def invoke(payload: dict[str, Any], context: Any) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return sweep_handler(payload, context)

    execution = sfn.run_sweep(invoke, {"trigger": "schedule"})
    steps = execution.entered("Step")
    swept = (execution.output or {}).get("report", {}).get("total", 0)
    say(
        f"   sweep {execution.status.lower()}: {plural(swept, 'set')} read in "
        f"{plural(steps, 'step')}, then the compliance report"
    )
    pool = seed.delivery_options("newsletter-daily")["SendingPoolName"]
    say(f"   newsletter-daily is now on {pool}")
    for alert in received_alerts(stack, wait_seconds=1):
        doc = alert["alert"]
        if alert["attributes"].get("outcome") != "report":
            say(f"   [{doc['outcome']:<10}] {alert['subject']}")
            continue
        say(f"\n   Compliance report (SNS): {alert['subject']}")
        counts = ", ".join(f"{n} {o}" for o, n in doc["counts"].items() if n)
        say(f"   {plural(doc['total'], 'set')}: {counts}")
        if "identities" in doc:
            mine = doc["identities"]
            counted = ", ".join(f"{n} {o}" for o, n in mine["counts"].items() if n)
            noun = "identity" if mine["total"] == 1 else "identities"
            say(f"   {mine['total']} {noun}: {counted}")
        for entry in doc["non_compliant"]:
            say(
                f"     non-compliant: {entry['configuration_set']} ({entry['outcome']}, on "
                f"{entry['current_pool']}; rule {entry['rule_id']} requires pool "
                f"{entry['expected_pool']})"
            )
        links = doc["report"]
        say(f"   full report in local S3: {links['json_uri']}, its .csv and its .html page")
        saved = save_html_report(links, report_dir)
        if saved is not None:
            say(f"   the HTML page, saved (local S3 goes when the demo ends): {saved}")


MEMBER_REGIONS = ("us-east-1", "eu-west-1")


def fresh_process() -> None:
    """What a new Lambda process starts with: settings, clients and caches read again."""
    from ses_pool_enforcer.adapters import aws
    from ses_pool_enforcer.adapters.policy_store import clear_cache
    from ses_pool_enforcer.config import get_settings
    from ses_pool_enforcer.runtime import forget_runtime

    aws.reset()
    get_settings.cache_clear()
    forget_runtime()
    clear_cache()


def organization(stack: LocalStack, handler: Any) -> None:
    say("\n7. The same enforcer as an organization's hub: two member accounts, shop and news,")
    say(f"   in {' and '.join(MEMBER_REGIONS)} (the member StackSet's forwarding rule and role are")
    say("   what templates/member.yaml deploys; here their effect is played directly)")
    organizations = boto3.client("organizations")
    org_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    unit = organizations.create_organizational_unit(ParentId=root, Name="email")
    ou = unit["OrganizationalUnit"]["Id"]
    members: dict[str, str] = {}
    for name in ("shop", "news"):
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        account = created["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        members[name] = account
        with seed.as_account(account):
            for region in MEMBER_REGIONS:
                seed.create_pool("marketing", region=region)
                seed.create_pool("transactional", region=region)
                seed.create_set(f"mkt-{name}", pool="transactional", region=region)
    os.environ.update(
        ORGANIZATION_ID=org_id,
        MEMBER_ROLE_NAME="ses-pool-enforcer-member",
        MEMBER_REGIONS=",".join(MEMBER_REGIONS),
        MEMBER_OUS=ou,
    )
    fresh_process()  # a redeployed hub reads its new settings
    for name, account in members.items():
        say(f"   {name}: account {account}, mkt-{name} on transactional in both regions")

    say("   - in shop, eu-west-1, bob creates mkt-shop on transactional; its record reaches the")
    say("     hub's bus and queue")
    event = sample_event(
        "create_configuration_set_v2.json", configuration_set="mkt-shop", fresh_id=True
    )
    event["detail"]["recipientAccountId"] = members["shop"]
    event["detail"]["awsRegion"] = "eu-west-1"
    with contextlib.redirect_stdout(io.StringIO()):
        handler(sqs_event([event]), LambdaContext())
    with seed.as_account(members["shop"]):
        pool = seed.delivery_options("mkt-shop", region="eu-west-1")["SendingPoolName"]
    say(f"       -> moved in shop's eu-west-1, on the member role: mkt-shop is on {pool}")
    for alert in received_alerts(stack, wait_seconds=1):
        doc = alert["alert"]
        say(
            f"   [{doc['outcome']:<10}] account {doc['account']} ({doc['account_name']}), "
            f"{doc['region']}: {alert['subject']}"
        )

    say("   - the organization's sweep: one lane per account and region, side by side on the")
    say("     state machine's Map, each on its own SES budget")
    from functions.sweep.app import handler as sweep_handler

    # Its JSON logs and EMF metrics out of the way, once for all lanes: the lanes run on
    # threads of their own, and swapping stdout in each would leave the wrong one behind.
    with contextlib.redirect_stdout(io.StringIO()):
        execution = sfn.run_sweep(sweep_handler, {"trigger": "schedule"})
    say(f"   sweep {execution.status.lower()}: {execution.entered('Start')} lanes")
    for alert in received_alerts(stack, wait_seconds=1):
        doc = alert["alert"]
        if doc.get("kind") != "organization-report":
            say(
                f"   [{doc['outcome']:<10}] account {doc['account']} ({doc['account_name']}), "
                f"{doc['region']}: {alert['subject']}"
            )
            continue
        say(f"\n   Organization report (SNS): {alert['subject']}")
        for account, entry in doc["accounts"].items():
            ratio = entry["compliance_ratio"]
            regions = ", ".join(
                f"{region} {plural(r.get('total', 0), 'set')}"
                for region, r in entry["regions"].items()
            )
            shown = f"{ratio:.0%}" if ratio is not None else "-"
            say(f"   {account} {entry['name']:<5} {shown:>5} compliant  ({regions})")


def pools_and_tenants(stack: LocalStack, handler: Any) -> None:
    say("\n8. What a pool is, not only its name; whom a set serves: demo/policy-pools.yaml adds")
    say("   a rule sending promo-* to the promotions pool only once its IPs are 90 % warm,")
    say("   and one putting every set of the tenants acme* on the marketing pool")
    ses = seed.sesv2()
    seed.create_pool("promotions")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.10", DestinationPoolName="promotions")
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.10", WarmupPercentage=15)
    ses.create_tenant(TenantName="acme")
    seed.create_set("promo-spring", pool="marketing", tls_policy="REQUIRE")
    for name in ("acme-news", "acme-alerts"):
        seed.create_set(name)
        arn = f"arn:aws:ses:us-east-1:{stack.account_id}:configuration-set/{name}"
        ses.create_tenant_resource_association(TenantName="acme", ResourceArn=arn)
    version = seed.put_policy((HERE / "policy-pools.yaml").read_text(), stack.policy_parameter)
    fresh_process()  # the new version is read at once, not after the policy cache's age
    say(f"   policy version {version}; pool promotions has one IP, 15 % through its warm-up;")
    say("   tenant acme has acme-news and acme-alerts")

    def deliver(*events: dict[str, Any] | str) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            handler(sqs_event(list(events)), LambdaContext())

    for name, story in (
        ("promo-spring", "alice created promo-spring on marketing"),
        ("acme-news", "alice created acme-news (tenant acme) with no pool"),
        ("acme-alerts", "alice created acme-alerts (tenant acme) with no pool"),
    ):
        deliver(
            sample_event("create_configuration_set_v2.json", configuration_set=name, fresh_id=True)
        )
        say(f"   - {story}")
        say(f"       -> {inventory_entry(stack, name)}")

    say("   - the IP's warm-up reaches 95 %: its record names the IP only, so every set bound")
    say("     for a pool with pool_health is looked at again (the pool fan-out)")
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.10", WarmupPercentage=95)
    deliver(sample_event("put_dedicated_ip_warmup_attributes.json", fresh_id=True))
    sqs = boto3.client("sqs")
    while queued := sqs.receive_message(QueueUrl=stack.work_queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        deliver(*(m["Body"] for m in queued))
        for message in queued:
            sqs.delete_message(
                QueueUrl=stack.work_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
    say(f"       -> {inventory_entry(stack, 'promo-spring')}")
    received_alerts(stack, wait_seconds=1)  # (shown above as inventory entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="local AWS port (default: a free one)")
    parser.add_argument(
        "--calls-per-second", default="20", help="SES call budget (real SES: 1; default 20 here)"
    )
    parser.add_argument(
        "--policy",
        type=Path,
        default=HERE / "policy.yaml",
        help="the policy to enforce on the demo's account (default: demo/policy.yaml)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ses-pool-enforcer-demo",
        help="where the sweep's HTML report is saved (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        parse_policy(args.policy.read_text())
    except (OSError, PolicyError) as exc:
        print(f"error: {args.policy}: {exc}", file=sys.stderr)
        return 1

    started = time.monotonic()
    with start_local_aws(args.port) as aws:
        os.environ.update(
            AWS_ENDPOINT_URL=aws.endpoint_url,
            AWS_ACCESS_KEY_ID="demo",
            AWS_SECRET_ACCESS_KEY="demo",  # noqa: S106 - local AWS takes any credentials
            AWS_DEFAULT_REGION="us-east-1",
            POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            POWERTOOLS_METRICS_DISABLED="1",
            POWERTOOLS_TRACE_DISABLED="1",
            SES_CALLS_PER_SECOND=args.calls_per_second,
        )
        say(f"ses-pool-enforcer demo: local AWS (moto server mode) at {aws.endpoint_url}\n")
        stack = provision(policy_parameter="/ses-pool-enforcer/policy")
        os.environ.update(stack.environment())
        # Imported only now: the handler reads its settings from the environment.
        from functions.on_event.app import handler

        run(stack, handler, args.policy, args.report_dir)
        organization(stack, handler)
        if args.policy == HERE / "policy.yaml":  # (its next version: the demo's own rules)
            pools_and_tenants(stack, handler)
    say(f"\nDone in {time.monotonic() - started:.1f}s. Your own policy: make demo POLICY=FILE,")
    say("or make local-aws and the CLI against it (README). Tests: make test.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
