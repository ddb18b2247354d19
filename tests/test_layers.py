"""The import graph of archscore: no import runs upward through the layers, and no module imports form a cycle.

Layers: the core (0: ``arch``, ``registry``, ``base``, ``metrics``, ``data``, ``fileio``) <-
the families (1: ``proxies``, ``encodings``, ``predictors``, ``spaces``,
``search``, ``benchmarks``, ``baselines``, ``testing``, and any other module)
<- the applications (2: ``cli``, ``bench``, ``__main__``).

The graph is read statically with :mod:`ast` from every module's source:
module-level imports *and* function-local ones (a local import does not
break a cycle, it only delays it). An edge goes to the most specific module
named (``from archscore.encodings import registry`` is an edge to
``archscore.encodings.registry``; ``from archscore.encodings import get_encoding``
to the package ``archscore.encodings``). Not edges, by design:

* the implicit import of a parent package when a submodule is imported
  (every ``from archscore.x.y import ...`` runs ``archscore/x/__init__.py``
  first; counting that would make every package that re-exports its
  submodules a cycle);
* ``archscore/__init__.py``, the lazy facade: it names modules as strings and
  imports them with :func:`importlib.import_module` on first attribute use;
* the core registry's plugin strings (``Registry(..., plugins=("archscore.proxies", ...))``):
  the core imports the families that register into it by name, on first
  look-up, the way entry points work, so the core never depends on them
  statically.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "archscore"

CORE = ("arch", "registry", "base", "metrics", "data", "fileio")
APPS = ("cli", "bench", "__main__")


def module_name(path: Path, root: Path) -> str:
    """Dotted module name of ``path`` inside the package directory ``root``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The longest prefix of ``name`` that is one of ``modules``."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in modules:
            return cand
    return None


def import_graph(root: Path) -> nx.DiGraph:
    """Static import graph of the package at ``root``: one node per module, an edge per import of a module of it.

    Edge attribute ``where``: ``"path:line"`` of (one of) the import statement(s);
    ``local``: True when the import sits inside a function.
    """
    files = sorted(root.rglob("*.py"))
    modules = {module_name(f, root) for f in files}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for f in files:
        src = module_name(f, root)
        is_pkg = f.name == "__init__.py"
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))

        def visit(node: ast.AST, local: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                targets: list[str] = []
                if isinstance(child, ast.Import):
                    targets = [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    if child.level:
                        base = src.split(".")
                        base = base if is_pkg else base[:-1]
                        base = base[: len(base) - (child.level - 1)]
                        prefix = ".".join(base + ([child.module] if child.module else []))
                    else:
                        prefix = child.module or ""
                    targets = [f"{prefix}.{a.name}" for a in child.names]
                for t in targets:
                    dst = _resolve(t, modules)
                    if dst is not None and dst != src:
                        graph.add_edge(src, dst, where=f"{f.relative_to(root.parent)}:{child.lineno}", local=inner)
                visit(child, inner)

        visit(tree, False)
    return graph


def layer(module: str, package: str = "archscore") -> int | None:
    """0 core, 1 families, 2 applications; None for the package's own ``__init__`` (the lazy facade)."""
    if module == package:
        return None
    first = module.split(".")[1]
    if first in CORE:
        return 0
    if first in APPS:
        return 2
    return 1


def upward_edges(graph: nx.DiGraph, package: str = "archscore") -> list[str]:
    """Every import from a lower layer to a higher one, as ``"a -> b (file:line)"``."""
    out = []
    for u, v, attrs in graph.edges(data=True):
        lu, lv = layer(u, package), layer(v, package)
        if lu is not None and lv is not None and lv > lu:
            out.append(f"{u} (layer {lu}) -> {v} (layer {lv}) at {attrs['where']}{' (function-local)' if attrs['local'] else ''}")
    return sorted(out)


def import_cycles(graph: nx.DiGraph, package: str = "archscore") -> list[list[str]]:
    """Groups of modules that import each other (strongly connected components of more than one module)."""
    sub = graph.subgraph(n for n in graph if n != package)
    return sorted(sorted(c) for c in nx.strongly_connected_components(sub) if len(c) > 1)


def _describe_cycle(graph: nx.DiGraph, members: list[str]) -> str:
    cycle = nx.find_cycle(graph.subgraph(members))
    return " -> ".join(f"{u} ({graph.edges[u, v]['where']})" for u, v in cycle) + f" -> {cycle[0][0]}"


# ------------------------------------------------------------ the real package
@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    return import_graph(PACKAGE_ROOT)


def test_graph_sees_the_package(graph):
    # sanity: a few edges that exist, module-level and function-local
    assert graph.has_edge("archscore.base", "archscore.registry")
    assert graph.has_edge("archscore.encodings.registry", "archscore.encodings.concat")
    assert any(attrs["local"] for _, _, attrs in graph.edges(data=True))


def test_no_upward_import(graph):
    bad = upward_edges(graph)
    assert not bad, "imports that run upward through the layers:\n" + "\n".join(bad)


def test_no_import_cycle(graph):
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(_describe_cycle(graph, c) for c in cycles)


# -------------------------------------------- the graph functions on a fake package
def _write(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "archscore"
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return pkg


def test_an_upward_edge_is_reported_with_its_place(tmp_path):
    pkg = _write(tmp_path, {
        "__init__.py": "",
        "base.py": "def score():\n    from archscore.cli import main  # local, still an edge\n",
        "proxies/__init__.py": "from archscore.base import score\n",
        "cli/__init__.py": "from archscore import proxies\n\ndef main():\n    pass\n",
    })
    g = import_graph(pkg)
    assert upward_edges(g) == ["archscore.base (layer 0) -> archscore.cli (layer 2) at archscore/base.py:2 (function-local)"]
    # base -> cli -> proxies -> base is also a cycle
    assert import_cycles(g) == [["archscore.base", "archscore.cli", "archscore.proxies"]]


def test_relative_imports_and_submodule_targets(tmp_path):
    pkg = _write(tmp_path, {
        "__init__.py": "import importlib\n_LAZY = {'x': 'archscore.cli'}\n",  # strings are not imports
        "encodings/__init__.py": "from .registry import get\n",
        "encodings/base.py": "X = 1\n",
        "encodings/registry.py": "from . import base\nfrom ..arch import Arch\n\ndef get():\n    pass\n",
        "arch.py": "class Arch: ...\n",
        "cli/__init__.py": "",
    })
    g = import_graph(pkg)
    assert set(g.edges) == {("archscore.encodings", "archscore.encodings.registry"),
                            ("archscore.encodings.registry", "archscore.encodings.base"),
                            ("archscore.encodings.registry", "archscore.arch")}
    assert upward_edges(g) == [] and import_cycles(g) == []
