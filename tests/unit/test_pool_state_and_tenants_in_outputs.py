"""The target pool's state (scaling mode, IP count, coldest warm-up) and a set's tenants
travel from the record the reconciler makes to every output: the inventory's row, the
report's JSON and CSV, the alert, the Security Hub finding and plan's JSON. A record made
under a policy without pool health or tenants carries none of it, and every output is
exactly what it was."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json

from ses_pool_enforcer.adapters.inventory import SETS, _Update
from ses_pool_enforcer.cli.plan import Change, _document
from ses_pool_enforcer.compliance.security_hub import FIELD_PREFIX, Product, Status, finding
from ses_pool_enforcer.compliance.security_hub import record_of as hub_record_of
from ses_pool_enforcer.model import DedicatedIp, Outcome, OutcomeRecord, PoolState
from ses_pool_enforcer.notices import Trigger, notice
from ses_pool_enforcer.policy import Mode
from ses_pool_enforcer.report import (
    Entry,
    IdentityEntry,
    build_report,
    by_tenant,
    to_csv,
    to_identities_csv,
    to_json,
)
from ses_pool_enforcer.report_html import to_html

NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
WARMING = PoolState(
    "bulk",
    "STANDARD",
    (DedicatedIp("192.0.2.1", "DONE", 100), DedicatedIp("192.0.2.2", "IN_PROGRESS", 10)),
)
EMPTY = PoolState("bulk", "STANDARD", ())
PLAIN = OutcomeRecord("plain", Outcome.COMPLIANT, "p", "p", "r", "on p", NOW, policy_version=3)
REFUSED = OutcomeRecord(
    "bulk-a",
    Outcome.ERROR,
    "acme",
    "bulk",
    "bulk",
    "not moved: target pool bulk is not ready",
    NOW,
    policy_version=3,
    tenants=("acme", "beta"),
).with_pool(WARMING)
PRODUCT = Product("123456789012", "us-east-1")


def inventory_row(record: OutcomeRecord) -> dict[str, str]:
    """What the inventory's update stores for ``record``, read back as a row."""
    update = _Update().outcome(record, "sweep-1", SETS)
    names = {ref: name for ref, name in update.names.items()}
    row = {"configuration_set": record.configuration_set}
    for part in update.sets:
        ref, value = part.split(" = ")
        if value.startswith(":") and value in update.values:
            row[names[ref]] = next(iter(update.values[value].values()))
    return row


def test_a_record_carries_the_pool_s_figures_and_tenants_as_fields_not_only_in_its_reason() -> None:
    data = REFUSED.to_dict()
    assert data["pool_scaling_mode"] == "STANDARD"
    assert data["pool_ips"] == 2
    assert data["pool_coldest_warmup"] == 10
    assert data["tenants"] == ["acme", "beta"]
    assert OutcomeRecord.from_dict(data) == REFUSED
    # A pool with no IP: 0 is said, not dropped
    assert PLAIN.with_pool(EMPTY).to_dict()["pool_ips"] == 0


def test_without_pool_health_or_tenants_a_record_is_what_it_always_was() -> None:
    assert set(PLAIN.to_dict()) == {
        "configuration_set",
        "outcome",
        "current_pool",
        "expected_pool",
        "rule_id",
        "reason",
        "checked_at",
        "previous_pool",
        "policy_version",
        "kind",
    }
    assert PLAIN.with_pool(None) == PLAIN


def test_the_inventory_keeps_the_figures_and_the_report_reads_them_back() -> None:
    row = inventory_row(REFUSED)
    assert row["pool_ips"] == "2" and row["pool_coldest_warmup"] == "10"
    assert row["tenants"] == "acme,beta"
    entry = Entry.from_row(row)
    assert (entry.pool_scaling_mode, entry.pool_ips, entry.pool_coldest_warmup) == (
        "STANDARD",
        2,
        10,
    )
    assert entry.tenants == ("acme", "beta")
    # 0 IPs survives the round trip (a falsy value is not "absent")
    assert Entry.from_row(inventory_row(PLAIN.with_pool(EMPTY))).pool_ips == 0
    # A plain record writes none of them
    assert not {"pool_ips", "pool_scaling_mode", "tenants"} & set(inventory_row(PLAIN))


def report(*records: OutcomeRecord) -> object:
    return build_report(
        [Entry.from_record(r) for r in records],
        sweep_id="sweep-1",
        trigger="schedule",
        started_at=NOW.isoformat(),
        finished_at=NOW.isoformat(),
        policy_version="3",
    )


def test_the_report_json_and_csv_show_the_pool_state_and_tenants_and_count_by_tenant() -> None:
    other = OutcomeRecord(
        "bulk-b", Outcome.COMPLIANT, "bulk", "bulk", "bulk", "on bulk", NOW, tenants=("acme",)
    ).with_pool(WARMING)
    alone = OutcomeRecord("solo", Outcome.COMPLIANT, "p", "p", "r", "on p", NOW, tenants=())
    built = report(REFUSED, other, alone, PLAIN)

    document = json.loads(to_json(built))  # type: ignore[arg-type]
    sets = {s["configuration_set"]: s for s in document["sets"]}
    assert sets["bulk-a"]["pool_scaling_mode"] == "STANDARD"
    assert sets["bulk-a"]["pool_ips"] == 2 and sets["bulk-a"]["pool_coldest_warmup"] == 10
    assert sets["bulk-a"]["tenants"] == ["acme", "beta"]
    assert "pool_ips" not in sets["plain"] and "tenants" not in sets["plain"]
    assert document["by_tenant"] == {
        "(no tenant)": {"sets": 1, "compliant": 1},
        "acme": {"sets": 2, "compliant": 1, "error": 1},
        "beta": {"sets": 1, "error": 1},
    }

    rows = {r["configuration_set"]: r for r in csv.DictReader(io.StringIO(to_csv(built)))}  # type: ignore[arg-type]
    assert rows["bulk-a"]["pool_ips"] == "2"
    assert rows["bulk-a"]["pool_coldest_warmup"] == "10"
    assert rows["bulk-a"]["tenants"] == "acme;beta"
    assert rows["plain"]["pool_ips"] == "" and rows["plain"]["tenants"] == ""


def test_a_report_without_pool_state_or_tenants_has_no_such_key_nor_column() -> None:
    built = report(PLAIN)
    document = json.loads(to_json(built))  # type: ignore[arg-type]
    assert "by_tenant" not in document
    assert set(document["sets"][0]) == {
        "configuration_set",
        "outcome",
        "current_pool",
        "expected_pool",
        "rule_id",
        "reason",
        "checked_at",
    }
    header = to_csv(built).splitlines()[0]  # type: ignore[arg-type]
    assert header == (
        "configuration_set,outcome,current_pool,expected_pool,rule_id,reason,checked_at,"
        "policy_version"
    )


def test_sets_whose_tenants_were_not_read_are_not_counted_under_any_tenant() -> None:
    assert by_tenant([Entry.from_record(PLAIN)]) == {}


def test_the_alert_names_the_target_pool_s_state_and_the_tenants() -> None:
    said = notice(REFUSED, Trigger("event"))
    assert "Target pool:   STANDARD, 2 IPs, coldest 10 % warm\n" in said.text
    assert "Tenants:       acme, beta\n" in said.text
    assert said.document["target_pool_state"] == {
        "scaling_mode": "STANDARD",
        "ips": 2,
        "coldest_warmup_percent": 10,
    }
    assert said.document["tenants"] == ["acme", "beta"]

    plain = notice(PLAIN, Trigger("event"))
    assert "Target pool" not in plain.text and "Tenants" not in plain.text
    assert "target_pool_state" not in plain.document and "tenants" not in plain.document


def test_the_security_hub_finding_has_the_pool_state_and_tenants_as_product_fields() -> None:
    made = finding(REFUSED, PRODUCT, Status.FAILED, created_at=NOW, updated_at=NOW)
    fields = made["ProductFields"]
    assert fields[FIELD_PREFIX + "TargetPoolScalingMode"] == "STANDARD"
    assert fields[FIELD_PREFIX + "TargetPoolIps"] == "2"
    assert fields[FIELD_PREFIX + "TargetPoolColdestWarmupPercent"] == "10"
    assert fields[FIELD_PREFIX + "Tenants"] == "acme,beta"
    # ASFF: every value a non-empty string
    assert all(isinstance(v, str) and v.strip() for v in fields.values())
    # A resync rebuilds the finding from the inventory's row: the same fields
    rebuilt = hub_record_of({**inventory_row(REFUSED), "outcome": "error"})
    assert rebuilt is not None
    again = finding(rebuilt, PRODUCT, Status.FAILED, created_at=NOW, updated_at=NOW)
    assert again["ProductFields"][FIELD_PREFIX + "TargetPoolIps"] == "2"
    assert again["ProductFields"][FIELD_PREFIX + "Tenants"] == "acme,beta"

    plain = finding(PLAIN, PRODUCT, Status.FAILED, created_at=NOW, updated_at=NOW)
    assert not any("TargetPool" in k or "Tenants" in k for k in plain["ProductFields"])


def test_plan_s_json_shows_the_target_pool_s_state_after_the_change() -> None:
    before = OutcomeRecord("bulk-a", Outcome.COMPLIANT, "acme", "acme", "old", "on acme", NOW)
    args = argparse.Namespace(file="p.yaml", policy_parameter="/p")

    class Stored:
        stored = None
        policy = None

    document = _document(args, Stored(), 1, [Change(before, REFUSED)], Mode.ENFORCE, None)  # type: ignore[arg-type]
    change = document["changes"][0]
    assert change["after"]["target_pool_state"] == {
        "scaling_mode": "STANDARD",
        "ips": 2,
        "coldest_warmup_percent": 10,
    }
    assert change["after"]["tenants"] == ["acme", "beta"]
    assert "target_pool_state" not in change["before"] and "tenants" not in change["before"]


def test_identities_tenants_are_in_the_report_s_identity_json_csv_and_html_as_sets_are() -> None:
    # Given a report of identities as the identity inventory holds them, their tenants
    # read (the policy names tenants): one of two tenants, one of none, one non-compliant
    rows = [
        {"identity": "a.example.com", "outcome": "violation", "required": "acme-set",
         "rule_id": "acme", "reason": "not changed", "tenants": "acme-eu,globex"},
        {"identity": "b.example.com", "outcome": "compliant", "required": "s",
         "default_configuration_set": "s", "rule_id": "all", "tenants": ""},
    ]  # fmt: skip
    built = build_report(
        [Entry.from_record(PLAIN)],
        sweep_id="sweep-1",
        trigger="schedule",
        started_at=NOW.isoformat(),
        finished_at=NOW.isoformat(),
        policy_version="3",
        identities=[IdentityEntry.from_row(r) for r in rows],
    )

    # Then the JSON names each identity's tenants, the identities CSV has a tenants column
    document = json.loads(to_json(built))
    entries = {e["identity"]: e for e in document["identities"]["entries"]}
    assert entries["a.example.com"]["tenants"] == ["acme-eu", "globex"]
    assert entries["b.example.com"]["tenants"] == []
    table = to_identities_csv(built)
    assert table is not None
    by_identity = {r["identity"]: r for r in csv.DictReader(io.StringIO(table))}
    assert by_identity["a.example.com"]["tenants"] == "acme-eu;globex"
    # And the HTML page's non-compliant identities table has a Tenants column
    page = to_html(built)
    identities_table = page.split('id="non-compliant-identities-table"', 1)[1].split("</table>")[0]
    assert ">Tenants<" in identities_table and "<td>acme-eu, globex</td>" in identities_table


def test_identities_whose_tenants_were_not_read_have_no_such_key_nor_column() -> None:
    row = {"identity": "a.example.com", "outcome": "compliant", "required": "s"}
    built = build_report(
        [],
        sweep_id="sweep-1",
        trigger="schedule",
        started_at=NOW.isoformat(),
        finished_at=NOW.isoformat(),
        identities=[IdentityEntry.from_row(row)],
    )
    assert "tenants" not in json.loads(to_json(built))["identities"]["entries"][0]
    table = to_identities_csv(built)
    assert table is not None and "tenants" not in table.splitlines()[0]
