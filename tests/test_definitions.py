"""The ground truth of ``verify`` checked against independent definitions.

``verify`` differentiates the explicit, entry-by-entry forms of the built-ins
(the ``explicit`` methods of the classes of :mod:`symbackprop.primitives` and the forward
forms of :mod:`symbackprop.primitives.operators`).  A wrong definition there would make
the derivation and its proof agree on the wrong function.  So each row of the
operator table (``test_operators.ROWS``, one per operator use) is evaluated
three ways at random points: the project's explicit form with its entry
symbols replaced by numbers, a NumPy implementation written here from the
operators' documented meaning, and PyTorch (where installed).
"""

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.proofs.explicit import explicit_environment
from symbackprop.proofs.check import random_arrays
from symbackprop.language.model import Literal, Node, Ref
from symbackprop.primitives.operators import REGISTRY
from reference import _torch_ops, cut, torch_or_skip
from test_operators import DECLS, ROWS

#: Distinct sizes, so that a confused axis changes the shape of the value.
DIMS = {"m": 2, "n": 3, "k": 4}


def _axis(shape):
    """The axis softmax and its kin run along: down a vector, along each row otherwise."""
    return 0 if shape.kind == "vector" else 1


def _numpy_ops(sizes=None):
    def broadcast(value, shape, to):
        # a vector(k), a k x 1 column here, is added to every row of a matrix(n, k)
        return value.T if shape.kind == "vector" and to.kind == "matrix" else value

    def log_softmax(a, axis):
        shifted = a - a.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def logsumexp(s, a):
        value = np.log(np.exp(a).sum(axis=_axis(s.args[0].shape), keepdims=True))
        return float(value[0, 0]) if s.shape.is_scalar else value

    def cross_entropy(s, o, y):
        total = -np.sum(y * log_softmax(o, _axis(s.args[0].shape)))
        return total / o.shape[0] if s.args[0].shape.kind == "matrix" else total

    def matmul(s, a, b):
        product = np.asarray(a) @ np.asarray(b)
        return float(product[0, 0]) if s.shape.is_scalar else product

    return {
        "add": lambda s, a, b: broadcast(a, s.args[0].shape, s.shape)
        + broadcast(b, s.args[1].shape, s.shape),
        "sub": lambda s, a, b: broadcast(a, s.args[0].shape, s.shape)
        - broadcast(b, s.args[1].shape, s.shape),
        "neg": lambda s, a: -a,
        "mul": lambda s, a, b: a * b,
        "div": lambda s, a, b: a / b,
        "matmul": matmul,
        "pow": lambda s, a: np.power(a, float(s.param)),
        "square": lambda s, a: a * a,
        "transpose": lambda s, a: np.transpose(a),
        "copy": lambda s, a: a,
        "vcat": lambda s, *blocks: np.vstack(blocks),
        "hcat": lambda s, *blocks: np.hstack(blocks),
        "slice": None,  # cut at DIMS, in _evaluate
        "sum": lambda s, a: float(np.sum(a)),
        "mean": lambda s, a: float(np.mean(a)),
        "norm": lambda s, a: float(np.linalg.norm(np.ravel(a))),
        "trace": lambda s, a: float(np.trace(a)),
        "softmax": lambda s, a: np.exp(log_softmax(a, _axis(s.args[0].shape))),
        "log_softmax": lambda s, a: log_softmax(a, _axis(s.args[0].shape)),
        "logsumexp": logsumexp,
        "sum_rows": lambda s, a: a.sum(axis=1, keepdims=True),
        "mean_rows": lambda s, a: a.mean(axis=1, keepdims=True),
        "center_rows": lambda s, a: a - a.mean(axis=1, keepdims=True),
        "scale_rows": lambda s, a, v: a * v,
        "shift_rows": lambda s, a, c: a + c,
        "sum_cols": lambda s, a: a.sum(axis=0, keepdims=True).T,
        "mean_cols": lambda s, a: a.mean(axis=0, keepdims=True).T,
        "center_cols": lambda s, a: a - a.mean(axis=0, keepdims=True),
        "scale_cols": lambda s, a, v: a * v.T,
        "squared_error": lambda s, o, y: 0.5 * float(np.sum((np.subtract(o, y)) ** 2)),
        "mse": lambda s, o, y: float(np.mean(np.subtract(o, y) ** 2)),
        "cross_entropy": cross_entropy,
        "relu": lambda s, a: np.maximum(a, 0.0),
        "sigmoid": lambda s, a: 1.0 / (1.0 + np.exp(-np.asarray(a))),
        "tanh": lambda s, a: np.tanh(a),
        "exp": lambda s, a: np.exp(a),
        "log": lambda s, a: np.log(a),
        "softplus": lambda s, a: np.log1p(np.exp(a)),
        "sqrt": lambda s, a: np.sqrt(a),
        "sin": lambda s, a: np.sin(a),
        "cos": lambda s, a: np.cos(a),
        "sinh": lambda s, a: np.sinh(a),
        "cosh": lambda s, a: np.cosh(a),
        "abs": lambda s, a: np.abs(a),
        "leaky_relu": lambda s, a, slope: np.where(a > 0, a, slope * a),
        "elu": lambda s, a: np.where(a > 0, a, np.exp(np.minimum(a, 0.0)) - 1.0),
        "gelu": lambda s, a: np.asarray(a) * normal_cdf(np.asarray(a)),
        "max": lambda s, a, b: np.maximum(a, b),
        "min": lambda s, a, b: np.minimum(a, b),
        "max_all": lambda s, a: float(np.max(a)),
        "min_all": lambda s, a: float(np.min(a)),
        "max_rows": lambda s, a: np.max(a, axis=1, keepdims=True),
        "min_rows": lambda s, a: np.min(a, axis=1, keepdims=True),
        "max_cols": lambda s, a: np.max(a, axis=0).reshape(-1, 1),
        "min_cols": lambda s, a: np.min(a, axis=0).reshape(-1, 1),
        "huber": lambda s, r, delta: float(np.sum(np.where(
            np.abs(r) <= delta, 0.5 * np.square(r), delta * (np.abs(r) - 0.5 * delta)))),
        "eye": lambda s: np.eye(sizes[s.param]),
        "diag": lambda s, v: np.diag(np.ravel(v)),
        "diag_part": lambda s, a: np.array([[a[i, i]] for i in range(a.shape[0])]),
        "inv": lambda s, a: np.linalg.solve(a, np.eye(a.shape[0])),
        "det": lambda s, a: float(np.prod(np.linalg.eigvals(a)).real),
        "logdet": lambda s, a: float(np.sum(np.log(np.linalg.eigvals(a))).real),
        "conv1d": lambda s, a, k: correlated(a, k, *s.param, vector=True),
        "conv2d": lambda s, a, k: correlated(a, k, *s.param),
        "maxpool2d": lambda s, a: pooled(a, int(s.param[0]), np.max),
        "avgpool2d": lambda s, a: pooled(a, int(s.param[0]), np.mean),
    }


def correlated(a, k, stride, pad, vector=False):
    """Cross-correlation by its definition, window by window: entry (i, j) is the sum of k
    times the window of the zero-padded a at (stride i, stride j); a vector is a column."""
    stride, pad = int(stride), int(pad)
    a = np.pad(a, ((pad, pad), (0, 0)) if vector else pad)
    (p, r), (n, m) = k.shape, a.shape
    out = np.zeros(((n - p) // stride + 1, (m - r) // stride + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(a[i * stride:i * stride + p, j * stride:j * stride + r] * k)
    return out


def pooled(a, k, reduce):
    """Each k x k window, side by side, reduced to one entry."""
    return np.array([[reduce(a[i:i + k, j:j + k]) for j in range(0, a.shape[1], k)]
                     for i in range(0, a.shape[0], k)])


def normal_cdf(x):
    """Φ by its series, x/√(2π) Σ (-x²/2)^k / (k! (2k + 1)) + 1/2, not by erf."""
    total, term = np.zeros_like(x, dtype=np.float64), np.asarray(x, dtype=np.float64)
    for k in range(200):
        total = total + term / (2 * k + 1)
        term = term * (-x * x / 2) / (k + 1)
    return 0.5 + total / np.sqrt(2 * np.pi)


def _evaluate(tree, env, ops, literal):
    if isinstance(tree, Ref):
        return env[tree.name]
    if isinstance(tree, Literal):  # a number, or a dim used as a value: at DIMS
        return literal(tree.value.xreplace({sp.Symbol(n, integer=True, positive=True): k
                                            for n, k in DIMS.items()}))
    assert isinstance(tree, Node)
    if tree.op.name == "pow" and tree.param.is_Symbol:  # x ^ k, k a const
        return _evaluate(tree.args[0], env, ops, literal) ** env[tree.param.name]
    if tree.op.name == "slice":  # rows or columns lo..hi, 1-based, at DIMS
        return cut(_evaluate(tree.args[0], env, ops, literal), tree.param,
                   {sp.Symbol(n, integer=True, positive=True): k for n, k in DIMS.items()})
    return ops[tree.op.name](tree, *[_evaluate(a, env, ops, literal) for a in tree.args])


def _model(row):
    return sbp.parse(DECLS + f"E = {ROWS[row][0]}\nobjective E\n", filename=row) \
        if ROWS[row][1] == "scalar" else sbp.parse(
            DECLS + f"E = {ROWS[row][0]}\nJ = sum(E)\nobjective J\n", filename=row)


def _columns(model, arrays):
    """The arrays as the references take them: vectors as k x 1 columns."""
    return {name: (np.reshape(value, (-1, 1)) if model.variables[name].shape.kind == "vector"
                   else value) for name, value in arrays.items()}


def _explicit_value(model, arrays):
    """E from the project's explicit definitions, its entry symbols replaced by the arrays."""
    d = sbp.derive(model)
    env = explicit_environment(d, {model.dims[n]: s for n, s in DIMS.items()})
    point = {}
    for name, value in _columns(model, arrays).items():
        symbols = env[d.symbols[name]]
        if isinstance(symbols, sp.MatrixBase):
            point.update({s: sp.Float(v, 30) for s, v in zip(symbols, np.ravel(value))})
        else:
            point[symbols] = sp.Float(value, 30)
    value = env[d.symbols["E"]]
    if isinstance(value, sp.MatrixBase):
        return np.array(value.xreplace(point).evalf(30).tolist(), dtype=np.float64)
    return float(value.xreplace(point).evalf(30))


def _sizes(model):
    return {model.dims[n]: s for n, s in DIMS.items()}


def _tree(model):
    return next(a.tree for a in model.assignments if a.target == "E")


def test_every_registry_entry_is_defined_independently():
    # the NumPy table here, and the rows' models, cover every operator of the registry
    assert set(_numpy_ops()) == set(REGISTRY)
    used = set()
    for row in ROWS:
        stack = [_tree(_model(row))]
        while stack:
            tree = stack.pop()
            if isinstance(tree, Node):
                used.add(tree.op.name)
                stack.extend(tree.args)
    assert used == set(REGISTRY)


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("seed", [0, 1])
def test_explicit_definition_agrees_with_numpy(row, seed):
    model = _model(row)
    arrays = random_arrays(model, DIMS, seed)
    mine = _explicit_value(model, arrays)
    theirs = _evaluate(_tree(model), _columns(model, arrays), _numpy_ops(_sizes(model)), float)
    assert np.shape(mine) == np.shape(theirs), (np.shape(mine), np.shape(theirs))
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("row", ROWS)
def test_explicit_definition_agrees_with_pytorch(row):
    torch = torch_or_skip()
    model = _model(row)
    arrays = random_arrays(model, DIMS, seed=2)
    env = {name: torch.tensor(np.asarray(value, dtype=np.float64), dtype=torch.float64)
           for name, value in _columns(model, arrays).items()}
    theirs = _evaluate(_tree(model), env, _torch_ops(torch, _sizes(model)),
                       lambda v: torch.tensor(float(v), dtype=torch.float64))
    theirs = theirs.detach().numpy()
    mine = _explicit_value(model, arrays)
    np.testing.assert_allclose(np.reshape(mine, np.shape(theirs)) if np.size(mine) == 1 else mine,
                               theirs, rtol=1e-12, atol=1e-14)
