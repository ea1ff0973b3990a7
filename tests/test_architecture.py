"""The package's shape: layers that import only downwards, small modules, short functions.

docs/architecture.md describes the layers; these tests keep the code to it.
Imports are read from the source (every ``import`` statement, inside functions
too), so a lazy import that reaches upwards is caught like any other.
"""

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symbackprop"

#: Bottom first.  A module may import its own layer's modules and any layer below.
LAYERS = ["errors", "primitives", "language", "derivation", "printing", "proofs", "api", "cli",
          "__main__"]

LONGEST_MODULE = 700
LONGEST_FUNCTION = 80


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imported(name, path, tree):
    """The package modules `tree` imports, as dotted names."""
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


def import_graph():
    """The graph of imports between the package's modules (the package itself left out:
    its ``__init__`` is the public face, which imports from everywhere)."""
    modules = dict(_modules())
    graph = nx.DiGraph()
    graph.add_nodes_from(m for m in modules if m != "symbackprop")
    for name, path in modules.items():
        if name == "symbackprop":
            continue
        for target in _imported(name, path, ast.parse(path.read_text(encoding="utf-8"))):
            if target in modules and target not in (name, "symbackprop"):
                graph.add_edge(name, target)
    return graph


def _layer(module):
    parts = module.split(".")
    return LAYERS.index(parts[1] if len(parts) > 1 else parts[0])


def test_every_module_is_in_a_layer():
    for module in import_graph():
        assert module.split(".")[1] in LAYERS, f"{module} is in no layer of {LAYERS}"


def test_no_import_cycle():
    graph = import_graph()
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


def test_imports_only_go_down():
    upwards = [(a, b) for a, b in import_graph().edges if _layer(a) < _layer(b)]
    assert not upwards, "imports of a higher layer: " + ", ".join(f"{a} -> {b}"
                                                                   for a, b in upwards)


def test_the_graph_sees_lazy_imports():
    # the reader of imports must not miss the kind of import a cycle hides in
    tree = ast.parse("def f():\n    from ..printing import documents\n")
    found = set(_imported("symbackprop.derivation.reverse",
                          PACKAGE / "derivation" / "reverse.py", tree))
    assert "symbackprop.printing.documents" in found


@pytest.mark.parametrize("name,path", list(_modules()), ids=lambda x: str(x))
def test_modules_and_functions_are_short(name, path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= LONGEST_MODULE, f"{name} has more than {LONGEST_MODULE} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= LONGEST_FUNCTION, f"{name}.{node.name} has {length} lines"
