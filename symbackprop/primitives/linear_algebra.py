"""Linear algebra of square matrices: the identity, diagonals, inverse, determinant, log det.

The operators of this family, with the rules of the Matrix Cookbook (Petersen
and Pedersen, eqs. 49, 57, 59)::

    dJ/dX += (dJ/dd) det(X) X^-T          for d = det(X)
    dJ/dX += (dJ/dl) X^-T                 for l = log det(X)
    dJ/dX += -X^-T (dJ/dY) X^-T           for Y = X^-1
    dJ/dv += diag(dJ/dD)                  for D = diag(v)
    dJ/dA += diag(dJ/dd)                  for d = diag(A), the diagonal of A

and the classes their forward forms and rules build.  Each class defines its
meaning entry by entry (``explicit``, SymPy's own inverse and determinant of an
explicit matrix), in numbers (``numeric``, for the evaluator of printed
formulas), in generated NumPy (``_symbackprop_numpy``) and its tangent
(``_tangent(sweep)``, the protocol of :mod:`symbackprop.primitives.expressions`):

    R{X^-1} = -X^-1 R{X} X^-1,   R{det X} = det(X) tr(X^-1 R{X}),
    R{log det X} = tr(X^-1 R{X}).

``logdet(X)`` is the log of a positive determinant (the generated code computes
it with ``slogdet``, whose value is the log of the absolute value of the determinant;
both have the derivative X^-T).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from .entries import entry
from .expressions import add, mul, neg, transpose
from .matrix_functions import NamedCall, _ScalarOfMatrix
from .shapes import SCALAR, ShapeError, matrix, vector

__all__ = ["MatrixInverse", "Det", "LogDet", "Diag", "DiagPart", "OPERATORS", "on_symmetric"]


def _det(m):
    """SymPy's determinant of an explicit matrix, by cofactors: its entries stay unexpanded
    (the default elimination spends minutes cancelling sums of 4 x 4 symbols)."""
    return m.det(method="laplace")


def _trace_of_product(a, b):
    """tr(a b), a product kept whole inside the trace."""
    return sp.Trace(mul(a, b))


class MatrixInverse(MatrixExpr):
    """The inverse X⁻¹ of a square matrix; its transpose prints X⁻ᵀ."""

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    arg = property(lambda self: self.args[0])
    operands = property(lambda self: (self.args[0],))
    shape = property(lambda self: self.arg.shape)

    def explicit(self, arg):
        return sp.ImmutableMatrix(arg.adjugate(method="laplace") / _det(arg))

    @staticmethod
    def numeric(a):
        return np.linalg.inv(a)

    def _tangent(self, sweep):
        """-X⁻¹ R{X} X⁻¹, the inverse by its name."""
        t = sweep(self.arg)
        if t is None:
            return None
        y = sweep.value(self)
        return neg(mul(y, t, y))

    def _symbackprop_numpy(self, printer):
        return f"np.linalg.inv({printer.doprint(self.arg)})"


class Det(NamedCall, _ScalarOfMatrix):
    """The determinant det(X) of a square matrix."""

    call_text, call_latex, call_numpy = "det", "\\det", "np.linalg.det"

    def explicit(self, arg):
        return _det(arg)

    @staticmethod
    def numeric(a):
        return np.linalg.det(a)

    def _tangent(self, sweep):
        """det(X) tr(X⁻¹ R{X}), the determinant by its name."""
        t = sweep(self.arg)
        if t is None:
            return None
        return mul(sweep.value(self), _trace_of_product(MatrixInverse(self.arg), t))


class LogDet(NamedCall, _ScalarOfMatrix):
    """log det X, the log of a positive determinant."""

    call_text, call_latex, call_numpy = "log det", "\\log\\det", "np.linalg.slogdet"

    def explicit(self, arg):
        return sp.log(_det(arg))

    @staticmethod
    def numeric(a):
        return np.log(np.linalg.det(a))

    def _tangent(self, sweep):
        """tr(X⁻¹ R{X})."""
        t = sweep(self.arg)
        return None if t is None else _trace_of_product(MatrixInverse(self.arg), t)

    def _symbackprop_numpy(self, printer):
        return f"np.linalg.slogdet({printer.doprint(self.arg)})[1]"


class Diag(NamedCall, MatrixExpr):
    """diag(v): the square matrix with the vector v on its diagonal, 0 elsewhere."""

    call_text, call_latex, call_numpy = "diag", "\\operatorname{diag}", "np.diagflat"

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    arg = property(lambda self: self.args[0])
    operands = property(lambda self: (self.args[0],))
    shape = property(lambda self: (self.arg.shape[0], self.arg.shape[0]))

    def transposed(self):
        return self  # a diagonal matrix is symmetric

    def explicit(self, arg):
        return sp.ImmutableMatrix(sp.diag(*list(arg)))

    @staticmethod
    def numeric(a):
        return np.diagflat(a)

    def _tangent(self, sweep):
        t = sweep(self.arg)
        return None if t is None else Diag(t)


class DiagPart(NamedCall, MatrixExpr):
    """diag(A) of a square matrix A: the vector of its diagonal (as the Cookbook writes it)."""

    call_text, call_latex, call_numpy = "diag", "\\operatorname{diag}", "np.diagonal"

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    arg = property(lambda self: self.args[0])
    operands = property(lambda self: (self.args[0],))
    shape = property(lambda self: (self.arg.shape[0], sp.Integer(1)))

    def explicit(self, arg):
        return sp.ImmutableMatrix([[arg[i, i]] for i in range(arg.rows)])

    @staticmethod
    def numeric(a):
        return np.diagonal(a).reshape(-1, 1)

    def _tangent(self, sweep):
        t = sweep(self.arg)
        return None if t is None else DiagPart(t)

    def _symbackprop_numpy(self, printer):
        return f"np.diagonal({printer.doprint(self.arg)})[:, None]"


def diag(v):
    """diag(v), of a vector expression; diag(0) is the 0 matrix, diag(𝟏) the identity."""
    if isinstance(v, sp.ZeroMatrix):
        return sp.ZeroMatrix(v.rows, v.rows)
    if isinstance(v, sp.OneMatrix):
        return sp.Identity(v.rows)
    return Diag(v)


def diag_part(a):
    """The diagonal of a square matrix expression, a column; of the identity, 𝟏."""
    if isinstance(a, sp.ZeroMatrix):
        return sp.ZeroMatrix(a.rows, 1)
    if isinstance(a, sp.Identity):
        return sp.OneMatrix(a.rows, 1)
    if isinstance(a, Diag):
        return a.arg
    return DiagPart(a)


def on_symmetric(expr, symmetric):
    """`expr` with X⁻ᵀ written X⁻¹ for each symmetric X of `symmetric`, sums collected again.

    Equal wherever each X is symmetric; how formulas print for a declared symmetric or
    spd matrix (its derivation keeps X⁻ᵀ: its gradient is the unconstrained one).

    Examples
    --------
    >>> x, r = sp.MatrixSymbol("X", 2, 2), sp.MatrixSymbol("r", 2, 1)
    >>> e = add(mul(transpose(MatrixInverse(x)), r), mul(MatrixInverse(x), r))
    >>> on_symmetric(e, [x])
    2*MatrixInverse(X)*r
    """
    rule = {sp.Transpose(MatrixInverse(x)): MatrixInverse(x) for x in symmetric}
    if not rule or not isinstance(expr, sp.Basic) or not expr.has(*rule):
        return expr

    def rebuilt(e):
        if e in rule:
            return rule[e]
        if not e.args or not e.has(*rule):
            return e
        args = [rebuilt(a) for a in e.args]
        if isinstance(e, sp.MatAdd):
            return add(*args)
        return mul(*args) if isinstance(e, sp.MatMul) else e.func(*args)

    return rebuilt(expr)


# --- shape rules ----------------------------------------------------------------------

def _square(what, result):
    def rule(a, param=None):
        if a.kind != "matrix" or a.rows != a.cols:
            raise ShapeError(f"{what} takes a square matrix, not {a}")
        return {"scalar": SCALAR, "same": a, "vector": vector(a.rows)}[result]
    return rule


def _diag_shape(a, param=None):
    if a.kind != "vector":
        raise ShapeError(f"diag takes a vector (its diagonal), not {a}; the diagonal of a "
                         "square matrix is diag_part(A)")
    return matrix(a.rows, a.rows)


def _eye_shape(param=None):
    return matrix(param, param)


def _inverse_transposed(x):
    return transpose(MatrixInverse(x))


OPERATORS = [
    entry("eye", "eye(n)", 0, _eye_shape, lambda s: sp.Identity(s.param),
          doc="the identity matrix of a declared dim n, printed I (I_n beside other sizes)",
          label=("I", "\\mathbf{I}")),
    entry("diag", "diag(v)", 1, _diag_shape, lambda s: diag(s.args[0]),
          lambda s: diag_part(s.adj),
          doc="the square matrix with the vector v on its diagonal; dJ/dv = diag(dJ/dD)"),
    entry("diag_part", "diag_part(A)", 1, _square("diag_part", "vector"),
          lambda s: diag_part(s.args[0]), lambda s: diag(s.adj),
          doc="the diagonal of a square matrix, a vector, printed diag(A); dJ/dA = diag(dJ/dd)",
          label=("diag", "\\operatorname{diag}")),
    entry("inv", "inv(A)", 1, _square("inv", "same"), lambda s: MatrixInverse(s.args[0]),
          lambda s: neg(mul(_inverse_transposed(s.args[0]), s.adj,
                            _inverse_transposed(s.args[0]))),
          doc="the inverse of an invertible square matrix, X⁻¹; dJ/dX = -X⁻ᵀ (dJ/dY) X⁻ᵀ",
          label=("⁻¹", "(\\cdot)^{-1}")),
    entry("det", "det(A)", 1, _square("det", "scalar"), lambda s: Det(s.args[0]),
          lambda s: mul(s.adj, s.out, _inverse_transposed(s.args[0])),
          doc="the determinant; d det(X)/dX = det(X) X⁻ᵀ", label=("det", "\\det")),
    entry("logdet", "logdet(A)", 1, _square("logdet", "scalar"), lambda s: LogDet(s.args[0]),
          lambda s: mul(s.adj, _inverse_transposed(s.args[0])),
          doc="the log of a positive determinant, log det X; d log det(X)/dX = X⁻ᵀ",
          label=("log det", "\\log\\det")),
]
