"""Operators defined piece by piece: leaky_relu with its slope, max and min, the Huber loss.

Their scalar functions are in :mod:`symbackprop.primitives.pieces`; here are the
registry entries a model calls:

* ``leaky_relu(x, a)``: entrywise, a the slope (a const or a number); the rule
  multiplies by ``𝟙[x > 0] + a 𝟙[x ≤ 0]``;
* ``max(a, b)`` and ``min(a, b)``: entrywise of equal shapes, or a scalar with
  anything (the hinge ``max(0, 1 - y * s)``); the rules are indicators,
  ``𝟙[a - b > 0]``, and at a tie each argument takes half the adjoint, as
  ``torch.maximum`` and ``torch.minimum`` do;
* ``huber(r, delta)``: the sum over the entries of r of r²/2 where abs(r) <= δ and
  δ (abs(r) - δ/2) elsewhere (``torch.nn.functional.huber_loss`` with
  ``reduction="sum"``); the rule multiplies by ``clip(r, -δ, δ)``.

:class:`Extremum` is max or min of two matrices (or a matrix and a scalar),
entry by entry.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr

from . import expressions as ex
from . import matrix_functions as mf
from .entries import entry
from .pieces import at_most_zero, clip, huber_entry, leaky_relu, maximum, minimum
from .shapes import SCALAR, ShapeError

__all__ = ["Extremum", "OPERATORS"]

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
    entry("huber", "huber(r, delta)", 2, _slope("huber"), _huber_forward, _huber_rule,
          _constant("threshold of huber"), constants=(1,),
          doc="the Huber loss summed over the entries of r: r²/2 where abs(r) <= δ, "
              "δ (abs(r) - δ/2) elsewhere, δ a const or a number; derivative clip(r, -δ, δ)"),
]
