"""Follow-up questions ("and what about food?") made standalone before retrieval.

With an LLM the model rewrites the question from the bounded history. Without one (or when it
fails) a heuristic: a question that leans on the conversation (opens with "and", "what about",
uses a pronoun, or has almost no content words) gets the previous question's content words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.answering.prompts import rewrite_messages
from rag.llm_client import LLMUnavailable
from rag.terms import QUESTION_WORDS, STOP_WORDS, content_terms, words

if TYPE_CHECKING:
    from rag.llm_client import Deadline, LLMClient

_LEANS_ON_CONTEXT = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|and what|what else|why|how come)\b|"
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|his|her|him|there|the same)\b", re.I)
MAX_TURN_CHARS = 1000


def rewrite(question: str, history: Sequence[tuple[str, str]], client: LLMClient | None = None,
            deadline: Deadline | None = None) -> str:
    turns = [(role, text[:MAX_TURN_CHARS]) for role, text in history if role in ("user", "assistant") and text]
    if not any(role == "user" for role, _ in turns):
        return question
    if client is not None:
        assert deadline is not None, "an LLM rewrite runs inside the answer's deadline"
        try:
            rewritten = _first_line(client.complete(rewrite_messages(question, turns), deadline))
            if rewritten and len(rewritten) <= 3 * len(question) + 200:
                return rewritten
        except LLMUnavailable:
            pass  # the heuristic below still gives retrieval something to work with
    return combine(question, turns)


def combine(question: str, turns: Sequence[tuple[str, str]]) -> str:
    previous = next((text for role, text in reversed(turns) if role == "user"), None)
    if previous is None or not (_LEANS_ON_CONTEXT.search(question) or len(content_terms(question)) < 2):
        return question
    # The follow-up first, then the previous question's content words: joining the two whole
    # questions let the earlier topic dominate retrieval. What this gains: Pipeline.follow_up.
    topic = [w for w in words(previous) if w.lower() not in STOP_WORDS and w.lower() not in QUESTION_WORDS]
    return f"{question.strip()} {' '.join(topic)}".strip()


def _first_line(text: str) -> str:
    line = next((x for x in text.strip().splitlines() if x.strip()), "")
    line = re.sub(r"^\s*(rewritten( last)? question|question)\s*:\s*", "", line, flags=re.I)
    return line.strip().strip("\"“”'")
