"""Block matrices and slices: vcat, hcat, v[1..h], W[1..d, :], A[:, 2..k], W[1..n, 2..d],
(W @ x)[1..n].

Their rules are proved three ways with the other operators (tests/test_operators.py
ROWS, and second order in tests/test_second_order.py); here: what the language
accepts and refuses, the sizes drawn for a slice, the printed block matrices and
zero blocks, and the reader of those forms, which must refuse a wrong one.
"""

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.language.model import Node, walk
from symbackprop.printing.numpy_code import generate_source
from symbackprop.proofs.reading import ReadError, Value, Vocabulary, read
from symbackprop.proofs.sizes import default_dims, small_dims

LSTM = "examples/lstm_stacked.sbp"


def _parse_error(text):
    with pytest.raises(sbp.ModelError) as info:
        sbp.parse(text)
    return info.value


def _slices(model):
    return [n.param for a in model.assignments for n in walk(a.tree)
            if isinstance(n, Node) and n.op.name == "slice"]


def test_slices_are_ranges_of_sizes_one_based_and_inclusive():
    m = sbp.parse("dim d, h\nparam v: vector(2*h)\nparam W: matrix(d, h)\n"
                  "J = sum(v[h+1..2*h]) + sum(W[1..d, :]) + sum(W[:, 2..h])\nobjective J")
    d, h = m.dims["d"], m.dims["h"]
    assert _slices(m) == [(h + 1, 2 * h, 0), (1, d, 0), (2, h, 1)]


@pytest.mark.parametrize("text, line, col, fragment", [
    ("dim h\nparam v: vector(h)\nJ = sum(v[0..h])\nobjective J", 3, 11, "the range 0..h"),
    ("dim h\nparam v: vector(h)\nJ = sum(v[1..h + 1])\nobjective J", 3, 11, "ends after h"),
    ("dim h\nparam v: vector(h)\nJ = sum(v[h+1..h])\nobjective J", 3, 11,
     "ends before it starts"),
    ("dim h\nparam W: matrix(h, h)\nJ = sum(W[1..h])\nobjective J", 3, 9,
     "slice it as W[A..B, :] or W[:, A..B]"),
    ("dim h\nparam W: matrix(h, h)\nJ = sum(W[:, :])\nobjective J", 3, 10,
     "a slice is NAME[A..B] of a vector"),
    ("dim h\nparam W: matrix(h, h)\nJ = sum(W[1..h, 2..h + 1])\nobjective J", 3, 17,
     "the range 2..h + 1 ends after h of 'W', a matrix(h, h)"),
    ("dim h\nparam W: matrix(h, h)\nparam x: vector(h)\nJ = sum((W @ x)[2])\nobjective J",
     4, 16, "a value in parentheses has no members: slice it with a range, (EXPR)[A..B]"),
    ("dim h\nparam W: matrix(h, h)\nparam x: vector(h)\nJ = sum((W @ x)[1..h, :])\n"
     "objective J", 4, 9, "the value is a vector(h): slice it as (EXPR)[A..B]"),
    ("dim h\nparam W: matrix(h, h)\nparam x: vector(h)\nJ = sum((W @ x)[1..2*h])\n"
     "objective J", 4, 17, "the range 1..2*h ends after h of the value, a vector(h)"),
    ("dim h\nparam W: matrix(h, h)\nJ = sum(sum(W)[1..h])\nobjective J", 3, 9,
     "the value is a scalar: it has no slices"),
    ("dim h\nparam v: vector(h)\nv[1..h] = v\n", 3, 1, "a slice of 'v' cannot be assigned"),
    ("dim h, d\nparam v: vector(h)\nparam W: matrix(d, h)\nJ = sum(vcat(v, W))\nobjective J",
     4, 9, "vcat(vector(h), matrix(d, h)): the columns 1 and h differ"),
    ("dim h, d\nparam v: vector(h)\nparam W: matrix(d, h)\nJ = sum(vcat(v, v, W))\n"
     "objective J", 4, 9, "vcat(vector(h), vector(h), matrix(d, h)): the columns 1 and h"),
    ("dim h, d\nparam A: matrix(h, d)\nparam B: matrix(d, d)\nJ = sum(hcat(A, A, B))\n"
     "objective J", 4, 9, "the rows h and d differ; hcat stacks columns of equal length"),
    ("dim h\nparam v: vector(h)\nJ = sum(vcat(v))\nobjective J", 3, 9,
     "vcat takes 2 or more arguments, not 1: vcat(a, b, ...)"),
])
def test_a_slice_or_block_that_cannot_be_is_an_error_at_its_place(text, line, col, fragment):
    err = _parse_error(text)
    assert (err.line, err.col) == (line, col), err
    assert fragment in err.message, err.message


THREE = ("dim n, d\ninput x: vector(d)\nparam h: vector(n)\nparam c: vector(2)\n"
         "param W: matrix(n, n + d + 2)\nparam U: matrix(n, d)\nparam V: matrix(n, d)\n"
         "z = W @ vcat(h, x, c)\nG = hcat(U, V, U * V)\nJ = sum(tanh(z)) + sum(G.T @ h)\n"
         "objective J\n")


def test_three_blocks_print_as_one_block_matrix_in_every_format():
    d = sbp.derive(sbp.parse(THREE))
    for text in (d.text(), d.text(lang="zh")):
        assert "z = W [h; x; c]  ∈ ℝ^n" in text and "G = [U V (U ⊙ V)]  ∈ ℝ^(n×(3 d))" in text
    three_rows = ("{\\begin{bmatrix} \\displaystyle \\boldsymbol{h} \\\\[1.5ex] \\displaystyle "
                  "\\boldsymbol{x} \\\\[1.5ex] \\displaystyle \\boldsymbol{c} \\end{bmatrix}}")
    for document in (d.latex(), d.markdown(), d.html(lang="zh")):
        assert three_rows in document
    assert "np.vstack((h, x, c))" in generate_source(d)
    assert "np.hstack((U, V, U * V))" in generate_source(d)
    assert d.figure().source("tikz").count("{$\\operatorname{vcat}$}") == 1
    formats = ("text", "LaTeX", "Markdown", "HTML")
    assert sbp.prove_printed(d, formats=formats).ok
    assert sbp.prove_printed(sbp.derive_hvp(d), formats=formats).ok


def test_the_adjoints_of_three_blocks_are_the_blocks_of_the_adjoint():
    d = sbp.derive(sbp.parse(THREE))
    assert d.pretty(d.adjoint("c")) == "(Wᵀ (∂J/∂z))[d + n + 1..d + n + 2]"
    assert d.pretty(d.adjoint("U")) == "(∂J/∂G)[:, 2 d + 1..3 d] ⊙ V + (∂J/∂G)[:, 1..d]"
    assert d.pretty(d.adjoint("V")) == "(∂J/∂G)[:, 2 d + 1..3 d] ⊙ U + (∂J/∂G)[:, d + 1..2 d]"
    assert sbp.check(d).ok and sbp.verify(d).ok


def test_a_slice_of_a_value_in_parentheses_prints_as_its_adjoints_do_and_reads_back():
    d = sbp.derive(sbp.parse("dim n, d\ninput x: vector(d)\nparam W: matrix(2*n, d)\n"
                             "J = sum(tanh((W @ x)[1..n]))\nobjective J"))
    assert "J = sum(tanh((W x)[1..n]))" in d.text()
    assert "{\\left(\\boldsymbol{W} \\boldsymbol{x}\\right)}_{1:n}" in d.latex()
    assert d.pretty(d.adjoint("W")) == "[(1 - tanh²((W x)[1..n])); 0_(n×1)] xᵀ"
    assert sbp.check(d).ok and sbp.verify(d).ok
    assert sbp.prove_printed(d, formats=("text", "LaTeX", "Markdown", "HTML")).ok


def test_a_slice_of_both_axes_prints_as_one_and_its_adjoint_is_placed_into_zeros():
    d = sbp.derive(sbp.parse("dim n, d\nparam W: matrix(n + 2, d + 1)\n"
                             "J = sum(tanh(W[2..n + 1, 2..d]))\nobjective J"))
    assert "J = sum(tanh(W[2..n + 1, 2..d]))" in d.text()
    assert "{\\boldsymbol{W}}_{2:n + 1,2:d}" in d.latex()
    assert d.pretty(d.adjoint("W")) == ("[0_(1×(d + 1)); [0_(n×1) (1 - tanh²(W[2..n + 1, 2..d])) "
                                        "0_(n×1)]; 0_(1×(d + 1))]")
    assert sbp.check(d).ok and sbp.verify(d).ok
    assert sbp.prove_printed(d, formats=("text", "LaTeX", "Markdown", "HTML")).ok


def test_a_slice_of_a_value_in_parentheses_in_a_kept_loop():
    d = sbp.derive(sbp.parse("dim n, d, T\ninput x[t]: vector(d) for t in 1..T\n"
                             "param W: matrix(2*n, n)\nparam U: matrix(n, d)\n"
                             "param h0: vector(n)\nh[0] = h0\nfor t in 1..T:\n"
                             "    h[t] = tanh((W @ h[t-1])[n+1..2*n] + U @ x[t])\n"
                             "L = sum(sum(h[t]) for t in 1..T)\nobjective L\n"))
    assert "h_t = tanh((W h_{t-1})[n + 1..2 n] + U x_t)" in d.text()
    assert d.prove(lengths={"T": 3}).ok and d.prove_printed().ok


def test_sizes_drawn_keep_every_slice_inside():
    m = sbp.parse("dim n, k\nparam v: vector(n)\nJ = sum(v[k..n])\nobjective J")
    for dims in (default_dims(m), small_dims(m)):
        assert 1 <= dims["k"] <= dims["n"], dims
    assert sbp.check(m).ok and sbp.verify(m).ok


def test_the_lstm_gates_adjoints_are_one_block_matrix():
    d = sbp.derive(sbp.load(LSTM))
    forward = d.text().split("Backward")[0]
    assert "a = W [h⁽⁰⁾; x] + b" in forward or "a = W [h0; x] + b" in forward, forward
    assert "i = σ(a[1..n])" in forward and "g = tanh(a[3 n + 1..4 n])" in forward
    assert d.pretty(d.adjoint("a")) == ("[(∂J/∂i ⊙ i ⊙ (1 - i)); (∂J/∂f ⊙ f ⊙ (1 - f)); "
                                        "(∂J/∂o ⊙ o ⊙ (1 - o)); (∂J/∂g ⊙ (1 - g^⊙2))]")
    assert "\\begin{bmatrix}" in d.latex()
    report = sbp.check(d)
    assert report.ok, str(report)
    assert sbp.prove_printed(d).ok


def test_a_slice_adjoint_is_placed_into_sized_zeros_and_read_back():
    d = sbp.derive(sbp.parse("dim n, k\nparam s: vector(n + k)\nJ = sum(tanh(s[k..n + k]))\n"
                             "objective J"))
    assert d.pretty(d.adjoint("s")) == "[0_((k - 1)×1); (1 - tanh²(s[k..k + n]))]"
    assert "\\mathbf{0}_{\\left(k - 1\\right) \\times 1}" in d.latex()
    assert sbp.check(d).ok and sbp.verify(d).ok and sbp.prove_printed(d).ok


A, B = np.arange(4.0).reshape(2, 2), np.arange(4.0, 10.0).reshape(3, 2)
X = np.arange(5.0).reshape(5, 1)
WORDS = {"A": [Value(A)], "B": [Value(B)], "x": [Value(X)], "n": [Value(np.asarray(2.0))]}


@pytest.mark.parametrize("formula, expected", [
    ("[A; B]", np.vstack((A, B))),
    ("[A A]", np.hstack((A, A))),
    ("[A; B; A]", np.vstack((A, B, A))),
    ("[A (A + A) A]", np.hstack((A, 2 * A, A))),
    ("[A A A]", np.hstack((A, A, A))),  # not the product A A beside A
    ("[(A + A); B]", np.vstack((2 * A, B))),
    ("x[n..n + 1]", X[1:3]),
    ("[x; x][n + 3..2 n + 4]", np.vstack((X, X))[4:8]),
    ("B[2..3, :]", B[1:3]),
    ("B[:, n..n]", B[:, 1:2]),
    ("B[2..3, n..n]", B[1:3, 1:2]),
    ("(B A)[1..n, :]", (B @ A)[0:2]),
])
def test_the_reader_reads_blocks_and_slices(formula, expected):
    (value,) = read(formula, Vocabulary(WORDS, sizes=(2, 3)))
    np.testing.assert_array_equal(value, expected)


@pytest.mark.parametrize("formula, expected", [
    ("{\\begin{bmatrix} \\displaystyle A \\\\[1.5ex] \\displaystyle B \\end{bmatrix}}",
     np.vstack((A, B))),
    ("{\\begin{bmatrix} A & A \\end{bmatrix}}", np.hstack((A, A))),
    ("{\\begin{bmatrix} A \\\\[1.5ex] B \\\\[1.5ex] A \\end{bmatrix}}", np.vstack((A, B, A))),
    ("{\\begin{bmatrix} A & A & A \\end{bmatrix}}", np.hstack((A, A, A))),
    ("{x}_{n:n + 1}", X[1:3]),
    ("{B}_{:,n:n}", B[:, 1:2]),
])
def test_the_reader_reads_the_latex_of_blocks_and_slices(formula, expected):
    (value,) = read(formula, Vocabulary(WORDS, sizes=(2, 3), latex=True))
    np.testing.assert_array_equal(value, expected)


@pytest.mark.parametrize("formula", ["[A]", "[A; x]", "x[0..1]", "x[2..9]", "x[n..1]",
                                     "B[1..2.5, :]"])
def test_the_reader_has_no_reading_of_a_block_that_cannot_be(formula):
    with pytest.raises(ReadError):
        read(formula, Vocabulary(WORDS, sizes=(2, 3)))


def test_a_wrong_block_matrix_is_caught_by_the_read_back():
    d = sbp.derive(sbp.load(LSTM))
    text = d.text()
    swapped = text.replace("[h⁽⁰⁾; x]", "[x; h⁽⁰⁾]").replace("[h0; x]", "[x; h0]")
    assert swapped != text
    report = sbp.prove_printed(d, formats=("text",), documents={"text": (swapped, False)})
    assert not report.ok


def test_a_wrong_order_of_three_blocks_is_caught_by_the_read_back():
    d = sbp.derive(sbp.parse(THREE))
    text = d.text()
    for wrong in ("[x; h; c]", "[h; c; x]"):
        swapped = text.replace("[h; x; c]", wrong)
        assert swapped != text
        report = sbp.prove_printed(d, formats=("text",), documents={"text": (swapped, False)})
        assert not report.ok, wrong
