from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rag.cli.common import get_pipeline, is_terminal, load_settings, user_errors

if TYPE_CHECKING:
    from rag.config import Mode, RetrievalMethod, Settings
    from rag.evals.runner import EvalRun
    from rag.pipeline import Pipeline

Progress = Callable[[int, int], None]
_EMBED_CACHE = click.option(
    "--embed-cache", type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file of vectors by model and text, reused across runs (the gate's datasets share corpora); "
         "delete it when the model changes.")

_LLM_CACHE = click.option(
    "--llm-cache", type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file of the model's replies by model and messages (rag/llm_cache.py), for answers, the judge "
         "and generation: a re-run asks the model only what it has not asked before, so changed checks or a "
         "changed gate re-score a set without it; delete it after a change of model or prompt.")
_REPORT = click.option(
    "--report", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one self-contained HTML page: metrics, risk-coverage curve, refusals by reason, "
         "every question with its answer and highlighted quotes.")


@click.group("eval", invoke_without_command=True)
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Questions, JSONL (see evals/README.md).")
@click.option("--corpus", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Files or folders to ingest into a fresh store; repeatable.")
@click.option("--mode", type=click.Choice(["extractive", "llm"]), default="extractive", show_default=True,
              help="llm: answers by RAG_LLM_MODEL at RAG_LLM_BASE_URL, verified.")
@click.option("--top-k", type=click.IntRange(1, 50), help="Chunks the answer draws on.")
@click.option("--retrieval", type=click.Choice(["dense", "lexical", "hybrid"]),
              help="Override RAG_RETRIEVAL (compare the runs with `rag eval compare`).")
@click.option("--ignore-history", is_flag=True, help="Ask follow-ups as written (a baseline for the rewrite).")
@click.option("--no-time", is_flag=True,
              help="Ignore each question's as_of and time cues (RAG_TIME_AWARE=false): the baseline for the gain.")
@click.option("--sample", type=click.IntRange(1), help="Answer only this many questions: a fixed sample (by SHA-1 "
              "of the id, half unanswerable when the set has both), for slow runs such as a real LLM.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/eval"),
              show_default=True, help="Where metrics.json and answers.jsonl go.")
@click.option("--floors", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fail (exit 1) when a metric breaks a floor in this JSON file.")
@click.option("--grader", type=click.Choice(["string", "llm"]), default="string", show_default=True,
              help="llm: also grade each shown answer by meaning with RAG_LLM_MODEL (a fixed rubric, the "
                   "evidence in the prompt); both graders' numbers are reported, with their agreement.")
@_LLM_CACHE
@_REPORT
@_EMBED_CACHE
@click.pass_context
def eval_group(ctx: click.Context, dataset: Path | None, corpus: tuple[Path, ...], mode: Mode,
               top_k: int | None, retrieval: RetrievalMethod | None, ignore_history: bool, no_time: bool,
               sample: int | None, out: Path,
               floors: Path | None, grader: str, llm_cache: Path | None, report: Path | None,
               embed_cache: Path | None) -> None:
    """Measure retrieval, answers, citations and refusals on a dataset.

    \b
    Example:
      rag eval --dataset evals/datasets/seed.jsonl --corpus seeds --corpus evals/corpus
      rag eval compare out/before/metrics.json out/after/metrics.json
    """
    if ctx.invoked_subcommand is not None:
        return
    if dataset is None or not corpus:
        raise click.UsageError("--dataset and at least one --corpus are required")
    from rag.evals.runner import check_floors, run_eval, why_summary, write_results
    from rag.pipeline import Pipeline

    settings = get_pipeline().settings
    if retrieval:
        settings = settings.model_copy(update={"retrieval": retrieval})
    if no_time:
        settings = settings.model_copy(update={"time_aware": False})
    if llm_cache:
        settings = settings.model_copy(update={"llm_cache": llm_cache})
    factory = _cached_factory(embed_cache) if embed_cache else Pipeline.from_settings
    with user_errors():
        run = _run_with_progress(lambda progress: run_eval(dataset, corpus, settings, top_k, progress, factory,
                                                           mode=mode, use_history=not ignore_history,
                                                           sample_size=sample))
    for error in run.corpus_errors + run.dataset.errors:
        click.echo(f"error: {error}", err=True)
    if grader == "llm":
        from rag.evals.grader import grade, judge_metrics

        with user_errors():
            complete, _ = _completer(settings, llm_cache)
            run.outcomes = _with_bar("grading", lambda progress: grade(run.outcomes, complete, progress))
        run.metrics.update(judge_metrics(run.outcomes))
    write_results(run, out)
    _print_table({"metric": run.metrics})
    for line in why_summary(run):
        click.echo(line)
    click.echo(f"wrote {out / 'metrics.json'} and {out / 'answers.jsonl'}")
    if report:
        from rag.evals.report import load_run, run_report, write_report

        metrics, records = load_run(out / "metrics.json")
        write_report(run_report(metrics, records, f"rag eval: {dataset.name}"), report)
        click.echo(f"wrote {report}")
    problems = [f"{len(run.dataset.errors)} dataset error(s)"] if run.dataset.errors else []
    if floors:
        problems += check_floors(run.metrics, json.loads(floors.read_text(encoding="utf-8")))
    for problem in problems:
        click.echo(f"FAIL: {problem}", err=True)
    if problems:
        raise SystemExit(1)


@eval_group.command("compare")
@click.argument("before", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("after", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_REPORT
def compare(before: Path, after: Path, report: Path | None) -> None:
    """Print two metrics.json files side by side with deltas (+ better, - worse).

    With --report, one HTML page of both runs (the answers.jsonl beside each metrics.json),
    the questions whose verdict changed first.
    """
    a = json.loads(before.read_text(encoding="utf-8"))
    b = json.loads(after.read_text(encoding="utf-8"))
    _print_table({str(before): a, str(after): b}, deltas=True)
    if report:
        from rag.evals.report import compare_report, load_run, write_report

        names = [str(before.parent), str(after.parent)]
        if names[0] == names[1]:
            names = [str(before), str(after)]
        runs = {names[0]: load_run(before), names[1]: load_run(after)}
        write_report(compare_report(runs, "rag eval compare"), report)
        click.echo(f"wrote {report}")


@eval_group.command("generate")
@click.option("--corpus", multiple=True, type=click.Path(exists=True, path_type=Path), required=True,
              help="Files or folders of articles (as `rag ingest` reads them); repeatable.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for dataset.jsonl, dataset-refusal.jsonl, corpus-minus.jsonl, removed.txt, stats.json.")
@click.option("--n", "n", type=click.IntRange(1), default=200, show_default=True, help="Questions to keep.")
@click.option("--seed", type=int, default=7, show_default=True, help="The same seed and corpus give the same set.")
@click.option("--since", help="Ask only about articles published on or after this day (YYYY-MM-DD).")
@click.option("--until", help="... and on or before this day.")
@click.option("--mode", type=click.Choice(["offline", "llm"]), default="offline", show_default=True,
              help="offline: from the sentences' names, numbers and dates, no model; "
                   "llm: RAG_LLM_MODEL at RAG_LLM_BASE_URL writes them, each checked against its article.")
@click.option("--max-calls", type=click.IntRange(1), help="llm: model calls before giving up (default 4 n).")
@_LLM_CACHE
def generate_command(corpus: tuple[Path, ...], out: Path, n: int, seed: int, since: str | None, until: str | None,
                     mode: str, max_calls: int | None, llm_cache: Path | None) -> None:
    """Generate a question set from any corpus, with its refusal twin.

    \b
    Example:
      rag eval generate --corpus seeds --corpus evals/corpus --out out/gen --n 50
      rag eval --dataset out/gen/dataset.jsonl --corpus seeds --corpus evals/corpus
      rag eval --dataset out/gen/dataset-refusal.jsonl --corpus out/gen/corpus-minus.jsonl
    """
    from rag.evals.generate import GenerateOptions, generate, write_set
    from rag.loaders import load_paths

    for day in (since, until):
        if day and not _is_day(day):
            raise click.BadParameter(f"{day!r} is not a date (YYYY-MM-DD)")
    settings = load_settings()
    options = GenerateOptions(n=n, seed=seed, since=since, until=until, mode=mode, max_tries=max_calls)
    extra: dict[str, Any] = {"corpus": [str(c) for c in corpus]}
    complete = None
    with user_errors():
        if mode == "llm":
            complete, extra["model"] = _completer(settings, llm_cache)
        loaded = load_paths(corpus, settings.max_file_bytes)
        for error in loaded.errors:
            click.echo(f"error: {error}", err=True)
        generated = _with_bar("generating", lambda progress: generate(
            loaded.articles, options, complete, progress, settings=extra))
        counts = write_set(generated, loaded.articles, out, seed)
    stats = generated.stats
    calls = f", {stats.calls} model calls, {stats.seconds / max(1, stats.kept):.2f} s per kept item" \
        if mode == "llm" else ""
    click.echo(f"kept {stats.kept} of {stats.tried} tried in {stats.seconds:g} s{calls}"
               + "".join(f"; {k}: {v}" for k, v in sorted(stats.dropped.items())))
    click.echo(f"refusal twin: {counts['unanswerable']} unanswerable, {counts['answerable']} answerable, "
               f"{counts['removed']} articles left out")
    click.echo(f"wrote {out / 'dataset.jsonl'}, {out / 'dataset-refusal.jsonl'} and {out / 'corpus-minus.jsonl'}")


def _is_day(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _completer(settings: Settings, cache: Path | None) -> tuple[Callable[[list[dict[str, str]]], str], str]:
    """`complete(messages) -> reply` by the configured model (through the reply cache when given)."""
    from rag.llm_cache import BatchLLM
    from rag.llm_client import Deadline, LLMConfig

    config = LLMConfig.from_settings(settings)
    client: Any = BatchLLM(config)  # batch work: no streaming
    if cache:
        from rag.llm_cache import CachedLLM

        client = CachedLLM(client, cache)

    def complete(messages: list[dict[str, str]]) -> str:
        return str(client.complete(messages, Deadline(settings.llm_deadline_s)))
    return complete, config.model


@eval_group.command("quotes")
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Labelled quotes, JSONL (evals/datasets/quotes.jsonl).")
@click.option("--corpus", multiple=True, type=click.Path(exists=True, path_type=Path), required=True,
              help="Files or folders holding the articles the quotes come from; repeatable.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/eval-quotes"),
              show_default=True)
@click.option("--floors", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fail (exit 1) when a metric breaks a floor in this JSON file.")
@_EMBED_CACHE
def quotes(dataset: Path, corpus: tuple[Path, ...], out: Path, floors: Path | None,
           embed_cache: Path | None) -> None:
    """Measure quote repair: paraphrases re-grounded to the right sentence, and no negated,
    changed, invented or stitched quote re-grounded at all, across repair thresholds.

    \b
    Example:
      rag eval quotes --dataset evals/datasets/quotes.jsonl --corpus seeds --corpus evals/corpus
    """
    from rag.answering.claims import ClaimParams
    from rag.evals.quotes import load_cases, metrics_at, run_cases
    from rag.evals.runner import check_floors
    from rag.loaders import load_paths

    pipeline = get_pipeline()
    if embed_cache:
        pipeline = _cached_factory(embed_cache)(pipeline.settings)
    with user_errors():
        loaded = load_paths(corpus, pipeline.settings.max_file_bytes)
        texts = {a.id: a.text for a in loaded.articles}
        cases = load_cases(dataset)
        missing = sorted({c.article for c in cases} - texts.keys())
        if missing:
            raise click.ClickException(f"articles not in the corpus: {', '.join(missing)}")
        outcomes = run_cases(cases, texts, pipeline.embedder.embed, ClaimParams())
    chosen = ClaimParams().repair
    sweep = {f"at {t:.2f}{' (chosen)' if t == chosen else ''}": metrics_at(outcomes, t)
             for t in sorted({0.5, 0.55, chosen, 0.65, 0.7, 0.75, 0.8})}
    _print_table(sweep)
    metrics = {**metrics_at(outcomes, chosen), "n_cases": len(cases)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    click.echo(f"wrote {out / 'metrics.json'}")
    breaches = check_floors(metrics, json.loads(floors.read_text(encoding="utf-8"))) if floors else []
    for breach in breaches:
        click.echo(f"FAIL: {breach}", err=True)
    if breaches:
        raise SystemExit(1)


def _cached_factory(path: Path) -> Callable[[Settings], Pipeline]:
    """Pipelines whose embedder keeps its vectors in `path` (rag/embedding.py CachedEmbedder)."""
    from rag.embedding import CachedEmbedder
    from rag.pipeline import Pipeline

    def make(settings: Settings) -> Pipeline:
        return Pipeline(settings, embedder=CachedEmbedder(Pipeline(settings).embedder, path))
    return make


def _run_with_progress(run: Callable[[Progress | None], EvalRun]) -> EvalRun:
    return _with_bar("answering", run)


T = TypeVar("T")


def _with_bar(label: str, run: Callable[[Progress | None], T]) -> T:
    if not is_terminal():
        return run(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task(label, total=None)
        return run(lambda done, total: bar.update(task, completed=done, total=total))


def _print_table(columns: dict[str, dict[str, Any]], deltas: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    from rag.evals.metrics import METRIC_KEYS, scalars

    flat = {name: scalars(c) for name, c in columns.items()}  # the curve and the bins are in the files
    table = Table(show_edge=False)
    table.add_column("metric")
    for name in columns:
        table.add_column(name if len(columns) > 1 else "value", justify="right")
    if deltas:
        table.add_column("delta", justify="right")
    present = {k for c in flat.values() for k in c}
    keys = [k for m in METRIC_KEYS for k in sorted(present) if k == m or k.startswith(m + ".")]
    keys += sorted(present - set(keys))
    for key in keys:
        values = [c.get(key) for c in flat.values()]
        row = [key] + ["null" if v is None else f"{v:g}" for v in values]
        if deltas:
            row.append(_delta(key, values[0], values[-1]))
        table.add_row(*row)
    Console(width=120).print(table)


def _delta(key: str, before: object, after: object) -> str:
    from rag.evals.metrics import LOWER_IS_BETTER

    if not isinstance(before, (int, float)) or not isinstance(after, (int, float)):
        return ""
    diff = after - before
    if diff == 0:
        return "="
    better = (diff < 0) if key in LOWER_IS_BETTER else (diff > 0)
    return f"{diff:+.4g} {'better' if better else 'worse'}"
