"""Settings: one pydantic model read from the environment, in one place."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ses_pool_enforcer.policy import Mode


class Switch(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    policy_parameter: str = Field(default="/ses-pool-enforcer/policy", pattern=r"^/.+")
    enforcement_mode: Mode = Mode.ENFORCE
    policy_cache_seconds: int = Field(default=60, ge=0, le=3600)
    ses_calls_per_second: float = Field(default=1.0, gt=0, le=1000)
    alert_topic_arn: str | None = None
    alert_fallback_queue_url: str | None = None
    inventory_table: str | None = None
    identity_table: str | None = None
    state_table: str | None = None
    report_bucket: str | None = None
    work_queue_url: str | None = None
    flap_threshold: int = Field(default=3, ge=1)
    flap_window_seconds: int = Field(default=3600, ge=60)
    # One sweep step's working time; a step also stops a minute before Lambda's timeout.
    sweep_step_seconds: int = Field(default=600, ge=1, le=840)
    # Findings in AWS Security Hub (the SecurityHub deploy parameter), imported as the
    # account the functions run in (the template sets it from AWS::AccountId).
    security_hub: Switch = Switch.DISABLED
    account_id: str | None = Field(default=None, pattern=r"^[0-9]{12}$")
    # Organization mode (the OrganizationId deploy parameter; all unset: one account). The
    # hub governs the accounts of MEMBER_OUS in MEMBER_REGIONS through MEMBER_ROLE_NAME.
    organization_id: str | None = Field(default=None, pattern=r"^o-[a-z0-9]{10,32}$")
    # IAM's role name characters, spelled out as the template's MemberRoleName pattern:
    # "\w" is Unicode to pydantic's regex engine, and compiling it cost every cold start 15 ms.
    member_role_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")
    member_regions: tuple[str, ...] = ()
    member_ous: tuple[str, ...] = ()
    # How many lanes (account, region) a sweep runs side by side (the Map's MaxConcurrency:
    # an inline Map runs 40 at most, a Distributed Map 10,000).
    lane_concurrency: int = Field(default=10, ge=1, le=10_000)
    # The AWS Config organization aggregator the drift check queries (the
    # ConfigAggregatorName deploy parameter; unset: no drift check).
    config_aggregator_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$")

    @field_validator("member_regions", "member_ous", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def governs(self, account: str, region: str) -> bool:
        """Whether (``account``, ``region``) is a member lane of this hub: any account the
        organization's events come from (the hub bus admits the organization only, and
        the member role exists only where the StackSet put it), in a member region."""
        return bool(self.member_role_name) and region in self.member_regions


class SettingsError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once: ``POLICY_PARAMETER`` -> ``policy_parameter`` and so on."""
    raw = {
        name: os.environ[name.upper()]
        for name in Settings.model_fields
        if name.upper() in os.environ
    }
    try:
        return Settings.model_validate({k: v for k, v in raw.items() if v != ""})
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from exc


def describe(exc: ValidationError) -> str:
    """One line naming each bad variable, its value and what it expects:
    ``bad environment: SES_CALLS_PER_SECOND='abc': input should be a valid number...``."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]).upper() if error["loc"] else "the environment"
        message = error["msg"][:1].lower() + error["msg"][1:]
        problems.append(f"{name}={error['input']!r}: {message}")
    return "bad environment: " + "; ".join(problems)
