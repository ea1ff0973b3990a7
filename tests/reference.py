"""An independent PyTorch reference for any model, for the tests.

The reference reads the model's checked expression trees and computes the
objective with PyTorch operations in float64, then differentiates it with
autograd.  It shares nothing with symbackprop's derivation or NumPy code, so
agreement is a third, independent proof of the gradients.
"""

import numpy as np
import pytest

from symbackprop.language.model import Literal, Node, Ref
from symbackprop.primitives.operators import REGISTRY
from symbackprop.primitives.shapes import solved_sizes


def torch_or_skip():
    """PyTorch, or a skip that prints why."""
    return pytest.importorskip("torch", reason="PyTorch is not installed: `pip install "
                                               "torch==2.13.0` runs the autograd cross-checks")


class _Ops(dict):
    """The PyTorch form of each operator; an entrywise function not listed is torch.<name>."""

    def __init__(self, torch, ops):
        super().__init__(ops)
        self.torch = torch

    def __missing__(self, name):
        op = REGISTRY.get(name)
        if op is None or not op.elementwise or not hasattr(self.torch, name):
            raise KeyError(f"no PyTorch form for the operator {name}: add it to reference.py")
        function = getattr(self.torch, name)
        return lambda s, a: function(a)


def _torch_ops(torch, sizes=None):
    F = torch.nn.functional

    def broadcast(value, shape, to):
        if shape == to or shape.is_scalar or shape.kind == "row":
            return value  # a row vector(k).T, 1 x k, broadcast to every row as it is
        return value.T  # a vector(k), as a k x 1 column, added to every row

    def scalar(value):
        return value.reshape(())

    def cross_entropy(s, o, y):
        axis = s.args[0].shape.last_axis
        total = -torch.sum(y * F.log_softmax(o, dim=axis))
        return total / o.shape[0] if s.args[0].shape.kind == "matrix" else total

    def logsumexp(s, a):
        value = torch.logsumexp(a, dim=s.args[0].shape.last_axis, keepdim=True)
        return scalar(value) if s.shape.is_scalar else value

    return _Ops(torch, {
        "add": lambda s, a, b: broadcast(a, s.args[0].shape, s.shape)
        + broadcast(b, s.args[1].shape, s.shape),
        "sub": lambda s, a, b: broadcast(a, s.args[0].shape, s.shape)
        - broadcast(b, s.args[1].shape, s.shape),
        "neg": lambda s, a: -a,
        "mul": lambda s, a, b: a * b,
        "div": lambda s, a, b: a / b,
        "matmul": lambda s, a, b: scalar(a @ b) if s.shape.is_scalar else a @ b,
        "pow": lambda s, a: a ** float(s.param),
        "square": lambda s, a: a * a,
        "transpose": lambda s, a: a.T if a.dim() == 2 else a,
        "copy": lambda s, a: a,
        "vcat": lambda s, *blocks: torch.cat(blocks, dim=0),
        "hcat": lambda s, *blocks: torch.cat(blocks, dim=1),
        "sum": lambda s, a: torch.sum(a),
        "mean": lambda s, a: torch.mean(a),
        "norm": lambda s, a: torch.sqrt(torch.sum(a * a)),
        "trace": lambda s, a: torch.trace(a),
        "softmax": lambda s, a: torch.softmax(a, dim=s.args[0].shape.last_axis),
        "log_softmax": lambda s, a: F.log_softmax(a, dim=s.args[0].shape.last_axis),
        "logsumexp": logsumexp,
        "sum_rows": lambda s, a: torch.sum(a, dim=1, keepdim=True),
        "mean_rows": lambda s, a: torch.mean(a, dim=1, keepdim=True),
        "center_rows": lambda s, a: a - torch.mean(a, dim=1, keepdim=True),
        "scale_rows": lambda s, a, v: a * v,
        "shift_rows": lambda s, a, c: a + c,
        "sum_cols": lambda s, a: torch.sum(a, dim=0, keepdim=True).T,
        "mean_cols": lambda s, a: torch.mean(a, dim=0, keepdim=True).T,
        "center_cols": lambda s, a: a - torch.mean(a, dim=0, keepdim=True),
        "scale_cols": lambda s, a, v: a * v.T,
        "squared_error": lambda s, o, y: 0.5 * torch.sum((o - y) ** 2),
        "mse": lambda s, o, y: torch.mean((o - y) ** 2),
        "cross_entropy": cross_entropy,
        "relu": lambda s, a: torch.relu(a),
        "sigmoid": lambda s, a: torch.sigmoid(a),
        "tanh": lambda s, a: torch.tanh(a),
        "exp": lambda s, a: torch.exp(a),
        "log": lambda s, a: torch.log(a),
        "softplus": lambda s, a: F.softplus(a),
        "sqrt": lambda s, a: torch.sqrt(a),
        "leaky_relu": lambda s, a, slope: F.leaky_relu(a, float(slope)),
        "elu": lambda s, a: F.elu(a),
        "gelu": lambda s, a: F.gelu(a, approximate="none"),
        "max": lambda s, a, b: torch.maximum(a, b),
        "min": lambda s, a, b: torch.minimum(a, b),
        "max_all": lambda s, a: torch.amax(a),
        "min_all": lambda s, a: torch.amin(a),
        "max_rows": lambda s, a: torch.amax(a, dim=1, keepdim=True),
        "min_rows": lambda s, a: torch.amin(a, dim=1, keepdim=True),
        "max_cols": lambda s, a: torch.amax(a, dim=0, keepdim=True).T,
        "min_cols": lambda s, a: torch.amin(a, dim=0, keepdim=True).T,
        "huber": lambda s, r, delta: F.huber_loss(r, torch.zeros_like(r), reduction="sum",
                                                  delta=float(delta)),
        "eye": lambda s: torch.eye(sizes[s.param], dtype=torch.float64),
        "diag": lambda s, v: torch.diag(v.reshape(-1)),
        "diag_part": lambda s, a: torch.diagonal(a).reshape(-1, 1),
        "inv": lambda s, a: torch.linalg.inv(a),
        "det": lambda s, a: torch.linalg.det(a),
        "logdet": lambda s, a: _positive_logdet(torch, a),
        # a vector is an n x 1 column here: conv1d reads it as one channel of length n
        "conv1d": lambda s, x, k: F.conv1d(x.T[None], k.T[None], stride=s.param[0],
                                           padding=s.param[1])[0].T,
        "conv2d": lambda s, x, k: F.conv2d(x[None, None], k[None, None], stride=s.param[0],
                                           padding=s.param[1])[0, 0],
        "maxpool2d": lambda s, x: F.max_pool2d(x[None, None], s.param[0])[0, 0],
        "avgpool2d": lambda s, x: F.avg_pool2d(x[None, None], s.param[0])[0, 0],
    })


def _positive_logdet(torch, a):
    sign, value = torch.linalg.slogdet(a)
    assert float(sign.detach()) > 0, "logdet of a matrix whose determinant is not positive"
    return value


def _sizes(model, arrays):
    """Each dim symbol's size, read off the arrays of the declared variables."""
    out = {}
    for v in model.variables.values():
        if v.declared and not v.shape.is_scalar:
            shape = np.shape(arrays[v.name])
            for symbol, size in zip((v.shape.rows, v.shape.cols), shape):
                out[symbol] = size
    return out


def torch_value_and_grad(model, arrays, wrt):
    """The objective and the gradients of `wrt` by PyTorch autograd, in float64.

    Arrays are given and returned as :func:`symbackprop.check` uses them:
    vectors 1-D, matrices 2-D, scalars floats.
    """
    torch = torch_or_skip()
    ops = _torch_ops(torch, _sizes(model, arrays))
    env = {}
    for v in model.variables.values():
        if not v.declared:
            continue
        value = torch.tensor(np.asarray(arrays[v.name], dtype=np.float64), dtype=torch.float64)
        if v.shape.kind == "vector":
            value = value.reshape(-1, 1)
        env[v.name] = value.requires_grad_(v.name in wrt)

    sizes = dims_of(model, arrays)
    for a in model.assignments:
        env[a.target] = _evaluate(a.tree, env, ops, sizes)
    J = env[model.objective]
    grads = torch.autograd.grad(J, [env[n] for n in wrt], allow_unused=True)
    out = {}
    for name, g in zip(wrt, grads):
        shape = np.shape(arrays[name])
        out[name] = np.zeros(shape) if g is None else g.detach().numpy().reshape(shape)
    return float(J.detach()), out


def _evaluate(tree, env, ops, sizes):
    """The PyTorch value of an expression tree, the declared values in `env`."""
    torch = ops.torch
    if isinstance(tree, Ref):
        return env[tree.name]
    if isinstance(tree, Literal):  # a number, or a dim used as a value
        return torch.tensor(float(tree.value.xreplace(sizes)), dtype=torch.float64)
    assert isinstance(tree, Node)
    if tree.op.name == "pow" and tree.param.is_Symbol:  # x ^ k, k a const
        return _evaluate(tree.args[0], env, ops, sizes) ** env[tree.param.name]
    if tree.op.name == "slice":  # rows or columns lo..hi, 1-based, at the sizes
        return cut(_evaluate(tree.args[0], env, ops, sizes), tree.param, sizes)
    return ops[tree.op.name](tree, *[_evaluate(a, env, ops, sizes) for a in tree.args])


def cut(value, param, sizes):
    """Rows (axis 0) or columns (axis 1) lo to hi of a 2-D `value`, 1-based and inclusive."""
    lo, hi, axis = param
    lo, hi = int(lo.xreplace(sizes)), int(hi.xreplace(sizes))
    return value[lo - 1:hi, :] if axis == 0 else value[:, lo - 1:hi]


def dims_of(model, arrays):
    """Each dim's symbol to its size, solved from the declared arrays' shapes."""
    observed = []
    for v in model.variables.values():
        if v.declared and not v.shape.is_scalar:
            shape = np.shape(np.asarray(arrays[v.name]).reshape(-1, 1)
                             if v.shape.kind == "vector" else arrays[v.name])
            observed += [(k, n) for k, n in zip((v.shape.rows, v.shape.cols), shape)
                         if k.free_symbols]
    solved = {}
    for symbol, (value, rest, coefficient) in solved_sizes(observed).items():
        solved[symbol] = (value - rest.xreplace(solved)) / coefficient
    return solved


def relative_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def torch_hvp(model, arrays, directions):
    """The Hessian-vector products of the objective by PyTorch double backward, in float64.

    `directions` holds one direction per moving variable (by name, in the
    variable's shape); the others stay fixed.  Returns H v per moving variable,
    from ``torch.autograd.functional.hvp`` of the same independent evaluation
    of the model's expression trees as :func:`torch_value_and_grad`.
    """
    torch = torch_or_skip()
    ops = _torch_ops(torch, _sizes(model, arrays))
    moving = list(directions)

    def tensor(name, value):
        value = torch.tensor(np.asarray(value, dtype=np.float64), dtype=torch.float64)
        return value.reshape(-1, 1) if model.variables[name].shape.kind == "vector" else value

    def objective(*values):
        env = {v.name: tensor(v.name, arrays[v.name])
               for v in model.variables.values() if v.declared}
        env.update(zip(moving, values))

        for a in model.assignments:
            env[a.target] = _evaluate(a.tree, env, ops, sizes)
        return env[model.objective]

    sizes = dims_of(model, arrays)
    inputs = tuple(tensor(n, arrays[n]) for n in moving)
    v = tuple(tensor(n, directions[n]) for n in moving)
    _, products = torch.autograd.functional.hvp(objective, inputs, v)
    return {n: p.detach().numpy().reshape(np.shape(arrays[n])) for n, p in zip(moving, products)}
