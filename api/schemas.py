"""Request and response bodies. Kept apart from the domain types; examples feed the OpenAPI document."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from rag.types import ArticleInfo, RetrievedChunk

MAX_QUESTION_CHARS = 4000
SEED_QUESTION = "What did Belarus offer Astrakhan?"


def real_date(value: str | None) -> str | None:
    """YYYY-MM-DD that is a real calendar date (the pattern alone lets 0000-00-00 through)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a real date (YYYY-MM-DD)") from None


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD, inclusive")
    until: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD, inclusive")
    source: str | None = None
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$", description="ISO 639-1 (en, ru), as detected at ingest")

    _dates = field_validator("since", "until")(real_date)


def as_of_value(value: str | None) -> str | None:
    """`as_of`: YYYY-MM-DD or YYYY-MM-DDTHH:MM; kept as given once it parses."""
    if value is not None:
        from rag.timecues import parse_as_of

        parse_as_of(value)  # ValueError names the value and the format: a 422
    return value


AS_OF_DOC = ("When the question is asked, YYYY-MM-DD or YYYY-MM-DDTHH:MM (default: now). Articles published "
             "after it are not used; 'this week' and 'latest' mean the days before it.")


class RagExtras(BaseModel):
    """The `rag` object a chat-completions request may carry: options OpenAI's API has no field for."""

    model_config = ConfigDict(extra="forbid")
    as_of: str | None = Field(None, description=AS_OF_DOC, examples=["2025-05-03"])

    _as_of = field_validator("as_of")(as_of_value)


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": SEED_QUESTION, "top_k": 8},
        {"question": SEED_QUESTION, "mode": "llm", "stream": True, "filters": {"since": "2025-01-01"}},
    ]})
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S")
    top_k: int | None = Field(None, ge=1, le=50)
    mode: Literal["auto", "extractive", "llm"] = "auto"
    filters: FiltersIn | None = None
    as_of: str | None = Field(None, description=AS_OF_DOC, examples=["2025-05-03T12:00"])
    stream: bool = Field(False, description="Server-Sent Events: `token` events, then one `final` event.")
    history: list[Turn] = Field(default_factory=list, max_length=50,
                                description="Earlier messages, oldest first, for follow-up questions.")

    _as_of = field_validator("as_of")(as_of_value)


ARTICLE_EXAMPLE: dict[str, JsonValue] = {"id": "minsk-2025-05-02", "title": "Lukashenko meets Astrakhan governor",
                   "text": "Belarusian President Aleksandr Lukashenko met with ...", "source": "belta",
                   "published_at": "2025-05-02", "url": "https://example.org/news/1"}

ARTICLES_BODY: dict[str, Any] = {
    "description": "One article record, a list of them, or {\"articles\": [...]}: the fields of a "
                   "`rag ingest` JSONL line (`text` required; `id`, else `url`, identifies it).",
    "content": {"application/json": {
        "schema": {"oneOf": [{"$ref": "#/components/schemas/ArticleIn"},
                             {"type": "array", "items": {"$ref": "#/components/schemas/ArticleIn"}},
                             {"type": "object", "properties": {"articles": {
                                 "type": "array", "items": {"$ref": "#/components/schemas/ArticleIn"}}}}]},
        "examples": {"one": {"value": ARTICLE_EXAMPLE}, "batch": {"value": {"articles": [ARTICLE_EXAMPLE]}}},
    }},
    "required": True,
}


class ArticleIn(BaseModel):
    """Documents the record shape; records are validated one by one so one bad record fails alone."""

    model_config = ConfigDict(json_schema_extra={"examples": [ARTICLE_EXAMPLE]})
    text: str
    id: str | None = None
    url: str | None = None
    title: str | None = None
    source: str | None = None
    published_at: str | None = Field(None, description="YYYY-MM-DD")


class IngestResult(BaseModel):
    id: str
    status: Literal["added", "updated", "unchanged", "error"]
    detail: str = ""


class IngestOut(BaseModel):
    results: list[IngestResult]
    counts: dict[str, int]


class ArticleOut(ArticleInfo):
    text: str


class ArticleList(BaseModel):
    articles: list[ArticleInfo]
    offset: int
    limit: int
    total: int


class SearchOut(BaseModel):
    query: str
    results: list[RetrievedChunk]


class ContentPart(BaseModel):
    """One part of a message's content; only `text` parts are read, and their `text` must be a string."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None

    @model_validator(mode="after")
    def _text_part_has_text(self) -> ContentPart:
        if self.type == "text" and self.text is None:
            raise ValueError("a part of type 'text' needs a string 'text'")
        return self


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatIn(BaseModel):
    """OpenAI's chat request; fields this service does not use (temperature, …) are accepted and ignored."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": "rag-news", "messages": [{"role": "user", "content": SEED_QUESTION}]},
        {"model": "rag-news", "stream": True, "messages": [
            {"role": "user", "content": SEED_QUESTION}, {"role": "assistant", "content": "Machinery [1] ..."},
            {"role": "user", "content": "and what about food?"}]},
    ]})
    model: str = "rag-news"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    rag: RagExtras | None = Field(None, description="Extras of this service, e.g. {\"as_of\": \"2025-05-03\"}.")
