"""A refusal's reason reaches the answer's notice, through the pipeline and the MiniLM model
(the evidence model's own tests need neither: tests/unit/test_evidence.py)."""

from rag.loaders import load_paths
from tests.conftest import SEEDS


def test_a_refusal_carries_its_reason_in_the_notice(embedded_pipeline):
    embedded_pipeline.ingest(load_paths([SEEDS], 10**7).articles)
    answer = embedded_pipeline.ask("What is the population of Astrakhan Oblast?", mode="extractive")
    assert answer.refused
    assert answer.notice and answer.notice.startswith("Refused: ")
    answered = embedded_pipeline.ask("Which Belarusian milk processing company operates in Astrakhan Oblast?",
                                     mode="extractive")
    assert not answered.refused and answered.notice is None
