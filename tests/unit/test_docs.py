"""Docs that cannot drift: every command the README and docs/*.md name (`rag …`, `make …`,
`python -m …`) exists: a CLI command (and subcommand), a Makefile target, an importable module."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import click
import pytest

from rag.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_INLINE = re.compile(r"`([^`]+)`")  # a code span may wrap onto the next line
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_COMMAND = re.compile(
    r"^(?:\$\s+)?(?:\S+=\S+\s+)*(?:\.venv/bin/|\$\(BIN\)/)?(rag|make|python3? -m|python -m)\s+(\S.*)$")


def commands() -> list[tuple[str, str, str]]:
    """(document, tool, rest of the line) for each command named in the docs."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        lines = [line.strip() for block in _FENCE.findall(text) for line in block.splitlines()]
        lines += [" ".join(m.group(1).split()) for m in _INLINE.finditer(_FENCE.sub("", text))]
        for line in lines:
            for part in re.split(r"\s*(?:&&|;|\|(?!\s*(?:show|delete|remove|set)\b))\s*", line.split("  #")[0]):
                m = _COMMAND.match(part.strip())
                if m:
                    found.append((doc.name, m.group(1), m.group(2)))
    return found


def _words(rest: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError:
        return rest.split()


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile, re.M)}


def _cli_path_exists(words: list[str]) -> str | None:
    """None when the words name a command (and, for a group that needs one, a subcommand)."""
    command: click.Command = cli
    for word in words:
        if word.startswith("-") or not isinstance(command, click.Group):
            return None  # options and arguments are the command's own business
        if word in command.commands:
            command = command.commands[word]
            continue
        choices = [w for w in re.split(r"[/|]", word) if w]  # "rag articles list|show|delete", "rag ask/chat"
        if len(choices) > 1:
            unknown = [w for w in choices if w not in command.commands]
            return f"no command {unknown[0]!r} in {command.name!r}" if unknown else None
        if command is cli or not command.invoke_without_command:
            return f"no command {word!r} in {command.name!r}"
        return None  # an argument of a group that also runs alone ("rag eval --dataset ...")
    if isinstance(command, click.Group) and not command.invoke_without_command:
        return f"{command.name!r} needs a subcommand"
    return None


def test_the_docs_name_commands():
    found = commands()
    assert {tool for _, tool, _ in found} >= {"rag", "make", "python -m"}
    assert len(found) > 30


@pytest.mark.parametrize("doc, tool, rest", commands())
def test_every_command_in_the_docs_exists(doc, tool, rest):
    words = _words(rest)
    if tool == "make":
        targets = [w for w in words if "=" not in w and not w.startswith("-")]
        assert set(targets[:1]) <= _make_targets(), f"{doc}: make {rest}: no such target"
    elif tool == "rag":
        missing = _cli_path_exists(words)
        assert missing is None, f"{doc}: rag {rest}: {missing}"
    else:
        module = words[0]
        assert importlib.util.find_spec(module) is not None, f"{doc}: python -m {rest}: no module {module}"
        if module == "rag.fit" and len(words) > 1 and not words[1].startswith("-"):
            from rag.fit.__main__ import FITTERS

            names = [w for w in re.split(r"[\\|/]+", words[1]) if w]  # "refusal|recency"
            assert set(names) <= set(FITTERS), f"{doc}: python -m {rest}: no fitter {words[1]!r}"



def test_a_command_that_does_not_exist_is_caught():
    assert _cli_path_exists(["answer", "x"]) == "no command 'answer' in 'cli'"
    assert _cli_path_exists(["articles", "purge"]) is not None
    assert _cli_path_exists(["articles", "list|show"]) is None and _cli_path_exists(["ask", "Why?", "--json"]) is None
    assert "bench" in _make_targets() and "benchmark" not in _make_targets()
    assert importlib.util.find_spec("benchmarks.fit_refusal") is None  # moved to `python -m rag.fit refusal`
