"""Reductions along either axis of a matrix, rows and columns side by side.

A matrix(n, k) read row by row (as in layer normalization: one example a row,
statistics over its k features) or column by column (as in batch
normalization: statistics over the n examples of a batch).  Each reduction is
a product with a vector of ones, as lecture notes write it:

=====================  =========================  =========================
operator               rows (``X 𝟏``)             columns (``𝟏ᵀ X``)
=====================  =========================  =========================
sum                    ``sum_rows(X) = X 𝟏``      ``sum_cols(X) = Xᵀ 𝟏``
mean                   ``(1/k) X 𝟏``              ``(1/n) Xᵀ 𝟏``
centre                 ``X - (1/k) X 𝟏 𝟏ᵀ``       ``X - (1/n) 𝟏 𝟏ᵀ X``
scale by a vector      ``diag(v) X``              ``X diag(v)``
shift by a vector      ``X + c 𝟏ᵀ``               ``X + 𝟏 vᵀ`` (``X + v.T``)
=====================  =========================  =========================

A per-column value of a matrix(n, k) is a vector(k), a column like every
vector of the language: ``sum_cols(X)`` is ``Xᵀ 𝟏``, the transpose of the row
``𝟏ᵀ X``.  Shifting each column by a vector(k) is ``+`` itself (``X + v`` or
``X + v.T``); shifting each row, ``shift_rows(X, c)``, adds ``c`` to every
column, which ``+`` never does (``X + c`` adds a vector to every row).

Each local rule applies the transpose of the operator's linear map: the adjoint of a sum is
spread back along the summed axis (``∂J/∂s 𝟏ᵀ``, ``𝟏 (∂J/∂s)ᵀ``), centring is
its own adjoint, the vector of a scaling gets the sums of ``∂J/∂Y ⊙ X`` along
its axis and the vector of a shift the sums of ``∂J/∂Y``.
"""

from __future__ import annotations

import sympy as sp

from . import expressions as ex
from . import matrix_functions as mf
from .entries import entry
from .shapes import ShapeError, vector

__all__ = ["OPERATORS", "per_column", "spread_columns", "unfixed_ones"]

_ROWS, _COLS = 1, 0  # the axis of mf.lines_sum that sums along a row, along a column


def _shape_rule(what, axis, result, vector_name="v"):
    """matrix(n, k) -> a vector (one entry per line) or the matrix; the vector argument's
    length is the number of lines (n rows, k columns)."""
    line, v = ("row" if axis == _ROWS else "column"), vector_name

    def rule(a, *rest, param=None):
        if a.kind != "matrix":
            raise ShapeError(f"{what} takes a matrix, not {a}")
        lines = a.rows if axis == _ROWS else a.cols
        if rest and not (rest[0].kind == "vector" and rest[0].rows == lines):
            raise ShapeError(f"{what}(X, {v}): {v} must be a vector({lines}), one entry per "
                             f"{line} of X ({a}), not {rest[0]}")
        return vector(lines) if result == "vector" else a
    return rule


def per_column(m, shape):
    """The sum of each column of `m` (of shape `shape`), a column: ``Mᵀ 𝟏``.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.primitives.shapes import matrix
    >>> per_column(sp.MatrixSymbol("M", 2, 3), matrix(2, 3))
    M.T*1
    """
    if isinstance(m, sp.HadamardProduct):  # (G ⊙ X)ᵀ 𝟏, as Σᵢ gᵢ ⊙ xᵢ is written
        return ex.mul(sp.Transpose(m), ex.ones(shape.rows, 1))
    return ex.transpose(mf.lines_sum(m, _COLS, shape))


def spread_columns(v, shape):
    """A column `v` of one entry per column of `shape`, copied to every row: ``𝟏 vᵀ``.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.primitives.shapes import matrix
    >>> spread_columns(sp.MatrixSymbol("v", 3, 1), matrix(2, 3)).shape
    (2, 3)
    """
    return mf.spread(ex.transpose(v), _COLS, shape)


def unfixed_ones(expr):
    """The vectors of ones of `expr` whose size nothing else fixes: those of a spread, c 𝟏 vᵀ
    or c v 𝟏ᵀ, that is the formula or each of its terms (of a dim's size; a literal is left).

    Printers write them with their size, 𝟏_n.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.primitives.shapes import matrix
    >>> n, d = sp.symbols("n d")
    >>> v, X = sp.MatrixSymbol("v", d, 1), sp.MatrixSymbol("X", n, d)
    >>> spread = spread_columns(v, matrix(n, d))
    >>> [one.shape for one in unfixed_ones(spread)], unfixed_ones(ex.add(spread, X))
    ([(n, 1)], frozenset())
    """
    terms = expr.args if isinstance(expr, sp.MatAdd) else (expr,)
    ends = [_spread_ends(t) for t in terms]
    out = set()
    for along in (0, 1):  # 𝟏 vᵀ leaves the rows to 𝟏, v 𝟏ᵀ the columns
        if all(e is not None and e[along] is not None for e in ends):
            out.update(e[along] for e in ends)
    return frozenset(out)


def _spread_ends(term):
    """(the 𝟏 in front of 𝟏 vᵀ or None, the 𝟏ᵀ after v 𝟏ᵀ or None); None for no product."""
    if not isinstance(term, sp.MatMul):
        return None
    _, mats = ex._split(term)
    if len(mats) < 2:
        return None
    return tuple(m if isinstance(m, sp.OneMatrix) and m.shape[1 - along] == 1
                 and isinstance(m.shape[along], sp.Symbol) else None
                 for m, along in ((mats[0], 0), (mats[-1], 1)))


def _per_row(m, shape):
    return mf.lines_sum(m, _ROWS, shape)


def _spread_rows(v, shape):
    return mf.spread(v, _ROWS, shape)


def _center(m, axis, shape):
    """M - (1/k) M 𝟏 𝟏ᵀ (each row minus its mean), M - (1/n) 𝟏 𝟏ᵀ M (each column)."""
    count = shape.cols if axis == _ROWS else shape.rows
    means = mf.spread(mf.lines_sum(m, axis, shape), axis, shape)
    return ex.add(m, ex.mul(-1 / count, means))


def _scale(x, v, axis, shape):
    """(v 𝟏ᵀ) ⊙ X = diag(v) X (row i times v_i), (𝟏 vᵀ) ⊙ X = X diag(v) (column j)."""
    spread = _spread_rows(v, shape) if axis == _ROWS else spread_columns(v, shape)
    return ex.hadamard(spread, x)


def _scale_vector_rule(axis):
    """The share of v in a scaling: the sums of ∂J/∂Y ⊙ X along each line."""
    def rule(s):
        weighted = ex.hadamard(s.adj, s.args[0])
        return _per_row(weighted, s.shapes[0]) if axis == _ROWS \
            else per_column(weighted, s.shapes[0])
    return rule


def _count(axis):
    """1/k for a row's mean, 1/n for a column's."""
    return lambda shape: 1 / (shape.cols if axis == _ROWS else shape.rows)


_of_row, _of_col = _count(_ROWS), _count(_COLS)

OPERATORS = [
    entry("sum_rows", "sum_rows(X)", 1, _shape_rule("sum_rows", _ROWS, "vector"),
          lambda s: _per_row(s.args[0], s.shapes[0]),
          lambda s: _spread_rows(s.adj, s.shapes[0]),
          doc="the sum of each row of a matrix(n, k): a vector(n), X 1"),
    entry("mean_rows", "mean_rows(X)", 1, _shape_rule("mean_rows", _ROWS, "vector"),
          lambda s: ex.mul(_of_row(s.shapes[0]), _per_row(s.args[0], s.shapes[0])),
          lambda s: ex.mul(_of_row(s.shapes[0]), _spread_rows(s.adj, s.shapes[0])),
          doc="the mean of each row of a matrix(n, k): a vector(n)"),
    entry("center_rows", "center_rows(X)", 1, _shape_rule("center_rows", _ROWS, "matrix"),
          lambda s: _center(s.args[0], _ROWS, s.shapes[0]),
          lambda s: _center(s.adj, _ROWS, s.shapes[0]),
          doc="each row minus its mean, X - (1/k) X 1 1^T (as in layer normalization)"),
    entry("scale_rows", "scale_rows(X, v)", 2, _shape_rule("scale_rows", _ROWS, "matrix"),
          lambda s: _scale(*s.args, _ROWS, s.shapes[0]),
          lambda s: _scale(s.adj, s.args[1], _ROWS, s.shapes[0]),
          _scale_vector_rule(_ROWS),
          doc="row i of X times v_i, diag(v) X (as in layer normalization)"),
    entry("shift_rows", "shift_rows(X, c)", 2, _shape_rule("shift_rows", _ROWS, "matrix", "c"),
          lambda s: ex.add(s.args[0], _spread_rows(s.args[1], s.shapes[0])),
          lambda s: s.adj, lambda s: _per_row(s.adj, s.shapes[0]),
          doc="row i of X plus c_i, X + c 1^T: a vector(n) added to every column of a "
              "matrix(n, k)"),
    entry("sum_cols", "sum_cols(X)", 1, _shape_rule("sum_cols", _COLS, "vector"),
          lambda s: per_column(s.args[0], s.shapes[0]),
          lambda s: spread_columns(s.adj, s.shapes[0]),
          doc="the sum of each column of a matrix(n, k): a vector(k), X^T 1 (the row 1^T X, "
              "as a column)"),
    entry("mean_cols", "mean_cols(X)", 1, _shape_rule("mean_cols", _COLS, "vector"),
          lambda s: ex.mul(_of_col(s.shapes[0]), per_column(s.args[0], s.shapes[0])),
          lambda s: ex.mul(_of_col(s.shapes[0]), spread_columns(s.adj, s.shapes[0])),
          doc="the mean of each column of a matrix(n, k): a vector(k), (1/n) X^T 1"),
    entry("center_cols", "center_cols(X)", 1, _shape_rule("center_cols", _COLS, "matrix"),
          lambda s: _center(s.args[0], _COLS, s.shapes[0]),
          lambda s: _center(s.adj, _COLS, s.shapes[0]),
          doc="each column minus its mean, X - (1/n) 1 1^T X (as in batch normalization)"),
    entry("scale_cols", "scale_cols(X, v)", 2, _shape_rule("scale_cols", _COLS, "matrix"),
          lambda s: _scale(*s.args, _COLS, s.shapes[0]),
          lambda s: _scale(s.adj, s.args[1], _COLS, s.shapes[0]),
          _scale_vector_rule(_COLS),
          doc="column j of X times v_j, X diag(v) (as in batch normalization)"),
]
