"""`rag chat` driven as a real terminal program (pexpect gives it a pty) and through a pipe."""

from __future__ import annotations

import os
import subprocess
import sys

import pexpect
import pytest

from tests.conftest import SEED_QUESTION, SEEDS, default_sigint


@pytest.fixture(scope="module")
def chat_env(tmp_path_factory):  # type: ignore[no-untyped-def]
    store = tmp_path_factory.mktemp("chat") / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_DATA_DIR": str(store), "NO_COLOR": "1", "TERM": "dumb"})
    subprocess.run([sys.executable, "-m", "rag", "ingest", str(SEEDS)], env=env, check=True, capture_output=True)
    return env


def test_chat_in_a_terminal_answers_follows_up_and_obeys_commands(chat_env):
    child = pexpect.spawn(sys.executable, ["-m", "rag", "chat"], env=chat_env, encoding="utf-8", timeout=60,
                          preexec_fn=default_sigint,
                          dimensions=(40, 200))
    try:
        child.expect("you> ")
        child.sendline(SEED_QUESTION)
        child.expect("Sources:")
        child.expect(r"\[1\] “")
        child.expect("you> ")
        child.sendline("and what about the milk plant?")
        child.expect(r"\(searched for: and what about the milk plant\? Belarus offer Astrakhan\)")
        child.expect("milk processing")
        child.expect("you> ")
        child.sendline("/sources")
        child.expect(r" 1\. 0\.\d{3}  ")
        child.expect("you> ")
        child.sendline("/reset")
        child.expect(r"\(conversation cleared\)")
        child.sendline("/help")
        child.expect("/sources")
        child.expect("you> ")
        child.sendintr()  # Ctrl-C at the prompt clears the line, it does not quit
        child.expect(r"\^C")
        child.expect("you> ")
        child.sendeof()  # Ctrl-D leaves
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_chat_with_piped_input_answers_each_line_and_exits(chat_env):
    result = subprocess.run([sys.executable, "-m", "rag", "chat"], env=chat_env, capture_output=True, text=True,
                            input=f"{SEED_QUESTION}\nWhat is the population of Astrakhan Oblast?\n", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Sources:") == 1  # the second question is refused
    assert "The articles I have do not say." in result.stdout and "you>" not in result.stdout


def test_chat_streams_llm_answers_in_a_terminal(chat_env, fake_llm):
    fake_llm.enqueue('QUOTES:\n[1] (source 1) "Belarusian agricultural machinery is widely used in the fields of '
                     'the Russian region."\nANSWER:\n'
                     'Belarusian farm machinery is widely used in the Russian region [1].')
    env = chat_env | {"RAG_LLM_MODEL": "fake-model", "RAG_LLM_BASE_URL": fake_llm.url, "RAG_LLM_CITATIONS": "quotes"}
    child = pexpect.spawn(sys.executable, ["-m", "rag", "chat"], env=env, encoding="utf-8", timeout=60,
                          preexec_fn=default_sigint,
                          dimensions=(40, 200))
    try:
        child.expect("you> ")
        child.sendline(SEED_QUESTION)
        child.expect(r"Belarusian farm machinery is widely used in the Russian region \[1\]\.")
        child.expect("Sources:")
        child.expect("“Belarusian agricultural machinery is widely used in the fields of the Russian region")
        child.expect("you> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert fake_llm.requests and fake_llm.requests[0]["stream"] is True
