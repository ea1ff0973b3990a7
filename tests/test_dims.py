"""Sizes written with arithmetic of dims, dims used as values, and exponents that are not
plain numbers: parsed, checked symbolically, drawn positive, generated, proved.

``vector(d + h)`` is the same shape as ``vector(h + d)``; ``sum(x) / n`` divides by the
size n; ``x ^ k`` with ``const k: scalar`` and ``x ^ (1/3)`` are powers whose rule is
k x^(k-1).  Each model here goes through check (finite differences), verify (sympy.diff,
entry by entry), PyTorch autograd, the read-back of its printed formulas and the
generated NumPy code.
"""

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.language.model import Node, walk
from symbackprop.printing.numpy_code import generate_source
from symbackprop.printing.numpy_function import compile_derivation
from symbackprop.proofs.check import random_arrays
from symbackprop.proofs.sizes import default_dims, small_dims
from reference import relative_error, torch_value_and_grad

#: A block of a model whose sizes are sums, differences and multiples of dims.
ARITHMETIC = """\
dim n, k
input x: vector(n)
input y: vector(n - k + 1)
param W: matrix(n - k + 1, n)
param B: matrix(2*k, n - k - k + 1 + k)
z = tanh(W @ x) - y
J = sum(B @ z) / (n - k + 1) + k * sum(W) / n + squared_error(z, y) / n
objective J
"""

#: Powers to a const, to a rational expression of numbers, of positive data.
POWERS = """\
dim n
input x: vector(n) positive
param w: vector(n) unit
const p: scalar
J = sum(w * x ^ p) + sum(w ^ (1/3) * x ^ (-1/2)) + sum(x ^ (2/3 + 1) * w)
objective J
"""


def test_sizes_are_polynomials_equal_when_written_differently():
    m = sbp.parse("dim d, h\ninput a: vector(d + h)\ninput b: vector(h + d)\n"
                  "param W: matrix(2*(d + h), d)\nJ = sum(a + b) + sum(W)\nobjective J")
    assert m.variables["a"].shape == m.variables["b"].shape
    d, h = m.dims["d"], m.dims["h"]
    assert m.variables["W"].shape.rows == 2 * d + 2 * h
    assert str(m.variables["W"].shape) == "matrix(2*d + 2*h, d)"


def test_a_shape_error_names_the_sizes_as_polynomials():
    with pytest.raises(sbp.ModelError) as info:
        sbp.parse("dim d, h\ninput a: vector(d + h)\ninput b: vector(d + 1)\nJ = sum(a + b)\n"
                  "objective J")
    assert info.value.line == 4 and info.value.col == 11
    assert "vector(d + h) + vector(d + 1)" in info.value.message


@pytest.mark.parametrize("size, col, fragment", [
    ("d - d", 19, "the size 0 is never positive"),
    ("-d", 17, "the size -d is never positive"),
    ("d / 2", 19, "not '/'"),
    ("d * 0.5", 21, "not the fraction 0.5"),
    ("d + e", 21, "unknown dimension 'e'"),
])
def test_a_size_that_is_not_one_is_an_error_at_its_place(size, col, fragment):
    with pytest.raises(sbp.ModelError) as info:
        sbp.parse(f"dim d\ninput x: vector({size})\nJ = sum(x)\nobjective J")
    assert (info.value.line, info.value.col) == (2, col), info.value
    assert fragment in info.value.message


def test_sizes_drawn_make_every_size_positive():
    m = sbp.parse("dim d, h\nparam w: vector(h - d)\nJ = sum(w)\nobjective J")
    for dims in (default_dims(m), small_dims(m), default_dims(m, {"d": 2})):
        assert dims["h"] > dims["d"], dims
    with pytest.raises(ValueError, match=r"the size -d \+ h is -1 at d=4, h=3"):
        default_dims(m, {"d": 4, "h": 3})


def test_a_dim_is_a_positive_integer_value():
    m = sbp.parse("dim n\nparam w: vector(n)\nJ = sum(w) / n\nobjective J")
    d = sbp.derive(m)
    assert d.pretty(d.adjoint("w")) == "(1/n) 𝟏"
    J, grads = d.lambdify()(w=np.arange(4.0))
    assert J == pytest.approx(1.5) and np.allclose(grads["w"], 0.25)


@pytest.mark.parametrize("text", [ARITHMETIC, POWERS], ids=["arithmetic", "powers"])
def test_proved_three_ways_and_read_back(text):
    d = sbp.derive(sbp.parse(text))
    report = sbp.check(d)
    assert report.ok and report.errors, str(report)
    assert sbp.verify(d).ok
    assert sbp.prove_printed(d).ok
    model = d.model
    wrt = [n for n in d.order if model.variables[n].role in ("param", "input")]
    for seed in range(3):
        arrays = random_arrays(model, default_dims(model), seed)
        J, grads = compile_derivation(d, wrt)(**arrays)
        J_torch, grads_torch = torch_value_and_grad(model, arrays, wrt)
        assert relative_error(J, J_torch) <= 1e-12
        for name in wrt:
            assert relative_error(grads[name], grads_torch[name]) <= 1e-10, name


def test_generated_code_reads_the_dims_off_the_arrays():
    d = sbp.derive(sbp.parse(ARITHMETIC))
    source = generate_source(d)
    assert "n_n = x.shape[0]" in source
    assert "n_k = (B.shape[0]) // 2" in source
    assert "def value_and_grad(x, y, W, B):" in source  # no size is passed
    arrays = random_arrays(d.model, {"n": 6, "k": 2}, 0)
    J, _ = d.lambdify()(**arrays)
    z = np.tanh(arrays["W"] @ arrays["x"]) - arrays["y"]
    expected = (np.sum(arrays["B"] @ z) / 5 + 2 * np.sum(arrays["W"]) / 6
                + 0.5 * np.sum((z - arrays["y"]) ** 2) / 6)
    assert J == pytest.approx(expected, rel=1e-12)


def test_arrays_whose_shapes_disagree_are_refused():
    d = sbp.derive(sbp.parse(ARITHMETIC))
    arrays = random_arrays(d.model, {"n": 6, "k": 2}, 0)
    arrays["y"] = np.zeros(4)
    with pytest.raises(ValueError):
        d.lambdify()(**arrays)


def test_a_const_exponent_prints_and_derives_k_x_to_the_k_minus_1():
    d = sbp.derive(sbp.parse(POWERS))
    assert "p (w ⊙ x^⊙(p - 1))" in d.pretty(d.adjoint("x"))
    powers = [n.param for n in walk(d.model.assignments[0].tree)
              if isinstance(n, Node) and n.op.name == "pow"]
    assert d.symbols["p"] in powers  # the const's own symbol, which the derivation binds
