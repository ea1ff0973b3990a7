"""Printed formulas mean what the expressions mean: brackets, partials, powers, constants."""

import sys

import pytest

import symbackprop as sbp


def adjoints(text):
    d = sbp.derive(sbp.parse(text))
    return {s.node: d.pretty(s.result) for s in d.steps}, d


@pytest.mark.parametrize("text, node, printed", [
    ("dim n\nparam z: vector(n)\nconst lambda: scalar\nJ = lambda * sum(tanh(z))\nobjective J",
     "z", "λ (1 - tanh²(z))"),
    ("dim n\nparam z: vector(n)\nJ = sum(-tanh(z))\nobjective J", "z", "-(1 - tanh²(z))"),
    ("dim n, m\ninput x: vector(n)\nparam W: matrix(m, n)\nparam b: vector(m)\n"
     "J = sum(tanh(W @ x + b))\nobjective J", "W", "(1 - tanh²(W x + b)) xᵀ"),
    ("dim n, m\ninput x: vector(n)\nparam W: matrix(m, n)\nparam b: vector(m)\n"
     "J = sum(log(W @ x + b))\nobjective J", "W", "(W x + b)^⊙-1 xᵀ"),
    ("dim n, m\ninput x: vector(n)\ninput y: vector(m)\nparam W: matrix(m, n)\nfunc ell(o, t)\n"
     "L = ell(W @ x, y)\nobjective L", "W", "∂₁ℓ(W x, y) xᵀ"),
    ("dim n\nparam w: vector(n)\nfunc ell(o, t)\nL = ell(w, w)\nobjective L", "w",
     "∂₂ℓ(w, w) + ∂₁ℓ(w, w)"),
    ("param a: scalar\nparam b: scalar\nu = a / b\nJ = u * u\nobjective J", "b",
     "-a (∂J/∂u)/b²"),
])
def test_brackets_keep_the_meaning(text, node, printed):
    results, _ = adjoints(text)
    assert results[node] == printed


def test_latex_brackets_entrywise_sums_in_products():
    _, d = adjoints("dim n\nparam z: vector(n)\nconst lambda: scalar\n"
                    "J = lambda * sum(tanh(z))\nobjective J")
    assert "\\lambda \\left(1 - \\tanh^{2}{\\left(\\boldsymbol{z}\\right)}\\right)" in d.latex()


@pytest.mark.parametrize("expr", ["a + 1/0", "a * 10^400", "a + (-1)^0.5"])
def test_constants_that_are_not_finite_reals_are_errors(expr):
    # a power of constants beyond float64 is refused at its '^', before SymPy computes it
    with pytest.raises(sbp.ModelError, match="not a finite real number|constant power is "
                       "beyond float64") as info:
        sbp.derive(sbp.parse(f"param a: scalar\nJ = {expr}\nobjective J\n"))
    assert info.value.line == 2


def test_deep_substitution_is_a_clear_error():
    lines = ["dim n", "input x: vector(n)", "param W: matrix(n, n)", "h0 = x"]
    lines += [f"h{i} = tanh(W @ h{i - 1})" for i in range(1, 400)]
    d = sbp.derive(sbp.parse("\n".join(lines + ["J = sum(h399)", "objective J"])))
    # at Python's default limit (a library imported by another test may have raised it)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        with pytest.raises(ValueError, match="too deep"):
            d.gradient("W")
        assert "∂J/∂W" in d.text(substituted=True)
    finally:
        sys.setrecursionlimit(limit)


def test_entrywise_functions_that_compose_to_the_identity():
    d = sbp.derive(sbp.parse("dim m\nparam p: vector(m)\nv = tanh(log(exp(p)))\nJ = sum(v)\n"
                             "objective J\n"))
    assert "v = tanh(p)" in d.text()
    assert sbp.check(d).ok and sbp.verify(d, dims={"m": 2}).ok


@pytest.mark.parametrize("path", sorted(__import__("pathlib").Path("examples").glob("*.sbp")),
                         ids=lambda p: p.stem)
def test_no_internal_symbol_reaches_a_document(path):
    # The entry variable of an entrywise body, a stand-in, or a SymPy dummy
    # printed into lecture notes would be a formula nobody can read.
    d = sbp.derive(sbp.load(path))
    for document in (d.text(), d.latex(), d.markdown()):
        for internal in ("_x", "\0", "ξ", "Dummy", "Lambda"):
            assert internal not in document, (path.stem, internal)


def test_a_product_body_with_the_entry_itself_prints_the_operand():
    # sigma' written with the output a: a ⊙ (1 - a), not the entry variable
    text = "dim n\nparam z: vector(n)\na = sigmoid(z)\nJ = sum(a)\nobjective J"
    results, _ = adjoints(text)
    assert results["z"] == "∂J/∂a ⊙ a ⊙ (1 - a)"


@pytest.mark.parametrize("assignment, text, latex", [
    ("J = -sum(x)^2", "J = -sum(x)²", "- \\operatorname{sum}{\\left(\\boldsymbol{x}\\right)}^{2}"),
    ("J = (x.T @ x)^2", "J = (xᵀ x)²", "\\left(\\boldsymbol{x}^\\top \\boldsymbol{x}\\right)^{2}"),
    ("J = 2 * (x.T @ x)", "J = 2 (xᵀ x)",
     "2 \\left(\\boldsymbol{x}^\\top \\boldsymbol{x}\\right)"),
    ("J = x.T @ x", "J = xᵀ x", "J &= \\boldsymbol{x}^\\top \\boldsymbol{x} \\in"),
])
def test_powers_and_products_of_scalars_from_matrices(assignment, text, latex):
    # (xᵀ x)² is not xᵀ x², and 4 (xᵀ x) x is not 4 xᵀ x x
    d = sbp.derive(sbp.parse(f"dim n\nparam x: vector(n)\n{assignment}\nobjective J"))
    assert text in d.text() and latex in d.latex()
    if "^2" in assignment and "x.T" in assignment:
        assert "4 (xᵀ x) x" in d.text()


def test_a_named_partial_is_bracketed_as_a_factor():
    # ∂L/∂o hᵀ would read as ∂L/∂(o hᵀ)
    d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    assert d.pretty(d.gradient("W2")) == "(∂L/∂o) hᵀ + λ W2"


def test_an_abstract_function_of_a_compound_scalar_prints_with_primes():
    # not SymPy's Subs(φ'(ξ), ξ, tr(W)): the notes must compile and read as a lecturer writes
    from symbackprop import derive_hvp
    d = sbp.derive(sbp.parse("dim n\nparam W: matrix(n, n)\nfunc phi\nJ = phi(trace(W))\n"
                             "objective J"))
    assert d.pretty(d.adjoint("W")) == "φ'(tr(W)) I"
    assert "\\phi'{\\left(\\operatorname{tr}{\\left(\\boldsymbol{W}\\right)}\\right)}" in d.latex()
    assert "φ''(tr(W)) tr(V_W) I" in derive_hvp(d).text()
    assert "ξ" not in d.latex() + derive_hvp(d).latex()


def test_a_power_of_an_indicator_is_the_indicator():
    from symbackprop import derive_hvp
    d = sbp.derive(sbp.parse("param a: scalar\nJ = relu(a)^2\nobjective J"))
    assert "R{∂J/∂a} = 2 v_a 𝟙[a > 0]" in derive_hvp(d).text()


NAMES = """\
dim n
param Wq: matrix(n, n)
const eps: scalar
input x: vector(n)
J = sum(tanh(Wq @ x)) + eps * sum(x)
objective J
"""


def test_eps_is_epsilon_and_a_capital_with_one_letter_is_subscripted():
    d = sbp.derive(sbp.parse(NAMES))
    text, latex = d.text(), d.latex()
    assert "J = ε sum(x) + sum(tanh(W_q x))" in text and "∂J/∂W_q = " in text
    assert "eps" not in text and "Wq" not in text
    assert "\\epsilon" in latex and "\\boldsymbol{W}_{q}" in latex and "Wq" not in latex
    assert sbp.prove_printed(d).ok


@pytest.mark.parametrize("first, second, shown", [("Wq", "W_q", "W_q"), ("eps", "epsilon", "ε")])
def test_two_names_that_would_print_alike_are_an_error(first, second, shown):
    text = (f"dim n\nparam {first}: vector(n)\nparam {second}: vector(n)\n"
            f"J = sum({first} * {second})\nobjective J\n")
    with pytest.raises(sbp.ModelError) as err:
        sbp.parse(text, "m.sbp")
    assert str(err.value).startswith(f"m.sbp:3:7: error: '{second}' and '{first}' (line 2) "
                                     f"would both print as {shown}: rename one")


STEPS = """\
dim d, h
input x1: vector(d)
input x2: vector(d)
param W: matrix(h, d)
param U: matrix(h, h)
param lambda1: scalar
h1 = tanh(W @ x1)
h2 = tanh(W @ x2 + U @ h1)
J = sum(h2) + lambda1 * norm(U)^2
objective J
"""


def test_a_trailing_number_prints_as_a_subscript_on_request():
    d = sbp.derive(sbp.parse(STEPS))
    text = d.text(index_style="subscript", prod=False)
    assert "h_2 = tanh(W x_2 + U h_1)" in text and "λ_1 ‖U‖²" in text
    assert "∂J/∂h_1 = Uᵀ (∂J/∂h_2 ⊙ (1 - h_2^⊙2))" in text
    latex = d.latex(index_style="subscript")
    assert "\\boldsymbol{x}_{1}" in latex and "\\lambda_{1}" in latex and "^{(1)}" not in latex
    # by default a trailing number is a layer's index, W1 as W^(1)
    assert "h2 = tanh(W x2 + U h1)" in d.text() and "\\boldsymbol{h}^{(1)}" in d.latex()
    formats = ("text", "LaTeX", "Markdown", "HTML")
    report = sbp.prove_printed(d, formats=formats, notation=sbp.Notation(index_style="subscript"))
    assert report.ok, str(report)
    assert report.counts == sbp.prove_printed(d, formats=formats).counts  # every formula read


def test_names_the_subscript_style_prints_alike_are_refused_where_declared():
    d = sbp.derive(sbp.parse("dim d\ninput x1: vector(d)\nparam x_1: vector(d)\n"
                             "J = sum(x1 * x_1)\nobjective J\n"))
    assert "x1 ⊙ x_1" in d.text()  # apart in the default style
    with pytest.raises(sbp.ModelError, match="'x_1' and 'x1' would both print as x_1") as e:
        d.text(index_style="subscript")
    assert (e.value.line, e.value.col) == (3, 7)
    with pytest.raises(ValueError, match="index_style must be one of layer, subscript"):
        sbp.Notation(index_style="time")


def test_the_command_line_takes_the_index_style(tmp_path, capsys):
    from symbackprop.cli import main
    path = tmp_path / "steps.sbp"
    path.write_text(STEPS, encoding="utf-8")
    assert main(["derive", str(path), "--index-style", "subscript"]) == 0
    assert "h_2 = tanh(W x_2 + U h_1)" in capsys.readouterr().out
    assert main(["derive", str(path), "--index-style", "subscript", "--format", "html",
                 "-o", str(tmp_path / "steps.html")]) == 0
    assert "<msub>" in (tmp_path / "steps.html").read_text(encoding="utf-8")
