"""Every operator's local rule, proved three ways on every shape it takes.

One row per operator use: a tiny model whose objective weighs the operator's
output with a random input ``C`` (so every entry of the adjoint matters).
Each row is checked against central finite differences at random sizes and
seeds (Hypothesis), proved entry by entry against ``sympy.diff`` by
``verify``, and compared with PyTorch autograd in float64.  A registry entry
that no row uses fails :func:`test_every_registry_entry_has_a_row`; a scalar
function of :mod:`symbackprop.primitives.functions` without a row here gets one
from its domain.
"""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.proofs.sizes import default_dims
from symbackprop.proofs.check import random_arrays
from symbackprop.printing.numpy_function import compile_derivation
from symbackprop.primitives.functions import called
from symbackprop.primitives.operators import REGISTRY
from profiles import examples
from reference import relative_error, torch_value_and_grad

DECLS = """\
dim m, n, k
param A: matrix(m, n)
param B: matrix(m, n)
param S: matrix(n, n)
param P: matrix(k, n)
param X: matrix(k, k) spd
param Q: matrix(k, k)
param u: vector(m)
param v: vector(n)
param w: vector(n)
param a: scalar
param b: scalar
input Y: matrix(m, n)
input y: vector(n)
input ym: vector(m)
const c0: scalar
input Qp: matrix(m, n) positive
const r: scalar
param Z: matrix(m + 2*n, n)
param s: vector(m + n)
param M: matrix(m, n + k)
"""

# (expression, its shape) -- the objective is sum(C * expression), C random.
ROWS = {
    "add matrix+matrix": ("A + B", "matrix(m, n)"),
    "add scalar+vector": ("a + v", "vector(n)"),
    "add vector+scalar": ("v + a", "vector(n)"),
    "add matrix+vector (every row)": ("A + v", "matrix(m, n)"),
    "add vector+matrix (every row)": ("v + A", "matrix(m, n)"),
    "add matrix+row (every row)": ("A + v.T", "matrix(m, n)"),
    "add row+matrix (every row)": ("v.T + A", "matrix(m, n)"),
    "add scalar+scalar": ("a + b", "scalar"),
    "sub matrix-matrix": ("A - B", "matrix(m, n)"),
    "sub scalar-matrix": ("a - A", "matrix(m, n)"),
    "sub matrix-vector (every row)": ("A - v", "matrix(m, n)"),
    "sub vector-matrix (every row)": ("v - A", "matrix(m, n)"),
    "sub matrix-row (every row)": ("A - v.T", "matrix(m, n)"),
    "sub row-matrix (every row)": ("v.T - A", "matrix(m, n)"),
    "neg": ("-A", "matrix(m, n)"),
    "mul scalar*matrix": ("a * A", "matrix(m, n)"),
    "mul matrix*scalar": ("A * a", "matrix(m, n)"),
    "mul hadamard": ("A * B", "matrix(m, n)"),
    "mul hadamard vectors": ("v * w", "vector(n)"),
    "mul scalar*scalar": ("a * b", "scalar"),
    "mul literal": ("3 * A", "matrix(m, n)"),
    "div matrix/scalar": ("A / (b^2 + 1)", "matrix(m, n)"),
    "div scalar/matrix": ("a / (square(B) + 1)", "matrix(m, n)"),
    "div elementwise": ("A / (square(B) + 1)", "matrix(m, n)"),
    "div scalar/scalar": ("a / (b^2 + 1)", "scalar"),
    "matmul matrix@vector": ("A @ v", "vector(m)"),
    "matmul matrix@matrix": ("A @ P.T", "matrix(m, k)"),
    "matmul row@matrix": ("u.T @ A", "vector(n).T"),
    "matmul row@vector": ("v.T @ w", "scalar"),
    "matmul vector@row": ("u @ v.T", "matrix(m, n)"),
    "matmul quadratic form": ("v.T @ S @ v", "scalar"),
    "matmul same operand twice": ("S @ S", "matrix(n, n)"),
    "pow cube": ("A^3", "matrix(m, n)"),
    "pow negative": ("(square(A) + 1)^-1", "matrix(m, n)"),
    "pow half": ("(square(v) + 1)^0.5", "vector(n)"),
    "pow scalar": ("a^2", "scalar"),
    "pow const exponent": ("Qp ^ r", "matrix(m, n)"),
    "pow rational exponent": ("Qp ^ (1/3)", "matrix(m, n)"),
    "pow negative rational exponent": ("Qp ^ (-1/2) * A", "matrix(m, n)"),
    "matmul sum of dims": ("Z @ v", "vector(m + 2*n)"),
    "div by a dim": ("A / n + (m - k) * B", "matrix(m, n)"),
    "vcat vectors": ("vcat(u, tanh(v))", "vector(m + n)"),
    "vcat matrices": ("vcat(A, P)", "matrix(k + m, n)"),
    "hcat matrices": ("hcat(A.T, P.T)", "matrix(n, k + m)"),
    "hcat vectors": ("hcat(v, w * v)", "matrix(n, 2)"),
    "hcat rows": ("hcat(u.T, v.T)", "vector(m + n).T"),
    "vcat three vectors": ("vcat(u, tanh(v), w * v)", "vector(m + 2*n)"),
    "vcat four matrices": ("vcat(A, P, B, A * B)", "matrix(k + 3*m, n)"),
    "hcat three matrices": ("hcat(A.T, P.T, S)", "matrix(n, k + m + n)"),
    "hcat three rows": ("hcat(u.T, v.T, w.T)", "vector(m + 2*n).T"),
    "slice vector": ("s[m+1..m+n]", "vector(n)"),
    "slice rows": ("Z[m+1..m+n, :]", "matrix(n, n)"),
    "slice columns": ("M[:, 2..n+1]", "matrix(m, n)"),
    "slice of a product": ("(Z @ v)[m+1..m+n]", "vector(n)"),
    "slice of a call, both axes": ("hcat(Z, tanh(Z))[m+1..m+n, 2..n+1]", "matrix(n, n)"),
    "square": ("square(A)", "matrix(m, n)"),
    "transpose matrix": ("A.T", "matrix(n, m)"),
    "transpose vector": ("v.T", "vector(n).T"),
    "copy": ("A", "matrix(m, n)"),
    "sum matrix": ("sum(A * B)", "scalar"),
    "sum vector": ("sum(v)", "scalar"),
    "mean": ("mean(A * B)", "scalar"),
    "norm matrix": ("norm(A)", "scalar"),
    "norm vector": ("norm(v)", "scalar"),
    "norm squared": ("norm(A)^2", "scalar"),
    "trace": ("trace(S)", "scalar"),
    "trace of a product": ("trace(A @ A.T)", "scalar"),
    "softmax vector": ("softmax(v)", "vector(n)"),
    "softmax matrix rows": ("softmax(A)", "matrix(m, n)"),
    "softmax row vector": ("softmax(v.T)", "vector(n).T"),
    "log_softmax vector": ("log_softmax(v)", "vector(n)"),
    "log_softmax matrix rows": ("log_softmax(A)", "matrix(m, n)"),
    "logsumexp vector": ("logsumexp(v)", "scalar"),
    "logsumexp matrix rows": ("logsumexp(A)", "vector(m)"),
    "sum_rows": ("sum_rows(A)", "vector(m)"),
    "mean_rows": ("mean_rows(A * B)", "vector(m)"),
    "center_rows": ("center_rows(A)", "matrix(m, n)"),
    "scale_rows": ("scale_rows(A, u)", "matrix(m, n)"),
    "shift_rows": ("shift_rows(A, u)", "matrix(m, n)"),
    "sum_cols": ("sum_cols(A)", "vector(n)"),
    "mean_cols": ("mean_cols(A * B)", "vector(n)"),
    "center_cols": ("center_cols(A)", "matrix(m, n)"),
    "scale_cols": ("scale_cols(A, v)", "matrix(m, n)"),
    "scale_cols of a product": ("scale_cols(A * B, v * w)", "matrix(m, n)"),
    "batch norm, composed": (
        "scale_cols(center_cols(A), (mean_cols(square(center_cols(A))) + 1)^-0.5) + w.T",
        "matrix(m, n)"),
    "layer norm, composed": (
        "scale_rows(center_rows(A), (mean_rows(square(center_rows(A))) + 1)^-0.5)",
        "matrix(m, n)"),
    "squared_error vectors": ("squared_error(A @ v, ym)", "scalar"),
    "squared_error scalars": ("squared_error(a, b)", "scalar"),
    "mse": ("mse(A, Y)", "scalar"),
    "cross_entropy vector": ("cross_entropy(v, y)", "scalar"),
    "cross_entropy matrix rows": ("cross_entropy(A, Y)", "scalar"),
    "relu": ("relu(A)", "matrix(m, n)"),
    "relu scalar": ("relu(a)", "scalar"),
    "sigmoid": ("sigmoid(A)", "matrix(m, n)"),
    "tanh": ("tanh(A)", "matrix(m, n)"),
    "tanh scalar": ("tanh(a)", "scalar"),
    "exp": ("exp(A)", "matrix(m, n)"),
    "log": ("log(square(A) + 1)", "matrix(m, n)"),
    "log scalar": ("log(a^2 + 1)", "scalar"),
    "softplus": ("softplus(A)", "matrix(m, n)"),
    "sqrt": ("sqrt(square(A) + 1)", "matrix(m, n)"),
    "leaky_relu": ("leaky_relu(A, 0.1)", "matrix(m, n)"),
    "leaky_relu scalar": ("leaky_relu(a, 0.2)", "scalar"),
    "leaky_relu const slope": ("leaky_relu(v, c0)", "vector(n)"),
    "elu scalar": ("elu(a)", "scalar"),
    "gelu scalar": ("gelu(a)", "scalar"),
    "max matrix, matrix": ("max(A, B)", "matrix(m, n)"),
    "max scalar, matrix (hinge)": ("max(0, 1 - A * B)", "matrix(m, n)"),
    "max vector, scalar": ("max(v, a)", "vector(n)"),
    "max scalar, scalar": ("max(a, b)", "scalar"),
    "min matrix, matrix": ("min(A, B)", "matrix(m, n)"),
    "min scalar, vector": ("min(a, v)", "vector(n)"),
    "min scalar, scalar": ("min(a, b)", "scalar"),
    "max of all entries": ("max(A * B)", "scalar"),
    "min of all entries, a vector": ("min(v)", "scalar"),
    "max_rows": ("max_rows(A)", "vector(m)"),
    "min_rows": ("min_rows(A * B)", "vector(m)"),
    "max_cols": ("max_cols(A)", "vector(n)"),
    "min_cols": ("min_cols(A)", "vector(n)"),
    "huber vector": ("huber(A @ v - ym, 0.5)", "scalar"),
    "huber matrix": ("huber(A - B, c0)", "scalar"),
    "huber scalar": ("huber(a - b, 0.5)", "scalar"),
    # X is spd, so X + Q - Q.T (its symmetric part X) is invertible with a positive determinant
    "eye": ("S + 2 * eye(n)", "matrix(n, n)"),
    "diag": ("diag(v)", "matrix(n, n)"),
    "diag_part": ("diag_part(S)", "vector(n)"),
    "diag_part of a product": ("diag_part(A.T @ B)", "vector(n)"),
    "inv": ("inv(X + Q - Q.T)", "matrix(k, k)"),
    "inv spd": ("inv(X)", "matrix(k, k)"),
    "det": ("det(X + Q - Q.T)", "scalar"),
    "det spd": ("det(X)", "scalar"),
    "logdet": ("logdet(X + Q - Q.T)", "scalar"),
    "logdet spd": ("logdet(X)", "scalar"),
    "trace of A X^-1 B (Cookbook)": ("trace(P.T @ inv(X + Q - Q.T) @ P)", "scalar"),
    # inputs built to be larger than their kernels at every size
    "conv1d": ("conv1d(vcat(v, s), w)", "vector(m + n + 1)"),
    "conv2d": ("conv2d(hcat(Z, Z), S)", "matrix(m + n + 1, n + 1)"),
    "conv2d padded": ("conv2d(Z, S * S, pad=1)", "matrix(m + n + 3, 3)"),
    # four blocks of other values: no two entries of a window are equal
    "maxpool2d": ("maxpool2d(hcat(vcat(A, B), vcat(tanh(B), tanh(A))), 2)", "matrix(m, n)"),
    "avgpool2d": ("avgpool2d(hcat(vcat(A, B), vcat(B, A)), 2)", "matrix(m, n)"),
}
# a new scalar function is tested where it is defined: on A, or on square(A) + 1 if positive
for _row in called():
    ROWS.setdefault(_row.name, (f"{_row.name}(square(A) + 1)" if _row.domain == "positive"
                                else f"{_row.name}(A)", "matrix(m, n)"))


def model_text(expression, shape):
    if shape == "scalar":
        return DECLS + f"input c: scalar\nE = {expression}\nJ = c * E\nobjective J\n"
    kind = shape.removesuffix(".T")  # a row vector is weighed by a transposed input
    weights = "C.T" if shape.endswith(".T") else "C"
    return DECLS + f"input C: {kind}\nE = {expression}\nJ = sum({weights} * E)\nobjective J\n"


@functools.lru_cache(maxsize=None)
def derivation(row):
    return sbp.derive(sbp.parse(model_text(*ROWS[row]), filename=row))


def test_every_registry_entry_has_a_row():
    used = set()
    for row in ROWS:
        used |= {op for _, op in derivation(row).graph.nodes(data="op") if op}
    assert set(REGISTRY) - used == set()


def test_rows_have_the_shape_they_claim():
    for row, (_, shape) in ROWS.items():
        assert str(derivation(row).model.variables["E"].shape) == shape, row


sizes = st.fixed_dictionaries({"m": st.integers(1, 4), "n": st.integers(1, 4),
                               "k": st.integers(1, 3)})


@pytest.mark.parametrize("row", ROWS)
@settings(max_examples=examples(4))
@given(dims=sizes, seed=st.integers(0, 2**16))
def test_finite_differences(row, dims, seed):
    report = sbp.check(derivation(row), dims=dims, seed=seed)
    assert report.ok, str(report)
    assert report.errors  # at least one gradient was compared


@pytest.mark.parametrize("row", ROWS)
def test_entrywise_sympy(row):
    report = sbp.verify(derivation(row), dims={"m": 2, "n": 3, "k": 2})
    assert report.ok, str(report)
    assert sum(report.entries.values()) > 0


@pytest.mark.parametrize("row", ROWS)
@settings(max_examples=examples(4))
@given(dims=sizes, seed=st.integers(0, 2**16))
def test_pytorch_autograd(row, dims, seed):
    d = derivation(row)
    model = d.model
    wrt = [n for n in d.order if model.variables[n].role in ("param", "input")]
    arrays = random_arrays(model, default_dims(model, dims), seed)
    J, grads = compile_derivation(d, wrt)(**arrays)
    J_torch, grads_torch = torch_value_and_grad(model, arrays, wrt)
    assert relative_error(J, J_torch) <= 1e-12
    for name in wrt:
        assert np.shape(grads[name]) == np.shape(arrays[name])
        assert relative_error(grads[name], grads_torch[name]) <= 1e-10, name
