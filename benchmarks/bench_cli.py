"""CLI cold start: wall time of `rag ask` from process start to the printed answer (imports, model
load and the store included), next to the floor of importing numpy, onnxruntime, tokenizers and
chromadb in a bare interpreter.

Run: .venv/bin/python -m benchmarks.bench_cli  (writes results/cli.json)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RAG, ROOT, env, write

RUNS = 7


def wall(command: list[str], environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=environment, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = env(RAG_DATA_DIR=str(Path(tmp) / "store"))
        subprocess.run([*RAG, "ingest", str(ROOT / "seeds"), str(ROOT / "evals" / "corpus")], env=store, check=True,
                       capture_output=True)
        wall([*RAG, "ask", "warm the page cache"], store)
        ask = [wall([*RAG, "ask", "What did Belarus offer Astrakhan?"], store) for _ in range(RUNS)]
        help_ = [wall([*RAG, "--help"], store) for _ in range(RUNS)]
        floor = [wall([sys.executable, "-c", "import numpy, onnxruntime, tokenizers, chromadb"], store)
                 for _ in range(RUNS)]
    result = {"runs": RUNS, "ask_median_s": round(statistics.median(ask), 3), "ask_max_s": round(max(ask), 3),
              "help_median_s": round(statistics.median(help_), 3),
              "import_floor_median_s": round(statistics.median(floor), 3), "target_s": 1.3}
    print(result)
    write("cli", result)


if __name__ == "__main__":
    main()
