"""Chunks against the MiniLM model's window (the model-free chunking tests: tests/unit/test_chunking.py)."""

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunking import chunk_article
from rag.types import Article
from tests.unit.test_chunking import assert_exact, count, seed_article


def test_seed_chunks_slice_back_and_fit_the_model(minilm):
    article = seed_article()
    chunks = chunk_article(article, count, 160, 32, minilm.count_tokens, minilm.max_tokens)
    assert_exact(article, chunks)
    assert max(minilm.count_tokens([c.text for c in chunks])) <= minilm.max_tokens
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_tricky_text_mixed_quotes_non_ascii_and_a_sentence_with_no_punctuation(minilm):
    endless = " ".join(f"слово{i} ‘word’ “q” naïve" for i in range(400))
    text = (
        "Лукашенко said “we’re ready” and 'we're ready' — both.\n\n"
        f"{endless}\n\n"
        "Zero\u200bwidth and emoji 😀 here. الرئيس قال. Done."
    )
    article = Article(id="tricky", text=text, title="t")
    chunks = chunk_article(article, count, 64, 16, minilm.count_tokens, minilm.max_tokens)
    assert_exact(article, chunks)
    assert max(minilm.count_tokens([c.text for c in chunks])) <= minilm.max_tokens
    assert max(count([c.text for c in chunks])) <= 64


# Issue 28: MiniLM's English WordPiece reads Cyrillic, Greek, Arabic, Devanagari letter by letter
# and CJK character by character, so tiktoken-sized chunks can be far over its 256-token window.
SCRIPTS = {
    "cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЭЮЯ",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώΑΒΓΔΕΖΗΘ",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي\u064b\u064e\u064f\u0650",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年新闻报道",
    "devanagari": "अआइईउऊएऐओऔकखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह\u093e\u093f\u0940\u0941\u094d\u0902",
}
_GAPS = [" ", " ", " ", ", ", ". ", "。", "؟ ", "। ", "\n", "\n\n", ""]


@st.composite
def multiscript_text(draw: st.DrawFn) -> str:
    alphabets = draw(st.lists(st.sampled_from(sorted(SCRIPTS)), min_size=1, max_size=3, unique=True))
    letters = "".join(SCRIPTS[a] for a in alphabets) + "0123456789ABCdef"
    length = draw(st.sampled_from([4, 12, 40, 300]))  # letters a word; CJK runs have no spaces
    n_words = draw(st.sampled_from([1, 20, 120, 400]))
    word = st.text(letters, min_size=max(1, length // 2), max_size=length)
    words = draw(st.lists(word, min_size=n_words, max_size=n_words))
    gaps = draw(st.lists(st.sampled_from(_GAPS), min_size=len(words), max_size=len(words)))
    return "".join(w + g for w, g in zip(words, gaps, strict=True))


@settings(max_examples=50, deadline=None)
@given(multiscript_text())
def test_chunks_of_any_script_fit_the_embedder_and_slice_back_exactly(minilm, text):
    if not text.strip():
        return
    article = Article(id="m", text=text, title="t")
    chunks = chunk_article(article, count, 160, 32, minilm.count_tokens, minilm.max_tokens, min_tokens=160)
    assert_exact(article, chunks)
    assert max(minilm.count_tokens([c.text for c in chunks])) <= minilm.max_tokens
    assert all(c.text.strip() == c.text for c in chunks)


def test_russian_news_with_overlap_fits_the_window(minilm):
    """The issue's crash: a tiktoken-counted overlap pushed a Cyrillic chunk to 280 tokens."""
    short = "В 1960-е и 1970-е годы были внесены незначительные поправки."
    long = ("К ним относятся тест простоты Миллера-Рабина, который является быстрым, но имеет небольшую "
            "вероятность ошибки, и тест простоты AKS, который всегда дает правильный ответ за полиномиальное "
            "время, но длится слишком долго для практичного применения.")
    text = " ".join([long, short, long, short, long])
    article = Article(id="ru", text=text, title="t")
    chunks = chunk_article(article, count, 160, 32, minilm.count_tokens, minilm.max_tokens)
    assert_exact(article, chunks)
    assert max(minilm.count_tokens([c.text for c in chunks])) <= minilm.max_tokens


def test_a_long_run_of_cjk_without_spaces_is_cut_between_characters(minilm):
    text = "新闻报道说" * 300 + "。"
    article = Article(id="zh", text=text, title="t")
    chunks = chunk_article(article, count, 160, 32, minilm.count_tokens, minilm.max_tokens)
    assert_exact(article, chunks)
    assert len(chunks) > 4
    assert max(minilm.count_tokens([c.text for c in chunks])) <= minilm.max_tokens


def test_a_cut_between_characters_never_separates_a_combining_mark(minilm):
    text = "中कि" * 700  # CJK is read a character at a time; ि is a combining vowel sign; no spaces
    chunks = chunk_article(Article(id="hi", text=text, title="t"), count, 160, 32, minilm.count_tokens,
                           minilm.max_tokens)
    assert len(chunks) > 2 and all(not unicodedata.category(c.text[0]).startswith("M") for c in chunks)
    assert max(minilm.count_tokens([c.text for c in chunks])) <= minilm.max_tokens
