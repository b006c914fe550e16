"""Languages: which one an article is written in, the stemmer its BM25 terms get, and the
transliteration that lets an English question's names meet a Russian article's (issue 28).

Detection is `py3langid` (langid.py's model, shipped inside the wheel: nothing is downloaded),
run once per article at ingest on its title and opening text, and stored on the article
(`Article.language`, ISO 639-1, e.g. "en", "ru"). Text with no letters is None.

Stemming goes by the article's language and each word's script: a Cyrillic word of a Russian
article gets Snowball's Russian stemmer (`snowballstemmer`, pure Python); every other word keeps
the project's light English stemmer (rag/terms.py), so English articles are indexed exactly as
before. A question's Cyrillic words are looked up both ways (see rag/lexical.py query_stems).

Transliteration: a capitalised Cyrillic word (a name, mostly) of a Russian article is also
indexed in Latin letters ("Бабушкин" -> "babushkin", "Тесла" -> "tesla"), so the English
question "What did Babushkin say?" matches it in BM25. `same_name` is the name check the answer
checks can use across scripts.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

from rag.terms import fts_token, stems_of, words

if TYPE_CHECKING:
    from snowballstemmer import Stemmer

    from rag.types import Article

StemItem = str | tuple[str, str]  # a text, or (text, language) for a language with its own stemmer

# Languages whose words get a Snowball stemmer (and the script those words are in). Extend with
# care: a language added here changes how its articles are indexed (rag/lexical.py SCHEMA_VERSION).
SNOWBALL = {"ru": "russian"}
_DETECT_CHARS = 1000  # the opening of an article says its language; langid's cost grows with length

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LETTER = re.compile(r"[^\W\d_]")

# Russian -> Latin, close to how English news spells Russian names (BGN/PCGN-like, simplified).
_RU_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ў": "u", "ґ": "g",
}


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is written in, or None when it has no letters."""
    sample = text[:_DETECT_CHARS]
    if not _LETTER.search(sample):
        return None
    from py3langid.langid import classify  # loads its model once (about a second)

    code, _ = classify(sample)
    return str(code)


_NAMES = {"ru": "Russian", "uk": "Ukrainian", "be": "Belarusian", "bg": "Bulgarian", "de": "German", "fr": "French",
          "es": "Spanish", "it": "Italian", "pl": "Polish", "zh": "Chinese", "ja": "Japanese", "ar": "Arabic",
          "hi": "Hindi", "el": "Greek", "en": "English", "kk": "Kazakh", "tr": "Turkish", "pt": "Portuguese"}


def language_name(code: str) -> str:
    """An ISO 639-1 code's English name (the code itself for one not listed)."""
    return _NAMES.get(code, code)


def with_language(article: Article) -> Article:
    """The article with its language detected (kept when it has one). Its content hash is the
    same: the language follows from the text (rag/types.py Article.language)."""
    if article.language is not None:
        return article
    return article.model_copy(update={"language": detect_language(f"{article.title}\n{article.text}")})


_SCRIPTS = {
    "cyrillic": ("ru", "uk", "be", "bg", "kk", "mk", "sr", "mn", "ky", "tg"),
    "greek": ("el",), "arabic": ("ar", "fa", "ur", "ps"), "hebrew": ("he", "yi"),
    "cjk": ("zh", "ja", "ko"), "devanagari": ("hi", "mr", "ne"), "thai": ("th",),
}
_SCRIPT_OF = {code: script for script, codes in _SCRIPTS.items() for code in codes}


def script_of_language(language: str) -> str:
    """The script a language is written in ("latin" for the ones not listed)."""
    return _SCRIPT_OF.get(language, "latin")


def script_of_text(text: str) -> str | None:
    """The script most of a text's letters are in (None: no letters)."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "").split(" ")[0].lower()
        script = {"cjk": "cjk", "hiragana": "cjk", "katakana": "cjk", "hangul": "cjk"}.get(name, name)
        counts[script if script in _SCRIPTS else "latin"] = counts.get(script if script in _SCRIPTS else "latin", 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def has_cyrillic(word: str) -> bool:
    return _CYRILLIC.search(word) is not None


def stems_language(language: str | None) -> str | None:
    """The Snowball stemmer's name for an article language, when its words get one."""
    return SNOWBALL.get(language or "")


@lru_cache(maxsize=4)
def _stemmer(name: str) -> Stemmer:
    import snowballstemmer

    return snowballstemmer.stemmer(name)


@lru_cache(maxsize=262_144)
def snowball_stem(word: str, name: str = "russian") -> str:
    """A word's Snowball stem, lower-cased, "ё" read as "е" (Russian text writes either)."""
    w = word.lower().replace("ё", "е")
    return str(_stemmer(name).stemWord(w))


@lru_cache(maxsize=65_536)
def transliterate(word: str) -> str:
    """A Cyrillic word in Latin letters, lower-cased ("Бабушкин" -> "babushkin"); other letters
    are kept, without their diacritics."""
    out = []
    for ch in word.lower():
        if ch in _RU_LATIN:
            out.append(_RU_LATIN[ch])
        else:
            plain = unicodedata.normalize("NFKD", ch)
            out.append("".join(c for c in plain if not unicodedata.combining(c)))
    return "".join(out)


def name_key(word: str) -> str:
    """A name reduced so that its Cyrillic and Latin spellings meet: transliterated, with the
    letters spellings differ in folded ("Babushkin"/"Бабушкин", "Lukashenko"/"Лукашенко",
    "Yevgeny"/"Евгений" -> the same key)."""
    w = transliterate(word)
    for a, b in (("shch", "sh"), ("kh", "h"), ("ks", "x"), ("ts", "c"), ("ck", "k"), ("ph", "f"),
                 ("w", "v"), ("j", "y"), ("q", "k"), ("ye", "e"), ("ya", "a"), ("yu", "u"), ("iy", "y")):
        w = w.replace(a, b)
    consonants = re.sub(r"[aeiouy]", "", w) or w  # vowels (and endings) are where spellings differ most
    return re.sub(r"(.)\1+", r"\1", consonants)  # doubled letters


def same_name(a: str, b: str) -> bool:
    """Whether two words spell the same name, in one script or across Latin and Cyrillic. Russian
    case endings are stripped first ("Бабушкиным" is "Babushkin")."""
    if a.lower() == b.lower():
        return True
    ka, kb = _name_form(a), _name_form(b)
    return len(ka) >= 3 and ka == kb


def _name_form(word: str) -> str:
    return name_key(snowball_stem(word) if has_cyrillic(word) else word)


def index_terms(item: StemItem) -> str:
    """What the BM25 index holds for a text: `stems_of` (rag/terms.py), or for a language with a
    Snowball stemmer (rag/language.py SNOWBALL) its words' stems by script: a Cyrillic word's
    Snowball stem, and for a capitalised one (a name, mostly) its Latin forms too."""
    if isinstance(item, str):
        return stems_of(item)
    text, language = item
    name = stems_language(language)
    if name is None:
        return stems_of(text)
    out: list[str] = []
    for w in words(text):
        if not has_cyrillic(w):
            out.append(fts_token(w))
            continue
        out.append(fold(snowball_stem(w, name)))
        if w[:1].isupper():
            out.extend(dict.fromkeys((fts_token(transliterate(w)), fts_token(transliterate(snowball_stem(w, name))))))
    return " ".join(filter(None, out))


def fold(term: str) -> str:
    """A term as FTS5's unicode61 tokenizer (remove_diacritics 2) stores it."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", term) if ch.isalnum())
