"""What the reader sees is what is proved: every printed formula read back and checked.

The reader (symbackprop.proofs.reading) parses the printed text and LaTeX again, under
every plausible reading, and symbackprop.proofs.readback compares the values with the
derivation's at random points.  These tests prove the reader itself (it must
see the ambiguities of ../reference, and reject wrong formulas), then run it on
every example in every format and notation, on every operator row and on the
cases once printed wrongly.
"""

import functools
import re
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.printing import documents
from symbackprop.proofs.evaluation import Binding, derivation_values, sample_values
from symbackprop.proofs.sizes import default_dims
from symbackprop.proofs.check import random_arrays
from symbackprop.printing.numpy_function import compile_derivation
from symbackprop.printing.names import Notation
from symbackprop.proofs.readback import printed_equations, prove_printed
from symbackprop.proofs.reading import ReadError, Value, Vocabulary, read

EXAMPLES = sorted(Path("examples").glob("*.sbp"))
# the inputs' adjoints too (shown on request): each rule is read back where it is printed
NOTATIONS = {
    "default, inputs": Notation(inputs=True),
    "substituted, no prod, nabla, T, mathbf, inputs": Notation(
        substituted=True, prod=False, nabla=True, transpose="T", bold="mathbf", inputs=True),
    "mathsf, no shapes": Notation(transpose="mathsf", shapes=False),
}


# --- the reader ----------------------------------------------------------------------

def _vocabulary():
    rng = np.random.default_rng(0)
    names = {"A": rng.standard_normal((3, 3)), "B": rng.standard_normal((3, 3)),
             "C": rng.standard_normal((3, 3)), "x": rng.standard_normal((3, 1)),
             "v": rng.standard_normal((3, 1)), "G": rng.standard_normal((3, 3)),
             "a": np.asarray(1.7), "b": np.asarray(-0.6), "c": np.asarray(2.3),
             "λ": np.asarray(0.8), "W": rng.standard_normal((3, 3))}
    return Vocabulary({k: [Value(v)] for k, v in names.items()}, sizes=(3, 4))


@pytest.mark.parametrize("formula", [
    "A B ⊙ C", "A ⊙ B C", "a/b c", "a/x ⊙ x", "x^⊙3/2", "λ/2 ‖W‖²", "vᵀ G v/vᵀ v",
    "sum(𝟏)",
])
def test_each_pattern_of_the_reference_has_two_readings(formula):
    assert len(read(formula, _vocabulary())) >= 2, formula


@pytest.mark.parametrize("formula", [
    "(A B) ⊙ C", "A (B ⊙ C)", "(a/b) c", "a/(b c)", "x^⊙(3/2)", "(x^⊙3)/2", "(λ/2) ‖W‖²",
    "(vᵀ G v)/(vᵀ v)", "-2 A x", "x vᵀ", "(A x)ᵀ", "1 - tanh²(x)", "σ(A x) ⊙ x", "‖A‖²/2",
    "𝟙[A x > 0] ⊙ x", "sum(x)/c",
])
def test_bracketed_forms_have_one_reading(formula):
    assert len(read(formula, _vocabulary())) == 1, formula


def test_shared_conventions_of_every_reader():
    v = _vocabulary()
    A, x = (v.names[k][0].value for k in ("A", "x"))
    (value,) = read("-2 x xᵀ", v)  # ᵀ binds to the atom before it, the minus to the product
    assert np.allclose(value, -2 * x @ x.T)
    (value,) = read("(A x) ⊙ x", v)
    assert np.allclose(value, (A @ x) * x)
    (value,) = read("tanh²(x)", v)  # the square of tanh, entry by entry
    assert np.allclose(value, np.tanh(x) ** 2)
    (value,) = read("1 - σ(x)", v)  # a number minus a matrix: entry by entry
    assert np.allclose(value, 1 - 1 / (1 + np.exp(-x)))


def test_unreadable_formulas_are_errors():
    for formula in ["A +", "(A x", "A $ x", "W1 x"]:
        with pytest.raises(ReadError):
            read(formula, _vocabulary())


def test_no_reading_of_a_mismatched_product():
    with pytest.raises(ReadError):
        read("x A", _vocabulary())  # a 3-vector times a 3 x 3 matrix is no product


# --- the evaluator agrees with the generated code ------------------------------------

BIND = {"phi": "tanh", "ell": "squared_error"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_evaluator_agrees_with_the_generated_code(path):
    model = sbp.load(path)
    bind = {k: v for k, v in BIND.items() if k in model.functions}
    d = sbp.derive(model.bind(bind) if bind else model)
    m = d.model
    dims = default_dims(m)
    sizes = {m.dims[n]: s for n, s in dims.items()}
    ev = derivation_values(d, sample_values(m, dims, 0), sizes, Binding(0))
    wrt = [n for n in d.order if m.variables[n].role in ("param", "input")]
    J, grads = compile_derivation(d, wrt)(**random_arrays(m, dims, 0))
    assert np.isclose(float(ev.env[d.symbols[m.objective]]), J, rtol=1e-12, atol=0)
    for name in wrt:
        mine = ev.env[d.step(name).adjoint]
        assert np.allclose(mine, np.reshape(grads[name], np.shape(mine)), rtol=1e-11, atol=1e-13)


def test_bound_stand_ins_have_the_derivatives_they_claim():
    b, h = Binding(1), 1e-5
    x = np.linspace(-2, 2, 7)
    for order in range(3):
        numeric = (b.entrywise("phi", x + h, order) - b.entrywise("phi", x - h, order)) / (2 * h)
        assert np.allclose(b.entrywise("phi", x, order + 1), numeric, rtol=1e-8, atol=1e-8)
    args = [np.array([[0.3], [-0.2]]), np.array([[1.1], [0.4]])]
    for slot in range(2):
        for k in range(2):
            up = [a.copy() for a in args]
            down = [a.copy() for a in args]
            up[slot][k] += h
            down[slot][k] -= h
            numeric = (b.scalar("ell", up) - b.scalar("ell", down)) / (2 * h)
            assert np.isclose(b.partial("ell", slot, args)[k, 0], numeric, rtol=1e-8)
    tangent = np.array([[0.7], [-1.3]])
    for slot in range(2):
        for along in range(2):
            up = [a.copy() for a in args]
            down = [a.copy() for a in args]
            up[along] = up[along] + h * tangent
            down[along] = down[along] - h * tangent
            numeric = (b.partial("ell", slot, up) - b.partial("ell", slot, down)) / (2 * h)
            assert np.allclose(b.second_partial("ell", slot, along, args, tangent), numeric,
                               rtol=1e-7)


# --- every example, every format, every notation --------------------------------------

@functools.lru_cache(maxsize=None)
def _derivation(path):
    return sbp.derive(sbp.load(path))


@pytest.mark.parametrize("notation", NOTATIONS, ids=list(NOTATIONS))
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_printed_formula_of_every_example_reads_back(path, notation):
    report = prove_printed(_derivation(path), notation=NOTATIONS[notation])
    assert report.ok, str(report)
    assert set(report.counts) == {"text", "LaTeX", "Markdown"} and min(report.counts.values()) > 0


def test_the_textbook_counts_every_formula():
    report = prove_printed(_derivation(Path("examples/textbook_mlp.sbp")))
    # 6 forward lines, 9 adjoints, 2 gradients of the params
    assert report.counts == {"text": 17, "LaTeX": 17, "Markdown": 17}


def test_equations_come_from_every_section():
    d = _derivation(Path("examples/textbook_mlp.sbp"))
    text = printed_equations(documents.text(d, substituted=True), latex=False)
    assert [e.lhs for e in text][:3] == ["z", "h", "o"]
    w1 = [e for e in text if e.lhs == "∂J/∂W1"][0]
    assert w1.sides[1:] == ("(∂J/∂z) xᵀ + λ W1", "((W2ᵀ (∂L/∂o)) ⊙ φ'(z)) xᵀ + λ W1")
    tex = printed_equations(documents.latex(d, standalone=True), latex=True)
    assert len(tex) == len([e for e in text if e.lhs != "∂J/∂J"]) > 0


# --- a wrong printed formula is caught -------------------------------------------------

@pytest.mark.parametrize("wrong, right", [
    ("(∂J/∂o) hᵀ + λ W2", "(∂J/∂o) hᵀ - λ W2"),   # a sign
    ("(∂J/∂o) hᵀ + λ W2", "(∂J/∂o) hᵀ + 2 λ W2"),  # a factor
    ("W2ᵀ (∂J/∂o)", "W2ᵀ (∂J/∂o) ⊙ φ'(z)"),        # a wrong term
    ("∂J/∂h ⊙ φ'(z)", "∂J/∂h ⊙ φ''(z)"),            # a derivative's order
    ("(∂J/∂z) xᵀ + λ W1", "(∂J/∂z) xᵀ"),            # a dropped term
    ("(λ/2) (‖W1‖² + ‖W2‖²)", "λ/2 (‖W1‖² + ‖W2‖²)"),  # an ambiguous slash
])
def test_a_changed_printed_formula_fails(wrong, right):
    d = _derivation(Path("examples/textbook_mlp.sbp"))
    text = documents.text(d)
    assert wrong in text
    report = prove_printed(d, formats=("text",), documents={"text": (text.replace(wrong, right),
                                                                      False)})
    assert not report.ok
    assert right in str(report)


SPREADS = """\
dim n, d
param X: matrix(n, d)
param Y: matrix(n, d)
param V: matrix(n, d)
param U: matrix(n, d)
input C: matrix(n, d)
s = sum_cols(X)
r = sum_rows(Y)
m = mean_cols(V)
t = sum_cols(V)
p = sum_cols(U)
q = sum_rows(U)
J = sum(s * s) + sum(r * r) + sum(m * t) + sum(p * p) + sum(q * q) + sum(C * center_cols(X))
objective J
"""


def test_a_spread_formula_writes_its_vector_of_ones_with_its_size():
    # ∂J/∂X = 𝟏 (∂J/∂s)ᵀ alone does not say how many rows 𝟏 has: 𝟏_n does; inside a sum or
    # a product the other operand fixes it, and 𝟏 stays bare
    d = sbp.derive(sbp.parse(SPREADS))
    text, latex = documents.text(d, prod=False), documents.latex(d, prod=False)
    assert "∂J/∂Y = (∂J/∂r) 𝟏_dᵀ " in text, text
    assert "∂J/∂V = (1/n) 𝟏_n (∂J/∂m)ᵀ + 𝟏_n (∂J/∂t)ᵀ " in text  # neither fixes the rows
    assert "∂J/∂U = 𝟏 (∂J/∂p)ᵀ + (∂J/∂q) 𝟏ᵀ " in text  # each fixes what the other leaves
    assert "∂J/∂X = 𝟏 (∂J/∂s)ᵀ + C - (1/n) (𝟏 𝟏ᵀ) C " in text and "s = Xᵀ 𝟏 " in text
    assert "\\mathbf{1}_{d}^\\top" in latex and "\\mathbf{1}_{n} \\left(" in latex, latex
    for notation in NOTATIONS.values():
        report = prove_printed(d, notation=notation)
        assert report.ok, str(report)
    for right, wrong in [("𝟏_n (∂J/∂t)ᵀ", "𝟏_d (∂J/∂t)ᵀ"), ("(∂J/∂r) 𝟏_dᵀ", "(∂J/∂r) 𝟏_nᵀ")]:
        report = prove_printed(d, formats=("text",),
                               documents={"text": (text.replace(right, wrong), False)})
        assert not report.ok, wrong


# --- the cases once printed wrongly ------------------------------------------------------

CASES = {
    "sigmoid layer": ("dim d\ninput x: vector(d)\nparam W: matrix(d, d)\n"
                      "J = sum(sigmoid(W @ x))\nobjective J",
                      ["∂J/∂x = Wᵀ ((1 - σ(W x)) ⊙ σ(W x))",
                       "∂J/∂W = ((1 - σ(W x)) ⊙ σ(W x)) xᵀ"]),
    "product of functions": ("dim d\ninput z: vector(d)\nparam V: matrix(d, d)\n"
                             "o = V @ (sigmoid(z) * tanh(z))\np = (sigmoid(z) * tanh(z))^3\n"
                             "J = sum(o) + sum(p)\nobjective J",
                             ["o = V (σ(z) ⊙ tanh(z))", "p = (σ(z) ⊙ tanh(z))^⊙3"]),
    "three calls of ell": ("dim d\ninput o: vector(d)\ninput y: vector(d)\nfunc phi\n"
                           "func ell(a, b)\nJ = 3 * ell(o, y) + ell(phi(o), y) + ell(o, o)\n"
                           "objective J",
                           ["∂J/∂y = ∂₂ℓ(φ(o), y) + 3 ∂₂ℓ(o, y)"]),
    "two calls of ell": ("dim d\ninput o: vector(d)\ninput y: vector(d)\ninput t: vector(d)\n"
                         "func ell(a, b)\nJ = ell(o, y) + ell(o, t)\nobjective J",
                         ["∂J/∂o = ∂₁ℓ(o, t) + ∂₁ℓ(o, y)", "∂J/∂y = ∂ℓ/∂y"]),
    "Rayleigh quotient": ("dim n\ninput v: vector(n)\nparam G: matrix(n, n)\n"
                          "J = (v.T @ G @ v) / (v.T @ v)\nobjective J",
                          ["J = (vᵀ G v)/(vᵀ v)"]),
    "power over two": ("dim n\nparam p: vector(n)\ninput t: scalar\n"
                       "J = sum(p^3) / 2 + t^4 / 4\nobjective J",
                       ["J = t⁴/4 + sum(p^⊙3)/2", "∂J/∂p = (3/2) p^⊙2"]),
    "a fraction before a call": ("dim n\nparam x: vector(n)\nconst delta: scalar\n"
                                 "J = delta^2 / 7 * sum(x * x)\nobjective J",
                                 ["J = (δ²/7) sum(x ⊙ x)", "∂J/∂x = ((2/7) δ²) x"]),
    "a square of a difference": ("dim n\nparam a: scalar\ninput b: scalar\ninput x: vector(n)\n"
                                 "J = (a - b)^2 * sum(x)\nobjective J",
                                 ["J = (a - b)² sum(x)", "∂J/∂x = (a - b)² 𝟏"]),
    "an input named I": ("dim n\ninput I: matrix(n, n)\nparam W: matrix(n, n)\n"
                         "J = trace(I @ W) + trace(W)\nobjective J",
                         ["∂J/∂W = I_n + Iᵀ"]),
    "a square root in a layer norm": ("dim m, n\nparam A: matrix(m, n)\ninput C: matrix(m, n)\n"
                                      "J = sum(C * sqrt(square(A) + 1))\nobjective J",
                                      ["sqrt(A^⊙2 + 𝟏 𝟏ᵀ)"]),
    "a zero adjoint substituted": ("dim m, k\nparam p0: matrix(k, m)\nparam p1: vector(m)\n"
                                   "input c1: scalar\nv1 = p0 @ p1\nv2 = norm(v1) - norm(v1)\n"
                                   "J = c1 * v2 + sum(p0) + sum(p1)\nobjective J",
                                   ["= 𝟏 𝟏ᵀ"]),
}


@pytest.mark.parametrize("case", CASES)
def test_cases_once_printed_wrongly(case):
    text, printed = CASES[case]
    d = sbp.derive(sbp.parse(text, filename=case))
    shown = documents.text(d, substituted=True, prod=False, inputs=True)
    for line in printed:
        assert line in shown, shown
    for notation in NOTATIONS.values():
        report = prove_printed(d, notation=notation)
        assert report.ok, str(report)


def test_the_old_prints_were_wrong_or_ambiguous():
    d = sbp.derive(sbp.parse(CASES["sigmoid layer"][0]))
    text = documents.text(d, inputs=True)
    old = text.replace("Wᵀ ((1 - σ(W x)) ⊙ σ(W x))", "Wᵀ (1 - σ(W x)) ⊙ σ(W x)")
    assert old != text
    report = prove_printed(d, formats=("text",), documents={"text": (old, False)})
    assert not report.ok and "ambiguous" in str(report)
    d = sbp.derive(sbp.parse(CASES["two calls of ell"][0]))
    text = documents.text(d, inputs=True)
    old = text.replace("∂₁ℓ(o, t) + ∂₁ℓ(o, y)", "∂ℓ/∂o + ∂ℓ/∂o")
    assert old != text
    report = prove_printed(d, formats=("text",), documents={"text": (old, False)})
    assert not report.ok and "ambiguous" in str(report)


# --- every operator row ---------------------------------------------------------------------

@pytest.mark.parametrize("notation", ["default, inputs",
                                      "substituted, no prod, nabla, T, mathbf, inputs"])
def test_every_operator_row_reads_back(notation):
    from test_operators import ROWS, derivation
    failures = []
    for row in ROWS:
        report = prove_printed(derivation(row), notation=NOTATIONS[notation])
        if not report.ok:
            failures.append(f"{row}: {report}")
    assert not failures, "\n".join(failures)


def test_check_reports_the_printed_formulas(capsys):
    from symbackprop.cli import main
    status = main(["check", "examples/textbook_mlp.sbp", "--bind", "phi=tanh,ell=squared_error"])
    out = capsys.readouterr().out
    assert status == 0
    assert "printed formulas: text 17/17, LaTeX 17/17 read back equal" in out


# --- second order: every H v document -------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_printed_formula_of_every_hvp_document_reads_back(path):
    from symbackprop import derive_hvp
    report = prove_printed(derive_hvp(_derivation(path)))
    assert report.ok, str(report)
    assert min(report.counts.values()) > len(_derivation(path).steps)  # tangents were read


def test_a_changed_tangent_fails():
    from symbackprop import derive_hvp
    hvp = derive_hvp(_derivation(Path("examples/textbook_mlp.sbp")))
    text = documents.hvp_text(hvp)
    for right, wrong in [("∂J/∂h ⊙ φ''(z) ⊙ R{z}", "∂J/∂h ⊙ φ'(z) ⊙ R{z}"),
                         ("(∂²L/∂o∂oᵀ) R{o}", "(∂²L/∂o∂yᵀ) R{o}"),
                         ("R{∂J/∂z} xᵀ + λ V_W1", "R{∂J/∂z} xᵀ + λ V_W2ᵀ")]:
        assert right in text
        report = prove_printed(hvp, formats=("text",),
                               documents={"text": (text.replace(right, wrong), False)})
        assert not report.ok, wrong


def test_a_product_inside_an_entrywise_function_is_hadamard():
    # the H v of a gate: σ'' written with juxtaposed vectors read as a matrix product
    from symbackprop import derive_hvp
    hvp = derive_hvp(_derivation(Path("examples/gated_unit.sbp")))
    text = documents.hvp_text(hvp)
    assert "(1 - σ(a))^⊙2 ⊙ σ(a) - σ²(a) ⊙ (1 - σ(a))" in text
    assert prove_printed(hvp).ok


def test_a_negated_sum_of_scalar_products_keeps_its_brackets_in_latex():
    # found by the read-back: -(aᵀ b + cᵀ d) printed as - aᵀ b + cᵀ d in LaTeX
    from symbackprop import derive_hvp
    d = sbp.derive(sbp.parse("dim m\nparam p0: vector(m)\nparam p1: vector(m)\ninput C1: vector(m)"
                             "\nv1 = (0 + p0)^1\nv2 = cross_entropy(p0, v1)\n"
                             "v6 = cross_entropy(p1, p1) - v1\nJ = C1.T @ v6 + v2 + sum(p1)\n"
                             "objective J"))
    hvp = derive_hvp(d)
    report = prove_printed(hvp)
    assert report.ok, str(report)
    assert "= - \\Bigl(" in documents.hvp_latex(hvp) or "= -\\left(" in documents.hvp_latex(hvp)


def test_a_quotient_beside_a_hadamard_product_is_bracketed():
    # sqrt's derivative at a sum, 1/(2 sqrt(u)), beside ⊙ z read two ways as printed bare
    d = sbp.derive(sbp.parse("dim n\ninput x: vector(n)\nparam W: matrix(n, n)\nz = W @ x\n"
                             "J = sum(sqrt(z * z + 1))\nobjective J\n"))
    assert "((1/(2 sqrt(z ⊙ z + 𝟏))) ⊙ z)" in d.text(prod=False)
    assert prove_printed(d).ok


def test_abs_prints_as_the_model_writes_it_not_as_a_determinant():
    d = sbp.derive(sbp.parse("dim n\ninput x: vector(n)\nparam W: matrix(n, n)\n"
                             "const lambda: scalar\nJ = sum(tanh(W @ x)) + lambda * sum(abs(W))\n"
                             "objective J\n"))
    assert "λ sum(abs(W))" in d.text() and "λ sign(W)" in d.text()
    latex = d.latex()
    assert "\\operatorname{abs}{\\left(\\boldsymbol{W}\\right)}" in latex and "\\left|" not in latex
    assert prove_printed(d).ok


def test_a_negated_sum_of_scalar_products_after_another_term_keeps_its_brackets():
    # R{p2 - p0ᵀ log_softmax(p0)}: SymPy's LaTeX printed v - aᵀ b + cᵀ d for v - (aᵀ b + cᵀ d)
    d = sbp.derive(sbp.parse("dim m\nparam p0: vector(m)\nparam p2: scalar\n"
                             "v1 = p2 + cross_entropy(p0, p0)\nJ = log(1 + sigmoid(v1)) + p2\n"
                             "objective J\n"))
    hvp = sbp.derive_hvp(d)
    latex = hvp.latex()
    assert re.search(r"v_\{p\^\{\(2\)\}\}\s*(\\\\\*?\s*&\\quad)?\s*- \\(left|Bigl)\(", latex)
    assert prove_printed(hvp).ok  # it failed: 10 of 11 LaTeX formulas read back equal


# --- piecewise functions: indicators, clip, max and min, Φ and φ ---------------------------

PIECEWISE = """\
dim n, d
input X: matrix(n, d)
input y: vector(n)
param w: vector(d)
param b: scalar
const delta: scalar
s = X @ w + b
z = leaky_relu(s, 0.1)
e = elu(s)
g = gelu(s)
m = max(0, 1 - y * s)
J = sum(m) + sum(z) + sum(e) + sum(g) + huber(s - y, delta) + sum(min(s, y))
objective J
"""


def test_indicators_clip_max_min_and_the_normal_distribution_read_back():
    d = sbp.derive(sbp.parse(PIECEWISE))
    text, latex = d.text(), d.latex()
    for printed in ("𝟙[s ≤ 0]", "𝟙[e ≤ 0]", "𝟙[𝟏 > y ⊙ s]", "𝟙[y > s]", "clip(s - y, -δ, δ)",
                    "max(0, 𝟏 - (y ⊙ s))", "min(s, y)", "Φ(s)", "φ(s)"):
        assert printed in text, printed
    assert "\\mathbb{I}\\left[\\boldsymbol{s} \\leq 0\\right]" in latex
    assert "\\max{\\left(0, " in latex and "\\Phi{\\left(" in latex
    assert "\\varphi{\\left(" in latex
    assert "is the standard normal distribution function" in text
    assert prove_printed(d).ok, str(prove_printed(d))
    hvp = sbp.derive_hvp(d)
    assert prove_printed(hvp).ok, str(prove_printed(hvp))


def test_a_wrong_indicator_fails_to_read_back():
    # 𝟙[s ≤ 0] read as 𝟙[s > 0] is another value: the relation is read, not assumed
    rng = np.random.default_rng(1)
    s = rng.standard_normal((4, 1))
    vocabulary = Vocabulary({"s": [Value(s)]}, sizes=(4,))
    (at_most,), (above,) = read("𝟙[s ≤ 0]", vocabulary), read("𝟙[s > 0]", vocabulary)
    assert np.array_equal(at_most, (s <= 0).astype(float)) and np.array_equal(above, 1 - at_most)
    latex = Vocabulary({"s": [Value(s)]}, sizes=(4,), latex=True)
    (read_latex,) = read("\\mathbb{I}\\left[s \\leq 0\\right]", latex)
    assert np.array_equal(read_latex, at_most)
    (clipped,) = read("clip(s, -0.5, 0.5)", vocabulary)
    assert np.array_equal(clipped, np.clip(s, -0.5, 0.5))


def test_the_density_of_gelu_is_never_the_models_phi():
    # a model's phi prints φ: the density of the standard normal is then normal_pdf
    d = sbp.derive(sbp.parse("dim n\ninput x: vector(n)\nparam W: matrix(n, n)\nfunc phi\n"
                             "h = gelu(W @ x)\nJ = sum(phi(h))\nobjective J\n"))
    text, latex = d.text(), d.latex()
    assert "φ'(h)" in text and "normal_pdf(W x)" in text and "φ(W x)" not in text
    assert "\\operatorname{normal\\_pdf}" in latex
    assert "normal_pdf(x) = exp(-x²/2)/√(2π) its density" in text
    assert prove_printed(d).ok, str(prove_printed(d))


# --- the linear algebra of square matrices ---------------------------------------------------

def _square_vocabulary(latex=False):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    bold = "\\boldsymbol{X}" if latex else "X"
    return x, Vocabulary({bold: [Value(x)], "v" if not latex else "\\boldsymbol{v}":
                          [Value(np.arange(1.0, 4.0).reshape(3, 1))]}, sizes=(3,), latex=latex)


def test_the_inverse_its_transpose_and_the_determinants_read_one_way():
    x, v = _square_vocabulary()
    inverse = np.linalg.inv(x)
    for formula, value in [("X⁻¹", inverse), ("X⁻ᵀ", inverse.T), ("-X⁻ᵀ X X⁻ᵀ", -inverse.T @ x
                                                                     @ inverse.T),
                           ("det(X) X⁻ᵀ", np.linalg.det(x) * inverse.T),
                           ("log det(X)", np.log(np.linalg.det(x))),
                           ("(log det(X))²", np.log(np.linalg.det(x)) ** 2),
                           ("diag(v)", np.diag([1.0, 2.0, 3.0])),
                           ("diag(X)", np.diagonal(x).reshape(3, 1)), ("X + I", x + np.eye(3))]:
        (read_value,) = read(formula, v)
        assert np.allclose(read_value, value), formula
    x, v = _square_vocabulary(latex=True)
    for formula, value in [("\\boldsymbol{X}^{-1}", inverse),
                           ("\\boldsymbol{X}^{-\\top}", inverse.T),
                           ("\\boldsymbol{X}^{-T}", inverse.T),
                           ("\\log\\det\\left(\\boldsymbol{X}\\right)", np.log(np.linalg.det(x))),
                           ("\\det\\left(\\boldsymbol{X}\\right) \\boldsymbol{X}^{-\\top}",
                            np.linalg.det(x) * inverse.T)]:
        (read_value,) = read(formula, v)
        assert np.allclose(read_value, value), formula


def test_a_name_printed_like_the_identity_gives_the_identity_its_size():
    d = sbp.derive(sbp.parse("dim n, k\ninput I: matrix(n, n)\nparam W: matrix(n, n)\n"
                             "J = trace(I @ W + 2 * eye(n))\nobjective J\n"))
    assert d.pretty(d.forward["J"]) == "tr(I W + 2 I_n)"
    assert "\\boldsymbol{I} \\boldsymbol{W} + 2 \\mathbf{I}_{n}" in d.latex()
    assert prove_printed(d).ok
    two = sbp.derive(sbp.parse("dim n, k\nparam W: matrix(n, n)\nparam V: matrix(k, k)\n"
                               "J = trace(W + eye(n)) + trace(V - eye(k))\nobjective J\n"))
    assert "I_n" in two.pretty(two.forward["J"]) and "I_k" in two.pretty(two.forward["J"])
    one = sbp.derive(sbp.parse("dim n\nparam W: matrix(n, n)\nJ = trace(W + eye(n))\n"
                               "objective J\n"))
    assert one.pretty(one.forward["J"]) == "tr(W + I)"
