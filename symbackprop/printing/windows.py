"""How convolution and pooling print: ``X ⋆ K``, ``pad(∂J/∂Y, p - 1, r - 1) ⋆ rot180(K)``,
``𝟙[X ≥ upsample(P, 2)] ⊙ upsample(∂J/∂P, 2)``; in LaTeX ``\\star`` and ``\\operatorname``;
in NumPy, helpers built on ``sliding_window_view`` and ``tensordot``, no loop over entries.

The text and LaTeX forms are mixins of the printers of
:mod:`symbackprop.printing.printers`, the NumPy form one of
:mod:`symbackprop.printing.numpy_printer`; :data:`HELPERS` are the functions a
generated module defines when it calls them, and :func:`window_notes` what the
notation section of a document says of ⋆, pad, rot180, dilate and the pools.

A ⋆ binds as a product does: an operand that is a sum, a product or another ⋆ is
bracketed, and so is a ⋆ that is a factor, ``2 (X ⋆ K)``.  The amounts of a padding
print one for a vector (its rows), two for a matrix padded alike on both sides
(rows, columns), and four otherwise (above, below, left, right).
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions import HadamardProduct

from ..primitives.windows import Correlate, Upsample
from .words import phrase

__all__ = ["WindowText", "WindowLatex", "WindowNumPy", "HELPERS", "window_notes"]

_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _amounts(expr):
    """The amounts of a padding as printed: (rows) of a vector, (rows, cols), or all four."""
    t, b, left, right = expr.amounts
    if expr.shape[1] == expr.args[0].shape[1] == 1 and left == right == 0 and t == b:
        return (t,)
    if t == b and left == right:
        return (t, left)
    return (t, b, left, right)


class _Windows:
    def _compound(self, arg):
        return isinstance(arg, Correlate) or super()._compound(arg)

    def _window_operand(self, arg, left):
        text = self._print(arg)
        adjoint = left and self._is_adjoint(arg) and self.bracket_adjoints
        compound = isinstance(arg, (sp.MatAdd, sp.MatMul, HadamardProduct, Correlate))
        return self._parens(text) if compound or adjoint or self._compound(arg) else text

    def _print_Correlate(self, expr):
        a, k = expr.operands
        return (f"{self._window_operand(a, True)} {self._star(expr.stride)} "
                f"{self._window_operand(k, False)}")

    def _print_Pad(self, expr):
        return self._call("pad", expr.args[0], *_amounts(expr))

    def _print_Rot180(self, expr):
        return self._call("rot180", expr.args[0])

    def _print_Dilate(self, expr):
        return self._call("dilate", expr.args[0], expr.step)

    def _print_Pool(self, expr):
        return self._call(f"{expr.kind}pool", expr.args[1], expr.size)

    def _print_Upsample(self, expr):
        return self._call("upsample", expr.args[0], expr.size)

    def _print_PoolMask(self, expr):
        x, extreme = expr.operands
        return self._compare(x, "≥", Upsample(extreme, expr.size))


class WindowText(_Windows):
    """``X ⋆ K``, ``X ⋆₂ K`` (a stride), ``pad(A, 1, 1)``, ``rot180(K)``, ``maxpool(X, 2)``."""

    def _star(self, stride):
        return "⋆" if stride == 1 else "⋆" + str(stride).translate(_SUBSCRIPT)

    def _call(self, name, *args):
        return f"{name}({', '.join(self._print(sp.sympify(a)) for a in args)})"


class WindowLatex(_Windows):
    """``X \\star K``, ``\\star_{2}``, ``\\operatorname{pad}{\\left(A, 1, 1\\right)}``."""

    def _star(self, stride):
        return "\\star" if stride == 1 else f"\\star_{{{stride}}}"

    def _call(self, name, *args):
        shown = ", ".join(self._print(sp.sympify(a)) for a in args)
        return f"\\operatorname{{{name}}}{{\\left({shown}\\right)}}"


class WindowNumPy:
    """``_correlate(X, K, 1)``, ``_pad(G, 4, 4, 4, 4)``, ``K[::-1, ::-1]``, ``_maxpool(X, 2)``."""

    def _helper(self, name, *args):
        return f"{name}({', '.join(self.doprint(sp.sympify(a)) for a in args)})"

    def _print_Correlate(self, expr):
        return self._helper("_correlate", *expr.operands, expr.stride)

    def _print_Pad(self, expr):
        return self._helper("_pad", expr.args[0], *expr.amounts)

    def _print_Rot180(self, expr):
        text = self.doprint(expr.args[0])
        text = text if re.fullmatch(r"[A-Za-z_]\w*", text) else f"({text})"
        return f"{text}[::-1, ::-1]"

    def _print_Dilate(self, expr):
        return self._helper("_dilate", expr.args[0], expr.step)

    def _print_Pool(self, expr):
        return self._helper(f"_{expr.kind}pool", expr.args[1], expr.size)

    def _print_Upsample(self, expr):
        return self._helper("_upsample", expr.args[0], expr.size)

    def _print_PoolMask(self, expr):
        # the first max of each window, as torch.nn.functional.max_pool2d routes a tie
        return self._helper("_maxpool_mask", expr.args[0], expr.size)


#: The functions a generated module defines when its code calls them: whole-array NumPy,
#: windows as strided views, never a loop over entries.
HELPERS = [
    """\
def _correlate(a, k, stride):
    # a ⋆ k: every window of a (a strided view, no copy) against the kernel
    windows = np.lib.stride_tricks.sliding_window_view(a, k.shape)[::stride, ::stride]
    return np.tensordot(windows, k, axes=([2, 3], [0, 1]))
""",
    """\
def _pad(a, top, bottom, left, right):
    # zeros around a; a negative amount crops
    grown = np.pad(a, ((max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))))
    rows, cols = grown.shape
    return grown[max(-top, 0):rows - max(-bottom, 0), max(-left, 0):cols - max(-right, 0)]
""",
    """\
def _dilate(a, s):
    # s - 1 zeros between the rows and between the columns of a
    out = np.zeros(((a.shape[0] - 1) * s + 1, (a.shape[1] - 1) * s + 1))
    out[::s, ::s] = a
    return out
""",
    """\
def _maxpool(a, k):
    return a.reshape(a.shape[0] // k, k, a.shape[1] // k, k).max(axis=(1, 3))
""",
    """\
def _avgpool(a, k):
    return a.reshape(a.shape[0] // k, k, a.shape[1] // k, k).mean(axis=(1, 3))
""",
    """\
def _upsample(a, k):
    return np.repeat(np.repeat(a, k, axis=0), k, axis=1)
""",
    """\
def _maxpool_mask(a, k):
    # 1 at the first max of each k x k window, row by row (a tie as max_pool2d routes it)
    n, m = a.shape[0] // k, a.shape[1] // k
    windows = a.reshape(n, k, m, k).transpose(0, 2, 1, 3).reshape(n, m, k * k)
    mask = np.zeros_like(windows)
    np.put_along_axis(mask, np.argmax(windows, axis=2)[:, :, None], 1.0, axis=2)
    return mask.reshape(n, m, k, k).transpose(0, 2, 1, 3).reshape(a.shape)
""",
]


#: The classes the notation section explains (its words in printing/words.py, "note ..."),
#: in this order.
_NOTES = ["Correlate", "Pad", "Rot180", "Dilate", "Upsample", "Pool", "PoolMask"]


def window_notes(used, latex, lang="en"):
    """What the notation section says of the window classes in `used` (class names): one
    note for ⋆, one for the moves around it, one for the indicator of max pooling."""
    said = [(name, phrase(f"note {name}", lang, latex)) for name in _NOTES if name in used]
    space = "" if lang == "zh" else " "  # Chinese sentences follow 。 without a space
    moves = space.join(note for name, note in said if name not in ("Correlate", "PoolMask"))
    first = [note for name, note in said if name == "Correlate"]
    last = [note for name, note in said if name == "PoolMask"]
    return first + ([moves] if moves else []) + last
