"""What users feel (issue 25): right, wrong shown, refused, answered anyway; the risk-coverage
curve and calibration over Answer.confidence. Small hand-built outcomes, no model."""

from __future__ import annotations

import pytest

from rag.evals.dataset import Question
from rag.evals.metrics import Outcome, compute, confidence_metrics, is_right, scalars, user_metrics, verdict
from rag.evals.runner import check_floors
from rag.types import Answer


def outcome(answerable: bool, text: str = "", refused: bool = False, confidence: float | None = None,
            answers: tuple[tuple[str, ...], ...] = (("Minsk",),)) -> Outcome:
    q = Question(id="q", question="Where?", answerable=answerable, answers=answers if answerable else (),
                 evidence=())
    a = Answer(question="Where?", answer=text, refused=refused, mode="extractive", citations=[], retrieved=[],
               confidence=confidence)
    return Outcome(q, a, [], 1.0)


RIGHT = outcome(True, "It was signed in Minsk.")
WRONG = outcome(True, "It was signed in Moscow.")
REFUSED = outcome(True, refused=True)
ANSWERED_ANYWAY = outcome(False, "Perhaps 2 million.")
DECLINED = outcome(False, refused=True)


def test_right_means_shown_and_holding_the_fact_and_for_unanswerable_refused():
    assert is_right(RIGHT) is True and verdict(RIGHT) == "right"
    assert is_right(WRONG) is False and verdict(WRONG) == "wrong"
    assert is_right(REFUSED) is False and verdict(REFUSED) == "refused"
    assert is_right(ANSWERED_ANYWAY) is False and verdict(ANSWERED_ANYWAY) == "wrong"
    assert is_right(DECLINED) is True and verdict(DECLINED) == "refused"
    no_key = outcome(True, "anything", answers=())
    assert is_right(no_key) is None and verdict(no_key) == "ungraded"


def test_half_the_facts_is_right_less_is_wrong():
    two = (("Minsk",), ("May",))
    assert is_right(outcome(True, "Minsk", answers=two)) is True
    three = (("Minsk",), ("May",), ("2019",))
    assert is_right(outcome(True, "Minsk", answers=three)) is False


def test_user_metrics_follow_their_definitions():
    m = user_metrics([RIGHT, WRONG, REFUSED, RIGHT, ANSWERED_ANYWAY, DECLINED])
    # answerable: 2 right, 1 wrong shown, 1 refused -> the three rates add up to 1
    assert m["right_rate"] == 0.5 and m["wrong_shown_rate"] == 0.25
    assert m["answered_anyway_rate"] == 0.5
    # shown: RIGHT, WRONG, RIGHT, ANSWERED_ANYWAY -> 2 of 4 right; 4 of 6 questions shown
    assert m["shown_precision"] == 0.5 and m["coverage"] == round(4 / 6, 4)
    assert m["aurc"] is None and m["risk_coverage"] is None and m["calibration"] is None


def test_with_nothing_to_measure_the_rates_are_null():
    m = user_metrics([DECLINED])
    assert m["right_rate"] is None and m["wrong_shown_rate"] is None and m["shown_precision"] is None
    assert m["answered_anyway_rate"] == 0.0 and m["coverage"] == 0.0
    m = user_metrics([RIGHT])
    assert m["answered_anyway_rate"] is None and m["right_rate"] == 1.0


def test_risk_coverage_sorts_by_confidence_and_counts_all_questions():
    outcomes = [outcome(True, "Minsk", confidence=0.9), outcome(True, "Moscow", confidence=0.8),
                outcome(True, "Minsk", confidence=0.6), outcome(False, "a guess", confidence=0.3),
                outcome(True, refused=True, confidence=0.1)]
    m = user_metrics(outcomes)
    curve = m["risk_coverage"]
    assert [p["threshold"] for p in curve] == [0.9, 0.8, 0.6, 0.3]
    assert [p["coverage"] for p in curve] == [0.2, 0.4, 0.6, 0.8]  # of 5 questions, the refusal never shown
    assert [p["risk"] for p in curve] == [0.0, 0.5, round(1 / 3, 4), 0.5]
    # mean risk over the cut-offs: (0 + 1/2 + 1/3 + 1/2) / 4
    assert m["aurc"] == pytest.approx((0 + 0.5 + 1 / 3 + 0.5) / 4, abs=1e-4)
    assert m["risk_coverage"][-1]["coverage"] == m["coverage"]


def test_tied_confidences_are_one_cut_off_and_the_curve_is_bounded():
    m = confidence_metrics([(0.5, True), (0.5, False)], 2)
    assert m["risk_coverage"] == [{"threshold": 0.5, "coverage": 1.0, "risk": 0.5}] and m["aurc"] == 0.5
    many = confidence_metrics([(i / 1000, i % 3 == 0) for i in range(1000)], 1000)
    assert len(many["risk_coverage"]) <= 21
    assert many["risk_coverage"][0]["threshold"] == 0.999 and many["risk_coverage"][-1]["coverage"] == 1.0


def test_perfect_ranking_has_lower_aurc_than_reversed():
    good = confidence_metrics([(0.9, True), (0.8, True), (0.2, False)], 3)
    bad = confidence_metrics([(0.9, False), (0.8, True), (0.2, True)], 3)
    assert good["aurc"] < bad["aurc"]


def test_calibration_bins_brier_and_gap():
    cal = confidence_metrics([(0.95, True), (0.95, False), (0.15, False), (1.0, True)], 4)["calibration"]
    assert len(cal["bins"]) == 10 and cal["bins"][0]["lo"] == 0.0 and cal["bins"][-1]["hi"] == 1.0
    top = cal["bins"][9]
    assert top["n"] == 3 and top["mean_confidence"] == round(2.9 / 3, 4) and top["accuracy"] == round(2 / 3, 4)
    assert cal["bins"][1] == {"lo": 0.1, "hi": 0.2, "n": 1, "mean_confidence": 0.15, "accuracy": 0.0}
    assert cal["bins"][5]["n"] == 0 and cal["bins"][5]["accuracy"] is None
    assert cal["brier"] == round((0.05 ** 2 + 0.95 ** 2 + 0.15 ** 2 + 0) / 4, 4)
    assert cal["max_bin_gap"] == round(2.9 / 3 - 2 / 3, 4)


def test_compare_and_floors_see_the_scalars_inside_dicts():
    m = compute([outcome(True, "Minsk", confidence=0.7)], {})
    flat = scalars(m)
    assert flat["calibration.brier"] == round(0.3 ** 2, 4) and "risk_coverage" not in flat
    assert check_floors(m, {"max": {"calibration.brier": 0.05}}) == [
        "calibration.brier = 0.09 is above its ceiling 0.05"]


def test_the_curve_is_drawn_as_svg_and_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rag.evals.plot import risk_coverage_png, risk_coverage_svg

    curve = confidence_metrics([(0.9, True), (0.8, True), (0.2, False)], 4)["risk_coverage"]
    svg = risk_coverage_svg(curve)
    assert svg.startswith("<svg") and svg.count("<circle") == 3 and 'class="curve"' in svg
    assert "no answer carries a confidence" in risk_coverage_svg(None)
    assert risk_coverage_png(curve, str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
