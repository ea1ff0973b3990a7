"""The package's modules, their layers and the imports between them, read from the source.

docs/architecture.md draws this graph; tests/test_architecture.py asserts that
it has no cycle and that imports only go down the layers.  Imports are read
from every ``import`` statement, inside functions too, so a lazy import that
reaches upwards is seen like any other.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[2] / "symbackprop"

#: Bottom first.  A module may import its own layer's modules and any layer below.
LAYERS = ["errors", "primitives", "language", "derivation", "printing", "proofs", "api", "cli",
          "__main__"]

#: What each layer does, for the figure.
ROLES = {
    "errors": "errors: a problem with a model, located",
    "primitives": "primitives: the matrix-calculus vocabulary",
    "language": "language: model files into checked models",
    "derivation": "derivation: graph, backward steps, programs",
    "printing": "printing: text, LaTeX, figures, NumPy code",
    "proofs": "proofs: what is derived and printed, proved",
    "api": "api: the derivations users hold",
    "cli": "cli: the command line",
    "__main__": "python -m symbackprop",
}


def modules(package=PACKAGE):
    """Dotted module name to file, for every module of the package."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name, path, tree):
    """The package modules `tree` (the source of module `name` at `path`) imports."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("symbackprop"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("symbackprop"):
                continue
            for alias in node.names:  # `from . import documents` imports a module
                yield f"{module}.{alias.name}"
            yield module


def import_graph(package=PACKAGE):
    """The graph of imports between the package's modules (the ``__init__`` files left out:
    the package's is the public face, which imports from everywhere; the layers' are empty)."""
    found = modules(package)
    # the package's and the layers' __init__ files: the face, and empty namespaces
    faces = {m for m, path in found.items() if path.stem == "__init__"}
    graph = nx.DiGraph()
    graph.add_nodes_from(m for m in found if m not in faces)
    for name, path in found.items():
        if name in faces:
            continue
        for target in imported(name, path, ast.parse(path.read_text(encoding="utf-8"))):
            if target in found and target != name and target not in faces:
                graph.add_edge(name, target)
    return graph


def layer(module):
    """The layer of a dotted module name: its subpackage, or the top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def dot(graph):
    """The layers as Graphviz source: a box per layer listing its modules, the bottom layer
    at the bottom, an arrow where a layer imports from another (labelled with how many
    imports between their modules)."""
    lines = ["digraph layers {", "  rankdir=BT; nodesep=0.25; ranksep=0.3;",
             '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
             '  edge [color="#888888", fontname="Helvetica", fontsize=8, arrowsize=0.6];']
    for name in LAYERS:
        members = sorted(m.split(".")[-1] for m in graph if layer(m) == name)
        if len(members) > 1:
            rows = [" · ".join(members[i:i + 4]) for i in range(0, len(members), 4)]
            lines.append(f'  "{name}" [label="{ROLES[name]}\\n' + "\\n".join(rows) + '"];')
        else:
            lines.append(f'  "{name}" [label="{ROLES[name]}"];')
    counts = {}
    for a, b in graph.edges:
        if layer(a) != layer(b):
            counts[layer(a), layer(b)] = counts.get((layer(a), layer(b)), 0) + 1
    lines += [f'  "{a}" -> "{b}" [label="{n}"];' for (a, b), n in sorted(counts.items())]
    return "\n".join(lines + ["}", ""])


def svg(graph):
    """The figure of :func:`dot`, drawn by Graphviz."""
    return subprocess.run(["dot", "-Tsvg"], input=dot(graph), capture_output=True, text=True,
                          check=True, timeout=60).stdout
