"""The package's shape: layers that import only downwards, small modules, short functions.

docs/architecture.md describes the layers and draws the graph these tests read
(docs/_ext/package_layers.py reads every ``import`` statement, inside functions
too, so a lazy import that reaches upwards is caught like any other).
"""

import ast
import sys
from pathlib import Path

import networkx as nx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "_ext"))
from package_layers import LAYERS, PACKAGE, import_graph, imported, layer, modules  # noqa: E402

LONGEST_MODULE = 700
LONGEST_FUNCTION = 80


def test_every_module_is_in_a_layer():
    for module in import_graph():
        assert layer(module) in LAYERS, f"{module} is in no layer of {LAYERS}"


def test_no_import_cycle():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


def test_imports_only_go_down():
    rank = {name: k for k, name in enumerate(LAYERS)}
    upwards = [(a, b) for a, b in import_graph().edges if rank[layer(a)] < rank[layer(b)]]
    assert not upwards, "imports of a higher layer: " + ", ".join(f"{a} -> {b}"
                                                                   for a, b in upwards)


def test_the_graph_sees_lazy_imports_and_the_layers_are_not_empty():
    # the reader of imports must not miss the kind of import a cycle hides in
    tree = ast.parse("def f():\n    from ..printing import documents\n")
    found = set(imported("symbackprop.derivation.reverse",
                         PACKAGE / "derivation" / "reverse.py", tree))
    assert "symbackprop.printing.documents" in found
    graph = import_graph()
    assert ("symbackprop.api", "symbackprop.printing.documents") in graph.edges
    assert {layer(m) for m in graph} == set(LAYERS)


@pytest.mark.parametrize("name,path", list(modules().items()), ids=lambda x: str(x))
def test_modules_and_functions_are_short(name, path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= LONGEST_MODULE, f"{name} has more than {LONGEST_MODULE} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= LONGEST_FUNCTION, f"{name}.{node.name} has {length} lines"
