"""The hostile-input filters (rag/hygiene.py) on their own: terminal output, JSON depth, surrogates."""

import pytest

from rag.hygiene import check_document, terminal_safe, too_deep

HOSTILE = "Title \x1b[2J\x1b]0;pwned\x07 \x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m end"


def test_terminal_filter_removes_c0_c1_controls_but_keeps_newline_and_tab():
    cleaned = terminal_safe(HOSTILE + "\nline\ttab\r\x7f\x85")
    assert "\n" in cleaned and "\t" in cleaned
    assert not any(ch in cleaned for ch in "\x1b\x07\x9b\r\x7f\x85")
    assert terminal_safe("lone \ud800 surrogate").encode("utf-8")


def test_depth_and_surrogate_checks():
    assert too_deep(b"[" * 65 + b"]" * 65) and not too_deep(b"[" * 64 + b"]" * 64)
    assert not too_deep(b'{"text": "' + b"[" * 500 + b'"}')  # brackets inside strings do not count
    with pytest.raises(ValueError, match=r"messages\[0\]\.content"):
        check_document(b'{"messages": [{"role": "user", "content": "\\ud800"}]}')
    check_document(b'{"text": "\\ud83d\\ude00 a pair is fine"}')
    with pytest.raises(ValueError, match="UTF-8"):
        check_document(b'{"q": "\xff"}')
