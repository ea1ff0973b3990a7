"""Convolution and pooling: the operators of a convolutional layer, with a lecture's rules.

``conv1d(x, k)`` of a vector(n) with a vector(m) is a vector(n - m + 1);
``conv2d(X, K)`` of a matrix(n, m) with a matrix(p, r) a matrix(n - p + 1, m - r + 1).
Both are cross-correlations, as ``torch.nn.functional.conv1d`` and ``conv2d``
compute them, printed ``X ⋆ K``; an optional ``stride=s`` and zero padding
``pad=q`` give ⌊(n + 2q - p)/s⌋ + 1 rows (and likewise columns).  For
``Y = pad(X, q, q) ⋆ₛ K`` the rules are those of a lecture on convolutional
networks::

    dJ/dK = pad(X, q, q) ⋆ dilate(dJ/dY, s)
    dJ/dX = pad(dilate(dJ/dY, s), p - 1 - q, r - 1 - q) ⋆ rot180(K)

(at stride 1 and no padding, dJ/dK = X ⋆ dJ/dY and dJ/dX = pad(dJ/dY, p - 1, r - 1) ⋆
rot180(K)); where the stride leaves the last rows or columns of X out of every
window, the padding of the adjoint is larger below (right) by their number, and X
cropped by it in dJ/dK, so that those rows take no adjoint.

``maxpool2d(X, k)`` and ``avgpool2d(X, k)`` take the max and the mean of each
non-overlapping k × k window (k divides the sizes); for ``P = maxpool2d(X, k)``::

    dJ/dX = 𝟙[X ≥ upsample(P, k)] ⊙ upsample(dJ/dP, k)

and for an average ``dJ/dX = (1/k²) upsample(dJ/dP, k)``.  A tie in a window of max
pooling sends the adjoint to the first of the tied entries, row by row, as
``torch.nn.functional.max_pool2d`` does; the indicator printed is exact away from ties.

The integers (stride, padding, window) are options of the operator
(:attr:`~symbackprop.primitives.entries.Operator.options`): whole numbers written in
the call, positional or by name, that reach the shape rule and the rules as
``site.param``.
"""

from __future__ import annotations

import sympy as sp

from . import expressions as ex
from .entries import entry
from .shapes import ShapeError, matrix, vector
from .windows import Pool, PoolMask, correlate, dilate, pad, rot180, upsample, windows

__all__ = ["OPERATORS", "divides"]

#: The options of a convolution: (name, default, least value).
_CONVOLUTION_OPTIONS = (("stride", 1, 1), ("pad", 0, 0))


def divides(k, size):
    """Whether the whole number `k` divides `size` at every size of its dims: a number it
    divides, or a polynomial whose coefficients it all divides (k divides 2*h + 4).

    Examples
    --------
    >>> h = sp.Symbol("h", integer=True, positive=True)
    >>> divides(2, 2 * h + 4), divides(2, h + 1), divides(4, sp.Integer(28))
    (True, False, True)
    """
    size = sp.expand(size)
    if size.is_number:
        return int(size) % k == 0
    return all(c % k == 0 for c in sp.Poly(size, *sorted(size.free_symbols, key=str)).coeffs())


def _span(what, size, kernel, stride, padding):
    """The count of windows along one axis, or a ShapeError saying why there is none."""
    span = sp.expand(size + 2 * padding - kernel)
    if span.is_number and span < 0:
        raise ShapeError(f"{what}: the kernel's {kernel} entries are more than the "
                         f"{sp.expand(size + 2 * padding)} of the (padded) input")
    if not span.is_number and stride != 1 and not divides(stride, span):
        raise ShapeError(f"{what}: the stride {stride} must divide n + 2·pad − p = {span} at "
                         "every size; give sizes that are numbers, or that it divides")
    return windows(size + 2 * padding, kernel, stride)


def _convolution_shape(kind):
    def rule(x, k, param=None):
        stride, padding = param or (1, 0)
        what = f"conv{'1d' if kind == 'vector' else '2d'}({x}, {k})"
        if x.kind != kind or k.kind != kind:
            raise ShapeError(f"{what}: conv1d takes two vectors, conv2d two matrices")
        rows = _span(what, x.rows, k.rows, stride, padding)
        if kind == "vector":
            return vector(rows)
        return matrix(rows, _span(what, x.cols, k.cols, stride, padding))
    return rule


def _paddings(s):
    """(rows, cols) of padding of the input, of the stride, and of the rows (columns) that
    no window reaches."""
    (x_shape, k_shape), out = s.shapes, s.shape
    stride, padding = s.param or (1, 0)
    pads = (padding, padding if x_shape.kind == "matrix" else 0)
    left = [sp.expand(n + 2 * q - (h - 1) * stride - p) for n, q, h, p in zip(
        (x_shape.rows, x_shape.cols), pads, (out.rows, out.cols), (k_shape.rows, k_shape.cols))]
    return stride, pads, left


def _padded_input(s):
    (x, _), (_, (qr, qc), _) = s.args, _paddings(s)
    return pad(x, qr, qr, qc, qc)


def _convolution_forward(s):
    return correlate(_padded_input(s), s.args[1], _paddings(s)[0])


def _input_rule(s):
    """pad(dilate(dJ/dY, s), p - 1 - q, r - 1 - q) ⋆ rot180(K), larger below by the rows
    that no window reaches."""
    (_, k), (k_shape) = s.args, s.shapes[1]
    stride, (qr, qc), (er, ec) = _paddings(s)
    top, side = sp.expand(k_shape.rows - 1 - qr), sp.expand(k_shape.cols - 1 - qc)
    spread = pad(dilate(s.adj, stride), top, sp.expand(top + er), side, sp.expand(side + ec))
    return correlate(spread, rot180(k))


def _kernel_rule(s):
    """pad(X, q, q) ⋆ dilate(dJ/dY, s), the rows that no window reaches cropped."""
    x = s.args[0]
    stride, (qr, qc), (er, ec) = _paddings(s)
    cropped = pad(x, qr, sp.expand(qr - er), qc, sp.expand(qc - ec))
    return correlate(cropped, dilate(s.adj, stride))


def _pool_shape(kind):
    def rule(x, param=None):
        (k,) = param
        what = f"{kind}pool2d({x}, {k})"
        if x.kind != "matrix":
            raise ShapeError(f"{what}: pooling takes a matrix")
        for size in (x.rows, x.cols):
            if not divides(k, size):
                raise ShapeError(f"{what}: the window {k} does not divide the size {size}; "
                                 f"the windows of {kind}pool2d tile the matrix, side by side")
        return matrix(sp.expand(x.rows / k), sp.expand(x.cols / k))
    return rule


def _pool_rule(kind):
    def rule(s):
        (x,), (k,) = s.args, s.param
        spread = upsample(s.adj, k)
        if kind == "avg":
            return ex.mul(sp.Rational(1, k * k), spread)
        return ex.hadamard(PoolMask(x, s.out, k), spread)
    return rule


OPERATORS = [
    entry("conv1d", "conv1d(x, k)", 2, _convolution_shape("vector"), _convolution_forward,
          _input_rule, _kernel_rule, options=_CONVOLUTION_OPTIONS,
          doc="the cross-correlation x ⋆ k of a vector(n) with a vector(m), a "
              "vector(n - m + 1), as torch.nn.functional.conv1d; stride=s and pad=q optional",
          label=("⋆", "\\star")),
    entry("conv2d", "conv2d(X, K)", 2, _convolution_shape("matrix"), _convolution_forward,
          _input_rule, _kernel_rule, options=_CONVOLUTION_OPTIONS,
          doc="the cross-correlation X ⋆ K of a matrix(n, m) with a matrix(p, r), a "
              "matrix(n - p + 1, m - r + 1), as torch.nn.functional.conv2d; stride=s and "
              "pad=q optional, ⌊(n + 2q - p)/s⌋ + 1 rows", label=("⋆", "\\star")),
    *[entry(f"{kind}pool2d", f"{kind}pool2d(X, k)", 1, _pool_shape(kind),
            lambda s, kind=kind: Pool(kind, s.args[0], s.param[0]), _pool_rule(kind),
            options=(("k", None, 1),),
            doc=f"the {'max' if kind == 'max' else 'mean'} of each k × k window of a "
                f"matrix, the windows side by side (k divides the sizes), as "
                f"torch.nn.functional.{kind}_pool2d" + (
                    "; at a tie the first max takes the adjoint" if kind == "max" else ""),
            label=(f"{kind}pool", f"\\operatorname{{{kind}pool}}"))
      for kind in ("max", "avg")],
]
