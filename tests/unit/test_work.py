"""Work merged from one batch: one look that loses nothing either part asked for."""

from __future__ import annotations

from ses_pool_enforcer.conflicts import Observation
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.work import Work


def work(**fields: object) -> Work:
    return Work("mkt-weekly", Trigger(source="event"), **fields)  # type: ignore[arg-type]


def test_merged_work_keeps_the_later_change_whichever_comes_first() -> None:
    early, late = work(observed_at=100.0), work(observed_at=200.0)
    assert early.merged(late).observed_at == 200.0
    assert late.merged(early).observed_at == 200.0


def test_merged_work_looks_regardless_if_either_part_asks_to() -> None:
    assert work(observed_at=100.0).merged(work()).observed_at is None
    assert work().merged(work(observed_at=100.0)).observed_at is None


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
