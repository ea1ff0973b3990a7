"""Operators defined piece by piece: leaky_relu with its slope, max and min, the Huber loss.

Their scalar functions are in :mod:`symbackprop.primitives.pieces`; here are the
registry entries a model calls:

* ``leaky_relu(x, a)``: entrywise, a the slope (a const or a number); the rule
  multiplies by ``𝟙[x > 0] + a 𝟙[x ≤ 0]``;
* ``max(a, b)`` and ``min(a, b)``: entrywise of equal shapes, or a scalar with
  anything (the hinge ``max(0, 1 - y * s)``); the rules are indicators,
  ``𝟙[a - b > 0]``, and at a tie each argument takes half the adjoint, as
  ``torch.maximum`` and ``torch.minimum`` do;
* ``max(A)`` and ``min(A)`` over all entries (a scalar), ``max_rows(X)`` and
  ``min_rows(X)`` over each row (a vector(n) of a matrix(n, k)), ``max_cols(X)``
  and ``min_cols(X)`` over each column (a vector(k)); the rule is the indicator
  of where the extreme is, ``𝟙[A ≥ m]`` for m = max(A), ``𝟙[X ≥ r 𝟏ᵀ]`` for r =
  max_rows(X) (:class:`ArgExtreme`); at a tie the adjoint is split evenly among
  the tied entries, as ``torch.amax`` and ``torch.amin`` split it;
* ``huber(r, delta)``: the sum over the entries of r of r²/2 where abs(r) <= δ and
  δ (abs(r) - δ/2) elsewhere (``torch.nn.functional.huber_loss`` with
  ``reduction="sum"``); the rule multiplies by ``clip(r, -δ, δ)``.

:class:`Extremum` is max or min of two matrices (or a matrix and a scalar),
entry by entry.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr

from . import expressions as ex
from . import matrix_functions as mf
from .entries import entry
from .entries import nonscalar
from .functions import operator_latex
from .pieces import (at_most_zero, clip, extreme_share, greatest, huber_entry, leaky_relu, least,
                     maximum, minimum)
from .shapes import SCALAR, ShapeError, matrix, vector

__all__ = ["Extremum", "ExtremeAll", "ExtremeLines", "ArgExtreme", "OVERLOADS", "OPERATORS"]

_SCALAR_FUNCTIONS = {"max": maximum, "min": minimum}


class Extremum(MatrixExpr):
    """max(a, b) or min(a, b) entry by entry; one of a, b may be a scalar.

    Examples
    --------
    >>> A = sp.MatrixSymbol("A", 2, 1)
    >>> Extremum("max", 0, A).explicit(0, sp.ImmutableMatrix([-1, 2]))
    Matrix([
    [0],
    [2]])
    """

    def __new__(cls, kind, a, b):
        kind = kind if isinstance(kind, Str) else Str(kind)  # rebuilt from its args
        return super().__new__(cls, kind, sp.sympify(a), sp.sympify(b))

    kind = property(lambda self: self.args[0].name)
    operands = property(lambda self: self.args[1:])
    function = property(lambda self: _SCALAR_FUNCTIONS[self.kind])

    @property
    def shape(self):
        return next(o.shape for o in self.operands if ex.is_matrix(o))

    def explicit(self, a, b):
        rows, cols = next(o.shape for o in (a, b) if isinstance(o, sp.MatrixBase))

        def at(value, i, j):
            return value[i, j] if isinstance(value, sp.MatrixBase) else value
        return sp.ImmutableMatrix(rows, cols, lambda i, j: self.function(at(a, i, j),
                                                                         at(b, i, j)))

    def _tangent(self, sweep):
        """𝟙[a > b] ⊙ R{a} + 𝟙[b > a] ⊙ R{b} (for max; ties share it)."""
        a, b = self.operands
        terms = [ex.hadamard(_spread(t, self.shape), _wins(self.kind, mine, other, self.shape))
                 for t, mine, other in ((sweep(a), a, b), (sweep(b), b, a)) if t is not None]
        return ex.tangent_sum(*terms)


def _wins(kind, mine, other, shape):
    """Where `mine` is the max (min) of the two: 𝟙[mine - other > 0], ½ at a tie."""
    high, low = (mine, other) if kind == "max" else (other, mine)
    difference = ex.add(_spread(high, shape), ex.neg(_spread(low, shape)))
    return ex.entrywise(sp.Heaviside(ex.ENTRY, sp.S.Half), difference)


def _spread(value, shape):
    return value if ex.is_matrix(value) else ex.mul(value, ex.ones(*shape))


def _share(kind, adjoint, mine, other, shape):
    """The adjoint share of `mine`: adjoint ⊙ 𝟙[...], summed when `mine` is a scalar."""
    share = ex.hadamard(_spread(adjoint, shape), _wins(kind, mine, other, shape))
    return share if ex.is_matrix(mine) else mf.sum_all(share)


_EXPLICIT = {"max": greatest, "min": least}


class ExtremeAll(mf.NamedCall, mf._ScalarOfMatrix):
    """max(A) or min(A): the extreme of all entries of a matrix, a scalar.

    Examples
    --------
    >>> ExtremeAll("max", sp.MatrixSymbol("A", 2, 1)).explicit(sp.ImmutableMatrix([-1, 2]))
    2
    """

    def __new__(cls, kind, arg):
        kind = kind if isinstance(kind, Str) else Str(kind)
        return sp.Expr.__new__(cls, kind, arg)

    kind = property(lambda self: self.args[0].name)
    arg = property(lambda self: self.args[1])
    operands = property(lambda self: (self.args[1],))
    call_text = property(lambda self: self.kind)
    call_latex = property(lambda self: "\\" + self.kind)
    call_numpy = property(lambda self: "np." + self.kind)

    def explicit(self, arg):
        return _EXPLICIT[self.kind](*arg)

    def numeric(self, a):
        return np.max(a) if self.kind == "max" else np.min(a)

    def _tangent(self, sweep):
        """sum(W ⊙ R{A}), W the share of each entry (𝟙[A - m 𝟏 𝟏ᵀ ≥ 0] / its count)."""
        t = sweep(self.arg)
        return None if t is None else mf.sum_all(ex.hadamard(_weights(
            self.kind, self.arg, sweep.value(self), None), t))


class ExtremeLines(mf.NamedCall, MatrixExpr):
    """max_rows(X), min_rows(X) (axis 1), max_cols(X), min_cols(X) (axis 0): a column of the
    extremes of the rows, or of the columns, of a matrix."""

    def __new__(cls, kind, arg, axis):
        kind = kind if isinstance(kind, Str) else Str(kind)
        return super().__new__(cls, kind, arg, sp.Integer(axis))

    kind = property(lambda self: self.args[0].name)
    arg = property(lambda self: self.args[1])
    axis = property(lambda self: int(self.args[2]))
    operands = property(lambda self: (self.args[1],))
    call_text = property(lambda self: f"{self.kind}_{'rows' if self.axis else 'cols'}")
    call_latex = property(lambda self: operator_latex(self.call_text))

    @property
    def shape(self):
        return (self.arg.shape[self.axis - 1 if self.axis else 1], sp.Integer(1))

    def explicit(self, arg):
        lines = [arg.row(i) for i in range(arg.rows)] if self.axis else [
            arg.col(j) for j in range(arg.cols)]
        return sp.ImmutableMatrix([[_EXPLICIT[self.kind](*line)] for line in lines])

    def numeric(self, a):
        reduce = np.max if self.kind == "max" else np.min
        return reduce(a, axis=self.axis, keepdims=True).reshape(-1, 1)

    def _tangent(self, sweep):
        """The sums along the lines of W ⊙ R{X}, W the share of each entry."""
        t = sweep(self.arg)
        if t is None:
            return None
        return _line_sums(ex.hadamard(_weights(self.kind, self.arg, sweep.value(self),
                                               self.axis), t), self.axis)


def _line_sums(m, axis):
    """The sums of the rows (axis 1) or of the columns (axis 0) of `m`, as a column."""
    shape = matrix(*m.shape)
    return mf.lines_sum(m, 1, shape) if axis else ex.transpose(mf.lines_sum(m, 0, shape))


def _spread_lines(v, axis, shape):
    """A column of one value per row (axis 1) or per column (axis 0) copied along it."""
    return mf.spread(v, 1, shape) if axis else mf.spread(ex.transpose(v), 0, shape)


class ArgExtreme(MatrixExpr):
    """Where each extreme of a matrix is: 𝟙[X ≥ m] for m = max(X), 𝟙[X ≥ r 𝟏ᵀ] for r =
    max_rows(X), ... (≤ for a min), each entry's share of the adjoint of its extreme.

    At a tie the share is 1/(the number of tied entries), the adjoint split evenly as
    torch.amax and torch.amin split it; away from ties it is the indicator.  `axis` is 1
    (rows), 0 (columns) or -1 (all the entries).

    Examples
    --------
    >>> X = sp.ImmutableMatrix([[1, 3, 3]])
    >>> ArgExtreme("max", sp.MatrixSymbol("X", 1, 3), sp.Symbol("m"), -1).explicit(X, 3)
    Matrix([[0, 1/2, 1/2]])
    """

    def __new__(cls, kind, x, extreme, axis):
        kind = kind if isinstance(kind, Str) else Str(kind)
        return super().__new__(cls, kind, x, extreme, sp.Integer(axis))

    kind = property(lambda self: self.args[0].name)
    operands = property(lambda self: self.args[1:3])
    axis = property(lambda self: int(self.args[3]))
    shape = property(lambda self: self.args[1].shape)

    def spread_extreme(self):
        """The extreme copied to every entry it is the extreme of: m, r 𝟏ᵀ, 𝟏 cᵀ."""
        x, extreme = self.operands
        if self.axis < 0:
            return extreme
        return _spread_lines(extreme, self.axis, matrix(*x.shape))

    def _lines(self, x):
        if self.axis < 0:
            return [[(i, j) for i in range(x.rows) for j in range(x.cols)]]
        if self.axis == 1:
            return [[(i, j) for j in range(x.cols)] for i in range(x.rows)]
        return [[(i, j) for i in range(x.rows)] for j in range(x.cols)]

    def explicit(self, x, extreme):
        out, sign = sp.zeros(x.rows, x.cols), 1 if self.kind == "max" else -1
        for line in self._lines(x):
            values = [x[at] for at in line]
            for i, at in enumerate(line):
                out[at] = extreme_share(i, sign, *values)
        return sp.ImmutableMatrix(out)

    def numeric(self, x, extreme):
        m = extreme if self.axis < 0 else (extreme.T if self.axis == 0 else extreme)
        reached = (x == m).astype(np.float64)
        axis = None if self.axis < 0 else self.axis
        return reached / np.sum(reached, axis=axis, keepdims=True)

    def _tangent(self, sweep):
        return None  # constant between ties


def _weights(kind, x, extreme, axis):
    """Each entry's share of the adjoint of its extreme, along the matrix or each line."""
    return ArgExtreme(kind, x, extreme, -1 if axis is None else axis)


def _reduction(kind, axis):
    def forward(s):
        (x,) = s.args
        return ExtremeAll(kind, x) if axis is None else ExtremeLines(kind, x, axis)

    def rule(s):
        (x,) = s.args
        weights = _weights(kind, x, s.out, axis)
        if axis is None:
            return ex.mul(s.adj, weights)
        return ex.hadamard(_spread_lines(s.adj, axis, matrix(*x.shape)), weights)
    return forward, rule


def _lines_of(what, axis):
    def rule(a, param=None):
        if a.kind != "matrix":
            raise ShapeError(f"{what} takes a matrix, not {a}")
        return vector(a.rows if axis else a.cols)
    return rule


def _broadcast_pair(what):
    def rule(a, b, param=None):
        if a == b or b.is_scalar:
            return a
        if a.is_scalar:
            return b
        raise ShapeError(f"{what}({a}, {b}): the arguments must have the same shape, or one be "
                         "a scalar")
    return rule


def _extremum(kind):
    def forward(s):
        a, b = s.args
        if s.shape.is_scalar:
            return _SCALAR_FUNCTIONS[kind](a, b)
        return Extremum(kind, a, b)

    def rule(i):
        def share(s):
            mine, other = s.args[i], s.args[1 - i]
            if s.shape.is_scalar:
                return s.adj * _SCALAR_FUNCTIONS[kind](*s.args).fdiff(i + 1)
            return _share(kind, s.adj, mine, other, (s.shape.rows, s.shape.cols))
        return share
    return forward, rule(0), rule(1)


def _to_scalar(what):
    check = nonscalar(what)

    def rule(a, param=None):
        check(a)
        return SCALAR
    return rule


def _slope(what):
    def rule(a, b, param=None):
        if not b.is_scalar:
            raise ShapeError(f"{what}: the second argument must be a scalar, not {b}")
        return a if what == "leaky_relu" else SCALAR
    return rule


def _leaky_relu_forward(s):
    x, a = s.args
    body = leaky_relu(ex.ENTRY, a)
    return body.subs(ex.ENTRY, x) if s.shape.is_scalar else ex.entrywise(body, x)


def _leaky_relu_rule(s):
    x, a = s.args
    local = sp.Heaviside(ex.ENTRY, 0) + a * at_most_zero(ex.ENTRY)
    if s.shape.is_scalar:
        return s.adj * local.subs(ex.ENTRY, x)
    return ex.hadamard(s.adj, ex.entrywise(local, x))


def _huber_forward(s):
    r, delta = s.args
    return mf.sum_all(ex.entrywise(huber_entry(ex.ENTRY, delta), r)) if ex.is_matrix(r) \
        else huber_entry(r, delta)


def _huber_rule(s):
    r, delta = s.args
    if not ex.is_matrix(r):
        return s.adj * clip(r, -delta, delta)
    return ex.mul(s.adj, ex.entrywise(clip(ex.ENTRY, -delta, delta), r))


def _constant(what):
    def rule(s):  # the model checker lets only consts and numbers be the operand
        raise ValueError(f"the {what} is a constant: it has no adjoint")
    return rule


OPERATORS = [
    entry("leaky_relu", "leaky_relu(x, a)", 2, _slope("leaky_relu"), _leaky_relu_forward,
          _leaky_relu_rule, _constant("slope of leaky_relu"), constants=(1,),
          doc="x where x > 0, a x elsewhere, entrywise, a a const or a number; derivative "
              "𝟙[x > 0] + a 𝟙[x ≤ 0] (a at 0, as PyTorch)"),
    entry("max", "max(a, b)", 2, _broadcast_pair("max"), *_extremum("max"),
          doc="the larger of a and b entry by entry (equal shapes, or a scalar with anything); "
              "derivative 𝟙[a - b > 0], at a tie half to each, as torch.maximum"),
    entry("min", "min(a, b)", 2, _broadcast_pair("min"), *_extremum("min"),
          doc="the smaller of a and b entry by entry (equal shapes, or a scalar with "
              "anything); derivative 𝟙[b - a > 0], at a tie half to each, as torch.minimum"),
    entry("max_all", "max(A)", 1, _to_scalar("max"), *_reduction("max", None),
          doc="the largest entry of a vector or a matrix, a scalar; derivative the indicator "
              "of where it is, split evenly among ties (as torch.amax)", label=("max", "\\max")),
    entry("min_all", "min(A)", 1, _to_scalar("min"), *_reduction("min", None),
          doc="the smallest entry of a vector or a matrix, a scalar; derivative the indicator "
              "of where it is, split evenly among ties (as torch.amin)", label=("min", "\\min")),
    *[entry(f"{kind}_{lines}", f"{kind}_{lines}(X)", 1, _lines_of(f"{kind}_{lines}", axis),
            *_reduction(kind, axis),
            doc=f"the {'largest' if kind == 'max' else 'smallest'} entry of each "
                f"{lines[:-1]} of a matrix(n, k): a vector({'n' if axis else 'k'}); derivative "
                f"the indicator of where it is, split evenly among ties (as torch.a{kind})")
      for kind in ("max", "min") for lines, axis in (("rows", 1), ("cols", 0))],
    entry("huber", "huber(r, delta)", 2, _slope("huber"), _huber_forward, _huber_rule,
          _constant("threshold of huber"), constants=(1,),
          doc="the Huber loss summed over the entries of r: r²/2 where abs(r) <= δ, "
              "δ (abs(r) - δ/2) elsewhere, δ a const or a number; derivative clip(r, -δ, δ)"),
]


#: A call written with another number of arguments is another operator: max(A) is max_all.
OVERLOADS = {("max", 1): "max_all", ("min", 1): "min_all"}
