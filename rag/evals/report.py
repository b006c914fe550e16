"""`--report out/report.html`: one self-contained HTML file (no server, no network, no script
from elsewhere) of an eval run, or of two runs side by side (`rag eval compare`).

It reads what `rag eval` writes: metrics.json and answers.jsonl, whose records carry each
citation's article context (`citation_context`), so a report can be made later from the files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from rag.evals.metrics import LOWER_IS_BETTER, METRIC_KEYS, reason_kind, scalars
from rag.evals.plot import risk_coverage_svg

CONTEXT_CHARS = 160
Record = dict[str, Any]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:1300px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#1a7f37} .worse{color:#c62828}
.verdict{font-weight:600;padding:1px 6px;border-radius:4px;white-space:nowrap}
.v-right{background:#d8f5dd;color:#135c25} .v-wrong{background:#fbdada;color:#8c1d1d}
.v-refused{background:#e8e8e8;color:#444} .v-ungraded{background:#fff3c4;color:#6b5200}
.quote{font-size:12px;color:#555;margin:4px 0;border-left:3px solid #ccc;padding-left:6px}
mark{background:#ffe58a;color:#000;padding:0 1px}
.answer{white-space:pre-wrap} .muted{color:#888} .charts{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
.filters button{margin-right:6px}
"""
_SCRIPT = """
document.querySelectorAll('.filters button').forEach(function (b) {
  b.addEventListener('click', function () {
    var want = b.getAttribute('data-verdict');
    document.querySelectorAll('tr.question').forEach(function (row) {
      row.style.display = (want === 'all' || row.getAttribute('data-verdicts').indexOf(want) >= 0) ? '' : 'none';
    });
  });
});
"""


def citation_context(text: str, start: int, end: int, chars: int = CONTEXT_CHARS) -> dict[str, str]:
    """The article text around a quote, for the report: cut at word boundaries."""
    before = text[max(0, start - chars):start]
    after = text[end:end + chars]
    if start - chars > 0 and " " in before:
        before = "…" + before[before.index(" ") + 1:]
    if end + chars < len(text) and " " in after:
        after = after[:after.rindex(" ")] + "…"
    return {"before": before, "after": after}


def load_run(metrics_path: Path) -> tuple[dict[str, Any], list[Record]]:
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    answers = metrics_path.parent / "answers.jsonl"
    records = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if answers.exists() else []
    return metrics, records


def run_report(metrics: dict[str, Any], records: Sequence[Record], title: str) -> str:
    """The page for one run."""
    body = [f"<h1>{escape(title)}</h1>",
            f"<p class=muted>{len(records)} questions. Right: shown, holding the expected fact; wrong: shown "
            "and not right (an answer to an unanswerable question is wrong); refused.</p>",
            "<h2>Metrics</h2>", _metrics_table({"value": metrics}),
            "<h2>Risk and coverage</h2><div class=charts>", risk_coverage_svg(metrics.get("risk_coverage")),
            _calibration_table(metrics.get("calibration")), "</div>",
            "<h2>Refusals by reason</h2>", _refusals_table(records),
            "<h2>Questions</h2>", _filters(), _questions_table({"": records})]
    return _page(title, body)


def compare_report(runs: dict[str, tuple[dict[str, Any], list[Record]]], title: str) -> str:
    """Two runs side by side: metrics with deltas, both curves, and the questions whose verdict
    changed first."""
    names = list(runs)
    body = [f"<h1>{escape(title)}</h1>",
            f"<p class=muted>{escape(' vs '.join(names))}. Questions whose verdict changed come first.</p>",
            "<h2>Metrics</h2>", _metrics_table({n: m for n, (m, _) in runs.items()}, deltas=True),
            "<h2>Risk and coverage</h2><div class=charts>",
            risk_coverage_svg({n: m.get("risk_coverage") for n, (m, _) in runs.items()}), "</div>",
            "<h2>Refusals by reason</h2>", "".join(f"<h3>{escape(n)}</h3>{_refusals_table(r)}"
                                                   for n, (_, r) in runs.items()),
            "<h2>Questions</h2>", _filters(), _questions_table({n: r for n, (_, r) in runs.items()})]
    return _page(title, body)


def write_report(html: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


def _page(title: str, body: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + f"\n<script>{_SCRIPT}</script>\n</body></html>\n")


def _fmt(value: Any) -> str:
    if value is None:
        return "<span class=muted>null</span>"
    return f"{value:g}" if isinstance(value, (int, float)) else escape(str(value))


def _metrics_table(columns: dict[str, dict[str, Any]], deltas: bool = False) -> str:
    flat = {name: scalars(m) for name, m in columns.items()}
    present = {k for c in flat.values() for k in c}
    keys = [k for m in METRIC_KEYS for k in sorted(present) if k == m or k.startswith(m + ".")]
    keys += sorted(present - set(keys))
    head = "".join(f"<th>{escape(n)}</th>" for n in columns) + ("<th>delta</th>" if deltas else "")
    rows = []
    for key in keys:
        values = [c.get(key) for c in flat.values()]
        cells = "".join(f"<td class=num>{_fmt(v)}</td>" for v in values)
        if deltas:
            a, b = values[0], values[-1]
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a != b:
                better = (b < a) if key in LOWER_IS_BETTER else (b > a)
                cells += f"<td class='num {'better' if better else 'worse'}'>{b - a:+.4g}</td>"
            else:
                cells += "<td class=num>=</td>" if a == b and a is not None else "<td></td>"
        rows.append(f"<tr><td>{escape(key)}</td>{cells}</tr>")
    return f"<table class=metrics><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _calibration_table(calibration: dict[str, Any] | None) -> str:
    if not calibration:
        return "<p class=muted>No calibration: no answer carries a confidence.</p>"
    rows = "".join(f"<tr><td>{b['lo']:g}–{b['hi']:g}</td><td class=num>{b['n']}</td>"
                   f"<td class=num>{_fmt(b['mean_confidence'])}</td><td class=num>{_fmt(b['accuracy'])}</td></tr>"
                   for b in calibration["bins"])
    return (f"<table class=calibration><tr><th>confidence</th><th>n</th><th>mean confidence</th>"
            f"<th>share right</th></tr>{rows}<tr><td colspan=4>Brier {_fmt(calibration.get('brier'))}, "
            f"largest bin gap {_fmt(calibration.get('max_bin_gap'))}</td></tr></table>")


def _refusals_table(records: Sequence[Record]) -> str:
    reasons: dict[str, list[int]] = {}
    for r in records:
        reason = r.get("refusal_reason")
        if reason:
            reasons.setdefault(reason_kind(str(reason)), [0, 0])[0 if r.get("answerable") else 1] += 1
    if not reasons:
        return "<p class=muted>No refusals.</p>"
    rows = "".join(f"<tr><td>{escape(k)}</td><td class=num>{a}</td><td class=num>{u}</td></tr>"
                   for k, (a, u) in sorted(reasons.items(), key=lambda kv: -sum(kv[1])))
    return f"<table class=refusals><tr><th>reason</th><th>answerable</th><th>unanswerable</th></tr>{rows}</table>"


def _filters() -> str:
    buttons = "".join(f"<button type=button data-verdict={v}>{v}</button>"
                      for v in ("all", "right", "wrong", "refused", "changed"))
    return f"<p class=filters>Show: {buttons}</p>"


def verdict_of(record: Record) -> str:
    if "verdict" in record:
        return str(record["verdict"])
    if record.get("refused"):
        return "refused"
    right = record.get("right")
    return "ungraded" if right is None else "right" if right else "wrong"


def _answer_cell(record: Record | None) -> str:
    if record is None:
        return "<td class=muted>not in this run</td>"
    verdict = verdict_of(record)
    parts = [f"<span class='verdict v-{verdict}'>{verdict}</span>"]
    judge = record.get("judge")
    if judge and judge.get("verdict"):
        parts.append(f" <span class=muted>judge: {escape(str(judge['verdict']))}</span>")
    if record.get("refused"):
        reason = record.get("refusal_reason") or ""
        parts.append(f"<div class='answer muted'>{escape(str(reason))}</div>")
    else:
        parts.append(f"<div class=answer>{escape(str(record.get('answer', '')))}</div>")
    contexts = {c.get("n"): c for c in record.get("citation_context") or []}
    for c in record.get("citations") or []:
        ctx = contexts.get(c.get("n"), {"before": "", "after": ""})
        parts.append(f"<div class=quote>[{c.get('n')}] <b>{escape(str(c.get('title') or c.get('article_id')))}</b>"
                     f"{' · ' + escape(str(c['published_at'])) if c.get('published_at') else ''}: "
                     f"{escape(ctx['before'])}<mark>{escape(str(c.get('quote', '')))}</mark>"
                     f"{escape(ctx['after'])}</div>")
    if record.get("confidence") is not None:
        parts.append(f"<div class=muted>confidence {record['confidence']:.2f}</div>")
    return f"<td>{''.join(parts)}</td>"


def _questions_table(runs: dict[str, Sequence[Record]]) -> str:
    by_run = {name: {r["id"]: r for r in records} for name, records in runs.items()}
    ids: list[str] = []
    for records in runs.values():
        ids += [r["id"] for r in records if r["id"] not in ids]
    verdicts = {i: [verdict_of(by_run[n][i]) if i in by_run[n] else "missing" for n in runs] for i in ids}
    changed = {i for i, v in verdicts.items() if len(set(v)) > 1}
    ordered = [i for i in ids if i in changed] + [i for i in ids if i not in changed]
    head = "".join(f"<th>{escape(n) or 'answer'}</th>" for n in runs)
    rows = []
    for i in ordered:
        first = next(by_run[n][i] for n in runs if i in by_run[n])
        expected = ", ".join(first.get("expected") or []) or ("(unanswerable)" if not first.get("answerable")
                                                              else "")
        tags = " ".join(verdicts[i] + (["changed"] if i in changed else []))
        cells = "".join(_answer_cell(by_run[n].get(i)) for n in runs)
        as_of = f"<div class=muted>as of {escape(str(first['as_of'])[:10])}</div>" if first.get("as_of") else ""
        rows.append(f"<tr class=question data-verdicts='{escape(tags)}'><td>{escape(i)}"
                    f"{' <b>changed</b>' if i in changed else ''}</td>"
                    f"<td>{escape(str(first.get('question', '')))}{as_of}</td><td>{escape(expected)}</td>{cells}</tr>")
    return (f"<table class=questions><tr><th>id</th><th>question</th><th>expected</th>{head}</tr>"
            f"{''.join(rows)}</table>")
