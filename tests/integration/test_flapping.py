"""Issue 5: when another actor keeps reverting a set, the enforcer stops fighting, says
so once, naming the actor, and resumes when the window has passed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from functions.on_event import app
from local_aws import seed
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import LocalStack, received_alerts
from tests.conftest import reset_process_caches
from tests.support import marketing_account, ses_writes, shift_clock

START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


class Clock:
    """The enforcer's clock, moved on by the test; ``stack`` is the account it watches."""

    def __init__(self, stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = START
        self.stack = stack
        self.monkeypatch = monkeypatch
        shift_clock(monkeypatch, self.now)

    def advance(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)
        shift_clock(self.monkeypatch, self.now)


@pytest.fixture
def clock(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Clock:
    monkeypatch.setenv("FLAP_THRESHOLD", "3")
    monkeypatch.setenv("FLAP_WINDOW_SECONDS", "3600")
    reset_process_caches()
    marketing_account()
    seed.create_set("mkt-weekly", pool="marketing")
    return Clock(stack, monkeypatch)


def revert(clock: Clock, minutes: int) -> dict[str, Any]:
    """The other automation puts the set back on transactional; its event arrives."""
    clock.advance(minutes)
    seed.set_pool("mkt-weekly", "transactional")
    event = sample_event(
        "put_delivery_options_v2.json", configuration_set="mkt-weekly", fresh_id=True
    )
    result: dict[str, Any] = app.handler(sqs_event([event]), LambdaContext())
    return result


def test_a_set_reverted_again_and_again_is_held_with_one_flapping_alert(clock: Clock) -> None:
    # Given another actor reverts the set three times in half an hour; each is undone
    for _ in range(3):
        revert(clock, minutes=10)
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    assert [a["alert"]["outcome"] for a in received_alerts(clock.stack)] == ["remediated"] * 3

    # When it reverts the set a fourth and a fifth time within the hour
    revert(clock, minutes=5)
    revert(clock, minutes=5)

    # Then the enforcer stops fighting: the set stays where the other actor put it
    assert seed.delivery_options("mkt-weekly").get("SendingPoolName") == "transactional"
    assert ses_writes() == 5 + 3  # five reverts by the other actor, three moves by the enforcer
    # And one flapping alert names the other actor
    [alert] = received_alerts(clock.stack)
    assert alert["alert"]["outcome"] == "flapping"
    assert alert["alert"]["actor"].endswith("assumed-role/EmailPlatformAdmin/alice")
    assert "flapping" in alert["subject"]


def test_enforcement_resumes_when_the_window_has_passed(clock: Clock) -> None:
    # Given a set held after four reverts within the hour
    for _ in range(4):
        revert(clock, minutes=10)
    received_alerts(clock.stack)

    # When the next revert comes after the first counted move left the window
    revert(clock, minutes=35)

    # Then the enforcer moves it again
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "marketing"
    [alert] = received_alerts(clock.stack)
    assert alert["alert"]["outcome"] == "remediated"
