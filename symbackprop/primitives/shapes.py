"""Shapes of values in a model, in matrix notation.

A value is a scalar, a column vector, a row vector (a transposed vector) or a
matrix.  Vectors and row vectors are kept distinct from ``matrix(n, 1)`` and
``matrix(1, n)`` because the user declared them so: a vector comes back from
NumPy code as a 1-D array, a matrix as a 2-D array.  Sizes are SymPy
expressions: a declared dimension (a positive integer symbol), an integer, or a
polynomial of dims with integer coefficients (``d + h``, ``4*h``), kept
expanded, so that two shapes are equal when their sizes' polynomials are.

Shape rules raise :class:`ShapeError`; the model checker adds the place.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["Shape", "ShapeError", "SCALAR", "vector", "row", "matrix", "solved_sizes"]


class ShapeError(Exception):
    """A shape rule was broken; the message names the operands' shapes."""


@dataclass(frozen=True)
class Shape:
    """The shape of a value.

    Attributes
    ----------
    kind : {"scalar", "vector", "row", "matrix"}
    rows, cols : sympy.Expr
        The size as a matrix: a vector(n) is n x 1, a row vector 1 x n, and a
        scalar 1 x 1.

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> v = vector(n)
    >>> str(v), str(v.T), (v.rows, v.cols)
    ('vector(n)', 'vector(n).T', (n, 1))
    >>> str(matrix(n, 3).T)
    'matrix(3, n)'
    >>> h = sp.Symbol("h", integer=True, positive=True)
    >>> vector(2 * (n + h)) == vector(2 * h + 2 * n), str(vector(n + h))
    (True, 'vector(h + n)')
    """

    kind: str
    rows: sp.Expr
    cols: sp.Expr

    def __post_init__(self):
        for axis in ("rows", "cols"):
            size = getattr(self, axis)
            if isinstance(size, sp.Expr) and not size.is_Atom:
                object.__setattr__(self, axis, sp.expand(size))

    @property
    def is_scalar(self):
        return self.kind == "scalar"

    @property
    def size(self):
        """The number of entries, as a SymPy expression."""
        return self.rows * self.cols

    @property
    def T(self):
        """The shape of the transpose."""
        flipped = {"vector": "row", "row": "vector"}.get(self.kind, self.kind)
        return Shape(flipped, self.cols, self.rows)

    @property
    def last_axis(self):
        """The NumPy axis of the column layout that runs along the last axis.

        A vector's entries run down its one column (axis 0); a row vector's and
        each matrix row's run across (axis 1).
        """
        return 0 if self.kind == "vector" else 1

    def __str__(self):
        if self.kind == "scalar":
            return "scalar"
        if self.kind == "vector":
            return f"vector({self.rows})"
        if self.kind == "row":
            return f"vector({self.cols}).T"
        return f"matrix({self.rows}, {self.cols})"


SCALAR = Shape("scalar", sp.Integer(1), sp.Integer(1))


def vector(n):
    """A column vector of `n` entries."""
    return Shape("vector", _as_size(n), sp.Integer(1))


def row(n):
    """A row vector of `n` entries (the transpose of a vector)."""
    return vector(n).T


def matrix(m, n):
    """An `m` x `n` matrix."""
    return Shape("matrix", _as_size(m), _as_size(n))


def _as_size(k):
    """A size as a SymPy expression: an int as an Integer, a dim's symbol as it is."""
    return sp.Integer(k) if isinstance(k, int) else k


def solved_sizes(observed):
    """The dims that known sizes determine, each solved from one size, in the order solved.

    A size that is one unknown dim gives it; a size linear in one unknown dim, the
    other dims solved before, gives it too (``d + h`` of length 7, with ``d`` known,
    gives ``h = 7 - d``).

    Parameters
    ----------
    observed : list of (sympy.Expr, object)
        Sizes and what each is: a number, or a symbol standing for an array's length.

    Returns
    -------
    dict
        Each dim solved (a symbol) to ``(value, rest, coefficient)``: the dim is
        ``(value - rest) / coefficient``, `rest` in the dims solved before it.

    Examples
    --------
    >>> d, h = sp.symbols("d h", integer=True, positive=True)
    >>> solved_sizes([(d + 2 * h, 11), (d, 3)])
    {d: (3, 0, 1), h: (11, d, 2)}
    """
    solved = {}
    pending = sorted(observed, key=lambda pair: len(pair[0].free_symbols) + (not pair[0].is_Atom))
    progress = True
    while progress:
        progress = False
        for size, value in pending:
            unknown = [s for s in size.free_symbols if s not in solved]
            if len(unknown) != 1:
                continue
            (s,) = unknown
            poly = sp.Poly(size, s)
            coefficient = poly.coeff_monomial(s)
            if poly.degree() != 1 or not coefficient.is_Integer:
                continue
            solved[s] = (value, sp.expand(size - coefficient * s), coefficient)
            progress = True
    return solved
