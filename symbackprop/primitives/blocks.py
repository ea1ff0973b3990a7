"""Block matrices: concatenation, contiguous slices, and the adjoints they exchange.

``vcat(a, b)`` stacks its operands, ``[a; b]``; ``hcat(A, B)`` puts them side by
side, ``[A B]``; both take any number of blocks from two on, ``vcat(h, x, c)`` is
``[h; x; c]``, one registry entry each (``many``).  A slice is a contiguous block,
1-based and inclusive as the loops' ranges are: ``v[1..h]``, ``W[1..d, :]``,
``A[:, 2..k]``.  Their adjoints are each other's: the adjoint of a concatenation is
split into its blocks (a slice of the adjoint), and the adjoint of a slice is placed
into zeros (a concatenation with zero blocks), as a lecturer writes them.  Placements that
tile a whole value add up to one block matrix, ``[∂J/∂i; ∂J/∂f; ∂J/∂o; ∂J/∂g]``
(:func:`merged_sum`, which :func:`~symbackprop.primitives.expressions.add` calls).

:class:`Stack` and :class:`Slice` define their meaning entry by entry at given
sizes (``explicit_at``), numerically (``numeric_at``) and their tangents
(``_tangent``), as the classes of :mod:`~symbackprop.primitives.expressions` do.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from .entries import entry
from .shapes import ShapeError, matrix, vector

__all__ = ["Stack", "Slice", "stack", "block", "placed", "merged_sum", "OPERATORS"]


def _size(k):
    return sp.expand(k)


def _number(k):
    return sp.Integer(k) if isinstance(k, int) else k


class Stack(MatrixExpr):
    """Blocks stacked along `axis`: 0 one above the other, ``[a; b]``; 1 side by side,
    ``[A B]``."""

    def __new__(cls, axis, *blocks):
        return super().__new__(cls, sp.Integer(axis), *blocks)

    axis = property(lambda self: int(self.args[0]))
    blocks = property(lambda self: self.args[1:])
    operands = blocks

    @property
    def shape(self):
        first = self.blocks[0].shape
        total = _size(sp.Add(*(b.shape[self.axis] for b in self.blocks)))
        return (total, first[1]) if self.axis == 0 else (first[0], total)

    def explicit(self, *values):
        return (sp.Matrix.vstack if self.axis == 0 else sp.Matrix.hstack)(*values)

    def numeric_at(self, size, *values):
        return (np.vstack if self.axis == 0 else np.hstack)(
            [np.reshape(v, _numeric_shape(b, size)) for b, v in zip(self.blocks, values)])

    def _eval_transpose(self):
        return Stack(1 - self.axis, *(b.T for b in self.blocks))

    @staticmethod
    def merged_sum(terms):
        """A sum's terms with its stacks added block by block (:func:`merged_sum`)."""
        return merged_sum(terms)

    def _tangent(self, sweep):
        tangents = [sweep(b) for b in self.blocks]
        if all(t is None for t in tangents):
            return None
        return stack([sp.ZeroMatrix(*b.shape) if t is None else t
                      for b, t in zip(self.blocks, tangents)], self.axis)


class Slice(MatrixExpr):
    """Rows (`axis` 0) or columns (1) `lo` to `hi` of a matrix, 1-based and inclusive."""

    def __new__(cls, arg, lo, hi, axis):
        return super().__new__(cls, arg, _number(lo), _number(hi), sp.Integer(axis))

    arg = property(lambda self: self.args[0])
    lo = property(lambda self: self.args[1])
    hi = property(lambda self: self.args[2])
    axis = property(lambda self: int(self.args[3]))
    operands = property(lambda self: (self.args[0],))

    @property
    def shape(self):
        length = _size(self.hi - self.lo + 1)
        rows, cols = self.arg.shape
        return (length, cols) if self.axis == 0 else (rows, length)

    def explicit_at(self, size, value):
        lo, hi = size(self.lo) - 1, size(self.hi)
        return value[lo:hi, :] if self.axis == 0 else value[:, lo:hi]

    def numeric_at(self, size, value):
        lo, hi = size(self.lo) - 1, size(self.hi)
        value = np.reshape(value, _numeric_shape(self.arg, size))
        return value[lo:hi, :] if self.axis == 0 else value[:, lo:hi]

    def _eval_transpose(self):
        return Slice(self.arg.T, self.lo, self.hi, 1 - self.axis)

    def _tangent(self, sweep):
        t = sweep(self.arg)
        return None if t is None else block(t, self.lo, self.hi, self.axis)


def _numeric_shape(expr, size):
    return tuple(size(k) for k in expr.shape)


def stack(blocks, axis):
    """The blocks stacked along `axis`, blocks of no entries left out, nested stacks along
    the same axis flattened; one block is itself.

    Examples
    --------
    >>> a, b = sp.MatrixSymbol("a", 2, 1), sp.MatrixSymbol("b", 3, 1)
    >>> stack([a, sp.ZeroMatrix(0, 1), b], 0).shape
    (5, 1)
    """
    flat = []
    for b in blocks:
        if b.shape[axis] == 0:
            continue
        flat.extend(b.blocks if isinstance(b, Stack) and b.axis == axis else [b])
    return flat[0] if len(flat) == 1 else Stack(axis, *flat)


def block(expr, lo, hi, axis):
    """Rows or columns `lo` to `hi` of `expr`: a block of a stack that is exactly that
    block, a zero of a zero, else a :class:`Slice`.

    Examples
    --------
    >>> a, b = sp.MatrixSymbol("a", 2, 1), sp.MatrixSymbol("b", 3, 1)
    >>> block(stack([a, b], 0), 3, 5, 0)
    b
    """
    if isinstance(expr, sp.ZeroMatrix):
        return sp.ZeroMatrix(*Slice(expr, lo, hi, axis).shape)
    if lo == 1 and _size(hi - expr.shape[axis]) == 0:
        return expr
    if isinstance(expr, Stack) and expr.axis == axis:
        start = sp.Integer(1)
        for b in expr.blocks:
            end = _size(start + b.shape[axis] - 1)
            if _size(start - lo) == 0 and _size(end - hi) == 0:
                return b
            start = _size(end + 1)
    return Slice(expr, lo, hi, axis)


def placed(part, lo, hi, shape, axis):
    """`part` placed at rows (or columns) `lo` to `hi` of zeros of `shape` (rows, cols): the
    adjoint of a slice.

    Examples
    --------
    >>> g = sp.MatrixSymbol("g", 2, 1)
    >>> [b.shape for b in placed(g, 2, 3, (4, 1), 0).blocks]
    [(1, 1), (2, 1), (1, 1)]
    """
    before = _size(lo - 1)
    after = _size(shape[axis] - hi)
    other = shape[1 - axis]

    def zero(k):
        return sp.ZeroMatrix(k, other) if axis == 0 else sp.ZeroMatrix(other, k)

    return stack([zero(before), part, zero(after)], axis)


def _cuts(term, axis):
    """The positions (sizes before each block) and the blocks of a stack, or None."""
    if not isinstance(term, Stack) or term.axis != axis:
        return None
    out, start = [], sp.Integer(0)
    for b in term.blocks:
        out.append((start, b))
        start = _size(start + b.shape[axis])
    return out


def _ordered(positions):
    """The positions in increasing order, or None if their order depends on the sizes."""
    distinct = []
    for p in positions:
        if all(_size(p - q) != 0 for q in distinct):
            distinct.append(p)
    try:
        ordered = sorted(distinct, key=lambda p: sum(_size(p - q).is_positive is True
                                                     for q in distinct))
    except TypeError:
        return None
    pairs = zip(ordered, ordered[1:])
    return ordered if all(_size(b - a).is_positive for a, b in pairs) else None


def merged_sum(terms):
    """Stacks along one axis with the same shape, added block by block: zero blocks split
    where another term's blocks begin.  The terms unchanged when the blocks do not line up.

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> f, g = sp.MatrixSymbol("f", n, 1), sp.MatrixSymbol("g", n, 1)
    >>> merged_sum([placed(f, 1, n, (2 * n, 1), 0), placed(g, n + 1, 2 * n, (2 * n, 1), 0)])
    [Stack(0, f, g)]
    """
    stacks = [t for t in terms if isinstance(t, Stack)]
    if len(stacks) < 2 or len({(t.axis, t.shape) for t in stacks}) != 1:
        return terms
    axis, total = stacks[0].axis, stacks[0].shape[stacks[0].axis]
    positions = _ordered([p for t in stacks for p, _ in _cuts(t, axis)] + [total])
    if positions is None:
        return terms
    slots = list(zip(positions, positions[1:]))
    sums = [[] for _ in slots]
    for t in stacks:
        for start, b in _cuts(t, axis):
            end = _size(start + b.shape[axis])
            inside = [i for i, (a, z) in enumerate(slots)
                      if _size(a - start).is_nonnegative and _size(end - z).is_nonnegative]
            if isinstance(b, sp.ZeroMatrix):
                continue
            if len(inside) != 1:
                return terms  # a block that is not zero spans two slots: no merge
            sums[inside[0]].append(b)
    blocks = []
    for (a, z), parts in zip(slots, sums):
        shape = (_size(z - a), stacks[0].shape[1]) if axis == 0 else \
            (stacks[0].shape[0], _size(z - a))
        blocks.append(parts[0] if len(parts) == 1 else sp.MatAdd(*parts) if parts
                      else sp.ZeroMatrix(*shape))
    return [t for t in terms if not isinstance(t, Stack)] + [stack(blocks, axis)]


# --- the operators ----------------------------------------------------------------------

def _concatenated(axis):
    word = ("vcat", "rows") if axis == 0 else ("hcat", "columns")

    def rule(*shapes, param=None):
        for s in shapes:
            if s.is_scalar:
                raise ShapeError(f"{word[0]} takes vectors or matrices, not a scalar")
        along = [s.rows if axis == 0 else s.cols for s in shapes]
        across = [s.cols if axis == 0 else s.rows for s in shapes]
        for k, other in enumerate(across[1:], start=1):
            if other != across[0]:
                side = "columns" if axis == 0 else "rows"
                pair = ", ".join(str(s) for s in shapes)
                raise ShapeError(f"{word[0]}({pair}): the {side} {across[0]} and {other} "
                                 f"differ; {word[0]} stacks {word[1]} of equal length")
        total = _size(sp.Add(*along))
        kinds = {s.kind for s in shapes}
        if axis == 0:
            return vector(total) if kinds == {"vector"} else matrix(total, shapes[0].cols)
        return vector(total).T if kinds == {"row"} else matrix(shapes[0].rows, total)
    return rule


def _concatenation_rule(axis):
    """The rule of operand `i`: the block of the adjoint at its rows (or columns)."""
    def rule_for(i):
        def rule(s):
            sizes = [sh.rows if axis == 0 else sh.cols for sh in s.shapes]
            before = _size(sp.Add(*sizes[:i]))
            return block(s.adj, _size(before + 1), _size(before + sizes[i]), axis)
        return rule
    return rule_for


def _sliced(a, param=None):
    lo, hi, axis = param
    length = _size(hi - lo + 1)
    if a.is_scalar:
        raise ShapeError("a scalar has no slices")
    if a.kind == "vector":
        return vector(length)
    if a.kind == "row":
        return vector(length).T
    return matrix(length, a.cols) if axis == 0 else matrix(a.rows, length)


def _slice_rule(s):
    lo, hi, axis = s.param
    shape = s.shapes[0]
    return placed(s.adj, lo, hi, (shape.rows, shape.cols), axis)


def slice_bounds_error(shape, lo, hi, axis):
    """Why rows (or columns) `lo` to `hi` are not a block of `shape`, or None: a bound the
    sizes cannot keep inside, whatever they are."""
    size = shape.rows if axis == 0 else shape.cols
    for what, gap in (("starts before 1", lo - 1), ("ends before it starts", hi - lo),
                      (f"ends after {size}", size - hi)):
        if _size(gap).is_negative:
            return f"the range {lo}..{hi} {what}"
    return None


OPERATORS = [
    entry("vcat", "vcat(a, b, ...)", 2, _concatenated(0),
          lambda s: stack(list(s.args), 0), _concatenation_rule(0), many=True,
          doc="a stacked above b (and any more blocks below), [a; b] (vectors, or matrices "
          "with equal columns)", label=("vcat", "\\operatorname{vcat}")),
    entry("hcat", "hcat(A, B, ...)", 2, _concatenated(1),
          lambda s: stack(list(s.args), 1), _concatenation_rule(1), many=True,
          doc="A beside B (and any more blocks to the right), [A B] (matrices with equal "
          "rows)", label=("hcat", "\\operatorname{hcat}")),
    entry("slice", "x[lo..hi]", 1, _sliced,
          lambda s: block(s.args[0], *s.param), _slice_rule,
          doc="a contiguous block, 1-based and inclusive: v[1..h], W[1..d, :], A[:, 2..k]; "
          "its adjoint is placed into zeros", label=("[·]", "[\\cdot]")),
]

