"""A fake OpenAI-compatible server on loopback: real HTTP, real SSE, scripted replies.

Tests enqueue `Scripted` replies (text, HTTP status, delays, a stream that breaks off); with
nothing queued it plays a tiny deterministic "copycat" model that quotes (quotes mode) or cites
by number (sentences mode, when the prompt numbers sentences [S1], [S2], ...) the source
sentences sharing the most words with the question, so `rag eval --mode llm` runs the whole path.
Run it by hand: `python -m tests.fake_llm --port 8089`.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fake-model"
REFUSAL = "The articles I have do not say."
_STOP = frozenset("""a an and are as at be by did do does for from has have how in is it its of on or
the to was were what when where which who why will with about this that than these those""".split())


@dataclass
class Scripted:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before the response starts
    piece: int = 7  # characters per streamed event
    break_after: int | None = None  # stream this many events, then cut the connection
    pace: float = 0.0  # seconds between streamed events (a slow model)
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the deadline tests) is expected, not an error worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeLLM:
    def __init__(self) -> None:
        self.queue: deque[Scripted] = deque()
        self.requests: list[dict[str, Any]] = []
        self.hangups: list[float] = []  # time.monotonic() when a client closed a stream mid-reply
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> FakeLLM:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def enqueue(self, *replies: Scripted | str) -> None:
        self.queue.extend(r if isinstance(r, Scripted) else Scripted(r) for r in replies)

    def next_reply(self, request: dict[str, Any]) -> Scripted:
        self.requests.append(request)
        return self.queue.popleft() if self.queue else Scripted(copycat(request["messages"]))


def copycat(messages: list[dict[str, str]]) -> str:
    """Quote the two source sentences that share most words with the question, as the prompt asks;
    refuse when none shares at least half of them. Rewrites echo the last question."""
    user = messages[-1]["content"]
    if "Rewritten last question" in user:
        return user.rsplit("User: ", 1)[-1].split("\n")[0]
    question = user.rsplit("Question:", 1)[-1]
    wanted = _terms(question)
    if re.search(r"^\[S\d+\] ", user, re.M):
        return _cite_sentences(user, question, wanted)
    scored = []
    for block in re.split(r"\n(?=\[Source \d+\])", user.split("\n\nQuestion:")[0]):
        head = re.match(r"\[Source (\d+)\][^\n]*\n", block)
        if not head:
            continue
        for sentence in re.split(r"(?<=[.!?”])\s+", block[head.end():]):
            shared = len(wanted & _terms(sentence))
            if shared and len(sentence.split()) >= 5:
                scored.append((shared, -len(scored), int(head.group(1)), sentence.strip()))
    scored.sort(reverse=True)
    best = [s for s in scored[:2] if s[0] >= max(2, len(wanted) / 2)]
    if not best:
        return f"QUOTES:\nANSWER: {REFUSAL}"
    # Like a small model: straight quotes for curly ones, a second quote loosely copied, and now and
    # then a quote it made up; the verifier has to sort them out.
    written = [_straighten(best[0][3])] + [_loosen(text) for _, _, _, text in best[1:]]
    sources = [src for _, _, src, _ in best]
    if len(question) % 4 == 0:
        written.append("The sources confirm that every agreement was signed on the same day.")
        sources.append(sources[0])
    pairs = enumerate(zip(sources, written, strict=True), start=1)
    quotes = "\n".join(f'[{i}] (source {src}) "{text}"' for i, (src, text) in pairs)
    answer = " ".join(f"{_clause(text)} [{i}]." for i, (_, _, _, text) in enumerate(best, start=1))
    return f"QUOTES:\n{quotes}\nANSWER:\n{answer}"


def _cite_sentences(user: str, question: str, wanted: set[str]) -> str:
    """Sentences mode: restate the two best numbered sentences, citing their numbers; now and then
    add a claim that its citation does not support (the answer must leave it out)."""
    scored = []
    for m in re.finditer(r"^\[S(\d+)\] (.+)$", user.split("\n\nQuestion:")[0], re.M):
        shared = len(wanted & _terms(m.group(2)))
        if shared and len(m.group(2).split()) >= 5:
            scored.append((shared, -int(m.group(1)), int(m.group(1)), m.group(2).strip()))
    scored.sort(reverse=True)
    best = [s for s in scored[:2] if s[0] >= max(2, len(wanted) / 2)]
    if not best:
        return REFUSAL
    answer = [f"{_clause(text)} [S{n}]." for _, _, n, text in best]
    if len(question) % 4 == 0:
        answer.append(f"Every agreement was signed on the same day by the ministers [S{best[0][2]}].")
    return " ".join(answer)


def _straighten(text: str) -> str:
    return text.replace("’", "'").replace("“", '"').replace("”", '"').strip('"')


def _loosen(text: str) -> str:
    """Drop one word from the middle: no longer verbatim, still one sentence's meaning."""
    words = _straighten(text).split()
    return " ".join(words[: len(words) // 2] + words[len(words) // 2 + 1:]) if len(words) > 8 else " ".join(words)


def _terms(text: str) -> set[str]:
    return {w.lower().rstrip("s") for w in re.findall(r"\w+", text) if w.lower() not in _STOP and len(w) > 2}


def _clause(sentence: str) -> str:
    plain = sentence.strip("“”\"' ").rstrip(".")
    return plain.split(", ")[0] if len(plain) > 160 else plain


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            reply = fake.next_reply(body)
            time.sleep(reply.delay)
            if reply.status != 200:
                self._json(reply.status, {"error": {"message": f"scripted {reply.status}", "type": "fake"}},
                           reply.headers)
            elif body.get("stream"):
                self._stream(reply, body)
            else:
                self._json(200, _completion(reply.text))

        def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, reply: Scripted, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            pieces = [reply.text[i: i + reply.piece] for i in range(0, len(reply.text), reply.piece)]
            for n, piece in enumerate(pieces):
                if reply.break_after is not None and n >= reply.break_after:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # no terminating chunk: the client sees a broken stream
                    return
                if n and reply.pace:
                    time.sleep(reply.pace)
                try:
                    self._chunk(f"data: {json.dumps(_delta(piece))}\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    fake.hangups.append(time.monotonic())  # the client closed the stream mid-reply
                    self.close_connection = True
                    return
            self._chunk(f"data: {json.dumps(_delta(None, 'stop'))}\n\n")
            if (body.get("stream_options") or {}).get("include_usage"):  # as OpenAI: a last event, no choices
                words = sum(len(m.get("content", "").split()) for m in body.get("messages", []))
                usage = {"prompt_tokens": words, "completion_tokens": len(pieces), "total_tokens": words + len(pieces)}
                self._chunk(f"data: {json.dumps({**_delta(None), 'choices': [], 'usage': usage})}\n\n")
            self._chunk("data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, text: str) -> None:
            data = text.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _delta(content: str | None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content is not None else {}
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _completion(text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args()
    fake = FakeLLM()
    fake.server.server_close()
    fake.server = _Server(("127.0.0.1", args.port), _handler(fake))
    print(f"fake OpenAI-compatible server on http://127.0.0.1:{args.port}/v1", flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
