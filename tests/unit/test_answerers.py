"""The three answerers behind one interface (rag/answering/), on the same small fixtures: two
articles in memory, the hashing fake embedder and a scripted in-process LLM. No model, no server."""

from __future__ import annotations

from datetime import date

import pytest

from rag import tuning
from rag.answering import answerer_for
from rag.answering.context import AnswerContext, ArticleReader, When
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.flow import answer_events, finish, focus
from rag.answering.quotes import QuotesAnswerer
from rag.answering.refusals import REFUSAL, is_refusal, says_refusal
from rag.answering.sentences import SentencesAnswerer
from rag.config import Settings
from rag.errors import ConfigError
from rag.llm_client import LLMUnavailable
from rag.types import Answer, Final, Token
from tests.fakes import FakeStorage, HashEmbedder, ScriptedLLM, chunk

P1 = ("Belarus is ready to offer tractors and trailed equipment to Astrakhan, President Aleksandr Lukashenko "
      "said on Friday.")
P2 = "The President named passenger vehicles as another area of cooperation with the region."
P3 = "Food supplies are another area, including baby food and dairy products."
P4 = "Astrakhan Governor Igor Babushkin said the region would buy 40 buses next year."
ASTRAKHAN = "\n\n".join([P1, P2, P3, P4])
WEATHER = "Heavy rain is expected in Minsk on Friday, forecasters said. Temperatures will fall to 5 degrees."
TITLE = "Belarus and Astrakhan"
SECOND = ASTRAKHAN.index(P3)
CHUNKS = [c.model_copy(update={"published_at": day}) for c, day in (
    (chunk(ASTRAKHAN[:SECOND - 2], "a", 0, 0, score=0.7, title=TITLE), "2025-05-02"),
    (chunk(ASTRAKHAN[SECOND:], "a", 1, SECOND, score=0.6, title=TITLE), "2025-05-02"),
    (chunk(WEATHER, "b", 0, 0, score=0.3, title="Weather"), "2025-05-01"))]
FAR = [c.model_copy(update={"score": 0.1, "dense_score": 0.1}) for c in CHUNKS]  # nothing close to the question
ARTICLES = {"a": (TITLE, ASTRAKHAN, "2025-05-02"), "b": ("Weather", WEATHER, "2025-05-01")}
OFFER_Q = "What is Belarus ready to offer Astrakhan?"
BUSES_Q = "How many buses will Astrakhan buy?"
NO_NUMBER_Q = "How many tractors did Belarus sell to Kazakhstan?"  # the sources hold no such number


def context(question: str, chunks: list = CHUNKS, *replies: str | Exception, citations: str = "sentences",
            when: When = When(), **settings: object) -> AnswerContext:
    """The sources are the quoted articles whole (RAG_LLM_CONTEXT=articles) unless a test says
    otherwise, so a reply's sentence numbers are the article's own."""
    settings = {"llm_context": "articles", **settings}
    s = Settings(llm_model="scripted", llm_citations=citations, **settings)  # type: ignore[arg-type]
    return AnswerContext(question, list(chunks), ArticleReader(FakeStorage(ARTICLES, CHUNKS)), s, when,
                         llm=ScriptedLLM(*replies), embed=HashEmbedder().embed,
                         count_tokens=lambda text: len(text.split()))


def answer(ctx: AnswerContext, mode: str = "llm") -> tuple[str, Answer]:
    events = list(answer_events(answerer_for(mode, ctx.settings), ctx))  # type: ignore[arg-type]
    assert isinstance(events[-1], Final) and all(isinstance(e, Token) for e in events[:-1])
    return "".join(e.text for e in events if isinstance(e, Token)), events[-1].answer


def requests(ctx: AnswerContext) -> list:
    assert isinstance(ctx.llm, ScriptedLLM)
    return ctx.llm.requests


def assert_quotes_slice_back(a: Answer) -> None:
    for c in a.citations:
        assert ARTICLES[c.article_id][1][c.start:c.end] == c.quote
        assert c.chunk_id.startswith(f"{c.article_id}::")


# --- one interface ------------------------------------------------------------------------------

def test_the_mode_and_citation_style_pick_the_answerer():
    s = Settings(llm_model="scripted")
    assert isinstance(answerer_for("extractive", s), ExtractiveAnswerer)
    assert isinstance(answerer_for("llm", s), SentencesAnswerer)
    assert isinstance(answerer_for("llm", s.model_copy(update={"llm_citations": "quotes"})), QuotesAnswerer)


REPLIES = {  # one good reply per answerer, for the same question and fixtures
    "extractive": (),
    "sentences": ("- Tractors and trailed equipment [S1]\n- Passenger vehicles [S2]\n- Baby food [S3]",),
    "quotes": (f'QUOTES:\n[1] (source 1) "{P1}"\n[2] (source 1) "{P2}"\nANSWER:\n'
               "Belarus offers tractors and trailed equipment [1] and passenger vehicles [2].",),
}


@pytest.mark.parametrize("style", list(REPLIES))
def test_every_answerer_answers_the_same_question_with_quotes_that_slice_back(style):
    ctx = context(OFFER_Q, CHUNKS, *REPLIES[style], citations="quotes" if style == "quotes" else "sentences")
    shown, a = answer(ctx, "extractive" if style == "extractive" else "llm")
    assert not a.refused and a.mode == ("extractive" if style == "extractive" else "llm")
    assert a.citations and {c.article_id for c in a.citations} == {"a"}
    assert_quotes_slice_back(a)
    assert shown.strip() == a.answer.strip()
    assert [r.chunk_id for r in a.retrieved] == [c.chunk_id for c in CHUNKS]


@pytest.mark.parametrize("style", list(REPLIES))
def test_every_answerer_refuses_without_asking_when_the_evidence_model_refuses(style):
    ctx = context(NO_NUMBER_Q, CHUNKS, *REPLIES[style], citations="quotes" if style == "quotes" else "sentences")
    shown, a = answer(ctx, "extractive" if style == "extractive" else "llm")
    assert a.refused and a.answer == REFUSAL and not a.citations and shown == ""
    assert a.notice == "Refused: no number in the sources."
    assert requests(ctx) == []  # the model was not asked


def test_the_gate_can_be_turned_off():
    ctx = context(NO_NUMBER_Q, CHUNKS, REFUSAL, llm_evidence_gate=False)
    _, a = answer(ctx)
    assert a.refused and len(requests(ctx)) == 1


def test_finish_is_the_one_last_step_and_changes_nothing_today():
    ctx = context(OFFER_Q)
    _, a = answer(ctx, "extractive")
    assert finish(a, ctx) is a


# --- the context -----------------------------------------------------------------------------

def test_when_is_one_value_for_the_prompt_and_the_refusal_model():
    assert When().prompt_day is None and When().evidence_day is None
    asked = When.of("2025-05-09")
    assert asked.day == date(2025, 5, 9) and asked.prompt_day == "2025-05-09" and asked.evidence_day is None
    assert When.of("2025-05-09", dated=True).evidence_day == "2025-05-09"


def test_the_prompt_says_the_day_and_a_dated_question_weighs_the_evidence_age():
    ctx = context(BUSES_Q, CHUNKS, "The region would buy 40 buses next year [S4].", when=When(date(2025, 6, 30)))
    _, a = answer(ctx)
    assert not a.refused and "The question is asked as of 2025-06-30." in requests(ctx)[0][-1]["content"]
    assert ctx.found.assessment is not None and not ctx.found.assessment.dated
    dated = context(BUSES_Q, CHUNKS, "The region would buy 40 buses [S4].", when=When(date(2025, 6, 30), True))
    _, a = answer(dated)  # weeks-old evidence for a question about the days before it: refused, unasked
    assert dated.found.assessment is not None and dated.found.assessment.signals.stale == 1
    assert a.refused and requests(dated) == [] and "older than the news the question asks about" in (a.notice or "")


def test_articles_are_read_once_and_their_chunks_come_as_retrieved_chunks():
    storage = FakeStorage(ARTICLES, CHUNKS)
    reader = ArticleReader(storage)
    assert reader.text("a") == ASTRAKHAN and reader.text("a") == ASTRAKHAN and storage.reads == ["a"]
    assert reader.text("missing") is None and reader.texts == {"a": ASTRAKHAN}
    assert [c.score for c in reader.chunks("a")] == [0.0, 0.0]


def test_a_span_is_credited_to_the_chunk_holding_most_of_it():
    ctx = context(OFFER_Q, CHUNKS[:1])
    assert ctx.chunk_id_at("a", SECOND, SECOND + 10) == "a::1"  # not retrieved: found among the article's
    assert ctx.chunk_id_at("a", 0, 10) == "a::0"
    with pytest.raises(ConfigError, match="re-ingest"):
        ctx.chunk_id_at("b", 500, 600)


def test_an_llm_answer_without_an_llm_says_what_to_set():
    ctx = context(OFFER_Q)
    ctx.llm = None
    with pytest.raises(ConfigError, match="RAG_LLM_MODEL"):
        _ = ctx.client


# --- extractive --------------------------------------------------------------------------------

def test_extractive_answers_a_list_question_with_every_item_and_a_number_question_with_its_sentence():
    shown, a = answer(context(OFFER_Q), "extractive")
    assert [c.quote for c in a.citations] == [P1, P2, P3, P4] and shown == a.answer
    _, a = answer(context(BUSES_Q), "extractive")
    assert [c.quote for c in a.citations] == [P4] and a.answer == f"{P4} [1]"


def test_extractive_refuses_when_nothing_is_close():
    shown, a = answer(context(OFFER_Q, FAR), "extractive")
    assert a.refused and shown == "" and a.notice == "Refused: nothing retrieved is close to the question."


# --- sentences mode ----------------------------------------------------------------------------

def test_sentences_mode_sends_only_the_quoted_article_and_hints_a_list():
    ctx = context(OFFER_Q, CHUNKS, REPLIES["sentences"][0])
    shown, a = answer(ctx)
    user = requests(ctx)[0][-1]["content"]
    assert "Weather" not in user and "[S4] Astrakhan Governor" in user
    assert user.endswith("These sentences may answer it: S1, S2, S3, S4")
    # the model's three items, then the hinted sentence it left out, as the article's own sentence
    assert a.answer.splitlines() == ["- Tractors and trailed equipment [1]", "- Passenger vehicles [2]",
                                     "- Baby food [3]", f"- {P4} [4]"]
    assert a.notice == "1 item(s) the model left out are the articles' own sentences."
    assert a.usage is not None and a.usage.completion_tokens > 0


def test_sentences_mode_leaves_out_an_unsupported_sentence_and_lists_it():
    ctx = context(BUSES_Q, CHUNKS, "The region would buy 40 buses next year [S4]. The buses are electric and "
                                   "made in Minsk by a Chinese company [S4].")
    shown, a = answer(ctx)
    assert a.answer == "The region would buy 40 buses next year [1]." and shown == a.answer
    assert a.unsupported == ["The buses are electric and made in Minsk by a Chinese company."]
    assert a.verification.unsupported_sentences == 1 and "left out" in (a.notice or "")


def test_sentences_mode_attributes_a_claim_the_model_did_not_number():
    _, a = answer(context(BUSES_Q, CHUNKS, "Astrakhan would buy 40 buses next year."))
    assert not a.refused and [c.quote for c in a.citations] == [P4]


def test_sentences_mode_takes_a_reply_of_bare_numbers_as_those_sentences():
    _, a = answer(context(BUSES_Q, CHUNKS, "S4"))
    assert a.answer == f"{P4} [1]"


def test_sentences_mode_shows_the_fixed_refusal_when_the_model_gives_it():
    _, a = answer(context(BUSES_Q, CHUNKS, "The articles I have do not say."))
    assert a.refused and a.mode == "llm" and a.usage is not None


def test_sentences_mode_falls_back_to_the_extractive_answer():
    _, a = answer(context(BUSES_Q, CHUNKS, LLMUnavailable("the LLM timed out")))
    assert a.mode == "extractive-fallback" and [c.quote for c in a.citations] == [P4]
    assert a.notice == "The LLM was not used (the LLM timed out); these are the articles' own sentences."
    _, a = answer(context(BUSES_Q, CHUNKS, "Snow fell on Oslo [S9]."))  # nothing supported, not a refusal
    assert a.mode == "extractive-fallback" and "could not be verified" in (a.notice or "")


def test_sentences_mode_refuses_evidence_that_does_not_answer_a_when_question():
    ctx = context("When did the President name passenger vehicles?", CHUNKS,
                  "The President named passenger vehicles as an area of cooperation [S2].", llm_evidence_gate=False)
    _, a = answer(ctx)
    assert a.refused and "hold no date" in (a.notice or "")


# --- quotes mode -------------------------------------------------------------------------------

def test_quotes_mode_answers_from_verified_quotes_and_reports_usage():
    ctx = context(OFFER_Q, CHUNKS, REPLIES["quotes"][0], citations="quotes")
    _, a = answer(ctx)
    assert [c.quote for c in a.citations] == [P1.rstrip("."), P2.rstrip(".")] and a.verification.verified == 2
    assert a.answer == "Belarus offers tractors and trailed equipment [1] and passenger vehicles [2]."
    assert "QUOTES:" in requests(ctx)[0][0]["content"] and "Weather" in requests(ctx)[0][-1]["content"]
    assert a.usage is not None


def test_quotes_mode_falls_back_when_no_quote_is_in_the_articles():
    reply = 'QUOTES:\n[1] (source 1) "Belarus will build a port on the Caspian Sea next spring."\nANSWER:\nA port [1].'
    _, a = answer(context(BUSES_Q, CHUNKS, reply, citations="quotes"))
    assert a.mode == "extractive-fallback" and "1 of its 1 quotes were not in the articles" in (a.notice or "")


def test_quotes_mode_refusals_and_failures():
    _, a = answer(context(BUSES_Q, CHUNKS, f"QUOTES:\nANSWER: {REFUSAL}", citations="quotes"))
    assert a.refused and a.mode == "llm"
    _, a = answer(context(BUSES_Q, CHUNKS, LLMUnavailable("could not connect"), citations="quotes"))
    assert a.mode == "extractive-fallback" and "could not connect" in (a.notice or "")


def test_quotes_mode_refuses_quotes_about_another_story():
    reply = f'QUOTES:\n[1] (source 2) "{WEATHER.split(". ")[0]}."\nANSWER:\nRain is expected on Friday [1].'
    _, a = answer(context(BUSES_Q, CHUNKS, reply, citations="quotes", llm_evidence_gate=False))
    assert a.refused and "do not answer this question" in (a.notice or "")


# --- the pieces the answerers share -------------------------------------------------------------

def test_focus_keeps_the_quoted_articles_else_the_confident_ones():
    ctx = context(OFFER_Q)
    assert {c.article_id for c in focus(ctx.chunks, ctx.found, 0.1, 3)} == {"a"}
    refused = context(NO_NUMBER_Q)
    assert {c.article_id for c in focus(refused.chunks, refused.found, 0.5, 3)} == {"a", "b"}


def test_the_refusal_is_recognised_in_any_typography():
    assert is_refusal("") and is_refusal("THE ARTICLES I HAVE DO NOT SAY") and not says_refusal("")
    assert says_refusal("Sorry: the articles I have do not say.") and not is_refusal("Belarus offers tractors.")


def test_a_reply_is_cut_into_sentences_only_once_they_are_complete():
    from rag.answering.sentences import cut_reply

    assert cut_reply("Machinery is used [S3]. Elevat", final=False) == (["Machinery is used [S3]."], "Elevat")
    assert cut_reply("Machinery is used. [S", final=False) == ([], "Machinery is used. [S")  # its marker may follow
    assert cut_reply("Machinery is used. [S3] Eleva", final=False) == (["Machinery is used. [S3]"], "Eleva")
    assert cut_reply("One [S1]\n- Two [S2]", final=True) == (["One [S1]", "- Two [S2]"], "")


def test_only_the_articles_retrieval_is_sure_of_are_sent():
    from rag.answering.sources import confident
    from rag.types import RetrievedChunk

    def chunk(article: str, score: float) -> RetrievedChunk:
        return RetrievedChunk(chunk_id=f"{article}{score}", article_id=article, index=0, start=0, end=1, text="x",
                              title=article, score=score)

    chunks = [chunk("a", 0.9), chunk("b", 0.85), chunk("a", 0.7), chunk("c", 0.6), chunk("d", 0.84)]
    assert [c.article_id for c in confident(chunks, 0.1, 3)] == ["a", "b", "a", "d"]
    assert [c.article_id for c in confident(chunks, 0.1, 2)] == ["a", "b", "a"]
    assert confident(chunks, 0.1, 0) == chunks  # 0: no limit, everything retrieved


# --- extract-then-compose and the answer checks (issue 25) ---------------------------------------

def test_extract_then_compose_sends_the_chosen_sentence_and_its_neighbour_only():
    ctx = context(BUSES_Q, CHUNKS, "The region would buy 40 buses next year [S2].", llm_context="extract")
    shown, a = answer(ctx)
    prompt = requests(ctx)[0][-1]["content"]
    assert "[S1] " + P3 in prompt and "[S2] " + P4 in prompt and P1 not in prompt  # P4 chosen, P3 its neighbour
    assert a.mode == "llm" and [c.quote for c in a.citations] == [P4] and shown == a.answer
    assert a.confidence == ctx.found.confidence and a.confidence is not None


def test_a_figure_in_another_role_is_left_out_with_its_reason():
    claim = "Astrakhan Governor Igor Babushkin said the region would buy 40 buses next year in 40 days."
    ctx = context(BUSES_Q, CHUNKS, f"{claim[:-1]} [S4].")  # every word is the sentence's: supported as words
    _, a = answer(ctx)
    assert a.unsupported == [claim]
    assert a.unsupported_reasons == ["it states 40 days as a duration, the cited text as a count"]
    assert a.refused or a.mode == "extractive-fallback"


def test_an_answer_without_the_asked_number_is_not_shown():
    ctx = context(BUSES_Q, CHUNKS, "Astrakhan Governor Igor Babushkin said the region would buy buses next year [S4].")
    shown, a = answer(ctx)
    assert shown == "" and a.unsupported_reasons == ["the answer gives no number the question asks for"]
    assert a.mode == "extractive-fallback" and [c.quote for c in a.citations] == [P4]


def test_finish_gives_an_llm_answer_the_evidence_confidence_lowered_when_they_disagree():
    ctx = context(OFFER_Q, CHUNKS)
    agreeing = finish(Answer(question=OFFER_Q, answer="x [1]", refused=False, mode="llm", retrieved=[],
                             citations=[_citation(P1)]), ctx)
    assert agreeing.confidence == ctx.found.confidence
    weather = _citation(WEATHER, "b")
    apart = finish(Answer(question=OFFER_Q, answer="x [1]", refused=False, mode="llm", retrieved=[],
                          citations=[weather]), ctx)
    lowered = round(ctx.found.confidence * tuning.DISAGREEMENT, 4)
    if lowered >= ctx.settings.min_confidence:
        assert apart.confidence == lowered and apart.mode == "llm"
    else:  # below the threshold: the extractive answer instead
        assert apart.mode == "extractive-fallback" and "disagrees" in (apart.notice or "")


def _citation(quote: str, article: str = "a"):  # type: ignore[no-untyped-def]
    from rag.types import Citation

    text = ASTRAKHAN if article == "a" else WEATHER
    start = text.index(quote)
    return Citation(n=1, article_id=article, chunk_id=f"{article}::0", title=TITLE, published_at=None, quote=quote,
                    start=start, end=start + len(quote))


def test_an_llm_answer_naming_someone_the_chosen_sentences_do_not_disagrees():
    question = "Who said the region would buy 40 buses?"
    ctx = context(question, CHUNKS)
    assert not ctx.found.refused and any(P4 == s.text for s in ctx.found.sentences)
    right = finish(Answer(question=question, answer="Igor Babushkin [1]", refused=False, mode="llm", retrieved=[],
                          citations=[_citation(P4)]), ctx)
    assert right.confidence == ctx.found.confidence
    wrong = finish(Answer(question=question, answer="Aleksandr Lukashenko [1]", refused=False, mode="llm",
                          retrieved=[], citations=[_citation(P4)]), ctx)
    lowered = round(ctx.found.confidence * tuning.DISAGREEMENT, 4)
    assert wrong.mode == "extractive-fallback" or wrong.confidence == lowered
