"""The fixed refusal, one definition: the prompts tell the model to write it, the answerers show
it and recognise it in a reply (typography, case and a final full stop folded away)."""

from __future__ import annotations

from rag.citations import normalise

REFUSAL = "The articles I have do not say."
REFUSAL_FOLDED = normalise(REFUSAL).text.rstrip(".")


def is_refusal(reply: str) -> bool:
    """An empty reply, or one that says the fixed refusal anywhere."""
    return not reply.strip() or REFUSAL_FOLDED in normalise(reply).text


def says_refusal(reply: str) -> bool:
    """The reply contains the fixed refusal (an empty one does not)."""
    return REFUSAL_FOLDED in normalise(reply).text
