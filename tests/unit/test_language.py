"""rag/language.py: detection, Russian stems and names across scripts (issue 28)."""

from __future__ import annotations

from rag.language import detect_language, index_terms, name_key, same_name, transliterate
from rag.lexical import query_stems
from rag.terms import stems_of


def test_the_detector_tells_russian_from_english_and_says_none_without_letters() -> None:
    assert detect_language("Губернатор Астраханской области встретился с президентом в Минске.") == "ru"
    assert detect_language("Belarus offered Astrakhan tractors, milk plants and grain elevators.") == "en"
    assert detect_language("2024 — 17 %, 120") is None


def test_names_meet_across_scripts_and_case_endings() -> None:
    assert transliterate("Бабушкин") == "babushkin"
    for latin, cyrillic in [("Babushkin", "Бабушкиным"), ("Lukashenko", "Лукашенко"), ("Tesla", "Тесла"),
                            ("Minsk", "Минске"), ("Yevgeny", "Евгений")]:
        assert same_name(latin, cyrillic), (latin, cyrillic)
    assert not same_name("Tesla", "Тесты") and not same_name("Babushkin", "Лукашенко")
    assert name_key("Babushkin") == name_key("Babuschkin".replace("sch", "sh"))


def test_a_russian_text_is_indexed_as_snowball_stems_with_its_names_in_latin_too() -> None:
    terms = index_terms(("Бабушкин встретился с губернаторами в Минске в 2024 году.", "ru")).split()
    assert "бабушкин" in terms and "babushkin" in terms
    assert "губернатор" in terms and "минск" in terms and "minsk" in terms and "2024" in terms
    assert "губернаторами" not in terms
    # English (and any language without a stemmer of its own) is indexed exactly as before
    english = "Belarus offered Astrakhan tractors."
    assert index_terms(english) == index_terms((english, "en")) == stems_of(english)


def test_a_question_in_russian_looks_its_words_up_as_stems_too() -> None:
    terms = query_stems("С кем встретился Лукашенко в Минске?")
    assert "встрет" in terms and "минск" in terms
    assert query_stems("What did Belarus offer Astrakhan?") == ["belaru", "offer", "astrakhan"]
