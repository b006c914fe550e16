"""python -m rag.fit refusal|recency|confidence [options]: see rag/fit/__init__.py."""

from __future__ import annotations

import sys

# name -> module with main(argv)
FITTERS = {"confidence": "rag.fit.confidence", "refusal": "rag.fit.refusal", "recency": "rag.fit.recency"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in FITTERS:
        print(f"usage: python -m rag.fit {{{'|'.join(FITTERS)}}} [options]  (--help after the name for its options)",
              file=sys.stderr)
        return 2
    from importlib import import_module

    fitter = import_module(FITTERS[args[0]])
    return int(fitter.main(args[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
