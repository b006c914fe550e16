"""benchmarks/RESULTS.md from results/*.json (what `make bench` measured) and optimisations.md
(what was changed because of it, with before/after numbers)."""

from __future__ import annotations

import json
import platform

from benchmarks.common import RESULTS, ROOT


def load(name: str) -> dict | None:  # type: ignore[type-arg]
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _scale(scale: dict | None) -> list[str]:  # type: ignore[type-arg]
    """Replicas under writes (bench_scale.py): the issue 17 table."""
    if not scale:
        return []
    lines = ["## Replicas under a stream of writes (`bench_scale.py`)", "",
             "One `chroma run` server, one writer adding an article every 1-2 s, one reader replica searching "
             "back to back through the index layer (question vectors given), then a `rag serve` replica with 4 "
             "HTTP clients on GET /v1/search. Synthetic vectors; all on the same 2 cores.", "",
             "| chunks | reader idle p50/p95/p99/max ms | under writes p50/p95/p99/max ms | p99 ratio (target ≤ 2) | "
             "throughput idle → writes q/s (target ≥ 0.9×) | API, 4 clients: p95 idle → writes ms (target ≤ 2×) | "
             "follower poll ms: wall p50/p99, CPU p50 (target ≤ 20) | write → searchable on the reader p50/max s | "
             "cold start to BM25 s (target ≤ 15 at 100k), then vectors s | peak RSS cold (+ its stem worker) / "
             "warm MB (target ≤ 1.5×) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in scale.values():
        r, idle, busy = row["reader"], row["reader"]["idle"], row["reader"]["writes"]
        poll, cpu, vis = r.get("follower_poll_ms", {}), r.get("follower_poll_cpu_ms", {}), r.get("visible_s", {})
        p99 = busy["p99_ms"] / idle["p99_ms"]
        qps = busy["qps"] / idle["qps"]
        warm = row["warm_replica"]["peak_rss_mb"]
        api = row.get("api") or {}
        api_cell = "-"
        if api:
            ratio = api["writes"]["p95_ms"] / api["idle"]["p95_ms"]
            api_cell = f"{api['idle']['p95_ms']:.0f} → {api['writes']['p95_ms']:.0f} ({ratio:.2f}×, {verdict(ratio <= 2)})"
        load_s = r["load_s"]
        load_cell = f"{load_s:.1f}" if load_s else "-"
        if load_s and row["chunks"] <= 110_000:
            load_cell += f" ({verdict(load_s <= 15)})"
        if r.get("vectors_s"):
            load_cell += f", then {r['vectors_s']:.1f}"
        note = f" ({row['note']})" if row.get("note") else ""
        lines.append(
            f"| {row['chunks']}{note} | {idle['p50_ms']:.1f}/{idle['p95_ms']:.1f}/{idle['p99_ms']:.1f}/"
            f"{idle['max_ms']:.0f} | {busy['p50_ms']:.1f}/{busy['p95_ms']:.1f}/{busy['p99_ms']:.1f}/{busy['max_ms']:.0f} | "
            f"{p99:.2f} ({verdict(p99 <= 2)}) | {idle['qps']:.0f} → {busy['qps']:.0f} = {qps:.2f}× ({verdict(qps >= 0.9)}) | "
            f"{api_cell} | {_num(poll.get('p50'))}/{_num(poll.get('p99'))}, {_num(cpu.get('p50'))} | "
            f"{_num(vis.get('p50'), 2)}/{_num(vis.get('max'), 2)} | {load_cell} | "
            f"{rss_cell(r, warm)} |")
    return [*lines, "", "The store is filled once by a bulk import (`ChunkStore.import_articles`) and cached under "
            "`/tmp/rag-scale-cache/scale-<chunks>` (a larger size starts from the largest smaller one); a run copies it and serves the copy. "
            "Nothing on the search path keeps up: the follower thread reads the change feed and searches never "
            "wait for it; its poll's wall time includes waiting for the GIL behind the searches, its CPU time is "
            "what it costs. Where the CPU goes, idle and under writes, and the 1M run: docs/DEPLOY.md, "
            "\"Scale runs\".", ""]


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def rss_cell(reader: dict, warm: float) -> str:  # type: ignore[type-arg]
    """A cold replica's peak RSS (plus its stem worker's, a second process) against a warm one's."""
    worker = reader.get("worker_peak_rss_mb") or 0.0
    total = reader["peak_rss_mb"] + worker
    cold = f"{reader['peak_rss_mb']:.0f} + {worker:.0f}" if worker else f"{total:.0f}"
    return f"{cold} / {warm:.0f} = {total / warm:.2f}× ({verdict(total <= 1.5 * warm)})"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def main() -> None:
    lines = ["# Benchmark results", "",
             f"Measured by `make bench` on this machine ({platform.machine()}, {_cores()} cores, "
             f"Python {platform.python_version()}); raw JSON in `benchmarks/results/`. Timings, never asserted in "
             "tests.", ""]
    ingest = load("ingest")
    if ingest:
        lines += ["## Ingestion (`bench_ingest.py`)", "",
                  "| chunks | tokens | `rag ingest` process | raw embedder, same texts | chunks/s | tokens/s | "
                  "efficiency (raw/process, target ≥ 0.9) | re-ingest unchanged (target ≤ 0.05) |",
                  "|---|---|---|---|---|---|---|---|",
                  f"| {ingest['chunks']} | {ingest['tokens']} | {ingest['process_s']} s | {ingest['raw_embedder_s']} s | "
                  f"{ingest['chunks_per_s']} | {ingest['tokens_per_s']} | {ingest['efficiency']} "
                  f"({verdict(ingest['efficiency'] >= 0.9)}) | {ingest['reingest_s']} s = {ingest['reingest_ratio']} "
                  f"({verdict(ingest['reingest_ratio'] <= 0.05)}) |", ""]
    query = load("query")
    if query:
        lines += ["## Query latency (`bench_query.py`), ms p50 / p95", "",
                  "| chunks | floor: embed + vector query | dense retrieval | hybrid retrieval (default) | "
                  "extractive answer |", "|---|---|---|---|---|"]
        for row in query.values():
            cells = [f"{row[k]['p50_ms']:.1f} / {row[k]['p95_ms']:.1f}" for k in
                     ("floor_embed_plus_query", "retrieval_dense", "retrieval_hybrid", "answer_extractive")]
            lines.append(f"| {row['chunks']} | " + " | ".join(cells) + " |")
        lines += ["", "Targets: retrieval p50 within 1.5 ms of the floor; ≤ 15 ms retrieval and ≤ 60 ms answer at 100k "
                  "chunks (100k is opt-in: `make bench BENCH_SIZES='1000 10000 100000'`).", ""]
        for row in query.values():
            floor = row["floor_embed_plus_query"]["p50_ms"]
            gaps = {side: row[f"retrieval_{side}"]["p50_ms"] - floor for side in ("dense", "hybrid")}
            verdicts = [f"{side} {gap:+.1f} ms over the floor ({verdict(gap <= 1.5)})" for side, gap in gaps.items()]
            if row["chunks"] >= 100_000:
                verdicts += [f"hybrid ≤ 15 ms: {verdict(row['retrieval_hybrid']['p50_ms'] <= 15)}",
                             f"answer ≤ 60 ms: {verdict(row['answer_extractive']['p50_ms'] <= 60)}"]
            lines.append(f"- {row['chunks']} chunks: " + "; ".join(verdicts))
        lines.append("")
    lines += _scale(load("scale"))
    cli = load("cli")
    if cli:
        lines += ["## CLI cold start (`bench_cli.py`)", "",
                  f"`rag ask` from process start to printed answer: median {cli['ask_median_s']} s, max "
                  f"{cli['ask_max_s']} s over {cli['runs']} runs (target ≤ 1.3 s: "
                  f"{verdict(cli['ask_median_s'] <= 1.3)}); importing numpy, onnxruntime, tokenizers and chromadb alone "
                  f"takes {cli['import_floor_median_s']} s; `rag --help` {cli['help_median_s']} s.", ""]
    api = load("api")
    if api:
        lines += ["## API under load (`bench_api.py`)", "",
                  f"{api['endpoint']}, one `rag serve` process (embedding threads: {api['embed_threads']}), load "
                  f"generator on the same 2 cores. Server RSS {api['server_rss_mb_before']} → "
                  f"{api['server_rss_mb_after']} MB.", "",
                  "| concurrency | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {lv['concurrency']} | {lv['requests']} | {lv['errors']} | {lv['requests_per_s']} | {lv['p50_ms']:.1f} "
                  f"| {lv['p95_ms']:.1f} | {lv['p99_ms']:.1f} |" for lv in api["levels"]]
        top = api["levels"][-1]
        lines += ["", f"Target ≥ 100 requests/s at concurrency 16 with 0 errors: "
                  f"{verdict(top['requests_per_s'] >= 100 and top['errors'] == 0)}.", ""]
    llm = load("llm")
    if llm:
        lines += ["## LLM mode overhead (`bench_llm.py`)", "",
                  f"Fake OpenAI-compatible server answering at once, {llm['questions']} questions: the pipeline adds "
                  f"p50 {llm['overhead']['p50_ms']:.1f} ms / p95 {llm['overhead']['p95_ms']:.1f} ms around the LLM's own "
                  f"{llm['llm_call']['p50_ms']:.1f} ms (target ≤ 25 ms p50: {verdict(llm['overhead']['p50_ms'] <= 25)}); "
                  f"time to first streamed token p50 {llm['time_to_first_token']['p50_ms']:.1f} ms.", ""]
    for name in ("llm_real.md", "optimisations.md"):  # hand-written: measured outside `make bench`
        notes = ROOT / "benchmarks" / name
        if notes.exists():
            lines += [notes.read_text(encoding="utf-8").strip(), ""]
    out = ROOT / "benchmarks" / "RESULTS.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out}")


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
