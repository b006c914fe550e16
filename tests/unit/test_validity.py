"""Kendall's tau between the real questions' and a generated set's ranking of configurations."""

from __future__ import annotations

from rag.evals.validity import compare_sets, kendall_tau


def test_kendall_tau() -> None:
    assert kendall_tau([0.9, 0.8, 0.7], [0.5, 0.4, 0.3]) == 1.0
    assert kendall_tau([0.9, 0.8, 0.7], [0.3, 0.4, 0.5]) == -1.0
    assert kendall_tau([0.9, 0.8, 0.7], [0.5, 0.3, 0.4]) == round(1 / 3, 4)
    assert kendall_tau([1, 1, 1], [0.1, 0.2, 0.3]) is None
    # tau-b: one tie in b -> (2 - 0) / sqrt(3 * 2)
    assert kendall_tau([3, 2, 1], [2, 1, 1]) == round(2 / 6 ** 0.5, 4)


def test_compare_sets_reports_tau_and_gap_per_metric() -> None:
    real = {"base": {"right_rate": 0.86}, "notime": {"right_rate": 0.65}, "dense": {"right_rate": 0.85}}
    gen = {"base": {"right_rate": 0.99}, "notime": {"right_rate": 1.0}, "dense": {"right_rate": 0.98}}
    (row,) = compare_sets(real, gen, ["right_rate"])
    assert row["tau"] == round(-1 / 3, 4)
    assert row["mean_abs_gap"] == round((0.13 + 0.35 + 0.13) / 3, 4)
