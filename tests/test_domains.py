"""Declared domains: drawn from, assumed where defined, used by rules, stated in documents.

A model that takes ``log`` or ``sqrt`` of its data is defined only where the
data are positive: without a domain, `check` draws standard normal data and
stops at the first non-finite value; with one, it draws from the domain, and
`verify` proves the gradients with positive entry symbols.
"""

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.primitives.linear_algebra import MatrixInverse
from symbackprop.proofs.check import _largest_step, random_arrays

#: log and sqrt of a positive input, log(u) and log(1 - u) of a unit one, and both
#: domains on scalars (a const and a param) and on a matrix.
DOMAINS = """\
dim n, m
input x: vector(n) positive as "\\mathbf{x}"
input u: vector(n) unit
input A: matrix(m, n) positive
param w: vector(n)
param s: scalar unit
const c: scalar positive
r = log(x) + sqrt(x) * w
J = sum(w * r) + sum(log(u) + log(1 - u)) + sum(sqrt(A) @ (w * u)) + c * log(s) + log(1 - s)
objective J
"""


def test_a_declaration_states_its_domain():
    model = sbp.parse(DOMAINS)
    domains = {n: v.domain for n, v in model.variables.items() if v.declared}
    assert domains == {"x": "positive", "u": "unit", "A": "positive", "w": None, "s": "unit",
                       "c": "positive"}
    assert model.variables["x"].latex == "\\mathbf{x}"  # `as` still follows the domain
    assert model.variables["r"].domain is None  # an assignment has none


def test_data_are_drawn_from_the_domain():
    model = sbp.parse(DOMAINS)
    for seed in range(20):
        arrays = random_arrays(model, {"n": 4, "m": 3}, seed)
        assert np.all(arrays["x"] > 0) and np.all(arrays["A"] > 0) and arrays["c"] > 0
        assert np.all((0 < arrays["u"]) & (arrays["u"] < 1)) and 0 < arrays["s"] < 1


def test_a_step_stays_inside_the_domain():
    value, direction = np.array([0.1, 0.9, 0.5]), np.array([0.6, -0.8, 0.0])
    step = _largest_step(value, direction, "unit", 1.0)
    assert step > 0
    for t in (step, -step):
        moved = value + t * direction
        assert np.all((0 < moved) & (moved < 1))
    assert _largest_step(value, direction, "real", 1.0) == 1.0


def test_check_and_verify_pass_where_the_model_is_defined():
    model = sbp.parse(DOMAINS)
    report = sbp.check(model)
    assert report.ok, str(report)
    assert set(report.errors) == {"x", "u", "A", "w", "s"}
    report = sbp.verify(model, dims={"n": 2, "m": 1})
    assert report.ok, str(report)


def test_without_the_domain_check_meets_log_of_a_negative_number():
    model = sbp.parse(DOMAINS.replace(" positive", "").replace(" unit", ""))
    report = sbp.check(model)
    assert not report.ok
    assert report.problems and "is not finite" in report.problems[0]


def test_a_positive_scalar_is_a_positive_symbol():
    d = sbp.derive(sbp.parse(DOMAINS))
    assert d.symbols["s"].is_positive and d.symbols["c"].is_positive
    assert not d.symbols["w"].is_positive  # a MatrixSymbol carries no assumption
    # SymPy uses it: the derivative of sqrt(c^2) s is c, not c / |c|
    d = sbp.derive(sbp.parse("const c: scalar positive\nparam s: scalar\n"
                             "J = sqrt(c^2) * s\nobjective J"))
    assert d.adjoint("s") == d.symbols["c"]


@pytest.mark.parametrize("name", ["positive", "unit", "onehot", "simplex", "symmetric", "spd"])
def test_the_domain_words_are_not_keywords(name):
    model = sbp.parse(f"dim n\ninput {name}: matrix(n, n) {name}\nJ = sum(exp({name}))\n"
                      "objective J")
    assert model.variables[name].domain == name


# --- the domains of whole vectors and matrices ------------------------------------------

WHOLE = """\
dim n, q
input Y: matrix(n, q) onehot
input y: vector(q) onehot
input P: matrix(n, q) simplex
input p: vector(q) simplex
param O: matrix(n, q)
param o: vector(q)
param S: matrix(q, q) spd
param T: matrix(q, q) symmetric
J = cross_entropy(O, Y) + cross_entropy(o, y) + cross_entropy(O, P) + cross_entropy(o, p)
K = J + logdet(S) + trace(inv(S) @ T)
objective K
"""


def test_the_domains_of_whole_values_are_drawn_from():
    model = sbp.parse(WHOLE)
    for seed in range(10):
        a = random_arrays(model, {"n": 3, "q": 4}, seed)
        assert np.all(np.isin(a["Y"], (0.0, 1.0))) and np.all(a["Y"].sum(axis=1) == 1)
        assert np.all(np.isin(a["y"], (0.0, 1.0))) and a["y"].sum() == 1
        assert np.all(a["P"] >= 0) and np.allclose(a["P"].sum(axis=1), 1)
        assert np.all(a["p"] >= 0) and np.isclose(a["p"].sum(), 1)
        assert np.array_equal(a["T"], a["T"].T) and np.array_equal(a["S"], a["S"].T)
        assert np.min(np.linalg.eigvalsh(a["S"])) >= 4 - 1e-12  # A Aᵀ + n I


def test_lines_summing_to_one_give_the_textbook_gradient_of_cross_entropy():
    d = sbp.derive(sbp.parse(WHOLE))
    assert d.pretty(d.step("O").result) == "(1/n) (softmax(O) - P) + (1/n) (softmax(O) - Y)"
    assert d.pretty(d.step("o").result) == "2 softmax(o) - p - y"
    # without the domain, the exact rule for any targets: each line weighted by its sum
    general = sbp.derive(sbp.parse(WHOLE.replace(" onehot", "").replace(" simplex", "")))
    assert "⊙" in general.pretty(general.step("O").result)


def test_a_param_with_a_domain_keeps_the_general_rule():
    # a param moves (training steps, the directions of H v) off its domain's lines
    d = sbp.derive(sbp.parse("dim q\nparam o: vector(q)\nparam y: vector(q) simplex\n"
                             "J = cross_entropy(o, y)\nobjective J\n"))
    assert "sum(y)" in d.pretty(d.step("o").result)


def test_check_and_verify_prove_the_rules_on_the_domains():
    model = sbp.parse(WHOLE)
    report = sbp.check(model, dims={"n": 2, "q": 3})
    assert report.ok, str(report)
    assert set(report.errors) == {"Y", "y", "P", "p", "O", "o", "S", "T"}
    report = sbp.verify(model, dims={"n": 2, "q": 2})
    assert report.ok, str(report)


def test_the_inverse_transpose_of_a_symmetric_matrix_prints_as_its_inverse():
    d = sbp.derive(sbp.parse(WHOLE))
    assert d.pretty(d.adjoint("S")) == "-S⁻¹ Tᵀ S⁻¹ + S⁻¹"
    # the derivation keeps the unconstrained gradient, S⁻ᵀ, which the generated code computes
    assert d.step("S").result.has(sp.Transpose(MatrixInverse(d.symbols["S"])))


def test_the_documents_state_the_domains_before_the_forward_pass():
    d = sbp.derive(sbp.parse(WHOLE))
    text = d.text()
    assert text.startswith("Domains\n  Y ∈ {0,1}^(n×q), each row one-hot.\n"
                           "  y ∈ {0,1}^q, one-hot.\n"
                           "  P ∈ ℝ^(n×q), each row in the probability simplex (entries ≥ 0 "
                           "summing to 1).\n")
    assert "  S ∈ 𝕊₊₊^q, symmetric positive definite.\n  T ∈ 𝕊^q, symmetric.\n\nForward" \
        in text
    latex = d.latex()
    assert "$\\boldsymbol{S} \\in \\mathbb{S}_{++}^{q}$, symmetric positive definite." in latex
    assert "$\\boldsymbol{Y} \\in \\{0, 1\\}^{n \\times q}$, each row one-hot." in latex
    positive = sbp.derive(sbp.parse(DOMAINS))
    assert "  c > 0.\n" in positive.text() and "  u ∈ (0, 1)^n.\n" in positive.text()


@pytest.mark.parametrize("declaration, message", [
    ("param X: matrix(n, q) spd", "'spd' is a domain of square matrices, and 'X' is a matrix"),
    ("param X: vector(n) symmetric", "'symmetric' is a domain of square matrices"),
    ("input y: scalar onehot", "'onehot' is a domain of vectors and matrices (each row)"),
    ("input y: matrix(n, q) simplx", "unknown domain 'simplx'"),
])
def test_a_domain_the_shape_cannot_have_is_an_error_at_the_declaration(declaration, message):
    with pytest.raises(sbp.ModelError) as err:
        sbp.parse(f"dim n, q\n{declaration}\nJ = sum(exp(X))\nobjective J\n", filename="m.sbp")
    assert message in str(err.value)
    assert "m.sbp:2:" in str(err.value)


#: a model with a kept loop: families of data with domains, and whole values with them
LOOPED = """\
dim n, d, T
input x[t]: vector(d) positive for t in 1..T
input y[t]: vector(n) onehot for t in 1..T
input S: matrix(d, d) spd
const c: scalar positive
param U: matrix(n, d)
L = sum(cross_entropy(U @ log(x[t]), y[t]) for t in 1..T) + c * logdet(S)
objective L
"""


def test_the_loop_documents_state_the_domains_as_the_plain_ones_do():
    d = sbp.derive(sbp.parse(LOOPED))
    stated = ("  S ∈ 𝕊₊₊^d, symmetric positive definite.\n  c > 0.\n"
              "  x_t ∈ ℝ^d, entries > 0.\n  y_t ∈ {0,1}^n, one-hot.\n\n")
    assert d.text().startswith("Domains\n" + stated + "Forward\n")
    in_chinese = ("  S ∈ 𝕊₊₊^d，对称正定。\n  c > 0。\n  x_t ∈ ℝ^d，元素 > 0。\n"
                  "  y_t ∈ {0,1}^n，是独热向量。\n\n")
    assert d.text(lang="zh").startswith("取值范围\n" + in_chinese + "正向传播\n")
    plain = sbp.derive(sbp.parse(LOOPED.replace("for t in 1..T", "").replace("[t]", "")
                                 .replace("sum(cross_entropy", "(cross_entropy")))
    for line in plain.text().split("\n\n")[0].splitlines()[1:]:
        assert line in stated or line.replace("x ", "x_t ").replace("y ", "y_t ") in stated
    member = "$\\boldsymbol{x}_{t} \\in \\mathbb{R}^{d}$, entries $> 0$."
    spd = "$\\boldsymbol{S} \\in \\mathbb{S}_{++}^{d}$, symmetric positive definite."
    for document in (d.latex(), d.markdown()):
        assert member in document and spd in document
        assert document.index(member) < document.index("Forward pass")
    page = d.html()
    assert "<h2>Domains.</h2>" in page and "\\boldsymbol{x}_{t} \\in \\mathbb{R}^{d}" in page
    assert "<h2>取值范围。</h2>" in d.html(lang="zh")
    # a member of a one-hot family is one-hot in the general form too: the textbook gradient
    assert "∂L/∂U = Σ_{t=1}^{T} (softmax(U log(x_t)) - y_t) (log(x_t))ᵀ" in d.text()
    assert d.prove(lengths={"T": 2}).ok
    assert d.prove_printed(formats=("text", "LaTeX", "Markdown", "HTML")).ok
