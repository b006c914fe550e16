"""Charts as inline SVG: no plotting library, nothing to fetch, and the report embeds them as is."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 420, 300, 48


def risk_coverage_svg(curves: Sequence[dict[str, Any]] | None | dict[str, Sequence[dict[str, Any]] | None],
                      title: str = "Risk vs coverage") -> str:
    """The risk-coverage curve(s): x = share of all questions answered, y = share of those answers
    that are wrong, one point per confidence cut-off. A dict draws one line per named run."""
    named = curves if isinstance(curves, dict) else {"": curves}
    colours = ["#1f5fbf", "#d2691e", "#2e8b57", "#8b3a8b"]

    def x(v: float) -> float:
        return PAD + v * (WIDTH - 2 * PAD)

    def y(v: float) -> float:
        return HEIGHT - PAD - v * (HEIGHT - 2 * PAD)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="risk-coverage" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14" font-family="sans-serif">'
             f'{escape(title)}</text>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{x(0)}" y1="{y(tick)}" x2="{x(1)}" y2="{y(tick)}" stroke="#ddd"/>')
        parts.append(f'<text x="{x(0) - 6}" y="{y(tick) + 4}" text-anchor="end" font-size="10" '
                     f'font-family="sans-serif">{tick:g}</text>')
        parts.append(f'<text x="{x(tick)}" y="{y(0) + 14}" text-anchor="middle" font-size="10" '
                     f'font-family="sans-serif">{tick:g}</text>')
    parts.append(f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(0)}" stroke="black"/>')
    parts.append(f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(0)}" y2="{y(1)}" stroke="black"/>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle" font-size="11" '
                 f'font-family="sans-serif">coverage (share of questions answered)</text>')
    parts.append(f'<text x="14" y="{HEIGHT / 2}" text-anchor="middle" font-size="11" font-family="sans-serif" '
                 f'transform="rotate(-90 14 {HEIGHT / 2})">risk (share of shown answers wrong)</text>')
    drawn = 0
    for i, (name, curve) in enumerate(named.items()):
        if not curve:
            continue
        colour = colours[i % len(colours)]
        points = sorted(curve, key=lambda p: p["coverage"])
        path = " ".join(f"{x(p['coverage']):.1f},{y(p['risk']):.1f}" for p in points)
        parts.append(f'<polyline class="curve" fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for p in points:
            parts.append(f'<circle cx="{x(p["coverage"]):.1f}" cy="{y(p["risk"]):.1f}" r="2.5" fill="{colour}">'
                         f'<title>confidence ≥ {p["threshold"]:g}: coverage {p["coverage"]:g}, '
                         f'risk {p["risk"]:g}</title></circle>')
        if name:
            parts.append(f'<text x="{x(1) - 4}" y="{40 + 14 * i}" text-anchor="end" font-size="11" '
                         f'font-family="sans-serif" fill="{colour}">{escape(name)}</text>')
        drawn += 1
    if not drawn:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="12" '
                     f'font-family="sans-serif" fill="#777">no answer carries a confidence yet</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def risk_coverage_png(curve: Sequence[dict[str, Any]] | None, path: str) -> bool:
    """The same curve as a PNG, when matplotlib is installed (`pip install 'rag-news[plot]'`);
    False when it is not. Drawn off-screen (Agg), no display needed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    if curve:
        points = sorted(curve, key=lambda p: p["coverage"])
        ax.plot([p["coverage"] for p in points], [p["risk"] for p in points], marker="o", markersize=3)
    else:
        ax.text(0.5, 0.5, "no answer carries a confidence yet", ha="center", va="center", color="#777")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (share of shown answers wrong)")
    ax.set_title("Risk vs coverage")
    ax.grid(True, color="#ddd")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
