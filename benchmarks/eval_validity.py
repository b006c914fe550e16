"""Does a generated question set rank configurations as the real questions do? (issue 26, part 4)

Reads `<prefix>-<config>/metrics.json` for each set and configuration, as `rag eval --out` wrote
them, and prints, per metric, each configuration's value on each set, Kendall's tau against the
real set and the mean gap (markdown):

    python -m benchmarks.eval_validity --real real=/tmp/i26/real \\
        --set offline=/tmp/i26/offq --configs base,notime,dense
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.evals.validity import RANKED, compare_sets


def load(prefix: str, configs: list[str]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c: json.loads(Path(f"{prefix}-{c}/metrics.json").read_text(encoding="utf-8")) for c in configs
            if Path(f"{prefix}-{c}/metrics.json").exists()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", required=True, help="name=prefix of the real questions' runs")
    parser.add_argument("--set", action="append", default=[], help="name=prefix of a generated set's runs")
    parser.add_argument("--configs", required=True, help="comma-separated configuration names")
    parser.add_argument("--metrics", default=",".join(RANKED))
    args = parser.parse_args()
    configs = args.configs.split(",")
    real_name, real_prefix = args.real.split("=", 1)
    real = load(real_prefix, configs)
    for spec in args.set:
        name, prefix = spec.split("=", 1)
        generated = load(prefix, configs)
        both = [c for c in configs if c in real and c in generated]
        rows = compare_sets(real, generated, args.metrics.split(","))
        print(f"\n### {name} vs {real_name} ({', '.join(both)})\n")
        print("| metric | " + " | ".join(f"{c} real / gen" for c in both) + " | tau | mean gap |")
        print("|---" * (len(both) + 3) + "|")
        for row in rows:
            cells = " | ".join(f"{row['real'][c]:.3f} / {row['generated'][c]:.3f}" for c in both)
            tau = "n/a (tie)" if row["tau"] is None else f"{row['tau']:+.2f}"
            print(f"| {row['metric']} | {cells} | {tau} | {row['mean_abs_gap']:.3f} |")


if __name__ == "__main__":
    main()
