from hypothesis import given
from hypothesis import strategies as st

from rag.citations import locate, normalise

SEED_LIKE = "Belarus’ advantage. “We will seek to balance our trade,” the President said. Russia's"


def test_straight_quotes_find_curly_text_and_return_the_original_span():
    quote = '"We will seek to balance our trade," the President said.'
    start, end = locate(SEED_LIKE, quote)
    assert SEED_LIKE[start:end] == "“We will seek to balance our trade,” the President said."


def test_curly_apostrophe_finds_straight_one_and_whitespace_and_case_are_folded():
    start, end = locate(SEED_LIKE, "the   PRESIDENT\nsaid. Russia’s")
    assert SEED_LIKE[start:end] == "the President said. Russia's"


def test_missing_quote_is_none():
    assert locate(SEED_LIKE, "Belarus refused to balance trade") is None
    assert locate(SEED_LIKE, "   ") is None


@given(st.text(min_size=1, max_size=200), st.data())
def test_any_substring_is_found_and_slices_back_to_a_match(text, data):
    i = data.draw(st.integers(0, len(text) - 1))
    j = data.draw(st.integers(i + 1, len(text)))
    needle = text[i:j]
    span = locate(text, needle)
    if not normalise(needle).text:
        assert span is None
        return
    assert span is not None
    start, end = span
    assert normalise(text[start:end]).text == normalise(needle).text
