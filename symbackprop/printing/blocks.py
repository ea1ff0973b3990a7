"""How block matrices and slices print: ``[a; b]``, ``[A B]``, ``v[1..h]``, and in LaTeX
``\\begin{bmatrix}`` and ``{\\boldsymbol{v}}_{1:h}``; in NumPy, ``np.vstack`` and slicing.

The text and LaTeX forms are mixins of the printers of
:mod:`symbackprop.printing.printers`; the NumPy form one of
:mod:`symbackprop.printing.numpy_printer`.  A zero block is printed with its
size, ``0_(n×1)``, ``\\mathbf{0}_{n \\times 1}``: a reader cannot tell it from
the blocks around it otherwise.  A slice of a matrix's rows sliced again along
its columns prints as one, ``W[1..n, 2..d]``, ``{\\boldsymbol{W}}_{1:n,2:d}``.  In
text a block that is not one atom is bracketed (``[(W x); b]``: a space between
blocks separates them); LaTeX's ``&`` and ``\\\\`` separate them anyway.  A bmatrix
is wrapped in braces, so that its ``\\\\`` and ``&`` stay inside one group of the
aligned rows.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions import MatrixSymbol

from ..primitives import expressions as ex
from ..primitives.blocks import Slice, Stack

__all__ = ["BlockText", "BlockLatex", "BlockNumPy"]


def _delimited(expr):
    """Whether `expr` prints as one atom that closes itself: a name, a call, a block matrix."""
    if isinstance(expr, MatrixSymbol):
        return not expr.name.startswith("∂")
    if isinstance(expr, ex.Map):
        body = expr.function.expr
        return body.is_Function and body.args == (ex.ENTRY,)
    return isinstance(expr, (Stack, Slice, sp.ZeroMatrix))


def _of_a_vector(slice_):
    """Whether a slice is of a vector or a row along its length: one range, no ':'."""
    rows, cols = slice_.arg.shape
    return cols == 1 and slice_.axis == 0 or rows == 1 and slice_.axis == 1


def _range(printer, expr, to):
    return f"{printer._print(expr.lo)}{to}{printer._print(expr.hi)}"


def _both_axes(slice_):
    """A slice of a slice along the other axis of a matrix, ``W[1..n, 2..d]``: (the value
    cut, its rows' slice, its columns' slice), else None."""
    inner = slice_.arg
    if not isinstance(inner, Slice) or inner.axis == slice_.axis or _of_a_vector(slice_) \
            or _of_a_vector(inner):
        return None
    rows, cols = (inner, slice_) if inner.axis == 0 else (slice_, inner)
    return inner.arg, rows, cols


class BlockText:
    """``[a; b]``, ``[A B]``, ``0_(n×1)``, ``v[1..h]``, ``W[1..d, :]``, ``A[:, 2..k]``,
    ``W[1..n, 2..d]``."""

    def zero_block(self, z):
        rows, cols = (self._sized(k) for k in z.shape)
        return f"0_({rows}×{cols})"

    def _sized(self, k):
        text = self._print(k)
        return f"({text})" if isinstance(k, (sp.Add, sp.Mul)) else text

    def _text_block(self, b):
        if isinstance(b, sp.ZeroMatrix):
            return self.zero_block(b)
        text = self._print(b)
        return text if _delimited(b) else self._parens(text)

    def _print_Stack(self, expr):
        separator = "; " if expr.axis == 0 else " "
        return "[" + separator.join(self._text_block(b) for b in expr.blocks) + "]"

    def _print_Slice(self, expr):
        both = _both_axes(expr)
        if both is not None:
            value, rows, cols = both
            return (f"{self._text_block(value)}[{_range(self, rows, '..')}, "
                    f"{_range(self, cols, '..')}]")
        base = self._text_block(expr.arg)
        span = _range(self, expr, "..")
        if _of_a_vector(expr):
            return f"{base}[{span}]"
        return f"{base}[{span}, :]" if expr.axis == 0 else f"{base}[:, {span}]"


class BlockLatex:
    """``\\begin{bmatrix} a \\\\ b \\end{bmatrix}``, ``\\mathbf{0}_{n \\times 1}``,
    ``{\\boldsymbol{v}}_{1:h}``, ``{\\boldsymbol{W}}_{1:d,:}``."""

    def zero_block(self, z):
        rows, cols = (f"\\left({self._print(k)}\\right)" if isinstance(k, sp.Add)
                      else self._print(k) for k in z.shape)
        return f"\\mathbf{{0}}_{{{rows} \\times {cols}}}"

    def _print_Stack(self, expr):
        # each block in display style, \frac full size, the rows apart: a matrix's cells
        # are set in text style otherwise, and fractions in a column overlap
        separator = " \\\\[1.5ex] " if expr.axis == 0 else " & "
        blocks = ["\\displaystyle " + (self.zero_block(b) if isinstance(b, sp.ZeroMatrix)
                                        else self._print(b)) for b in expr.blocks]
        return "{\\begin{bmatrix} " + separator.join(blocks) + " \\end{bmatrix}}"

    def _print_Slice(self, expr):
        both = _both_axes(expr)
        if both is not None:
            value, rows, cols = both
            base = self._print(value)
            base = base if _delimited(value) else self._parens(base)
            return f"{{{base}}}_{{{_range(self, rows, ':')},{_range(self, cols, ':')}}}"
        base = self._print(expr.arg)
        base = base if _delimited(expr.arg) else self._parens(base)
        span = _range(self, expr, ":")
        if _of_a_vector(expr):
            return f"{{{base}}}_{{{span}}}"
        return f"{{{base}}}_{{{span},:}}" if expr.axis == 0 else f"{{{base}}}_{{:,{span}}}"


class BlockNumPy:
    """``np.vstack((a, b))``, ``np.hstack((A, B))``, ``v[n_h:2 * n_h]``, ``W[:, 0:n_d]``."""

    def _print_Stack(self, expr):
        join = "np.vstack" if expr.axis == 0 else "np.hstack"
        return f"{join}(({', '.join(self.doprint(b) for b in expr.blocks)}))"

    def _print_Slice(self, expr):
        text = self.doprint(expr.arg)
        text = text if re.fullmatch(r"[A-Za-z_]\w*", text) else f"({text})"
        span = f"{self.doprint(expr.lo - 1)}:{self.doprint(expr.hi)}"
        return f"{text}[{span}]" if expr.axis == 0 else f"{text}[:, {span}]"
