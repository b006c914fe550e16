"""Time cues (rag/timecues.py) resolved against as_of, the recency prior, as_of parsing, and the
prompt's dates: the pure half of tests/test_time.py."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from rag.answering.prompts import answer_messages
from rag.answering.sources import Source
from rag.timecues import PRIORS, bounds_event, parse_as_of, parse_cue

AS_OF = date(2024, 6, 14)  # a Friday


@pytest.mark.parametrize("question, kind, since, until, phrase", [
    ("Which company is the latest tech giant to announce layoffs?", "recent", "2024-06-07", "2024-06-14", "latest"),
    ("Who won the award this week?", "recent", "2024-06-07", "2024-06-14", "this week"),
    ("What happened in recent days in Paris?", "recent", "2024-06-07", "2024-06-14", "in recent days"),
    ("Which new phone did Apple unveil?", "recent", "2024-06-07", "2024-06-14", "new"),
    ("Who is currently leading the race?", "recent", "2024-06-07", "2024-06-14", "currently"),
    ("What did the minister say yesterday?", "recent", "2024-06-07", "2024-06-14", "yesterday"),
    ("What happened in March 2023?", "date", "2023-03-01", "2023-03-31", "in March 2023"),
    ("What was signed on 2 May?", "date", "2024-05-02", "2024-05-02", "2 May"),
    ("What was signed on May 2?", "date", "2024-05-02", "2024-05-02", "May 2"),
    ("What was signed on 20 June?", "date", "2023-06-20", "2023-06-20", "20 June"),  # the last 20 June before as_of
    ("What happened in July?", "date", "2023-07-01", "2023-07-31", "in July"),
    ("Who won the election in 2024?", "date", "2024-01-01", "2024-06-14", "in 2024"),  # no later than as_of
    ("Who won the cup in 2022?", "date", "2022-01-01", "2022-12-31", "in 2022"),
    ("How did prices move last month?", "date", "2024-05-01", "2024-05-31", "last month"),
    ("What did Belarus offer Astrakhan?", "none", "2024-06-07", "2024-06-14", None),
    ("Which plan may cut emissions by 2030?", "none", "2024-06-07", "2024-06-14", None),  # "may" is no month
    ("What will happen in 2030?", "none", "2024-06-07", "2024-06-14", None),  # a future year sets no window
])
def test_time_cues_resolve_against_as_of(question, kind, since, until, phrase):
    cue = parse_cue(question, AS_OF)
    assert (cue.kind, cue.since.isoformat(), cue.until.isoformat(), cue.phrase) == (kind, since, until, phrase)


def test_the_prior_prefers_the_period_and_decays_outside_it():
    cue = parse_cue("What is the latest?", AS_OF)
    inside, week_before, old = (cue.bonus(date(2024, 6, 12)), cue.bonus(date(2024, 5, 31)),
                                cue.bonus(date(2023, 1, 1)))
    assert inside == PRIORS["recent"].weight > week_before > old >= 0
    assert cue.bonus(None) == 0.0
    assert parse_cue("What is the latest?", AS_OF).prior.weight >= parse_cue("What is it?", AS_OF).prior.weight


@pytest.mark.parametrize("text, expected", [
    ("2024-06-14", datetime(2024, 6, 14)), ("2024-06-14T09:30", datetime(2024, 6, 14, 9, 30)),
])
def test_as_of_parses_dates_and_times(text, expected):
    assert parse_as_of(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "14/06/2024", "2024-06-14T25:00", "", "20240614"])
def test_a_bad_as_of_names_itself_and_the_format(text):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_as_of(text)


def test_the_llm_prompt_carries_each_source_date_and_as_of():
    source = Source(1, "a", "Rate decision", "2024-06-06", 0, 4, "text", ())
    user = answer_messages("What is the rate?", [source], "2024-06-10")[1]["content"]
    assert "[Source 1] Rate decision (2024-06-06)" in user and "as of 2024-06-10" in user
    assert "as of" not in answer_messages("What is the rate?", [source])[1]["content"]


@pytest.mark.parametrize("question, bounded", [
    ("Which company announced layoffs this week?", True),
    ("What happened in Lima yesterday?", True),
    ("Who won the race in recent days?", True),
    ("What is the key rate now?", False),
    ("Which is the latest tech giant to cut jobs?", False),
    ("Who won the Tallo City marathon?", False),
])
def test_only_cues_that_bound_the_event_let_the_refusal_model_weigh_evidence_age(question, bounded):
    assert bounds_event(question) is bounded
