"""Stages import downwards only (docs/ARCHITECTURE.md): the table below is the rule, this test enforces it.

Every `import evalkit...` / `from evalkit... import` in the package, at module level or inside a
function, is checked against what its layer may import. A module in a layer not listed here counts
as a top-level command module: it may import any layer but the CLI, and no listed layer may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import evalkit

PACKAGE = Path(evalkit.__file__).resolve().parent

BASE = {"evalkit", "errors", "io", "parallel", "locking", "generations"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "io": {"evalkit", "errors"},
    "parallel": {"evalkit", "errors"},
    "locking": {"evalkit", "errors", "io"},  # io.is_link: links and Windows junctions alike
    "generations": {"evalkit", "errors", "io"},
    "cache": {"evalkit", "errors", "io"},  # finished analyses keyed by their exact inputs
    "columns": {"evalkit"},  # the catalogue of panel columns: read by verdicts, report, estimate, multiverse
    "estimators": BASE,  # know nothing of councils, plans or files
    "methods": BASE | {"estimators"},  # the registry: which estimator, which options
    "analysis": BASE
    | {"estimators", "methods", "columns"},  # the unit every caller runs: sample, intervals, checks, verdict
    "sources": BASE,  # one parser per publication; no panel logic
    "fetch": BASE,
    "releases": BASE | {"fetch"},
    "revisions": BASE | {"releases", "fetch"},  # what an ingest added and revised
    "validation": BASE | {"demo"},
    "ingest": BASE | {"sources", "fetch", "releases", "revisions", "validation", "demo"},  # demo: its LA list
    "panel": BASE
    | {"sources", "estimators", "releases", "fetch", "columns"},  # releases: the order of a source's files
    "demo": BASE | {"sources"},
    "plan_schema": BASE | {"methods", "analysis"},
    "plan": BASE | {"methods", "plan_schema", "analysis"},
    "power": BASE | {"estimators", "methods", "analysis", "panel", "cache"},
    "estimate": BASE
    | {"estimators", "methods", "analysis", "plan", "plan_schema", "panel", "sources", "cache", "power"}
    | {"columns", "answers"},
    # one answer per pre-registered question, built from the verdicts and stored in results.json
    "answers": BASE | {"analysis", "columns"},
    "report": BASE | {"estimators", "methods", "analysis", "columns", "answers"},
    "meaning": {"evalkit"},  # what a difference in results means (verify)
    "verify": BASE | {"meaning", "plan"},
}


# Imports against the order still to be removed; any NEW import against the order fails.
KNOWN_EXCEPTIONS = {}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "evalkit"


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "evalkit":
            if node.module == "evalkit":
                out += [(node.lineno, f"evalkit.{a.name}") for a in node.names if a.name != "__version__"]
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "evalkit"]
    return out


def test_stages_import_downwards_only() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        own = _layer(module)
        for line, target in _imports(path):
            layer = _layer(target)
            if layer == own or (module, f"evalkit.{layer}") in KNOWN_EXCEPTIONS:
                continue
            allowed = ALLOWED.get(own)
            if allowed is None:  # a command module: anything but the CLI
                ok = layer != "cli"
            else:
                ok = layer in allowed
            if not ok:
                bad.append(
                    f"{rel}:{line} imports {target} ({own} may import: {', '.join(sorted(allowed or {'all but cli'}))})"
                )
    assert not bad, "imports against the stage order (see docs/ARCHITECTURE.md):\n" + "\n".join(bad)


def test_the_rule_itself_points_downwards() -> None:
    """No two listed layers may import each other (the table has no cycle)."""
    for a, deps in ALLOWED.items():
        for b in deps:
            assert a not in ALLOWED.get(b, set()), f"{a} and {b} may import each other"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _graph() -> dict[str, set[str]]:
    """Module -> evalkit modules it imports (module level or inside functions; `from pkg import mod` counts
    as importing pkg.mod)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "evalkit":
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    target = sub if sub in modules else node.module
                    if target in modules and target != name:
                        graph[name].add(target)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in modules and a.name != name:
                        graph[name].add(a.name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    """No two modules import each other, directly or round a loop, counting imports inside functions."""
    assert not _cycles(_graph()), "import cycles:\n" + "\n".join(" <-> ".join(c) for c in _cycles(_graph()))


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
