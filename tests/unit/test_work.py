"""Work merged from one batch: one look that loses nothing either part asked for."""

from __future__ import annotations

import dataclasses

import pytest

from ses_pool_enforcer.conflicts import Observation
from ses_pool_enforcer.model import Kind
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.work import BadRequest, Work


def work(**fields: object) -> Work:
    return Work("mkt-weekly", Trigger(source="event"), **fields)  # type: ignore[arg-type]


def test_merged_work_keeps_the_later_change_whichever_comes_first() -> None:
    early, late = work(observed_at=100.0), work(observed_at=200.0)
    assert early.merged(late).observed_at == 200.0
    assert late.merged(early).observed_at == 200.0


def test_merged_work_looks_regardless_if_either_part_asks_to() -> None:
    assert work(observed_at=100.0).merged(work()).observed_at is None
    assert work().merged(work(observed_at=100.0)).observed_at is None


def test_merged_work_asks_the_newer_policy_version_of_a_covering_look() -> None:
    assert work(judged_by=3).merged(work(judged_by=5)).judged_by == 5
    assert work(judged_by=5).merged(work(judged_by=3)).judged_by == 5
    assert work().merged(work(judged_by=3)).judged_by == 3
    assert work(judged_by=3).merged(work()).judged_by == 3
    assert work().merged(work()).judged_by is None


def test_merged_work_keeps_the_later_not_before_whichever_comes_first() -> None:
    hop = work(not_before=900.0)
    assert work().merged(hop).not_before == 900.0
    assert hop.merged(work()).not_before == 900.0
    assert work(not_before=100.0).merged(hop).not_before == 900.0
    assert hop.merged(work(not_before=100.0)).not_before == 900.0
    assert work().merged(work()).not_before is None


def test_merged_work_keeps_every_observation_and_fresh_pool() -> None:
    one = Observation(event_time=1.0, options={"TlsPolicy": "REQUIRE"}, actor="alice")
    two = Observation(event_time=2.0, options={"TlsPolicy": "OPTIONAL"}, actor="bob")
    merged = work(observations=(one,), fresh_pools=("a",)).merged(
        work(observations=(two,), fresh_pools=("a", "b"), deferrals=3)
    )
    assert merged.observations == (one, two)
    assert merged.fresh_pools == ("a", "b")
    assert merged.deferrals == 3


def test_work_put_back_on_the_queue_comes_back_as_it_was() -> None:
    full = Work(
        "news.example.com",
        Trigger(source="hold-ended", actor="alice", event_time="2026-12-06T10:00:00Z"),
        observed_at=100.5,
        judged_by=7,
        observations=(
            Observation(event_time=1.0, actor="alice", options={"TlsPolicy": "REQUIRE"}),
        ),
        not_before=900.25,
        fresh_pools=("marketing",),
        deferrals=2,
        kind=Kind.IDENTITY,
        lane=("111122223333", "eu-west-1"),
    )
    assert Work.from_message(full.to_message()) == full
    bare = Work("mkt-weekly", Trigger(source="request"))
    assert bare.to_message() == {
        "kind": "reconcile",
        "configuration_set": "mkt-weekly",
        "trigger": {"source": "request"},
    }
    assert Work.from_message(bare.to_message()) == bare


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        ({"kind": "reconcile"}, "without a configuration_set or identity"),
        ({"kind": "reconcile", "configuration_set": ""}, "without a configuration_set"),
        ({"configuration_set": "s", "observed_at": "soon"}, "reconcile request for s is malformed"),
        ({"configuration_set": "s", "lane": {"account": "", "region": "x"}}, "malformed"),
        ({"configuration_set": "s", "trigger": {"nope": 1}}, "malformed"),
    ],
)
def test_a_reconcile_request_that_cannot_be_read_says_why(
    message: dict[str, object], cause: str
) -> None:
    with pytest.raises(BadRequest, match=cause):
        Work.from_message(message)


def test_merged_work_names_the_newest_events_actor_whichever_comes_first() -> None:
    old = Work(
        "mkt-weekly", Trigger(source="event", actor="alice", event_time="2026-12-06T10:00:00Z")
    )
    new = Work(
        "mkt-weekly", Trigger(source="event", actor="bob", event_time="2026-12-06T10:05:00Z")
    )
    assert old.merged(new).trigger.actor == "bob"
    assert new.merged(old).trigger.actor == "bob"
    same = Work(
        "mkt-weekly", Trigger(source="event", actor="carol", event_time="2026-12-06T10:05:00Z")
    )
    assert new.merged(same).trigger.actor == "carol"  # a tie: the later message's


def test_work_is_keyed_by_lane_kind_and_name() -> None:
    work = Work("n", Trigger(source="event"), kind=Kind.IDENTITY, lane=("1", "r"))
    assert work.key == (("1", "r"), Kind.IDENTITY, "n")


def test_work_is_a_value_nobody_changes_in_place() -> None:
    # A batch's work is merged and put back by making new Work: one held by a batch, or
    # already on its way back to the queue, is never changed under it.
    held = work(observed_at=100.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        held.observed_at = None  # type: ignore[misc]
    assert {held: "hashable, as a value"}[work(observed_at=100.0)]
