"""Sliding windows: cross-correlation, zero padding, rotation, dilation, pooling, upsampling.

The classes the convolution operators (:mod:`symbackprop.primitives.convolution`)
build, with the conventions of deep-learning libraries: ``A ⋆ K`` is the
cross-correlation that ``torch.nn.functional.conv2d`` computes (no flip of the
kernel), of a matrix or of a vector (a column, ``conv1d``), 1-based::

    (A ⋆ₛ K)[i, j] = Σ_{a, b} A[(i - 1) s + a, (j - 1) s + b] K[a, b]

with a stride s (1 unless written).  Around it, the moves a lecture writes its
backward pass with:

* :class:`Pad`: zeros added above, below, left and right (a negative amount
  crops), ``pad(A, q, q)``;
* :class:`Rot180`: the matrix turned by 180°, rows and columns reversed;
* :class:`Dilate`: s - 1 zero rows and columns put between the rows and the
  columns, the adjoint of a stride;
* :class:`Pool`: the max or the mean of each non-overlapping k × k window;
* :class:`Upsample`: each entry copied to a k × k block, A ⊗ 𝟏𝟏ᵀ;
* :class:`PoolMask`: where each window's max is, 𝟙[X ≥ upsample(maxpool(X))].

Each class defines its meaning entry by entry (``explicit``, or ``explicit_at``
where an amount is a size), in numbers (``numeric``, ``numeric_at``) and its
tangent (``_tangent``, the protocol of :mod:`symbackprop.primitives.expressions`).
Every class but the pools and the mask is linear in each operand, so that its
tangent is itself applied to the operand's tangent.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr

from . import expressions as ex
from .pieces import extreme_share, greatest

__all__ = ["Correlate", "Pad", "Rot180", "Dilate", "Pool", "Upsample", "PoolMask", "windows",
           "correlate", "pad", "rot180", "dilate", "upsample"]


def windows(size, kernel, stride):
    """How many windows of `kernel` entries fit along `size` entries, `stride` apart:
    ⌊(size - kernel)/stride⌋ + 1, exact for symbolic sizes (the shape rule checked that the
    stride divides size - kernel at every size).

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> windows(n, 3, 1), windows(sp.Integer(28), 5, 2)
    (n - 2, 12)
    """
    span = sp.expand(size - kernel)
    if span.is_number:
        return sp.Integer(int(span) // int(stride) + 1)
    return sp.expand(span / stride + 1)


def _is_zero(a):
    return isinstance(a, sp.ZeroMatrix)


def _explicit(rows, cols, entry):
    return sp.ImmutableMatrix(rows, cols, lambda i, j: entry(i, j))


class Correlate(MatrixExpr):
    """A ⋆ K, the cross-correlation of A with the kernel K, with a stride (1 unless given).

    Examples
    --------
    >>> A = sp.ImmutableMatrix([[1, 2, 3], [4, 5, 6]])
    >>> K = sp.ImmutableMatrix([[1, 0], [0, 1]])
    >>> Correlate(sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("K", 2, 2)).explicit(A, K)
    Matrix([[6, 8]])
    """

    def __new__(cls, a, k, stride=1):
        return super().__new__(cls, a, k, sp.Integer(stride))

    operands = property(lambda self: self.args[:2])
    stride = property(lambda self: int(self.args[2]))

    @property
    def shape(self):
        (n, m), (p, r) = self.args[0].shape, self.args[1].shape
        return (windows(n, p, self.stride), windows(m, r, self.stride))

    def explicit(self, a, k):
        s, (p, r) = self.stride, k.shape
        rows, cols = (a.rows - p) // s + 1, (a.cols - r) // s + 1
        return _explicit(rows, cols, lambda i, j: sp.Add(*[
            a[i * s + u, j * s + v] * k[u, v] for u in range(p) for v in range(r)]))

    def numeric(self, a, k):
        view = np.lib.stride_tricks.sliding_window_view(a, k.shape)
        return np.tensordot(view[::self.stride, ::self.stride], k, axes=([2, 3], [0, 1]))

    def _tangent(self, sweep):
        """R{A} ⋆ K + A ⋆ R{K}: bilinear."""
        a, k = self.operands
        ta, tk = sweep(a), sweep(k)
        return ex.tangent_sum(None if ta is None else correlate(ta, k, self.stride),
                              None if tk is None else correlate(a, tk, self.stride))


class Pad(MatrixExpr):
    """A with zeros added: `top` rows above, `bottom` below, `left` and `right` columns
    (sizes; a negative amount crops)."""

    def __new__(cls, a, top, bottom, left, right):
        return super().__new__(cls, a, *(sp.sympify(q) for q in (top, bottom, left, right)))

    operands = property(lambda self: self.args[:1])
    amounts = property(lambda self: self.args[1:])

    @property
    def shape(self):
        (n, m), (t, b, left, right) = self.args[0].shape, self.amounts
        return (sp.expand(n + t + b), sp.expand(m + left + right))

    def explicit_at(self, size, a):
        return sp.ImmutableMatrix(_padded(np.array(a.tolist(), dtype=object),
                                          [size(q) for q in self.amounts], sp.Integer(0)))

    def numeric_at(self, size, a):
        return _padded(np.asarray(a, dtype=np.float64), [size(q) for q in self.amounts], 0.0)

    def _tangent(self, sweep):
        t = sweep(self.args[0])
        return None if t is None else pad(t, *self.amounts)


def _padded(a, amounts, zero):
    """`a` (a 2-D array) padded by (top, bottom, left, right), a negative amount cropping."""
    t, b, left, right = amounts
    grown = np.pad(a, ((max(t, 0), max(b, 0)), (max(left, 0), max(right, 0))),
                   constant_values=zero)
    rows, cols = grown.shape
    return grown[max(-t, 0):rows - max(-b, 0), max(-left, 0):cols - max(-right, 0)]


class Rot180(MatrixExpr):
    """A turned by 180°: its rows and its columns in reverse order (a vector reversed)."""

    def __new__(cls, a):
        return super().__new__(cls, a)

    operands = property(lambda self: self.args[:1])
    shape = property(lambda self: self.args[0].shape)

    def explicit(self, a):
        return _explicit(a.rows, a.cols, lambda i, j: a[a.rows - 1 - i, a.cols - 1 - j])

    def numeric(self, a):
        return np.asarray(a)[::-1, ::-1]

    def _tangent(self, sweep):
        t = sweep(self.args[0])
        return None if t is None else rot180(t)


class Dilate(MatrixExpr):
    """A with s - 1 zero rows between its rows and s - 1 zero columns between its columns
    (of a vector, zeros between its entries): the adjoint of a stride s."""

    def __new__(cls, a, s):
        return super().__new__(cls, a, sp.Integer(s))

    operands = property(lambda self: self.args[:1])
    step = property(lambda self: int(self.args[1]))

    @property
    def shape(self):
        return tuple(sp.expand((k - 1) * self.step + 1) for k in self.args[0].shape)

    def explicit(self, a):
        s = self.step
        return _explicit((a.rows - 1) * s + 1, (a.cols - 1) * s + 1, lambda i, j: a[
            i // s, j // s] if i % s == 0 and j % s == 0 else sp.Integer(0))

    def numeric(self, a):
        a, s = np.asarray(a), self.step
        out = np.zeros(((a.shape[0] - 1) * s + 1, (a.shape[1] - 1) * s + 1))
        out[::s, ::s] = a
        return out

    def _tangent(self, sweep):
        t = sweep(self.args[0])
        return None if t is None else dilate(t, self.step)


class Pool(MatrixExpr):
    """maxpool(X, k) or avgpool(X, k): the max or the mean of each k × k window of X, the
    windows side by side (k divides the sizes)."""

    def __new__(cls, kind, a, k):
        kind = kind if isinstance(kind, Str) else Str(kind)  # rebuilt from its args
        return super().__new__(cls, kind, a, sp.Integer(k))

    kind = property(lambda self: self.args[0].name)
    operands = property(lambda self: self.args[1:2])
    size = property(lambda self: int(self.args[2]))

    @property
    def shape(self):
        return tuple(sp.expand(n / self.size) for n in self.args[1].shape)

    def _windows(self, a):
        k = self.size
        return [[[a[i * k + u, j * k + v] for u in range(k) for v in range(k)]
                 for j in range(a.cols // k)] for i in range(a.rows // k)]

    def explicit(self, a):
        blocks = self._windows(a)
        if self.kind == "max":
            return sp.ImmutableMatrix([[greatest(*w) for w in line] for line in blocks])
        return sp.ImmutableMatrix([[sp.Add(*w) / len(w) for w in line] for line in blocks])

    def numeric(self, a):
        a, k = np.asarray(a), self.size
        blocks = a.reshape(a.shape[0] // k, k, a.shape[1] // k, k)
        return blocks.max(axis=(1, 3)) if self.kind == "max" else blocks.mean(axis=(1, 3))

    def _tangent(self, sweep):
        """avgpool(R{X}); of a max, k² avgpool(𝟙[X ≥ upsample(maxpool(X))] ⊙ R{X}), the
        tangent at each window's max."""
        a = self.args[1]
        t = sweep(a)
        if t is None:
            return None
        if self.kind == "avg":
            return Pool("avg", t, self.size)
        mask = PoolMask(a, sweep.value(self), self.size)
        return ex.mul(self.size ** 2, Pool("avg", ex.hadamard(mask, t), self.size))


class Upsample(MatrixExpr):
    """Each entry of A copied to a k × k block: the Kronecker product A ⊗ 𝟏_k 𝟏_kᵀ."""

    def __new__(cls, a, k):
        return super().__new__(cls, a, sp.Integer(k))

    operands = property(lambda self: self.args[:1])
    size = property(lambda self: int(self.args[1]))

    @property
    def shape(self):
        return tuple(sp.expand(n * self.size) for n in self.args[0].shape)

    def explicit(self, a):
        k = self.size
        return _explicit(a.rows * k, a.cols * k, lambda i, j: a[i // k, j // k])

    def numeric(self, a):
        return np.repeat(np.repeat(np.asarray(a), self.size, axis=0), self.size, axis=1)

    def _tangent(self, sweep):
        t = sweep(self.args[0])
        return None if t is None else upsample(t, self.size)


class PoolMask(MatrixExpr):
    """𝟙[X ≥ upsample(P, k)] for P = maxpool(X, k): 1 where an entry is the max of its
    window, each entry's share of the adjoint of its window's max.

    Away from ties it is the indicator; at a tie the explicit form splits the share evenly
    (the proofs draw no ties) and the generated code gives it all to the first max in the
    window, row by row, as ``torch.nn.functional.max_pool2d`` does.
    """

    def __new__(cls, x, extreme, k):
        return super().__new__(cls, x, extreme, sp.Integer(k))

    operands = property(lambda self: self.args[:2])
    size = property(lambda self: int(self.args[2]))
    shape = property(lambda self: self.args[0].shape)

    def explicit(self, x, extreme):
        k, out = self.size, sp.zeros(x.rows, x.cols)
        for i in range(0, x.rows, k):
            for j in range(0, x.cols, k):
                at = [(i + u, j + v) for u in range(k) for v in range(k)]
                values = [x[p] for p in at]
                for index, p in enumerate(at):
                    out[p] = extreme_share(index, 1, *values)
        return sp.ImmutableMatrix(out)

    def numeric(self, x, extreme):
        spread = Upsample(self.args[1], self.size).numeric(extreme)
        return (np.asarray(x) >= spread).astype(np.float64)

    def _tangent(self, sweep):
        return None  # constant between ties


# --- constructors: a zero stays a zero, an identity move is left out ---------------------

def correlate(a, k, stride=1):
    """a ⋆ k (with a stride); a zero if either is."""
    result = Correlate(a, k, stride)
    return sp.ZeroMatrix(*result.shape) if _is_zero(a) or _is_zero(k) else result


def pad(a, top, bottom, left, right):
    """`a` padded by the amounts; `a` itself when they are all 0."""
    if all(sp.sympify(q) == 0 for q in (top, bottom, left, right)):
        return a
    result = Pad(a, top, bottom, left, right)
    return sp.ZeroMatrix(*result.shape) if _is_zero(a) else result


def rot180(a):
    """`a` turned by 180°."""
    return a if _is_zero(a) else Rot180(a)


def dilate(a, s):
    """`a` dilated by the stride `s`; `a` itself for a stride 1."""
    if s == 1:
        return a
    result = Dilate(a, s)
    return sp.ZeroMatrix(*result.shape) if _is_zero(a) else result


def upsample(a, k):
    """Each entry of `a` copied to a k × k block."""
    result = Upsample(a, k)
    return sp.ZeroMatrix(*result.shape) if _is_zero(a) else result
