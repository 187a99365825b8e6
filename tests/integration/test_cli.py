"""Issue 4: the operator CLI, in process, against local AWS: validate, plan, publish,
report and sweep, exit codes and one-line errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_aws import faults, seed
from local_aws.sesv2 import call_counts
from local_aws.stack import LocalStack
from ses_pool_enforcer import __version__
from ses_pool_enforcer.adapters.history import HistoryPoint, ReportHistory
from ses_pool_enforcer.adapters.inventory import Inventory
from ses_pool_enforcer.cli import main
from ses_pool_enforcer.model import Kind
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.policy import parse_policy
from ses_pool_enforcer.runtime import get_runtime
from ses_pool_enforcer.work import Work
from tests.conftest import reset_process_caches
from tests.report_page import Page

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PARAMETER = "/ses-pool-enforcer/policy"

POLICY = """\
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
  - id: receipts
    match: {names: ["tx-*"]}
    pool: transactional
    mode: audit
exemptions:
  - configuration_set: legacy-*
    reason: OPS-42 migration
    expires: 2099-12-31
"""

# Receipts enforced, and a rule for ops-* whose pool nobody created.
CHANGED = """\
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
  - id: receipts
    match: {names: ["tx-*"]}
    pool: transactional
  - id: ops
    match: {names: ["ops-*"]}
    pool: ops-pool-not-created
exemptions:
  - configuration_set: legacy-*
    reason: OPS-42 migration
    expires: 2099-12-31
"""

SETS = {
    "mkt-weekly": "transactional",  # wrong pool: moved
    "mkt-daily": "marketing",
    "tx-receipts": "transactional",
    "tx-reset": "marketing",  # wrong pool, audit rule: violation
    "legacy-billing": "marketing",  # exempt
    "ops-alerts": None,  # unmanaged
}


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str) -> Run:
        status = main(list(args))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


@pytest.fixture(autouse=True)
def fast_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sweep's budget, read by the CLI as its default: fast enough for tests.
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "50")


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    # Given two dedicated pools and six sets, and no policy stored yet
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    for name, pool in SETS.items():
        seed.create_set(name, pool=pool)
    return stack


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def stored() -> tuple[str, int] | None:
    try:
        answer = boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]
    except boto3.client("ssm").exceptions.ParameterNotFound:
        return None
    return answer["Value"], int(answer["Version"])


def rows_of(table: str) -> dict[str, list[str]]:
    """Table rows keyed by their first cell (header and non-table lines skipped)."""
    lines = [line.split() for line in table.splitlines() if line and line[0].islower()]
    return {cells[0]: cells[1:] for cells in lines if len(cells) > 3}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --------------------------------------------------------------------------- validate


def test_validate_accepts_a_valid_document(cli: Any) -> None:
    # When the example policy is validated
    result = cli("validate", str(EXAMPLES / "policy.yaml"))

    # Then it is valid, with its stored size and tier
    assert result.status == 0
    assert result.out.strip().endswith("valid; 685 bytes as stored (standard tier)")


def test_validate_names_every_invalid_field_and_exits_1(cli: Any) -> None:
    # When the invalid example is validated
    result = cli("validate", str(EXAMPLES / "invalid-policy.yaml"))

    # Then each error names its field path and what was expected
    assert result.status == 1
    assert "error: rules[0].pool: String should match pattern" in result.out
    assert (
        "error: rules[1].match: match needs at least one of 'names', 'tags', "
        "'accounts', 'organizational_units', 'regions'" in result.out
    )
    assert "error: rules[1].mode: Input should be 'enforce' or 'audit'" in result.out
    assert "error: exemptions[0].reason:" in result.out
    assert "error: exemptions[0].expires:" in result.out
    assert "invalid (5 errors)" in result.out


def test_validate_warns_about_shadowed_rules_expiring_exemptions_and_size(
    cli: Any, tmp_path: Path
) -> None:
    # Given a valid document with a shadowed rule, an exemption ending in 5 days, and
    # enough rules to outgrow SSM's standard tier
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)
    filler = "".join(
        f"  - id: filler-{i:02}\n    description: {'x' * 80}\n"
        f"    match: {{names: [filler-{i:02}-*]}}\n    pool: marketing\n"
        for i in range(40)
    )
    document = (
        "version: 1\nmode: enforce\nrules:\n"
        "  - id: marketing\n    match: {names: [mkt-*]}\n    pool: marketing\n"
        "  - id: weekly\n    match: {names: [mkt-weekly]}\n    pool: transactional\n"
        + filler
        + f"exemptions:\n  - {{configuration_set: legacy-*, reason: OPS-42, expires: {soon}}}\n"
    )

    # When it is validated
    result = cli("validate", write(tmp_path, document))

    # Then it is valid, with one warning of each kind
    assert result.status == 0
    assert "warning: rules[1]: rule 'weekly' can never apply" in result.out
    assert "rules[0] (marketing)" in result.out
    assert f"warning: exemptions[0]: 'legacy-*' expires in 5 days ({soon})" in result.out
    assert "over the 4096-byte standard tier" in result.out
    assert "valid (3 warnings)" in result.out
    assert "(advanced tier)" in result.out


def test_validate_refuses_a_document_ssm_cannot_hold(cli: Any, tmp_path: Path) -> None:
    rules = "".join(
        f"  - {{id: r{i:03}, description: {'x' * 100}, match: {{names: [s{i}]}}, pool: p}}\n"
        for i in range(80)
    )
    result = cli("validate", write(tmp_path, "version: 1\nrules:\n" + rules))
    assert result.status == 1
    assert "an SSM parameter holds at most 8192" in result.out


def test_validate_live_checks_globs_and_pools_against_the_account(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given a document with a glob no set matches and a pool nobody created
    document = CHANGED.replace("ops-*", "opz-*")

    # When it is validated against the account
    result = cli("validate", write(tmp_path, document), "--live")

    # Then both are warned about; the special pools and existing globs are not
    assert result.status == 0
    assert "warning: rules[2].match.names[0]: 'opz-*' matches no configuration set" in result.out
    assert (
        "warning: rules[2].pool: dedicated pool 'ops-pool-not-created' does not exist" in result.out
    )
    assert result.out.count("warning:") == 2


def test_validate_live_warns_about_identity_globs_that_match_no_identity(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given an account with two identities, and identity rules and an exemption
    seed.sesv2().create_email_identity(EmailIdentity="news.example.com")
    seed.sesv2().create_email_identity(EmailIdentity="Orders@Shop.example.com")
    document = (
        "version: 1\n"
        "identities:\n"
        "  - {id: news, match: {identities: [NEWS.example.com]}, configuration_set: mkt-weekly}\n"
        "  - {id: shop, match: {identities: ['*@shop.example.com', '*@typo.example.com']},\n"
        "     default_configuration_set: required}\n"
        "exemptions:\n"
        "  - {identity: gone.example.com, reason: r, expires: 2099-01-01}\n"
    )

    # When it is validated against the account
    result = cli("validate", write(tmp_path, document), "--live")

    # Then the globs that match nothing are warned about, whatever the case of the others
    assert result.status == 0
    assert (
        "warning: identities[1].match.identities[1]: '*@typo.example.com' matches no identity"
        in result.out
    )
    assert "warning: exemptions[0].identity: 'gone.example.com' matches no identity" in result.out
    assert result.out.count("matches no identity") == 2


def test_validate_live_looks_in_the_region_given(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # When the document is checked against another region, where nothing exists
    result = cli("validate", write(tmp_path, POLICY), "--live", "--region", "eu-west-1")

    # Then no glob matches and no dedicated pool exists there
    assert result.out.count("matches no configuration set") == 3
    assert result.out.count("does not exist") == 2


def test_validate_reads_stdin_and_answers_json(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("version: 1\nmode: enforcing\n"))
    result = cli("validate", "-", "--format", "json")
    assert result.status == 1
    report = json.loads(result.out)
    assert report["valid"] is False
    assert report["findings"] == [
        {"severity": "error", "path": None, "message": "mode: Input should be 'enforce' or 'audit'"}
    ]


# --------------------------------------------------------------------------- plan


def test_plan_with_no_stored_policy_lists_every_set_the_document_would_manage(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # When a first policy is planned
    result = cli("plan", write(tmp_path, POLICY))

    # Then exit 2 (changes), and a row for each set that comes under management
    assert result.status == 2
    assert "with /ses-pool-enforcer/policy (no policy stored)" in result.out
    rows = rows_of(result.out)
    assert rows == {
        "legacy-billing": ["marketing", "-", "-", "unmanaged", "exempt", "none"],
        "mkt-daily": ["marketing", "marketing", "marketing", "unmanaged", "compliant", "none"],
        "mkt-weekly": [
            "transactional", "marketing", "marketing", "unmanaged", "remediated", "move",
        ],
        "tx-receipts": [
            "transactional", "transactional", "receipts", "unmanaged", "compliant", "none",
        ],
        "tx-reset": [
            "marketing", "transactional", "receipts", "unmanaged", "violation", "report",
        ],
    }  # fmt: skip
    assert (
        "Plan: 1 to move, 1 to report, 3 with nothing to do (compliant, exempt or unmanaged); "
        "5 of 6 configuration sets change."
    ) in (result.out)
    # And nothing was written
    assert call_counts().get("PutConfigurationSetDeliveryOptions", 0) == 0


def test_plan_of_the_stored_policy_shows_no_changes_and_exits_0(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given the policy stored in SSM
    seed.put_policy(POLICY)

    # When the same document is planned
    result = cli("plan", write(tmp_path, POLICY))

    # Then nothing changes
    assert result.status == 0
    assert "with /ses-pool-enforcer/policy version 1." in result.out
    assert "No changes: all 6 configuration sets keep their outcome." in result.out


def test_plan_shows_moves_and_missing_pools_reading_each_set_once(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given the policy stored in SSM
    seed.put_policy(POLICY)

    # When a change is planned: receipts enforced, ops-* sent to a pool that is missing
    before = sum(call_counts().values())
    started = time.monotonic()
    result = cli("plan", write(tmp_path, CHANGED), "--calls-per-second", "20")
    elapsed = time.monotonic() - started

    # Then the set to be moved and the set whose pool is missing are listed
    assert result.status == 2
    assert rows_of(result.out) == {
        "ops-alerts": [
            "ses-default-dedicated-pool", "ops-pool-not-created", "ops", "unmanaged", "error",
            "error",
        ],
        "tx-reset": ["marketing", "transactional", "receipts", "violation", "remediated", "move"],
    }  # fmt: skip
    assert "Plan: 1 to move, 1 in error; 2 of 6 configuration sets change." in result.out
    # And the table says why the set is in error, as --format json does
    assert (
        "Why in error:\n  ops-alerts: target pool ops-pool-not-created does not exist; not moved"
        in result.out
    )
    # And each set was read once for both documents, within the call budget
    calls = call_counts()
    assert calls["GetConfigurationSet"] == len(SETS)
    assert calls.get("PutConfigurationSetDeliveryOptions", 0) == 0
    assert elapsed >= (sum(calls.values()) - before - 1) / 20


def test_plan_as_json(cli: Any, account: LocalStack, tmp_path: Path) -> None:
    seed.put_policy(POLICY)
    result = cli("plan", write(tmp_path, CHANGED), "--format", "json")
    assert result.status == 2
    plan = json.loads(result.out)
    assert plan["stored_version"] == 1 and plan["sets_read"] == 6
    [ops, reset] = plan["changes"]
    assert reset["configuration_set"] == "tx-reset" and reset["action"] == "move"
    assert reset["before"]["outcome"] == "violation"
    assert reset["after"] == {
        "outcome": "remediated",
        "expected_pool": "transactional",
        "rule_id": "receipts",
        "reason": "moved from marketing to transactional",
    }
    assert ops["after"]["reason"] == "target pool ops-pool-not-created does not exist; not moved"


IDENTITY_RULES = """\
identities:
  - id: news
    match: {identities: ["news.example.com"]}
    configuration_set: mkt-daily
  - id: shop
    match: {identities: ["*@shop.example.com"]}
    configuration_set: tx-*
"""


def test_plan_covers_identities_when_a_document_has_identity_rules(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given the set policy stored, and three identities
    seed.put_policy(POLICY)
    seed.create_identity("news.example.com", configuration_set="mkt-weekly")
    seed.create_identity("orders@shop.example.com", configuration_set="mkt-daily")
    seed.create_identity("other.example.org")

    # When the same document with identity rules is planned
    result = cli("plan", write(tmp_path, POLICY + IDENTITY_RULES), "--calls-per-second", "20")

    # Then the sets keep their outcome, and each identity read changes as the rules say
    assert result.status == 2
    assert "No changes: all 6 configuration sets keep their outcome." in result.out
    assert rows_of(result.out) == {
        "news.example.com": [
            "mkt-weekly", "mkt-daily", "news", "unmanaged", "remediated", "assign",
        ],
        "orders@shop.example.com": [
            "mkt-daily", "tx-*", "shop", "unmanaged", "violation", "report",
        ],
    }  # fmt: skip
    assert "Plan: 1 to assign a default set, 1 to report; 2 of 3 identities change." in result.out
    # And each identity was read once, nothing written
    assert call_counts()["GetEmailIdentity"] == 3
    assert call_counts().get("PutEmailIdentityConfigurationSetAttributes", 0) == 0

    # And as JSON
    plan = json.loads(cli("plan", write(tmp_path, POLICY + IDENTITY_RULES), "--format", "json").out)
    assert plan["identities_read"] == 3
    [news, shop] = plan["identity_changes"]
    assert (news["identity"], news["action"]) == ("news.example.com", "assign")
    assert news["after"]["required"] == "mkt-daily"
    assert shop["after"]["outcome"] == "violation"


def test_plan_reads_no_identity_when_neither_document_has_identity_rules(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    seed.put_policy(POLICY)
    seed.create_identity("news.example.com")

    result = cli("plan", write(tmp_path, POLICY))

    assert result.status == 0
    assert "identities" not in result.out
    assert call_counts().get("ListEmailIdentities", 0) == 0


def test_plan_against_an_invalid_stored_policy_says_so(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given an invalid document stored by a careless console edit
    seed.put_policy("version: 1\nmode: enforcing\n")

    # When a valid one is planned
    result = cli("plan", write(tmp_path, POLICY))

    # Then every managed set changes from error (nothing enforced) to its outcome
    assert result.status == 2
    assert "version 1 (INVALID: never enforced)" in result.out
    assert rows_of(result.out)["mkt-daily"][3:] == ["error", "compliant", "none"]


def test_plan_of_an_invalid_document_exits_1(cli: Any, account: LocalStack, tmp_path: Path) -> None:
    result = cli("plan", write(tmp_path, "version: 2\n"))
    assert result.status == 1
    assert "error: version: Input should be 1" in result.out
    assert (
        result.err == f"error: {tmp_path / 'policy.yaml'} is not a valid policy; nothing to plan\n"
    )


def test_plan_uses_the_deployment_enforcement_mode(
    cli: Any, account: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment in audit mode
    monkeypatch.setenv("ENFORCEMENT_MODE", "audit")

    # When a first policy is planned, a move becomes a report
    result = cli("plan", write(tmp_path, POLICY))
    assert "(deployment in audit mode)" in result.out
    assert rows_of(result.out)["mkt-weekly"][-2:] == ["violation", "report"]


# --------------------------------------------------------------------------- publish


def test_publish_writes_the_canonical_json_and_prints_the_version(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given version 1 stored
    seed.put_policy(POLICY)

    # When a change is published with --yes (and --force: its ops pool is not created yet)
    result = cli("publish", write(tmp_path, CHANGED), "--yes", "--force")

    # Then the missing pool was a warning, a diff was shown as YAML in the document's
    # order, version 2 holds the canonical JSON, and the version is printed
    assert result.status == 0
    assert "warning: rules[2].pool: dedicated pool 'ops-pool-not-created' does not exist" in (
        result.out
    )
    assert "--- /ses-pool-enforcer/policy (version 1)" in result.out
    assert "+- id: ops\n" in result.out
    assert "+  pool: ops-pool-not-created\n" in result.out
    assert (
        "   pool: transactional\n-  mode: audit\n+- id: ops\n" in result.out
    )  # receipts, then ops
    canonical = parse_policy(CHANGED).to_json()
    assert stored() == (canonical, 2)
    assert result.out.endswith(
        f"Published /ses-pool-enforcer/policy version 2 ({len(canonical)} bytes, standard tier).\n"
    )


def test_publish_refuses_a_pool_that_does_not_exist_without_force(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given version 1 stored, and a change naming a pool the account does not have
    seed.put_policy(POLICY)

    # When it is published without --force
    result = cli("publish", write(tmp_path, CHANGED), "--yes")

    # Then it is refused, naming the pool and the way out, and version 1 stays
    assert result.status == 1
    assert "warning: rules[2].pool: dedicated pool 'ops-pool-not-created' does not exist" in (
        result.out
    )
    assert "create the pool first, or pass --force" in result.err
    assert stored() == (POLICY, 1)


def test_publishing_the_stored_policy_again_does_nothing(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    # Given the policy published once (as YAML by hand: same content, other spelling)
    seed.put_policy(POLICY)

    # When the same document is published
    result = cli("publish", write(tmp_path, POLICY), "--yes")

    # Then nothing is written
    assert result.status == 0
    assert "Nothing to publish: /ses-pool-enforcer/policy version 1 already holds" in result.out
    assert stored() == (POLICY, 1)


def test_publish_refuses_an_invalid_document_and_writes_nothing(
    cli: Any, account: LocalStack
) -> None:
    result = cli("publish", str(EXAMPLES / "invalid-policy.yaml"), "--yes")
    assert result.status == 1
    assert "error: rules[0].pool:" in result.out
    assert "nothing published" in result.err
    assert stored() is None


def test_publish_without_yes_and_no_terminal_refuses(
    cli: Any, account: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given input that is not a terminal (a pipe, CI)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    # When publishing without --yes
    result = cli("publish", write(tmp_path, POLICY))

    # Then it refuses in one line, and nothing is written
    assert result.status == 1
    assert result.err == (
        "error: refusing to publish without confirmation: standard input is not a "
        "terminal; pass --yes to publish non-interactively\n"
    )
    assert stored() is None


@pytest.mark.parametrize(("answer", "published"), [("y\n", True), ("\n", False)])
def test_publish_asks_on_a_terminal(
    cli: Any,
    account: LocalStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    published: bool,
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    result = cli("publish", write(tmp_path, POLICY))
    assert "Publish" in result.err and "[y/N]" in result.err
    assert (stored() is not None) is published
    assert result.status == (0 if published else 1)


def test_publish_of_a_large_document_uses_the_advanced_tier(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    rules = "".join(
        f"  - {{id: r{i:03}, description: {'x' * 80}, match: {{names: [s{i}]}}, pool: p}}\n"
        for i in range(40)
    )
    result = cli("publish", write(tmp_path, "version: 1\nrules:\n" + rules), "--yes", "--force")
    assert result.status == 0
    assert "advanced tier" in result.out
    [parameter] = boto3.client("ssm").describe_parameters()["Parameters"]
    assert parameter["Tier"] == "Advanced"


def test_the_global_options_work_after_the_command(
    cli: Any, account: LocalStack, tmp_path: Path
) -> None:
    result = cli("publish", write(tmp_path, POLICY), "--yes", "--policy-parameter", "/team/p")
    assert result.status == 0
    assert "Published /team/p version 1" in result.out
    assert stored() is None


# --------------------------------------------------------------------------- report


@pytest.fixture
def recorded(account: LocalStack) -> LocalStack:
    # Given the policy enforced on every set, as the sweep does: the inventory filled
    seed.put_policy(POLICY)
    reconciler = get_runtime().reconciler()
    for name in SETS:
        reconciler.reconcile(Work(name, Trigger("test")))
    return account


def test_report_from_the_inventory_as_a_table(cli: Any, recorded: LocalStack) -> None:
    result = cli("report")
    assert result.status == 0
    assert result.out.startswith(
        "Compliance report: 6 configuration sets (inventory ses-pool-enforcer-inventory)."
    )
    rows = rows_of(result.out)
    assert rows["marketing"] == ["2", "1", "1", "0", "0", "0"]  # rule: sets, per outcome
    assert "Non-compliant sets (1):" in result.out
    assert rows["tx-reset"][:4] == ["violation", "marketing", "transactional", "receipts"]


def test_report_from_the_inventory_as_json(cli: Any, recorded: LocalStack) -> None:
    result = cli("report", "--format", "json")
    report = json.loads(result.out)
    assert report["kind"] == "compliance-report"
    assert report["trigger"] == "inventory ses-pool-enforcer-inventory"
    assert (report["total"], report["managed"], report["non_compliant_total"]) == (6, 5, 1)
    assert report["counts"] == {
        "compliant": 2,
        "remediated": 1,
        "violation": 1,
        "exempt": 1,
        "unmanaged": 1,
        "error": 0,
        "flapping": 0,
    }
    assert report["by_rule"]["receipts"] == {"sets": 2, "compliant": 1, "violation": 1}
    assert report["by_pool"]["marketing"] == {"sets": 2, "compliant": 1, "remediated": 1}
    assert [row["configuration_set"] for row in report["sets"]] == sorted(SETS)


def test_report_from_a_named_inventory_table_as_csv(
    cli: Any, recorded: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INVENTORY_TABLE")
    result = cli("report", "--inventory-table", recorded.inventory_table, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [row["configuration_set"] for row in rows] == sorted(SETS)
    weekly = next(row for row in rows if row["configuration_set"] == "mkt-weekly")
    assert (weekly["outcome"], weekly["current_pool"], weekly["rule_id"]) == (
        "remediated",
        "marketing",
        "marketing",
    )


def test_report_without_an_inventory_table_is_a_one_line_error(
    cli: Any, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INVENTORY_TABLE")
    result = cli("report")
    assert result.status == 1
    assert result.err == (
        "error: no inventory table: pass --stack NAME (the deployed stack; none is named "
        "ses-pool-enforcer here), --inventory-table NAME or set INVENTORY_TABLE "
        "(or scan the account with --live)\n"
    )


@pytest.mark.parametrize("form", ["table", "json", "csv"])
def test_report_live_judges_every_set_now_and_writes_nothing(
    cli: Any, account: LocalStack, form: str
) -> None:
    # Given the policy stored, and nothing enforced yet
    seed.put_policy(POLICY)

    # When a live report is asked for
    result = cli("report", "--live", "--format", form)

    # Then mkt-weekly, still on the wrong pool, is a violation, and nothing was written
    assert result.status == 0
    if form == "json":
        report = json.loads(result.out)
        counts = {outcome: n for outcome, n in report["counts"].items() if n}
        assert counts == {"compliant": 2, "violation": 2, "exempt": 1, "unmanaged": 1}
        assert report["trigger"] == "live scan under /ses-pool-enforcer/policy version 1"
        bad = [row["configuration_set"] for row in report["sets"] if row["outcome"] == "violation"]
    elif form == "csv":
        rows = list(csv.DictReader(io.StringIO(result.out)))
        bad = [row["configuration_set"] for row in rows if row["outcome"] == "violation"]
    else:
        assert "Non-compliant sets (2):" in result.out
        bad = [name for name, cells in rows_of(result.out).items() if cells[0] == "violation"]
    assert bad == ["mkt-weekly", "tx-reset"]
    assert call_counts().get("PutConfigurationSetDeliveryOptions", 0) == 0
    assert list(Inventory(account.inventory_table).rows()) == []


def test_report_from_the_inventory_has_the_identities_the_enforcer_recorded(
    cli: Any, recorded: LocalStack
) -> None:
    # Given two identities the enforcer has looked at under identity rules
    seed.put_policy(POLICY + IDENTITY_RULES)
    seed.create_identity("news.example.com", configuration_set="mkt-daily")
    seed.create_identity("orders@shop.example.com", configuration_set="mkt-daily")
    reset_process_caches()  # a fresh process, which reads the new policy
    reconciler = get_runtime().reconciler(kind=Kind.IDENTITY)
    for name in ("news.example.com", "orders@shop.example.com"):
        reconciler.reconcile(Work(name, Trigger("test"), kind=Kind.IDENTITY))

    # When the report is asked for, as a table and as JSON
    text = cli("report").out
    report = json.loads(cli("report", "--format", "json").out)

    # Then both have the identities section, read from the identity table
    assert "Identities: 2, compliance 50.00% (1 of 2 managed)." in text
    assert "Non-compliant identities (1):" in text
    assert rows_of(text)["orders@shop.example.com"][:4] == [
        "violation",
        "mkt-daily",
        "tx-*",
        "shop",
    ]
    assert report["identities"]["counts"]["compliant"] == 1
    assert report["identities"]["non_compliant"] == ["orders@shop.example.com"]


def test_report_from_the_inventory_has_no_identities_section_when_none_were_recorded(
    cli: Any, recorded: LocalStack
) -> None:
    assert "Identities" not in cli("report").out
    assert "identities" not in json.loads(cli("report", "--format", "json").out)


def test_report_live_reads_identities_when_the_policy_has_identity_rules(
    cli: Any, account: LocalStack
) -> None:
    # Given identity rules stored, and an identity that lacks its required default
    seed.put_policy(POLICY + IDENTITY_RULES)
    seed.create_identity("news.example.com")

    # When a live report is asked for
    report = json.loads(cli("report", "--live", "--format", "json").out)

    # Then the identity is a violation now (the enforcer would assign its default), and
    # nothing was written
    [entry] = report["identities"]["entries"]
    assert (entry["identity"], entry["outcome"]) == ("news.example.com", "violation")
    assert entry["reason"] == (
        "default configuration set none, expected mkt-daily (the enforcer assigns it)"
    )
    assert call_counts().get("PutEmailIdentityConfigurationSetAttributes", 0) == 0


def test_report_as_an_html_page_from_the_inventory_with_the_sweeps_trend(
    cli: Any, recorded: LocalStack, tmp_path: Path
) -> None:
    # Given two sweeps on record in the state table
    history = ReportHistory(recorded.state_table)
    history.record(HistoryPoint("sweep-1", "2026-11-24T12:00:00+00:00", 0.4))
    history.record(HistoryPoint("sweep-2", "2026-11-25T12:00:00+00:00", 0.6))
    page_file = tmp_path / "compliance.html"

    # When the report is written as HTML
    result = cli("report", "--format", "html", "-o", str(page_file))

    # Then the file holds the page, the inventory's counts in its charts, the trend drawn
    assert result.status == 0 and result.out == ""
    assert result.err.startswith(f"Wrote {page_file} (")
    text = page_file.read_text(encoding="utf-8")
    page = Page(text)
    assert page.charts["by-outcome"] == {
        "compliant": {"compliant": 2}, "remediated": {"remediated": 1},
        "violation": {"violation": 1}, "exempt": {"exempt": 1}, "unmanaged": {"unmanaged": 1},
    }  # fmt: skip
    assert [row[0] for row in page.rows] == ["tx-reset"]
    assert 'data-sweep="sweep-1"' in text and 'data-sweep="sweep-2"' in text
    assert "This sweep and the 2 before it." in text
    # And it does not claim a policy version the inventory does not record
    assert page.texts["policy-version"] == "not recorded"


def test_report_as_html_without_a_history_says_it_has_no_trend(
    cli: Any, recorded: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no state table to read the sweeps' history from
    monkeypatch.delenv("STATE_TABLE")

    # When the page is written to standard output
    result = cli("report", "--format", "html")

    # Then it is the page, saying why the trend is missing
    assert result.status == 0 and result.out.startswith("<!DOCTYPE html>")
    assert "No sweep history was found" in Page(result.out).texts["trend-note"]


def test_report_live_as_html_names_the_policy_version_it_judged_by(
    cli: Any, account: LocalStack
) -> None:
    # Given the policy stored (version 1)
    seed.put_policy(POLICY)

    # When a live report is written as HTML
    result = cli("report", "--live", "--format", "html")

    # Then the page says which version judged the sets
    assert result.status == 0
    assert Page(result.out).texts["policy-version"] == "1"


def test_report_live_without_a_policy_is_an_error(cli: Any, account: LocalStack) -> None:
    result = cli("report", "--live")
    assert result.status == 1
    assert result.err.startswith("error: no policy stored in /ses-pool-enforcer/policy")


# --------------------------------------------------------------------------- report: lanes

SHOP, NEWS = "111122223333", "444455556666"
MEMBER_ENTRIES = {
    # (account, region): {set: (outcome, current pool, expected pool)}
    (SHOP, "us-east-1"): {
        "mkt-shop": ("remediated", "marketing", "marketing"),
        "tx-shop": ("violation", "marketing", "transactional"),
    },
    (NEWS, "eu-west-1"): {"mkt-news": ("compliant", "marketing", "marketing")},
}


@pytest.fixture
def lanes(recorded: LocalStack) -> LocalStack:
    # Given, beside the hub's own entries, two member lanes' entries in the same table
    for (account, region), entries in MEMBER_ENTRIES.items():
        for name, (outcome, current, expected) in entries.items():
            seed.inventory_entry(
                recorded.inventory_table,
                f"{account}/{region}/{name}",
                outcome=outcome,
                current_pool=current,
                expected_pool=expected,
                rule_id="marketing" if name.startswith("mkt") else "receipts",
                reason=f"{outcome} in {account}",
                checked_at="2026-11-20T11:00:00+00:00",
            )
    return recorded


def test_report_without_lane_options_is_the_hubs_own_lane_as_before(
    cli: Any, lanes: LocalStack
) -> None:
    # When reporting as before, Then the member lanes' entries are not in it
    report = json.loads(cli("report", "--format", "json").out)
    assert [row["configuration_set"] for row in report["sets"]] == sorted(SETS)
    assert all("account" not in row and "region" not in row for row in report["sets"])
    rows = list(csv.DictReader(io.StringIO(cli("report", "--format", "csv").out)))
    assert list(rows[0])[:2] == ["configuration_set", "outcome"]
    assert len(rows) == len(SETS)


def test_report_all_accounts_names_every_entrys_lane(cli: Any, lanes: LocalStack) -> None:
    # When every lane is asked for
    result = cli("report", "--all-accounts", "--format", "json")

    # Then the hub's own entries (its account, the CLI's region) and both members' are in it
    assert result.status == 0, result.err
    report = json.loads(result.out)
    lanes_of = {(r["account"], r["region"], r["configuration_set"]) for r in report["sets"]}
    hub = lanes.account_id
    assert lanes_of == {(hub, "us-east-1", name) for name in SETS} | {
        (account, region, name)
        for (account, region), entries in MEMBER_ENTRIES.items()
        for name in entries
    }
    assert list(report["sets"][0])[:3] == ["account", "region", "configuration_set"]
    assert report["total"] == len(SETS) + 3
    assert report["counts"]["violation"] == 2  # the hub's tx-reset and shop's tx-shop
    assert "identities" not in report  # (no lane has an identity recorded)


def test_report_of_named_accounts_and_regions_reads_their_lanes_index_not_every_lane(
    cli: Any, lane_identities: LocalStack
) -> None:
    # Given both tables refuse a Scan (a scan reads every lane of the organization)
    faults.fail("dynamodb", "Scan", times=100)

    # When one account's lane in one region is asked for
    result = cli("report", "--account", SHOP, "--lane-region", "us-east-1", "--format", "json")

    # Then its sets and identities come from the by-lane index
    assert result.status == 0, result.err
    report = json.loads(result.out)
    assert {(e["account"], e["configuration_set"]) for e in report["sets"]} == {
        (SHOP, "mkt-shop"),
        (SHOP, "tx-shop"),
    }
    assert {e["identity"] for e in report["identities"]["entries"]} == {
        "orders@shop.example.com",
        "billing@shop.example.com",
    }


def test_report_selects_lanes_by_account_and_region_as_csv(cli: Any, lanes: LocalStack) -> None:
    def lanes_in(*options: str) -> set[tuple[str, str, str]]:
        result = cli("report", *options, "--format", "csv")
        assert result.status == 0, result.err
        rows = list(csv.DictReader(io.StringIO(result.out)))
        assert list(rows[0])[:3] == ["account", "region", "configuration_set"]
        return {(r["account"], r["region"], r["configuration_set"]) for r in rows}

    assert lanes_in("--account", SHOP) == {
        (SHOP, "us-east-1", "mkt-shop"),
        (SHOP, "us-east-1", "tx-shop"),
    }
    assert lanes_in("--account", SHOP, "--account", NEWS, "--lane-region", "eu-west-1") == {
        (NEWS, "eu-west-1", "mkt-news")
    }
    # The hub's own lane is its account in the CLI's region
    assert lanes_in("--account", lanes.account_id) == {
        (lanes.account_id, "us-east-1", name) for name in SETS
    }
    assert {a for a, _, _ in lanes_in("--lane-region", "us-east-1")} == {SHOP, lanes.account_id}


def test_report_of_several_lanes_as_a_table_has_account_and_region(
    cli: Any, lanes: LocalStack
) -> None:
    result = cli("report", "--all-accounts")
    assert result.status == 0, result.err
    rows = [line.split() for line in result.out.splitlines()]
    # a breakdown per lane (sets, then per outcome), then the non-compliant sets with lanes
    assert "ACCOUNT / REGION" in result.out
    assert [SHOP, "us-east-1", "2"] in [r[:3] for r in rows]
    assert [NEWS, "eu-west-1", "1"] in [r[:3] for r in rows]
    assert "Non-compliant sets (2):" in result.out
    assert [SHOP, "us-east-1", "tx-shop", "violation"] in [r[:4] for r in rows]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--live", "--account", SHOP), "error: --account, --lane-region and --all-accounts"),
        (("--account", SHOP, "--all-accounts"), "error: --account and --all-accounts"),
        (("--account", "shop"), "error: not an account id (12 digits): shop"),
    ],
)
def test_report_lane_options_that_cannot_work_are_one_line_errors(
    cli: Any, lanes: LocalStack, options: tuple[str, ...], message: str
) -> None:
    result = cli("report", *options)
    assert result.status == 1
    assert result.err.startswith(message) and result.err.count("\n") == 1


# The identity table beside them: a name the hub and NEWS both have, and default sets
# named like non-compliant sets of another lane (the hub's tx-reset) or of their own
# (SHOP's tx-shop). Each: (outcome, default set, required).
HUB_IDENTITIES = {"news.example.com": ("compliant", "tx-reset", "tx-*")}
MEMBER_IDENTITIES = {
    (SHOP, "us-east-1"): {
        "orders@shop.example.com": ("violation", "mkt-shop", "tx-*"),
        "billing@shop.example.com": ("compliant", "tx-shop", "tx-*"),
    },
    (NEWS, "eu-west-1"): {"news.example.com": ("violation", "tx-reset", "mkt-*")},
}


@pytest.fixture
def lane_identities(lanes: LocalStack) -> LocalStack:
    # Given identities recorded in the hub's own lane (bare names) and two member lanes'
    def put(key: str, outcome: str, default: str, required: str, **lane: str) -> None:
        seed.inventory_entry(
            lanes.identity_table,
            key,
            key="identity",
            outcome=outcome,
            default_configuration_set=default,
            required=required,
            rule_id="shop",
            reason=f"{outcome}: default {default}",
            checked_at="2026-11-20T11:00:00+00:00",
            **lane,
        )

    for name, fields in HUB_IDENTITIES.items():
        put(name, *fields)
    for (account, region), identities in MEMBER_IDENTITIES.items():
        for name, fields in identities.items():
            put(f"{account}/{region}/{name}", *fields, lane=f"{account}#{region}")
    return lanes


def identities_of(*options: str, cli: Any) -> dict[str, Any]:
    result = cli("report", *options, "--format", "json")
    assert result.status == 0, result.err
    section: dict[str, Any] = json.loads(result.out)["identities"]
    return section


def test_report_without_lane_options_has_the_hubs_own_identities_as_before(
    cli: Any, lane_identities: LocalStack
) -> None:
    # When reporting as before
    section = identities_of(cli=cli)

    # Then only the hub's own identity is in it, with exactly the single-lane fields, and
    # its default set is matched against the hub's own sets
    assert section["entries"] == [
        {
            "identity": "news.example.com",
            "outcome": "compliant",
            "default_configuration_set": "tx-reset",
            "required": "tx-*",
            "rule_id": "shop",
            "reason": "compliant: default tx-reset",
            "checked_at": "2026-11-20T11:00:00+00:00",
        }
    ]
    assert section["wrong_pool_defaults"] == [
        {
            "identity": "news.example.com",
            "configuration_set": "tx-reset",
            "set_outcome": "violation",
            "current_pool": "marketing",
            "expected_pool": "transactional",
        }
    ]
    text = cli("report").out
    assert "Identities: 1, compliance 100.00% (1 of 1 managed)." in text
    assert "Non-compliant identities" not in text


def test_report_all_accounts_has_every_lanes_identities_with_account_and_region(
    cli: Any, lane_identities: LocalStack
) -> None:
    # When every lane is asked for
    section = identities_of("--all-accounts", cli=cli)

    # Then every lane's identities are in it, each naming its lane first
    hub = lane_identities.account_id
    assert [
        (e["account"], e["region"], e["identity"], e["outcome"]) for e in section["entries"]
    ] == [
        (SHOP, "us-east-1", "billing@shop.example.com", "compliant"),
        (SHOP, "us-east-1", "orders@shop.example.com", "violation"),
        (hub, "us-east-1", "news.example.com", "compliant"),
        (NEWS, "eu-west-1", "news.example.com", "violation"),
    ]
    assert list(section["entries"][0])[:3] == ["account", "region", "identity"]
    assert (section["total"], section["counts"]["violation"]) == (4, 2)
    assert section["non_compliant"] == ["news.example.com", "orders@shop.example.com"]
    # And a default set on the wrong pool is one of the identity's own lane: NEWS's
    # news.example.com names tx-reset, which is the hub's, not NEWS's
    assert [
        (d["account"], d["region"], d["identity"], d["configuration_set"])
        for d in section["wrong_pool_defaults"]
    ] == [
        (hub, "us-east-1", "news.example.com", "tx-reset"),
        (SHOP, "us-east-1", "billing@shop.example.com", "tx-shop"),
    ]


def test_report_selects_identities_by_account_and_region_too(
    cli: Any, lane_identities: LocalStack
) -> None:
    def lanes_in(*options: str) -> set[tuple[str, str, str]]:
        entries = identities_of(*options, cli=cli)["entries"]
        return {(e["account"], e["region"], e["identity"]) for e in entries}

    hub = lane_identities.account_id
    assert lanes_in("--account", SHOP) == {
        (SHOP, "us-east-1", "orders@shop.example.com"),
        (SHOP, "us-east-1", "billing@shop.example.com"),
    }
    assert lanes_in("--account", SHOP, "--account", NEWS, "--lane-region", "eu-west-1") == {
        (NEWS, "eu-west-1", "news.example.com")
    }
    # The hub's own identities are its account's, in the CLI's region
    assert lanes_in("--account", hub) == {(hub, "us-east-1", "news.example.com")}
    assert {a for a, _, _ in lanes_in("--lane-region", "us-east-1")} == {SHOP, hub}


def test_report_of_lanes_without_identities_has_no_identities_section(
    cli: Any, lane_identities: LocalStack
) -> None:
    # Given a selection whose lanes have no identity (NEWS has none in us-east-1)
    result = cli("report", "--account", NEWS, "--lane-region", "us-east-1", "--format", "json")

    # Then, as in a lane's own report with no identity recorded, there is no section
    assert result.status == 0, result.err
    assert "identities" not in json.loads(result.out)


def test_report_of_several_lanes_as_a_table_names_each_identitys_lane(
    cli: Any, lane_identities: LocalStack
) -> None:
    result = cli("report", "--all-accounts")
    assert result.status == 0, result.err
    assert "Identities: 4, compliance 50.00% (2 of 4 managed)." in result.out
    identities = result.out[result.out.index("Non-compliant identities (2):") :]
    rows = [line.split()[:4] for line in identities.splitlines()]
    assert [NEWS, "eu-west-1", "news.example.com", "violation"] in rows
    assert [SHOP, "us-east-1", "orders@shop.example.com", "violation"] in rows


def test_report_of_several_lanes_as_html_names_each_identitys_lane(
    cli: Any, lane_identities: LocalStack
) -> None:
    page = Page(cli("report", "--all-accounts", "--format", "html").out)
    hub = lane_identities.account_id
    assert [r[:4] for r in page.tables["non-compliant-identities-table"]] == [
        [NEWS, "eu-west-1", "news.example.com", "violation"],
        [SHOP, "us-east-1", "orders@shop.example.com", "violation"],
    ]
    assert [r[:4] for r in page.tables["wrong-pool-defaults-table"]] == [
        [hub, "us-east-1", "news.example.com", "tx-reset"],
        [SHOP, "us-east-1", "billing@shop.example.com", "tx-shop"],
    ]
    # and the sets' rows name their lanes the same way
    assert [r[:3] for r in page.rows] == [
        [hub, "us-east-1", "tx-reset"],
        [SHOP, "us-east-1", "tx-shop"],
    ]


# --------------------------------------------------------------------------- sweep


def _state_machine() -> str:
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name="ses-pool-enforcer-sweep",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sweep",
    )["stateMachineArn"]
    return arn


def _executions(arn: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    return [
        sfn.describe_execution(executionArn=e["executionArn"])
        for e in sfn.list_executions(stateMachineArn=arn)["executions"]
    ]


def test_sweep_starts_an_execution_of_the_state_machine(cli: Any, stack: LocalStack) -> None:
    # Given the sweep state machine
    arn = _state_machine()

    # When a sweep is started by ARN
    result = cli("sweep", "--state-machine-arn", arn)

    # Then one execution runs with the manual trigger, and its ARN is printed
    assert result.status == 0
    [execution] = _executions(arn)
    assert result.out == execution["executionArn"] + "\n"
    assert json.loads(execution["input"]) == {"trigger": "manual"}


def test_sweep_finds_the_state_machine_through_the_stack_output(
    cli: Any, stack: LocalStack
) -> None:
    # Given a stack whose SweepStateMachineArn output names the state machine
    arn = _state_machine()
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"SweepStateMachineArn": {"Value": arn}},
    }
    boto3.client("cloudformation").create_stack(
        StackName="ses-pool-enforcer", TemplateBody=json.dumps(template)
    )

    # When a sweep is started by stack name
    result = cli("sweep", "--stack", "ses-pool-enforcer")

    # Then it started there
    assert result.status == 0
    assert len(_executions(arn)) == 1


def test_sweep_of_a_stack_without_the_output_is_a_one_line_error(
    cli: Any, stack: LocalStack
) -> None:
    boto3.client("cloudformation").create_stack(
        StackName="other",
        TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}),
    )
    result = cli("sweep", "--stack", "other")
    assert (result.status, result.err) == (
        1,
        "error: stack other has no SweepStateMachineArn output\n",
    )


# --------------------------------------------------------------------------- errors


def test_a_missing_file_is_one_line_on_stderr(cli: Any) -> None:
    result = cli("validate", "no-such-policy.yaml")
    assert (result.status, result.out) == (1, "")
    assert result.err == "error: no such file: no-such-policy.yaml\n"


def test_an_aws_refusal_is_one_line_on_stderr(cli: Any, stack: LocalStack) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:nope"
    result = cli("sweep", "--state-machine-arn", arn)
    assert result.status == 1
    assert result.err.startswith("error: StartExecution failed: StateMachineDoesNotExist: ")
    assert result.err.count("\n") == 1


def test_missing_credentials_are_one_line_on_stderr(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no credentials anywhere (and nothing listening, should a request escape)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    # When a command needs AWS
    result = cli("plan", str(EXAMPLES / "policy.yaml"))

    # Then one line says so
    assert result.status == 1
    assert result.err.startswith("error: no usable AWS credentials")
    assert result.err.count("\n") == 1


def test_usage_errors_exit_1_not_2(cli: Any) -> None:
    # (2 means "changes" for plan)
    result = cli("plan")
    assert result.status == 1
    assert result.err == (
        "error: the following arguments are required: file (see 'ses-pool-enforcer plan --help')\n"
    )


def test_version_and_help(cli: Any) -> None:
    assert cli("--version") == Run(0, f"ses-pool-enforcer {__version__}\n", "")
    for command in ("validate", "plan", "publish", "report", "sweep"):
        result = cli(command, "--help")
        assert result.status == 0
        assert "examples:" in result.out


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "SES_CALLS_PER_SECOND",
            "abc",
            "SES_CALLS_PER_SECOND='abc': input should be a valid number, "
            "unable to parse string as a number",
        ),
        ("SES_CALLS_PER_SECOND", "0", "SES_CALLS_PER_SECOND='0': input should be greater than 0"),
        ("ENFORCEMENT_MODE", "strict", "ENFORCEMENT_MODE='strict': input should be 'enforce' or"),
    ],
)
def test_a_bad_environment_value_is_one_line_naming_the_variable(
    cli: Any, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    # Given a setting the deployment would refuse
    monkeypatch.setenv(variable, value)

    # When any command runs
    result = cli("report")

    # Then one line names the variable, its value and what it expects
    assert result.status == 1
    assert result.err.startswith(f"error: bad environment: {expected}")
    assert result.err.count("\n") == 1 and "pydantic" not in result.err


def test_aws_region_alone_names_the_region(
    cli: Any, account: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given only AWS_REGION (botocore itself reads AWS_DEFAULT_REGION), set to another region
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    # When the document is checked against the account, no set is found there
    result = cli("validate", write(tmp_path, POLICY), "--live")
    assert result.out.count("matches no configuration set") == 3


def test_no_region_is_one_line_on_stderr(
    cli: Any, stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = cli("report", "--live")
    assert result.status == 1
    assert result.err == (
        "error: no AWS region: pass --region, set AWS_REGION, or give the profile a region "
        "(aws configure set region REGION)\n"
    )
