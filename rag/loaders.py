"""Files, folders and records -> Article. Bad input becomes a LoadError naming the file and why."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rag.errors import LoadError
from rag.hygiene import BadInput, check_text, has_controls
from rag.hygiene import loads as json_loads
from rag.types import Article

TEXT_SUFFIXES = {".txt", ".md"}
JSON_SUFFIXES = {".json", ".jsonl"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | JSON_SUFFIXES | HTML_SUFFIXES
# A folder's README documents the folder; it is not an article.
_SKIPPED_NAMES = {"readme.md", "readme.txt"}
_RECORD_FIELDS = {"id", "title", "url", "source", "published_at", "text"}
_DATE_HEADER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})[ \t]+")
_MD_TITLE = re.compile(r"\A#\s+(.+?)\s*\n")
MAX_TITLE_CHARS = 200
# Caps on the article-level fields (characters). The text may be long, these may not: they are
# stored once per article, but a title is also indexed with every chunk (BM25), so an unbounded one
# multiplied disk use by the chunk count (docs/RELIABILITY.md, "disk per article").
FIELD_LIMITS = {"id": 1000, "title": 1000, "url": 2000, "source": 200}


@dataclass
class Loaded:
    articles: list[Article] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


def load_paths(paths: Iterable[str | Path], max_bytes: int) -> Loaded:
    """Every article under `paths`; one bad file or record never stops the others."""
    loaded = Loaded()
    seen: dict[str, str] = {}
    for path in _walk(paths, loaded.errors):
        for item in _load_file(path, max_bytes):
            _collect(item, str(path), loaded, seen)
    return loaded


def check_fields(article: Article, where: str) -> Article:
    """The article, or a LoadError naming the first field over its cap."""
    for name, limit in FIELD_LIMITS.items():
        value = getattr(article, name)
        if value is not None and len(value) > limit:
            raise LoadError(where, f"field {name!r} is {len(value)} characters; at most {limit}")
    return article


def _collect(item: Article | LoadError, where: str, loaded: Loaded, seen: dict[str, str]) -> None:
    if isinstance(item, Article):
        try:
            check_fields(item, where)
        except LoadError as exc:
            item = exc
    if isinstance(item, LoadError):
        loaded.errors.append(item)
    elif item.id in seen:
        loaded.errors.append(LoadError(where, f"duplicate article id {item.id!r} (first in {seen[item.id]})"))
    else:
        seen[item.id] = where
        loaded.articles.append(item)


def _walk(paths: Iterable[str | Path], errors: list[LoadError]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # os.walk does not follow symlinked folders, so symlink loops cannot recurse.
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    child = Path(root) / name
                    if name.startswith(".") or name.lower() in _SKIPPED_NAMES:
                        continue
                    if child.suffix.lower() in SUPPORTED_SUFFIXES:
                        yield child
        elif path.exists():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path
            else:
                errors.append(LoadError(str(path), f"unsupported file type {path.suffix or '(none)'!r}; "
                                        f"use {', '.join(sorted(SUPPORTED_SUFFIXES))}"))
        else:
            errors.append(LoadError(str(path), "no such file or folder"))


def _load_file(path: Path, max_bytes: int) -> list[Article | LoadError]:
    where = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return [LoadError(where, f"too large ({size:,} bytes; the limit is {max_bytes:,}, RAG_MAX_FILE_BYTES)")]
        raw = path.read_bytes()
    except OSError as exc:
        return [LoadError(where, f"cannot read: {exc.strerror or exc}")]
    try:
        content = decode(raw)
    except LoadError as exc:
        return [LoadError(where, exc.reason)]
    suffix = path.suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES:
            return [article_from_text(content, path.name, where)]
        if suffix in HTML_SUFFIXES:
            return [article_from_html(content, path.name, where)]
        if suffix == ".jsonl":
            return list(_jsonl_articles(content, path.name, where))
        return list(_json_articles(content, path.name, where))
    except LoadError as exc:
        return [exc]


def decode(raw: bytes) -> str:
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError("", f"invalid UTF-16 at byte {exc.start}") from None
    if b"\x00" in raw:
        raise LoadError("", "binary file (contains NUL bytes); expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError("", f"not valid UTF-8 (byte {exc.start})") from None


def article_from_text(content: str, file_name: str, where: str) -> Article:
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    published_at = None
    header = _DATE_HEADER.match(content)
    if header:
        published_at = _parse_date(header.group(1), where)
        content = content[header.end():]
    title = None
    heading = _MD_TITLE.match(content.lstrip())
    if heading and file_name.lower().endswith(".md"):
        title = heading.group(1).strip().strip("#").strip()
    text = _require_text(content, where)
    return Article(id=file_name, text=text, title=title or first_sentence(text),
                   published_at=published_at)


def article_from_html(content: str, file_name: str, where: str) -> Article:
    import trafilatura

    doc = trafilatura.bare_extraction(content, with_metadata=True, include_comments=False)
    body = (getattr(doc, "text", None) or "") if doc is not None else ""
    title = (getattr(doc, "title", None) or "").strip()
    lines = [line.strip() for line in body.split("\n") if line.strip()]
    if lines and title and lines[0] == title:
        lines = lines[1:]
    text = _require_text("\n\n".join(lines), where, empty="no article text found in the page")
    url = getattr(doc, "url", None) or None
    published = getattr(doc, "date", None)
    return Article(
        id=url or file_name,
        text=text,
        title=title or first_sentence(text),
        url=url,
        source=getattr(doc, "sitename", None) or None,
        published_at=_parse_date(published, where) if published else None,
    )


def _jsonl_articles(content: str, file_name: str, where: str) -> Iterator[Article | LoadError]:
    found = False
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        found = True
        here = f"{where}:{number}"
        try:
            record = json_loads(line)
        except json.JSONDecodeError as exc:
            yield LoadError(here, f"malformed JSON ({exc.msg} at column {exc.colno})")
            continue
        except BadInput as exc:
            yield LoadError(here, exc.reason)
            continue
        try:
            yield article_from_record(record, here, fallback_id=f"{file_name}#{number}")
        except LoadError as exc:
            yield exc
    if not found:
        yield LoadError(where, "empty file")


def _json_articles(content: str, file_name: str, where: str) -> Iterator[Article | LoadError]:
    if not content.strip():
        raise LoadError(where, "empty file")
    try:
        value = json_loads(content)
    except json.JSONDecodeError as exc:
        raise LoadError(where, f"malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except BadInput as exc:
        raise LoadError(where, exc.reason) from None
    if isinstance(value, list):
        for i, record in enumerate(value):
            try:
                yield article_from_record(record, f"{where}[{i}]", fallback_id=f"{file_name}#{i + 1}")
            except LoadError as exc:
                yield exc
    else:
        yield article_from_record(value, where, fallback_id=file_name)


def article_from_record(record: Any, where: str, fallback_id: str | None) -> Article:
    if not isinstance(record, dict):
        raise LoadError(where, f"expected a JSON object, got {type(record).__name__}")
    for key in _RECORD_FIELDS & record.keys():
        value = record[key]
        if value is not None and not isinstance(value, str):
            raise LoadError(where, f"field {key!r} must be a string, got {type(value).__name__}")
        try:
            if value is not None:
                check_text(value, key)
        except BadInput as exc:
            raise LoadError(where, f"field {key!r} {exc.reason}") from None
    if "text" not in record or record["text"] is None:
        raise LoadError(where, "missing field 'text'")
    text = _require_text(record["text"].replace("\r\n", "\n"), where)
    article_id = (record.get("id") or "").strip() or (record.get("url") or "").strip() or fallback_id
    if not article_id:
        raise LoadError(where, "no 'id' or 'url' to identify the article")
    if has_controls(article_id):
        raise LoadError(where, f"id {article_id!r} contains a control character (newline, tab, ...); "
                               "no request could reach it")
    published = record.get("published_at")
    return check_fields(Article(
        id=article_id,
        text=text,
        title=(record.get("title") or "").strip() or first_sentence(text),
        url=record.get("url") or None,
        source=record.get("source") or None,
        published_at=_parse_date(published, where) if published else None,
    ), where)


def _require_text(text: str, where: str, empty: str = "empty file (no article text)") -> str:
    stripped = text.strip()
    if not stripped:
        raise LoadError(where, empty)
    return stripped


def _parse_date(value: str, where: str) -> str:
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise LoadError(where, f"published_at {value!r} is not a date (YYYY-MM-DD)") from None


def first_sentence(text: str) -> str:
    from rag.sentences import split_sentences

    first_para = text.split("\n", 1)[0]
    spans = split_sentences(first_para)
    sentence = first_para[spans[0][0]:spans[0][1]] if spans else first_para
    sentence = " ".join(sentence.split())
    if len(sentence) > MAX_TITLE_CHARS:
        sentence = sentence[: MAX_TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return sentence
