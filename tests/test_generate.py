"""`rag eval generate`: question sets from any corpus, each item's evidence a slice of its article."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.citations import normalise
from rag.evals.generate import GenerateOptions, Stats, generate, llm_item, offline_candidates, write_set
from rag.loaders import load_paths
from rag.types import Article
from tests.conftest import ROOT, SEEDS

CORPUS = [SEEDS, ROOT / "evals" / "corpus"]


def articles() -> list[Article]:
    return load_paths(CORPUS, 5_000_000).articles


def test_offline_set_is_reproducible_and_every_item_slices_back(tmp_path: Path) -> None:
    corpus = articles()
    texts = {a.id: a.text for a in corpus}
    one = generate(corpus, GenerateOptions(n=40, seed=3))
    two = generate(list(reversed(corpus)), GenerateOptions(n=40, seed=3))
    assert one.items == two.items and len(one.items) == 40
    assert generate(corpus, GenerateOptions(n=40, seed=4)).items != one.items
    assert len({i.question for i in one.items}) == 40
    assert {"how many", "when", "list", "who"} <= {i.asks or i.type for i in one.items}
    assert {"this week", "latest"} & {i.type for i in one.items}
    for item in one.items:
        quote = normalise(texts[item.article_id][item.start:item.end]).text
        assert all(normalise(a).text in quote for a in item.answers)
        assert item.as_of is not None and item.question.endswith("?")
    write_set(one, corpus, tmp_path, seed=3)
    lines = (tmp_path / "dataset.jsonl").read_text().splitlines()
    header = json.loads(lines[0])["header"]
    assert header["version"] and header["settings"]["seed"] == 3 and header["settings"]["n"] == 40
    for line in lines[1:]:
        record = json.loads(line)
        span = record["evidence_spans"][0]
        assert texts[span["article_id"]][span["start"]:span["end"]] == record["evidence"][0]


def test_refusal_twin_leaves_out_the_answering_articles(tmp_path: Path) -> None:
    corpus = articles()
    generated = generate(corpus, GenerateOptions(n=40, seed=7))
    counts = write_set(generated, corpus, tmp_path, seed=7)
    removed = set((tmp_path / "removed.txt").read_text().split())
    minus = load_paths([tmp_path / "corpus-minus.jsonl"], 5_000_000).articles
    assert {a.id for a in minus} == {a.id for a in corpus} - removed
    same = {a.id: a.text for a in corpus}
    assert all(same[a.id] == a.text for a in minus)  # offsets stay valid in the smaller corpus
    rows = [json.loads(line) for line in (tmp_path / "dataset-refusal.jsonl").read_text().splitlines()[1:]]
    unanswerable = [r for r in rows if not r["answerable"]]
    assert counts["unanswerable"] == len(unanswerable) > 0
    texts = [normalise(a.text).text for a in minus]
    by_id = {json.loads(line)["id"]: json.loads(line) for line in
             (tmp_path / "dataset.jsonl").read_text().splitlines()[1:]}
    for r in unanswerable:
        original = by_id[r["id"]]
        assert original["evidence_spans"][0]["article_id"] in removed
        assert not any(normalise(a).text in t for a in original["answers"] for t in texts)
    for r in rows:
        if r["answerable"]:
            assert r["evidence_spans"][0]["article_id"] not in removed


def test_another_article_answering_differently_drops_the_question() -> None:
    text = "The Kamyzyak fishing festival gathered 410 anglers from nine regions on the Volga delta."
    rival = "The Kamyzyak fishing festival gathered 380 anglers from nine regions on the Volga delta."
    alone = generate([Article(id="a", text=text, title="t", published_at="2024-07-20")], GenerateOptions(n=5))
    assert any(i.answers == ("410",) for i in alone.items)
    both = generate([Article(id="a", text=text, title="t", published_at="2024-07-20"),
                     Article(id="b", text=rival, title="t", published_at="2024-07-20")], GenerateOptions(n=10))
    assert not any(i.answers in (("410",), ("380",)) for i in both.items)
    assert both.stats.dropped.get("another article answers differently", 0) >= 1


def test_llm_items_are_kept_only_when_quote_and_answer_hold() -> None:
    article = Article(id="a", text="Belarus offered Astrakhan a dairy plant. It opens on 2 May.", title="t")
    stats = Stats()
    ok = llm_item(article, "when", json.dumps(
        {"question": "When does the Astrakhan plant open?", "answer": "2 May", "quote": "It opens on 2 May."}),
        None, stats)
    assert ok is not None and article.text[ok.start:ok.end] == "It opens on 2 May."
    assert llm_item(article, "when", json.dumps(
        {"question": "When?", "answer": "2 May", "quote": "It opened on 2 May."}), None, stats) is None
    assert llm_item(article, "when", json.dumps(
        {"question": "When?", "answer": "3 May", "quote": "It opens on 2 May."}), None, stats) is None
    assert llm_item(article, "when", "no json here", None, stats) is None
    assert llm_item(article, "what", json.dumps(
        {"question": "What is the main topic of this news passage?", "answer": "a dairy plant",
         "quote": "Belarus offered Astrakhan a dairy plant."}), None, stats) is None
    assert llm_item(article, "how many", json.dumps(
        {"question": "How many plants did Belarus offer?", "answer": "Astrakhan",
         "quote": "Belarus offered Astrakhan a dairy plant."}), None, stats) is None
    assert stats.dropped == {"quote not verbatim": 1, "answer not in quote": 1, "unreadable reply": 1,
                             "question about the passage": 1, "answer of the wrong type": 1}


_word = st.text(alphabet=st.sampled_from("abcdefghij"), min_size=2, max_size=7)
_name = st.builds(lambda a, b: f"{a.title()} {b.title()}", _word, _word)
_sentence = st.builds(
    lambda who, n, noun, day, rest: f"{who} said {n} {noun}s were sold on {day} March in {rest.title()}.",
    _name, st.integers(2, 99_999).map(lambda n: f"{n:,}"), _word, st.integers(1, 28), _word)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_sentence, min_size=1, max_size=6), st.sampled_from(["\n\n", " ", "\n"]),
       st.integers(0, 1000))
def test_every_generated_evidence_slices_back_exactly(sentences: list[str], glue: str, seed: int) -> None:
    text = "Lead paragraph of a story. " + glue.join(sentences) + "\n\nThe end of it."
    article = Article(id="x", text=text, title="t", published_at="2024-03-30")
    import random

    for item in offline_candidates(article, random.Random(seed)):
        evidence = text[item.start:item.end]
        assert evidence and evidence == evidence.strip()
        assert all(normalise(a).text in normalise(evidence).text for a in item.answers)
    for item in generate([article], GenerateOptions(n=20, seed=seed)).items:
        assert text[item.start:item.end] in text and all(a in text[item.start:item.end] for a in item.answers)


def test_rag_eval_generate_offline_then_rag_eval_end_to_end(tmp_path: Path) -> None:
    """A fresh clone with the network blocked: generate from seeds/ + evals/corpus, then evaluate on it
    and on its refusal twin."""
    from tests.test_cli import rag

    corpus = ["--corpus", str(SEEDS), "--corpus", str(ROOT / "evals" / "corpus")]
    out = tmp_path / "set"
    gen = rag(tmp_path, "eval", "generate", *corpus, "--out", str(out), "--n", "12", "--seed", "7", offline=True)
    assert gen.returncode == 0, gen.stderr
    assert "kept 12 of" in gen.stdout
    for name in ("dataset.jsonl", "dataset-refusal.jsonl", "corpus-minus.jsonl", "removed.txt", "stats.json"):
        assert (out / name).exists()
    run = rag(tmp_path, "eval", "--dataset", str(out / "dataset.jsonl"), *corpus, "--out", str(tmp_path / "eval"),
              "--report", str(tmp_path / "eval" / "report.html"), offline=True)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n_questions"] == 12 and metrics["citation_validity"] == 1.0
    assert metrics["right_rate"] is not None and (tmp_path / "eval" / "report.html").exists()
    twin = rag(tmp_path, "eval", "--dataset", str(out / "dataset-refusal.jsonl"), "--corpus",
               str(out / "corpus-minus.jsonl"), "--out", str(tmp_path / "twin"), offline=True)
    assert twin.returncode == 0, twin.stderr
    assert json.loads((tmp_path / "twin" / "metrics.json").read_text())["refusal_recall"] is not None


def test_rag_eval_generate_llm_mode_end_to_end_with_the_fake_server(tmp_path: Path, fake_llm) -> None:  # type: ignore[no-untyped-def]
    """Each model item is kept only when its quote is verbatim in the article and its answer in the quote."""
    good = {"question": "Where did Lukashenko meet the Astrakhan governor?", "answer": "Minsk",
            "quote": "Belarusian President Aleksandr Lukashenko met with Governor of Russia's Astrakhan Oblast "
                     "Igor Babushkin in Minsk on 2 May."}
    fake_llm.enqueue(
        "Sure! " + json.dumps(good),
        json.dumps({**good, "question": "Whom did Lukashenko meet in Minsk?", "answer": "Igor Babushkin",
                    "quote": "Lukashenko met Igor Babushkin in Minsk."}),  # not in the article
        json.dumps({**good, "question": "When did they meet in Minsk?", "answer": "3 May"}),  # not in the quote
        json.dumps({"question": "How did Lukashenko describe the Astrakhan governor?",
                    "answer": "a longtime welcome guest",  # straight quotes where the article has curly ones
                    "quote": 'Therefore he is "a longtime welcome guest" in Belarus.'}),
    )
    env = {**os.environ, "NO_COLOR": "1", "RAG_LLM_MODEL": "fake-model", "RAG_LLM_BASE_URL": fake_llm.url,
           "RAG_LLM_API_KEY": "none"}
    out = tmp_path / "set"
    gen = subprocess.run([sys.executable, "-m", "rag", "eval", "generate", "--mode", "llm", "--corpus", str(SEEDS),
                          "--out", str(out), "--n", "2", "--llm-cache", str(tmp_path / "llm.sqlite")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert gen.returncode == 0, gen.stderr
    assert "kept 2 of 4 tried" in gen.stdout
    assert "quote not verbatim: 1" in gen.stdout and "answer not in quote: 1" in gen.stdout
    lines = (out / "dataset.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["header"]["settings"]["model"] == "fake-model"
    records = [json.loads(line) for line in lines[1:]]
    assert [r["answers"] for r in records] == [["Minsk"], ["a longtime welcome guest"]]
    text = load_paths([SEEDS], 5_000_000).articles[0].text
    for r in records:
        span = r["evidence_spans"][0]
        assert text[span["start"]:span["end"]] == r["evidence"][0]
    assert records[1]["evidence"][0] == "Therefore he is “a longtime welcome guest” in Belarus."
    run = subprocess.run([sys.executable, "-m", "rag", "eval", "--dataset", str(out / "dataset.jsonl"),
                          "--corpus", str(SEEDS), "--out", str(tmp_path / "eval")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["n_questions"] == 2


def test_since_and_until_pick_the_articles_asked_about() -> None:
    corpus = articles()
    days = {a.id: a.published_at for a in corpus}
    generated = generate(corpus, GenerateOptions(n=30, since="2025-01-01", until="2025-06-30"))
    assert generated.items and all("2025-01-01" <= (days[i.article_id] or "") <= "2025-06-30"
                                   for i in generated.items)
    assert generated.header["settings"]["since"] == "2025-01-01"


def test_near_duplicates_are_dropped() -> None:
    from rag.evals.generate import near_duplicate, terms

    kept = [terms("How many anglers came to the Kamyzyak festival this week?")]
    assert near_duplicate("How many anglers came to the Kamyzyak festival?", kept)
    assert not near_duplicate("Which village hosted the Caspian Carp Cup?", kept)
