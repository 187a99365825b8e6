"""What an alert says, for people (subject and text) and for machines (JSON). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ses_pool_enforcer.model import Kind, Outcome, OutcomeRecord


@dataclass(frozen=True)
class Trigger:
    """Why a set was looked at: a CloudTrail event, a sweep, or an operator."""

    source: str
    account: str | None = None
    region: str | None = None
    account_name: str | None = None  # a member account's name in the organization
    actor: str | None = None
    actor_role: str | None = None  # the role an assumed-role session was issued by
    pipeline: str | None = None  # the IaC principal glob the actor matched, if any
    event_id: str | None = None
    event_name: str | None = None
    event_time: str | None = None


HEADLINES = {
    Outcome.REMEDIATED: "moved to its required pool",
    Outcome.VIOLATION: "is on the wrong pool (audit mode: not moved)",
    Outcome.ERROR: "could not be enforced",
    Outcome.FLAPPING: "keeps being changed back: enforcement paused",
}
IDENTITY_HEADLINES = {
    Outcome.REMEDIATED: "given its required default configuration set",
    Outcome.VIOLATION: "does not have the default configuration set the policy requires",
    Outcome.ERROR: "could not be enforced",
    Outcome.FLAPPING: "keeps being changed back: enforcement paused",
}


@dataclass(frozen=True)
class Notice:
    title: str
    text: str
    document: dict[str, Any]
    attributes: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "text": self.text,
            "document": self.document,
            "attributes": self.attributes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notice:
        return cls(data["title"], data["text"], data["document"], data["attributes"])


def notice(record: OutcomeRecord, trigger: Trigger, alert_id: str | None = None) -> Notice:
    """What to say about ``record``. ``alert_id`` names an alert owed after a write: if
    the process dies between publishing it and noting that it did, the retry publishes it
    again under the same id, so subscribers can drop the repeat."""
    identity = record.kind is Kind.IDENTITY
    headline = (IDENTITY_HEADLINES if identity else HEADLINES).get(
        record.outcome, record.outcome.value
    )
    title = f"[ses-pool-enforcer] {record.outcome.value}: {record.configuration_set} {headline}"
    about: dict[str, Any] = (
        {
            "kind": record.kind.value,
            "identity": record.configuration_set,
            "current_configuration_set": record.current_pool,
            "required_configuration_set": record.expected_pool,
            "previous_configuration_set": record.previous_pool,
        }
        if identity
        else {
            "configuration_set": record.configuration_set,
            "current_pool": record.current_pool,
            "expected_pool": record.expected_pool,
            "previous_pool": record.previous_pool,
        }
    )
    document: dict[str, Any] = {
        "account": trigger.account,
        "account_name": trigger.account_name,
        "region": trigger.region,
        **about,
        "rule_id": record.rule_id,
        "outcome": record.outcome.value,
        "reason": record.reason,
        "actor": trigger.actor,
        "pipeline": trigger.pipeline,
        "event_id": trigger.event_id,
        "event_name": trigger.event_name,
        "event_time": trigger.event_time,
        "checked_at": record.checked_at.isoformat(),
        "trigger": trigger.source,
        "policy_version": record.policy_version,
        "alert_id": alert_id,
    }
    # Only when read: a policy without pool health or tenants alerts as it always did.
    if (pool_state := record.pool_state()) is not None:
        document["target_pool_state"] = pool_state
    if record.tenants is not None:
        document["tenants"] = list(record.tenants)
    what, held = ("Identity", "Default set") if identity else ("Configuration set", "Pool")
    lines = [
        f"{what} {record.configuration_set} {headline}.",
        "",
        f"Outcome:       {record.outcome.value}",
        f"Reason:        {record.reason}",
        f"{held + ' before:':<15}{record.previous_pool or record.current_pool or '-'}",
        f"{held + ' now:':<15}{record.current_pool or '-'}",
        f"{'Required:':<15}{record.expected_pool or '-'}",
        *([f"Target pool:   {summary}"] if (summary := record.pool_summary()) else []),
        *(
            [f"Tenants:       {', '.join(record.tenants) or '-'}"]
            if record.tenants is not None
            else []
        ),
        f"Rule:          {record.rule_id or '-'}",
        f"Account:       {trigger.account or '-'}"
        + (f" ({trigger.account_name})" if trigger.account_name else "")
        + f"  Region: {trigger.region or '-'}",
        f"Changed by:    {trigger.actor or '-'}"
        + (f" (a deploy pipeline: {trigger.pipeline})" if trigger.pipeline else ""),
        f"Trigger:       {trigger.source}"
        + (
            f" {trigger.event_name} {trigger.event_id} at {trigger.event_time}"
            if trigger.event_id
            else ""
        ),
        f"Checked at:    {record.checked_at.isoformat()}"
        + (f" under policy version {record.policy_version}" if record.policy_version else ""),
    ]
    attributes = {"outcome": record.outcome.value}
    attributes["identity" if identity else "configuration_set"] = record.configuration_set
    if alert_id:
        attributes["alert_id"] = alert_id
    return Notice(title, "\n".join(lines) + "\n", document, attributes)
