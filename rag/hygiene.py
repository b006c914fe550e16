"""Input and output hygiene in one place (issue 16).

In: JSON that is valid UTF-8, nested at most MAX_DEPTH deep, with no lone surrogate in any
string (`"\\ud800"` parses to a str that cannot be encoded, stored or printed). The loaders turn a
breach into a per-record error; the API middleware into a 422 naming the field.

Out: `terminal_safe` removes C0/C1 control characters (ESC[2J, OSC 0 titles, OSC 8 links) from
article-derived text before the CLI prints it; only newline and tab are kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class BadInput(ValueError):
    """Input this service refuses; `where` names the field (a JSON path), `reason` says why."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON document nests arrays/objects deeper than `limit` (strings ignored)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b"", raw)):
        if match.group() in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def may_hold_surrogate(raw: bytes) -> bool:
    """Cheap pre-check: only a `\\uD800`-style escape can put a surrogate into parsed JSON (raw
    surrogate bytes are invalid UTF-8)."""
    return _SURROGATE_ESCAPE.search(raw) is not None


def lone_surrogate(value: Any, where: str = "") -> str | None:
    """The path of the first string holding a lone surrogate (keys included), or None."""
    if isinstance(value, str):
        return (where or "body") if _SURROGATE.search(value) and not _encodable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _SURROGATE.search(key) and not _encodable(key):
                return where or "body"
            found = lone_surrogate(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate(item, f"{where}[{i}]")
            if found:
                return found
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def check_document(raw: bytes, skip_surrogates: bool = False) -> None:
    """Raise BadInput for a JSON body that is not UTF-8, nests too deep, or holds a lone surrogate.
    Malformed JSON is left to the parser that follows (it names the position)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("body", f"not valid UTF-8 (byte {exc.start})") from None
    if too_deep(raw):
        raise BadInput("body", f"JSON nested deeper than {MAX_DEPTH} levels")
    if skip_surrogates or not may_hold_surrogate(raw):
        return
    try:
        value = json.loads(raw)
    except ValueError:
        return
    where = lone_surrogate(value)
    if where:
        raise BadInput(where, "contains a lone surrogate (\\ud800-\\udfff), which is not text")


def loads(text: str, where: str = "") -> Any:
    """json.loads with the depth cap; raises BadInput (too deep) or json.JSONDecodeError."""
    if too_deep(text.encode("utf-8", "surrogatepass")):
        raise BadInput(where or "body", f"JSON nested deeper than {MAX_DEPTH} levels")
    return json.loads(text)


def check_text(value: str, field: str) -> None:
    """Raise BadInput when a string holds a lone surrogate."""
    if _SURROGATE.search(value) and not _encodable(value):
        raise BadInput(field, "contains a lone surrogate (\\ud800-\\udfff), which is not text")


def has_controls(text: str) -> bool:
    """Whether `text` holds any C0/C1 control character (newline and tab included)."""
    return _ANY_CONTROL.search(text) is not None


def terminal_safe(text: str) -> str:
    """Text with every C0/C1 control character removed except newline and tab, and lone
    surrogates replaced, so article text can neither drive the terminal nor crash the print."""
    text = _CONTROLS.sub("", text)
    if _SURROGATE.search(text) and not _encodable(text):
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


_C1 = re.compile("[\x7f-\x9f]")


def escape_c1(json_text: str) -> str:
    """JSON text with DEL and C1 characters written as \\u escapes (same value, inert in a terminal)."""
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


_MARKER_LIKE = re.compile(r"\[(\s*(?:source\s*)?\d+(?:\s*[,;]\s*\d+)*\s*)\]", re.IGNORECASE)
_SOURCES_LINE = re.compile(r"(?m)^([ \t]*)Sources:")


def inert_markers(text: str) -> str:
    """Article text whose `[2]`-style markers are written with full-width brackets (`［2］`), so only
    the markers the server emits are ASCII `[n]` (issue 16, item 10)."""
    return _MARKER_LIKE.sub(lambda m: f"\uff3b{m.group(1)}\uff3d", text) if "[" in text else text


def inert_sources_header(text: str) -> str:
    """A line of answer text that starts `Sources:` gets a full-width colon, so the only `Sources:`
    line of a chat reply is the server's own."""
    return _SOURCES_LINE.sub("\\1Sources\uff1a", text) if "Sources:" in text else text


_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s@]*@")


def redact_credentials(text: str) -> str:
    """Text with the `user:password@` of every URL in it written `***@` (issue 27, row 9)."""
    return _CREDENTIALS.sub(r"\1***@", text) if "@" in text else text
