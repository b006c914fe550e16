"""Does a generated set rank configurations of the product as the real questions do?

Kendall's tau (tau-b, ties counted) between the configurations' scores on the real set and on a
generated one, per metric, and how far each generated metric is from the real one. A generated
set that ranks configurations differently from real questions is worse than none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rag.evals.metrics import LOWER_IS_BETTER, scalars

RANKED = ("right_rate", "answer_recall", "hit_at_5", "mrr_at_10", "shown_precision", "wrong_shown_rate",
          "false_refusal_rate", "refusal_recall", "answered_anyway_rate", "coverage")


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Kendall's tau-b of two score lists over the same items; None when either is constant."""
    if len(a) != len(b):
        raise ValueError("the two rankings must score the same items")
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif (da > 0) == (db > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = ((concordant + discordant + ties_a) * (concordant + discordant + ties_b)) ** 0.5
    return round((concordant - discordant) / denominator, 4) if denominator else None


def compare_sets(real: Mapping[str, Mapping[str, Any]], generated: Mapping[str, Mapping[str, Any]],
                 keys: Sequence[str] = RANKED) -> list[dict[str, Any]]:
    """Per metric: each configuration's real and generated value, tau, and the mean |gap|.
    `real` and `generated` map a configuration's name to its metrics.json."""
    configs = [c for c in real if c in generated]
    rows = []
    for key in keys:
        r = [scalars(dict(real[c])).get(key) for c in configs]
        g = [scalars(dict(generated[c])).get(key) for c in configs]
        if any(v is None for v in r + g):
            continue
        rf, gf = [float(v) for v in r if v is not None], [float(v) for v in g if v is not None]
        rows.append({"metric": key, "lower_is_better": key in LOWER_IS_BETTER,
                     "real": dict(zip(configs, rf, strict=True)), "generated": dict(zip(configs, gf, strict=True)),
                     "tau": kendall_tau(rf, gf),
                     "mean_abs_gap": round(sum(abs(x - y) for x, y in zip(rf, gf, strict=True)) / len(rf), 4)})
    return rows
