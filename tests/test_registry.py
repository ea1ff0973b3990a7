"""An operator is one registry entry; a scalar function is one row of the table.

* A scalar function added to the table at run time (``cosh``, with no other
  change) parses, derives, prints, generates code that ``check`` passes,
  ``verify`` proves and ``prove_printed`` reads back, and has its section in
  the operator reference.
* Every registry entry's figure label compiles in a TikZ node, and a word in it
  is one word (no unescaped ``_``, which TeX takes for a subscript).
* The README's list of operators is the registry's.
"""

import importlib
import re
import sys
from pathlib import Path

import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.derivation.graph import build_graph
from symbackprop.primitives import functions
from symbackprop.primitives.expressions import ENTRY
from symbackprop.primitives.functions import TABLE, ScalarFunction
from symbackprop.primitives.operators import BINARY, FUNCTIONS, REGISTRY, register_function
from symbackprop.printing.figures import graph_figure
from symbackprop.printing.numpy_code import generate_source
from typeset import compiles
from test_operators import DECLS, ROWS, model_text

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cosh():
    """cosh registered for one test, as a row of the table is, then removed (unless the
    table has it as a built-in already)."""
    if "cosh" in REGISTRY:
        yield REGISTRY["cosh"]
        return
    saved = dict(TABLE), dict(REGISTRY), list(FUNCTIONS)
    row = ScalarFunction("cosh", sp.cosh(ENTRY), "hyperbolic cosine entrywise")
    try:
        yield register_function(row)
    finally:
        for live, before in zip((TABLE, REGISTRY), saved):
            live.clear()
            live.update(before)
        FUNCTIONS[:] = saved[2]
    assert "cosh" not in REGISTRY and "cosh" not in FUNCTIONS and TABLE["cosh"].body is None


COSH_MODEL = """\
dim n, d
input x: vector(d)
input y: vector(n)
param W: matrix(n, d)
param b: scalar
z = W @ x
h = cosh(z)
s = cosh(b)
J = squared_error(h, y) + s
objective J
"""


def test_a_scalar_function_is_one_row_of_the_table(cosh):
    d = sbp.derive(sbp.parse(COSH_MODEL))
    assert "h = cosh(z)" in d.text() and "sinh(z)" in d.text()
    assert "\\cosh{\\left(" in d.latex() and "\\sinh{\\left(" in d.latex()
    assert "np.cosh(z)" in generate_source(d) and "np.sinh(" in generate_source(d)
    assert sbp.check(d).ok
    assert sbp.verify(d).ok
    report = sbp.prove_printed(d, notation=sbp.Notation(inputs=True))
    assert report.ok, str(report)
    # the figures and the reference have it too
    assert "{$\\cosh$}" in graph_figure(d, "tikz")
    page = _docs().operators_page()
    entrywise = page[page.index("# Entrywise functions"):page.index("# Reductions")]
    assert "## `cosh(x)`" in entrywise and "hyperbolic cosine entrywise" in entrywise


def test_a_row_is_registered_once(cosh):
    with pytest.raises(ValueError, match="already registered"):
        register_function(ScalarFunction("cosh", sp.cosh(ENTRY)))
    with pytest.raises(ValueError, match="already registered"):
        register_function(ScalarFunction("sum", sp.Abs(ENTRY), evaluate=abs))
    assert "sum" not in TABLE  # refused before anything changed


def test_a_row_without_a_numpy_function_must_give_one():
    with pytest.raises(ValueError, match="give evaluate"):
        ScalarFunction("swish", ENTRY * sp.Function("sigmoid")(ENTRY))


def test_every_row_is_an_operator_and_every_entrywise_operator_a_row():
    for row in functions.called():
        op = REGISTRY[row.name]
        assert op.elementwise and op.body == row.body and op.doc == row.doc, row.name
        assert (op.label_text, op.label_latex) == (row.text, row.latex), row.name
    structural = {n for n, op in REGISTRY.items() if op.elementwise and n not in TABLE}
    assert structural == {"square"}  # x ^ 2, a power


def _docs():
    pytest.importorskip("sphinx", reason="the documentation tools are not installed")
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        return importlib.import_module("symbackprop_docs")
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))


# --- figure labels -------------------------------------------------------------------------

def _every_operator_model():
    """One model using every registry entry (one row of test_operators each) and phi, ell."""
    chosen, used = [], set()
    for expression, shape in ROWS.values():
        model = sbp.parse(model_text(expression, shape))
        tree = next(a.tree for a in model.assignments if a.target == "E")
        ops = {node.op.name for node in _nodes(tree)}
        if ops - used:
            chosen.append((expression, shape))
            used |= ops
    assert set(REGISTRY) <= used, set(REGISTRY) - used
    lines = [DECLS, "func phi", "func ell(a, b)", "F = phi(A)", "G = ell(v, w)"]
    terms = ["sum(F)", "G"]
    for k, (expression, shape) in enumerate(chosen):
        lines.append(f"E{k} = {expression}")
        terms.append(f"E{k}" if shape == "scalar" else f"sum(E{k})")
    return sbp.parse("\n".join(lines + ["J = " + " + ".join(terms), "objective J"]) + "\n")


def _nodes(tree):
    stack = [tree]
    while stack:
        node = stack.pop()
        if hasattr(node, "op"):
            yield node
            stack.extend(node.args)


def test_every_label_is_a_word_without_a_subscript():
    for name, op in REGISTRY.items():
        for label in (op.label_text, op.label_latex):
            assert label, name
        assert not re.search(r"(?<!\\)_", op.label_latex), (name, op.label_latex)


def test_every_operator_label_compiles_in_a_tikz_node(tmp_path):
    model = _every_operator_model()
    figure = graph_figure(sbp.derive(model), "tikz", standalone=True)
    labels = {data["op"]: data["latex"] for _, data in build_graph(model).nodes(data=True)
              if data["kind"] == "operator"}
    assert labels["phi"] == "\\phi" and labels["ell"] == "\\ell"
    for name, op in REGISTRY.items():
        if name not in ("mul", "pow"):  # drawn from their operands: ·, ⊙, (·)^{3}
            assert f"{{${op.label_latex}$}}" in figure, name
    compiles(tmp_path, "labels", figure)


# --- the README ----------------------------------------------------------------------------

def _readme_list():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = text[text.index("Operators: `"):]
    sentence = " ".join(sentence[:sentence.index("The text is parsed")].split())
    operators = sentence[len("Operators: `"):sentence.index("`", len("Operators: `"))].split()
    builtins = sentence[sentence.index("built-ins:"):]
    groups = re.findall(r"`([^`]+)`( \(entrywise\))?", builtins)
    return operators, groups


def test_the_readme_lists_every_operator_of_the_registry():
    operators, groups = _readme_list()
    assert set(operators) == set(BINARY)
    listed = [name for words, _ in groups for name in words.split()]
    missing, unknown = set(FUNCTIONS) - set(listed), set(listed) - set(FUNCTIONS)
    assert not missing and not unknown, (f"README.md, 'The language': add {sorted(missing)}, "
                                         f"remove {sorted(unknown)}")
    assert len(listed) == len(set(listed))
    entrywise = [name for words, mark in groups if mark for name in words.split()]
    assert set(entrywise) == {n for n in FUNCTIONS if REGISTRY[n].elementwise}
