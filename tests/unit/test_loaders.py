import json
from pathlib import Path

import pytest

from rag.errors import LoadError
from rag.loaders import FIELD_LIMITS, article_from_record, load_paths
from tests.conftest import SEED_ID, SEEDS

LIMIT = 10_000


def test_seed_header_becomes_published_at_and_is_not_in_the_text():
    loaded = load_paths([SEEDS], LIMIT)
    assert loaded.errors == []
    (article,) = loaded.articles
    assert article.id == SEED_ID
    assert article.published_at == "2025-05-02"
    assert article.text.startswith("Belarusian President Aleksandr Lukashenko met")
    assert "date 2025" not in article.text
    assert article.title.endswith("in Minsk on 2 May.")


def test_json_jsonl_md_and_html_records(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"id": "x1", "text": "First text here.", "source": "wire", "published_at": "2025-01-02"})
        + "\n\n"
        + json.dumps({"url": "https://example.org/n", "title": "T", "text": "Second."}) + "\n"
        + json.dumps({"text": "No id or url."}) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "b.json").write_text(json.dumps([{"id": "y", "text": "Listed."}]), encoding="utf-8")
    (tmp_path / "c.md").write_text("# Heading title\n\nBody of the note.", encoding="utf-8")
    (tmp_path / "d.html").write_text(
        "<html><head><title>Bridge news</title></head><body><nav>Home | About | Login</nav>"
        "<article><h1>Bridge news</h1><p>The mayor of Springfield announced a new bridge on Monday, "
        "costing five million dollars.</p><p>Residents welcomed the plan and said the bridge would "
        "cut travel times across the river.</p></article><footer>Copyright 2025</footer></body></html>",
        encoding="utf-8",
    )
    loaded = load_paths([tmp_path], LIMIT)
    assert loaded.errors == []
    by_id = {a.id: a for a in loaded.articles}
    assert by_id["x1"].source == "wire" and by_id["x1"].published_at == "2025-01-02"
    assert by_id["https://example.org/n"].title == "T"
    assert by_id["a.jsonl#4"].text == "No id or url."
    assert "y" in by_id
    assert by_id["c.md"].title == "Heading title"
    html = by_id["d.html"]
    assert "new bridge" in html.text and "Login" not in html.text and "Copyright" not in html.text
    assert html.title == "Bridge news"


def test_bad_files_name_themselves_and_good_ones_still_load(tmp_path):
    (tmp_path / "good.txt").write_text("A good article. It has text.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "notext.json").write_text(json.dumps({"id": "n", "title": "no text"}), encoding="utf-8")
    (tmp_path / "wrongtype.json").write_text(json.dumps({"id": 5, "text": "x"}), encoding="utf-8")
    (tmp_path / "huge.txt").write_text("x" * (LIMIT + 1), encoding="utf-8")
    (tmp_path / "lines.jsonl").write_text('{"id": "ok", "text": "fine"}\n{oops\n', encoding="utf-8")
    (tmp_path / "utf16.txt").write_bytes("UTF-16 text works.".encode("utf-16"))
    loaded = load_paths([tmp_path, tmp_path / "missing.txt"], LIMIT)
    assert sorted(a.id for a in loaded.articles) == ["good.txt", "ok", "utf16.txt"]
    reasons = {e.source.rsplit("/", 1)[-1]: e.reason for e in loaded.errors}
    assert "empty" in reasons["empty.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "malformed JSON" in reasons["broken.json"]
    assert "missing field 'text'" in reasons["notext.json"]
    assert "'id' must be a string" in reasons["wrongtype.json"]
    assert "too large" in reasons["huge.txt"]
    assert "malformed JSON" in reasons["lines.jsonl:2"]
    assert "no such file" in reasons["missing.txt"]
    assert all(str(tmp_path) in e.source for e in loaded.errors)


def test_duplicate_ids_in_one_batch_keep_the_first(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"id": "same", "text": "one"}\n{"id": "same", "text": "two"}\n',
                                      encoding="utf-8")
    loaded = load_paths([tmp_path], LIMIT)
    assert [a.text for a in loaded.articles] == ["one"]
    assert "duplicate article id 'same'" in loaded.errors[0].reason


def test_symlink_loop_in_a_folder_does_not_hang(tmp_path):
    (tmp_path / "a.txt").write_text("Text.", encoding="utf-8")
    (tmp_path / "loop").symlink_to(tmp_path)
    assert [a.id for a in load_paths([tmp_path], LIMIT).articles] == ["a.txt"]


@pytest.mark.parametrize("field", sorted(FIELD_LIMITS))
def test_field_caps_name_the_field(field, tmp_path: Path):
    record = {"id": "x", "title": "t", "text": "Some text.", field: "a" * (FIELD_LIMITS[field] + 1)}
    with pytest.raises(LoadError, match=f"'{field}'"):
        article_from_record(record, "articles[0]", None)
    (tmp_path / "big.jsonl").write_text(__import__("json").dumps(record) + "\n", encoding="utf-8")
    loaded = load_paths([tmp_path], 10**7)
    assert not loaded.articles and f"'{field}'" in loaded.errors[0].reason
