"""What the benchmarks say about their figures follows from the figures: a sentence that
names what bound a sweep, or how a function's memory compares with its MemorySize, is
derived, never fixed text."""

from __future__ import annotations

from benchmarks.local import memory_size
from benchmarks.sweep_10k import bound_by


def test_a_sweep_at_the_budgets_rate_is_bound_by_the_budget() -> None:
    # Given a sweep that made 99 % of the calls its budget allows
    # When its verdict is read
    verdict = bound_by(rate_share=0.99, idle=0.30)
    # Then the budget bound it
    assert verdict.startswith("bound by the budget")


def test_a_sweep_that_never_waited_and_fell_short_is_bound_by_the_work() -> None:
    # Given the figures the sweep printed once with a fixed "budget-bound" sentence:
    # 0.685 of the budget, 0.1 % of its time waiting for a slot
    verdict = bound_by(rate_share=0.685, idle=0.001)
    # Then it says the work bound it, and how far short it fell
    assert verdict.startswith("bound by the work, not the budget")
    assert "68%" in verdict


def test_a_sweep_that_waited_and_still_fell_short_is_bound_by_neither_alone() -> None:
    verdict = bound_by(rate_share=0.70, idle=0.25)
    assert verdict.startswith("bound by neither alone")


def test_memory_is_measured_against_the_templates_memory_size() -> None:
    # The figures the template's comments give their reasons from
    assert memory_size("EventFunction") >= 128
    assert memory_size("SweepFunction") >= 128
