"""The founding example, reproduced exactly: "Dive into Deep Learning", section 3.14.

The seven backward steps are compared structurally, as SymPy expressions
built by hand from the model's own symbols, not as printed strings.
"""

import dataclasses

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions import HadamardProduct

import symbackprop as sbp
from symbackprop.primitives import expressions as ex
from symbackprop.primitives import matrix_functions as mf
from symbackprop.proofs.check import random_arrays
from symbackprop.derivation.reverse import adjoint_symbol
from symbackprop.primitives.operators import REGISTRY
from reference import relative_error, torch_value_and_grad

TEXTBOOK = "examples/textbook_mlp.sbp"


@pytest.fixture(scope="module")
def d():
    return sbp.derive(sbp.load(TEXTBOOK))


def test_backward_order_is_the_textbooks(d):
    # J first; then L, s, o, W2, h, z, W1 as in the text; the data inputs last.
    assert d.order == ("J", "L", "s", "o", "W2", "h", "z", "W1", "y", "x")


def test_the_seven_steps_structurally(d):
    sym = d.symbols
    adj = {n: adjoint_symbol(d.model, n) for n in d.model.variables}
    lam = sym["lambda"]
    assert d.adjoint("J") == 1
    assert d.adjoint("L") == 1 and d.adjoint("s") == 1
    # dJ/do = prod(dJ/dL, dL/do) = dL/do: a named partial of the abstract loss
    assert d.adjoint("o") == mf.Partial("ell", "L", 0, sym["o"], sym["y"])
    # dJ/dW2 = (dJ/do) h^T + lambda W2, in that order
    assert d.adjoint("W2") == sp.MatAdd(sp.MatMul(adj["o"], sym["h"].T), sp.MatMul(lam, sym["W2"]))
    assert d.adjoint("W2").args[0] == sp.MatMul(adj["o"], sym["h"].T)
    # dJ/dh = W2^T (dJ/do)
    assert d.adjoint("h") == sp.MatMul(sym["W2"].T, adj["o"])
    # dJ/dz = dJ/dh (.) phi'(z)
    phi_prime = sp.Lambda(ex.ENTRY, sp.Derivative(sp.Function("phi")(ex.ENTRY), ex.ENTRY))
    assert d.adjoint("z") == HadamardProduct(adj["h"], ex.Map(phi_prime, sym["z"]))
    # dJ/dW1 = (dJ/dz) x^T + lambda W1
    assert d.adjoint("W1") == sp.MatAdd(sp.MatMul(adj["z"], sym["x"].T), sp.MatMul(lam, sym["W1"]))


def test_each_step_lists_one_term_per_consumer(d):
    assert [t.consumer for t in d.step("W2").terms] == ["o", "s"]
    assert [t.consumer for t in d.step("W1").terms] == ["z", "s"]
    assert [t.consumer for t in d.step("h").terms] == ["o"]
    # dJ/ds = 1 is written in: prod(dJ/ds, ds/dW2) = lambda W2
    assert d.step("W2").terms[1].value == sp.MatMul(d.symbols["lambda"], d.symbols["W2"])


def test_consts_get_no_adjoint(d):
    assert "lambda" not in d.order
    with pytest.raises(KeyError, match="no adjoint"):
        d.adjoint("lambda")


def test_fully_substituted_gradient_is_in_forward_variables_only(d):
    g = d.gradient("W1")
    names = {s.name for s in g.atoms(sp.Symbol, sp.MatrixSymbol)}
    assert not any(n.startswith("∂") for n in names)
    assert {"W2", "z", "x", "W1", "lambda"} <= names


def test_graph_has_the_textbooks_boxes_and_circles(d):
    g = d.graph
    boxes = [n for n, k in g.nodes(data="kind") if k == "variable"]
    assert boxes == ["x", "y", "W1", "W2", "lambda", "z", "h", "o", "L", "s", "J"]
    roles = dict(g.nodes(data="role"))
    assert roles["x"] == "input" and roles["W1"] == "param" and roles["lambda"] == "const"
    assert roles["z"] == "intermediate" and roles["J"] == "objective"
    # x -> (matmul) -> z with W1; phi(z) -> h; ell(o, y) -> L; + (L, s) -> J
    assert g.nodes["z#1"]["op"] == "matmul" and set(g.predecessors("z#1")) == {"W1", "x"}
    assert g.nodes["h#1"]["op"] == "phi" and list(g.successors("h#1")) == ["h"]
    assert g.nodes["L#1"]["op"] == "ell" and set(g.predecessors("L#1")) == {"o", "y"}
    assert g.nodes["J#1"]["op"] == "add" and set(g.predecessors("J#1")) == {"L", "s"}
    assert g.nodes["W1"]["latex"] == "\\boldsymbol{W}^{(1)}"
    assert g.nodes["lambda"]["latex"] == "\\lambda"
    assert str(g.nodes["W2"]["shape"]) == "matrix(q, h)"
    assert g.nodes["z"]["line"] == 10
    import networkx as nx
    assert nx.is_directed_acyclic_graph(g)


def test_deterministic():
    text = open(TEXTBOOK).read()
    first, second = sbp.derive(sbp.parse(text)), sbp.derive(sbp.parse(text))
    assert first.steps == second.steps
    assert list(first.graph.edges(data=True)) == list(second.graph.edges(data=True))


PHIS = ["tanh", "sigmoid", "relu"]
ELLS = ["squared_error", "cross_entropy"]


@pytest.mark.parametrize("phi", PHIS)
@pytest.mark.parametrize("ell", ELLS)
def test_check_passes(phi, ell):
    report = sbp.check(sbp.load(TEXTBOOK), bind={"phi": phi, "ell": ell})
    assert report.ok, str(report)
    assert set(report.errors) == {"x", "y", "W1", "W2"}
    assert max(report.errors.values()) <= 1e-7


@pytest.mark.parametrize("phi", PHIS)
@pytest.mark.parametrize("ell", ELLS)
def test_verify_passes(phi, ell):
    report = sbp.verify(sbp.load(TEXTBOOK), bind={"phi": phi, "ell": ell})
    assert report.ok, str(report)


def test_verify_proves_the_abstract_derivation():
    # phi and ell unbound: phi' and dL/do are compared as unknown functions.
    report = sbp.verify(sbp.load(TEXTBOOK))
    assert report.ok and report.entries == {"x": 2, "y": 4, "W1": 6, "W2": 12}


@pytest.mark.parametrize("phi", PHIS)
@pytest.mark.parametrize("ell", ELLS)
def test_pytorch_autograd_agrees(phi, ell):
    d = sbp.derive(sbp.load(TEXTBOOK, bind={"phi": phi, "ell": ell}))
    arrays = random_arrays(d.model, {"d": 5, "h": 4, "q": 3}, seed=1)
    J, grads = d.lambdify()(**arrays)
    J_torch, grads_torch = torch_value_and_grad(d.model, arrays, ["W1", "W2"])
    assert relative_error(J, J_torch) <= 1e-12
    for name in ("W1", "W2"):
        assert relative_error(grads[name], grads_torch[name]) <= 1e-10


def test_a_wrong_rule_is_caught_three_ways(monkeypatch):
    # tanh' written as 1 - tanh instead of 1 - tanh^2: all three proofs must object.
    def wrong(site):
        return ex.hadamard(site.adj, ex.Map(sp.Lambda(ex.ENTRY, 1 - sp.tanh(ex.ENTRY)),
                                            site.args[0]))
    monkeypatch.setitem(REGISTRY, "tanh", dataclasses.replace(REGISTRY["tanh"], rules=(wrong,)))
    bind = {"phi": "tanh", "ell": "squared_error"}
    model = sbp.load(TEXTBOOK, bind=bind)
    assert not sbp.check(model).ok
    assert not sbp.verify(model).ok
    d = sbp.derive(model)
    arrays = random_arrays(model, {"d": 5, "h": 4, "q": 3}, seed=0)
    _, grads = d.lambdify()(**arrays)
    _, grads_torch = torch_value_and_grad(model, arrays, ["W1"])
    assert relative_error(grads["W1"], grads_torch["W1"]) > 1e-3


def test_lambdify_returns_gradients_in_each_params_shape(d):
    f = d.lambdify(bind={"phi": "tanh", "ell": "squared_error"})
    rng = np.random.default_rng(0)
    arrays = dict(x=rng.normal(size=5), y=rng.normal(size=3), W1=rng.normal(size=(4, 5)),
                  W2=rng.normal(size=(3, 4)), **{"lambda": 0.1})
    J, grads = f(**arrays)
    assert isinstance(J, float)
    assert set(grads) == {"W1", "W2"}
    assert grads["W1"].shape == (4, 5) and grads["W2"].shape == (3, 4)
    # the textbook's formula, by hand
    z = arrays["W1"] @ arrays["x"]
    h = np.tanh(z)
    o = arrays["W2"] @ h
    dJ_do = o - arrays["y"]
    expected = 0.5 * np.sum(dJ_do**2) + 0.05 * (np.sum(arrays["W1"]**2) + np.sum(arrays["W2"]**2))
    assert J == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(grads["W2"], np.outer(dJ_do, h) + 0.1 * arrays["W2"], rtol=1e-13)
    dJ_dz = (arrays["W2"].T @ dJ_do) * (1 - h**2)
    np.testing.assert_allclose(grads["W1"], np.outer(dJ_dz, arrays["x"]) + 0.1 * arrays["W1"],
                               rtol=1e-13)


# --- the steps the book shows, as it shows them ---------------------------------------------

BOOK_STEPS = [  # the text's seven steps, in its order; step 3 is the regularizer's own gradients
    "∂J/∂L = 1", "∂J/∂s = 1",
    "∂J/∂o = prod(∂J/∂L, ∂L/∂o) = ∂L/∂o",
    "∂s/∂W1 = λ W1", "∂s/∂W2 = λ W2",
    "∂J/∂W2 = prod(∂J/∂o, ∂o/∂W2) + prod(∂J/∂s, ∂s/∂W2) = (∂J/∂o) hᵀ + λ W2",
    "∂J/∂h = prod(∂J/∂o, ∂o/∂h) = W2ᵀ (∂J/∂o)",
    "∂J/∂z = prod(∂J/∂h, ∂h/∂z) = ∂J/∂h ⊙ φ'(z)",
    "∂J/∂W1 = prod(∂J/∂z, ∂z/∂W1) + prod(∂J/∂s, ∂s/∂W1) = (∂J/∂z) xᵀ + λ W1",
]


def _backward_lines(text):
    section = text.split("\n\n")[1].splitlines()
    assert section[0].startswith("Backward")
    return [line.strip() for line in section[1:]]


def test_the_backward_section_is_the_books_seven_steps(d):
    assert _backward_lines(d.text(shapes=False)) == BOOK_STEPS


def test_a_scalars_own_gradients_are_data_of_the_sweep(d):
    sym = d.symbols
    (through_o, through_s), = [d.step("W2").terms]
    assert through_o.local is None  # do/dW2 is a Jacobian: no step shows it
    assert through_s.local == sp.MatMul(sym["lambda"], sym["W2"])
    assert d.step("o").terms[0].local == mf.Partial("ell", "L", 0, sym["o"], sym["y"])


def test_the_inputs_adjoints_on_request(d):
    every = _backward_lines(d.text(shapes=False, inputs=True))
    assert every == BOOK_STEPS + ["∂J/∂y = prod(∂J/∂L, ∂L/∂y) = ∂L/∂y",
                                  "∂J/∂x = prod(∂J/∂z, ∂z/∂x) = W1ᵀ (∂J/∂z)"]
    assert "Gradients\n  ∂J/∂W1" in d.text(inputs=True) and "  ∂J/∂x = W1ᵀ (∂J/∂z)\n" in \
        d.text(inputs=True).split("Gradients\n")[1]
    # only the steps on the way to dJ/dx: the regularizer does not lead there
    assert _backward_lines(d.text(shapes=False, wrt=["x"])) == [
        "∂J/∂L = 1", "∂J/∂o = prod(∂J/∂L, ∂L/∂o) = ∂L/∂o",
        "∂J/∂h = prod(∂J/∂o, ∂o/∂h) = W2ᵀ (∂J/∂o)",
        "∂J/∂z = prod(∂J/∂h, ∂h/∂z) = ∂J/∂h ⊙ φ'(z)",
        "∂J/∂x = prod(∂J/∂z, ∂z/∂x) = W1ᵀ (∂J/∂z)"]
    with pytest.raises(ValueError, match="no gradient of 'lambda' to show: it does not vary"):
        d.text(wrt=["lambda"])


def test_a_model_without_params_shows_its_inputs_adjoints():
    d = sbp.derive(sbp.parse("dim n\ninput x: vector(n)\nJ = sum(tanh(x))\nobjective J"))
    assert _backward_lines(d.text(shapes=False)) == ["∂J/∂x = 1 - tanh²(x)"]


def test_a_changed_local_gradient_is_caught_by_the_read_back(d):
    text = d.text().replace("∂s/∂W1 = λ W1", "∂s/∂W1 = λ W2ᵀ")
    report = sbp.prove_printed(d, formats=("text",), documents={"text": (text, False)})
    assert not report.ok and "∂s/∂W1 = λ W2ᵀ" in str(report)


def test_a_page_breaks_between_steps_never_inside_one(d):
    # one align* a section; the rows of a step joined by \\* (no page break after the row)
    tex = d.latex(standalone=True, inputs=True)
    assert "\\allowdisplaybreaks" in tex
    backward = tex.split("Backward pass")[1].split("\\end{align*}")[0]
    assert backward.count("\\begin{align*}") == 1
    rows = backward.split("\\begin{align*}")[1].split("\\\\")
    starts = [rows[0].strip()] + [row.strip() for row in rows[1:]]
    for before, row in zip(starts, starts[1:]):
        if row.startswith("*"):  # within a step: the row goes on with its &=
            assert row[1:].lstrip().startswith("&")
        else:  # a new step, set a little apart: its own left-hand side
            assert row.startswith("[3pt]") and row[5:].lstrip().startswith("\\frac{\\partial"), \
                (before, row)
