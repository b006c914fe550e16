from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from rag.cli.ask import print_answer_details, show_answer_text
from rag.cli.common import as_of_option, get_pipeline, say, user_errors

if TYPE_CHECKING:
    from datetime import datetime

    from rag.config import Mode
    from rag.pipeline import Pipeline
    from rag.types import Answer

HELP = """Commands:
  /sources   the chunks retrieved for the last answer, with scores
  /reset     forget the conversation (follow-ups start afresh)
  /help      this text
  /quit      leave (Ctrl-D does too; Ctrl-C stops an answer or clears the line)"""


class Chat:
    """One conversation: answers questions with the history of the ones before."""

    def __init__(self, pipeline: Pipeline, mode: Mode, top_k: int | None, live: bool,
                 as_of: datetime | None = None) -> None:
        self.pipeline = pipeline
        self.as_of = as_of
        self.mode = mode
        self.top_k = top_k
        self.live = live  # stream answer text as it is written
        self.history: list[tuple[str, str]] = []
        self.last: Answer | None = None

    def handle(self, line: str) -> bool:
        """Act on one input line; False means leave."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("/"):
            return self.command(text.split()[0].lower())
        self.answer(text)
        return True

    def command(self, name: str) -> bool:
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/reset":
            self.history.clear()
            self.last = None
            say("(conversation cleared)")
        elif name == "/help":
            say(HELP)
        elif name == "/sources":
            self.sources()
        else:
            say(f"unknown command {name}; /help lists them")
        return True

    def answer(self, question: str) -> None:
        with user_errors():
            events = self.pipeline.ask_stream(question, self.top_k, mode=self.mode, history=self.history,
                                             as_of=self.as_of)
            answer = show_answer_text(events, self.live)
        if answer.standalone_question:
            say(f"(searched for: {answer.standalone_question})")
        print_answer_details(answer)
        self.last = answer
        self.history += [("user", question), ("assistant", answer.answer)]
        keep = max(self.pipeline.settings.llm_history_turns, 2)
        self.history = self.history[-keep:]

    def sources(self) -> None:
        if self.last is None:
            say("(no answer yet)")
            return
        scores = {r.chunk_id: r.score for r in self.last.retrieved}
        with user_errors():
            chunks = self.pipeline.get_chunks(list(scores))
        for rank, c in enumerate(chunks, start=1):
            preview = " ".join(c.text.split())[:200]
            date = f", {c.published_at}" if c.published_at else ""
            say(f"{rank:>2}. {scores[c.chunk_id]:.3f}  {c.title}{date}  [{c.start}:{c.end}]\n    {preview}")


@click.command()
@click.option("--mode", type=click.Choice(["auto", "extractive", "llm"]), default="auto", show_default=True)
@click.option("--top-k", "-k", type=click.IntRange(1, 50), help="Chunks to retrieve.")
@as_of_option
def chat(mode: Mode, top_k: int | None, as_of: datetime | None) -> None:
    """Ask questions in a conversation; follow-ups ("and what about food?") use what came before.

    \b
    With piped input it answers one question per line and exits at the end:
      printf 'What did Belarus offer Astrakhan?\\nAnd what about food?\\n' | rag chat
    """
    pipeline = get_pipeline()
    with user_errors():
        pipeline.resolve_mode(mode)
    interactive = sys.stdin.isatty()
    session = Chat(pipeline, mode, top_k, live=sys.stdout.isatty(), as_of=as_of)
    if not interactive:
        for line in sys.stdin:
            if not session.handle(line):
                break
            say()
        return
    _repl(session)


def _repl(session: Chat) -> None:
    try:
        import readline  # noqa: F401  (line editing and ↑ history for input())
    except ImportError:
        pass
    say("Ask about the ingested news. /help for commands, Ctrl-D to leave.")
    while True:
        try:
            line = input("\nyou> ")
        except KeyboardInterrupt:
            say("^C")
            continue
        except EOFError:
            say()
            return
        try:
            if not session.handle(line):
                return
        except KeyboardInterrupt:
            say("\n(stopped)")
        except click.ClickException as exc:
            say(f"error: {exc.format_message()}", err=True)
