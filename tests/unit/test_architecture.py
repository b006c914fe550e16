"""The layout's rules, checked on the source: no import cycle inside rag/, the environment read only
in rag/config.py, and `# type: ignore` kept out of rag/answering/ (and rare elsewhere)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAG = ROOT / "rag"
MAX_IGNORES = 10  # `# type: ignore` in rag/ and api/ together (issue 24)


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in RAG.rglob("*.py")}


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The rag modules `path` imports anywhere (top level, in functions, under TYPE_CHECKING):
    a cycle is a cycle whether or not it bites at import time."""
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known and n != me}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_rag():
    known = _modules()
    graph = {name: _imports(path, known) for name, path in known.items()}
    assert graph["rag.pipeline"] >= {"rag.answering.context", "rag.index"}  # the scan sees imports
    assert cycles(graph) == []


def test_the_leaf_modules_import_nothing_of_the_project_but_leaves():
    known = _modules()
    assert _imports(RAG / "tuning.py", known) == set()
    assert _imports(RAG / "ids.py", known) == set()
    assert _imports(RAG / "answering" / "refusals.py", known) <= {"rag.citations"}
    assert _imports(RAG / "answering" / "prompts.py", known) <= {"rag.answering.refusals", "rag.answering.sources"}


def _reads_environment(path: Path) -> list[int]:
    """Lines that read os.environ or call getenv (assigning to os.environ is not reading it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    written = {id(n.value) for n in ast.walk(tree)
               if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and id(node) not in written:
            lines.append(node.lineno)
        elif isinstance(node, ast.Name) and node.id in ("environ", "getenv"):
            lines.append(node.lineno)
    return lines


def test_only_config_reads_the_environment():
    readers = {str(p.relative_to(ROOT)): lines for p in [*RAG.rglob("*.py"), *(ROOT / "api").rglob("*.py")]
               if p != RAG / "config.py" and (lines := _reads_environment(p))}
    assert readers == {}


def _ignores(folder: Path) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{n}" for p in folder.rglob("*.py")
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "# type: ignore" in line]


def test_type_ignores_are_few_and_none_in_answering():
    assert _ignores(RAG / "answering") == []
    everywhere = _ignores(RAG) + _ignores(ROOT / "api")
    assert len(everywhere) <= MAX_IGNORES, everywhere
