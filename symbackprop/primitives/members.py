"""Members of families and sums over an index: the vocabulary of loops.

A model with loops names values by an index: ``h[t-1]``, ``W[l]``, and the
adjoint dJ/dh[t].  :class:`Member` is such a value when it is a vector or a
matrix, :class:`ScalarMember` when it is a scalar; the index is one of the
expression's arguments, so substituting ``t -> t + 1`` (re-indexing a share in
the reverse sweep) or ``t -> 3`` (instantiating a general formula at a length)
is SymPy's ``xreplace``.  A member's shape may depend on its index
(``W[l]`` is ``n[l] x n[l-1]``): the sizes are arguments too.

:class:`IndexSum` is the sum over an index of a matrix expression,
``sum_{t=1}^{T} (dL/dh_t) h_{t-1}^T``; a scalar sum is SymPy's own
:class:`sympy.Sum`.  :func:`index_sum` builds the one that fits.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr

__all__ = ["Member", "ScalarMember", "IndexSum", "member", "index_sum", "members_in"]


def _str(name):
    return name if isinstance(name, Str) else Str(name)


class Member(MatrixExpr):
    """A vector or matrix member of a family: ``Member("h", t - 1, rows, cols)``."""

    is_symbol = True

    def __new__(cls, family, index, rows, cols):
        return super().__new__(cls, _str(family), sp.sympify(index, strict=True),
                               sp.sympify(rows, strict=True),
                               sp.sympify(cols, strict=True))

    family = property(lambda self: self.args[0].name)
    index = property(lambda self: self.args[1])
    shape = property(lambda self: (self.args[2], self.args[3]))

    @property
    def free_symbols(self):
        return {self}

    def _eval_transpose(self):
        return None  # Transpose(member), as for a MatrixSymbol


class ScalarMember(sp.Expr):
    """A scalar member of a family: ``ScalarMember("l", t)``."""

    is_commutative = True
    is_real = True
    is_symbol = True
    is_number = False
    _diff_wrt = True  # a scalar the tangent sweep differentiates in, as in a Symbol

    def __new__(cls, family, index):
        return super().__new__(cls, _str(family), sp.sympify(index, strict=True))

    family = property(lambda self: self.args[0].name)
    index = property(lambda self: self.args[1])

    @property
    def free_symbols(self):
        return {self}


def member(family, index, rows, cols, scalar=False):
    """The member `index` of `family`: a :class:`ScalarMember` or a :class:`Member`.

    Examples
    --------
    >>> t = sp.Symbol("t", integer=True)
    >>> h = sp.Symbol("h", integer=True, positive=True)
    >>> m = member("h", t - 1, h, 1)
    >>> m.family, m.index, m.shape
    ('h', t - 1, (h, 1))
    >>> m.xreplace({t: 3}) == member("h", 2, h, 1)
    True
    """
    if scalar:
        return ScalarMember(family, index)
    return Member(family, index, rows, cols)


class IndexSum(MatrixExpr):
    """``IndexSum(body, (t, lo, hi))``: the sum over t = lo, ..., hi of a matrix expression."""

    def __new__(cls, body, limits):
        return super().__new__(cls, body, sp.Tuple(*limits))

    body = property(lambda self: self.args[0])
    limits = property(lambda self: tuple(self.args[1]))
    shape = property(lambda self: self.args[0].shape)

    def _tangent(self, sweep):
        # the directional derivative of a sum is the sum of the terms' (see expressions)
        inner = sweep(self.body)
        return None if inner is None else IndexSum(inner, self.limits)

    def doit(self, **hints):
        """The sum written out, when both bounds are integers."""
        var, lo, hi = self.limits
        if not (lo.is_Integer and hi.is_Integer):
            return self
        terms = [self.body.xreplace({var: sp.Integer(k)}) for k in range(int(lo), int(hi) + 1)]
        if not terms:
            return sp.ZeroMatrix(*self.shape)
        return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]


def index_sum(body, var, lo, hi):
    """The sum of `body` over ``var = lo, ..., hi``: an :class:`IndexSum` of a matrix, a
    :class:`sympy.Sum` of a scalar (kept unevaluated, as it prints).

    Examples
    --------
    >>> t, T = sp.Symbol("t", integer=True), sp.Symbol("T", integer=True, positive=True)
    >>> index_sum(ScalarMember("l", t), t, 1, T)
    Sum(ScalarMember(l, t), (t, 1, T))
    """
    if isinstance(body, MatrixExpr):
        return IndexSum(body, (var, lo, hi))
    return sp.Sum(body, (var, lo, hi))


def members_in(expr):
    """The members an expression reads, each once, in a stable order."""
    found = expr.atoms(Member, ScalarMember)
    return sorted(found, key=sp.default_sort_key)
