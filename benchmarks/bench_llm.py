"""LLM-mode overhead: with the fake OpenAI-compatible server answering at once, the time the
pipeline adds around the LLM call (retrieval, sources, prompt, parsing, quote verification,
support checks) and the time to the first streamed token.

Run: .venv/bin/python -m benchmarks.bench_llm  (writes results/llm.json)
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, summary_ms, write
from rag.config import Settings
from rag.llm_client import LLMClient
from rag.loaders import load_paths
from rag.pipeline import Pipeline
from rag.types import Token
from tests.fake_llm import FakeLLM


class TimedClient(LLMClient):
    """The real client, recording how long each reply took to arrive (the LLM's own time)."""

    spent = 0.0

    def stream(self, messages, deadline, on_retry=None):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        inner = super().stream(messages, deadline, on_retry)
        while True:
            t0 = time.perf_counter()
            try:
                piece = next(inner)
            except StopIteration:
                TimedClient.spent += time.perf_counter() - t0
                return
            TimedClient.spent += time.perf_counter() - t0
            yield piece
        del started


def main() -> None:
    fake = FakeLLM().start()
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "evals" / "datasets" / "seed.jsonl").read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), llm_model="fake-model", llm_base_url=fake.url)
        pipeline = Pipeline(settings)
        pipeline.ingest(load_paths([ROOT / "seeds", ROOT / "evals" / "corpus"], 10**7).articles)
        pipeline.__dict__["llm"] = TimedClient(pipeline.llm.config)
        for q in questions[:5]:
            pipeline.ask(q, mode="llm")
        totals, overheads, first_tokens, llm = [], [], [], []
        for q in questions:
            TimedClient.spent = 0.0
            started = time.perf_counter()
            first = None
            for event in pipeline.ask_stream(q, mode="llm"):
                if isinstance(event, Token) and first is None:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
            totals.append(total)
            llm.append(TimedClient.spent)
            overheads.append(total - TimedClient.spent)
            if first is not None:
                first_tokens.append(first)
    fake.stop()
    result = {"questions": len(questions), "total": summary_ms(totals), "llm_call": summary_ms(llm),
              "overhead": summary_ms(overheads), "time_to_first_token": summary_ms(first_tokens),
              "target_overhead_p50_ms": 25}
    print(json.dumps(result, indent=1))
    write("llm", result)


if __name__ == "__main__":
    main()
