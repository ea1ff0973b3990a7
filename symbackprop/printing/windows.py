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

from ..primitives.windows import Correlate, PoolMask, Upsample
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

    def _masked_upsample(self, expr):
        """``_masked_upsample(X, P, G, k)`` for the Hadamard product 𝟙[X ≥ upsample(P, k)] ⊙
        upsample(G, k) (max pooling's adjoint), written once; None for another product."""
        if len(expr.args) != 2:
            return None
        mask, spread = sorted(expr.args, key=lambda a: not isinstance(a, PoolMask))
        if not (isinstance(mask, PoolMask) and isinstance(spread, Upsample)
                and mask.size == spread.size):
            return None
        x, top = mask.operands
        return self._helper("_masked_upsample", x, top, spread.args[0], mask.size)


#: The functions a generated module defines when its code calls them: whole-array NumPy,
#: windows as strided views, never a loop over entries.
HELPERS = [
    """\
def _correlate(a, k, stride):
    # a ⋆ k from the windows of a, a strided view (no copy): against the kernel by tensordot
    # where both are small (it copies the windows); a large output of a small kernel as the
    # sum over the kernel's entries of each times a shifted view of a, whole-array NumPy; a
    # small output of a large kernel (a kernel's gradient) by einsum over the view
    (p, r), s = k.shape, stride
    n, m = (a.shape[0] - p) // s + 1, (a.shape[1] - r) // s + 1
    windows = np.lib.stride_tricks.sliding_window_view(a, k.shape)[::s, ::s]
    if max(p * r, n * m) < 2048 and min(p * r, n * m) > 4:
        return np.tensordot(windows, k, axes=([2, 3], [0, 1]))
    if p * r > n * m:
        return np.einsum("ijkl,kl->ij", windows, k)
    out = np.zeros((n, m))
    for i in range(p):
        for j in range(r):
            out += k[i, j] * a[i:i + s * (n - 1) + 1:s, j:j + s * (m - 1) + 1:s]
    return out
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
    n, m = a.shape[0] // k, a.shape[1] // k
    if n * m < 1024:  # few windows: a max over the axes of each window's entries
        return a.reshape(n, k, m, k).max(axis=(1, 3))
    # many: the max of the k² strided views of a window's i-th row and j-th column, k² - 1
    # whole-array maxima, where reducing over the windows' short strided axes is slow
    out = a[::k, ::k]
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, a[i::k, j::k]) if i or j else out
    return out
""",
    """\
def _avgpool(a, k):
    return a.reshape(a.shape[0] // k, k, a.shape[1] // k, k).mean(axis=(1, 3))
""",
    """\
def _upsample(a, k):
    if a.size < 1024:
        return np.repeat(np.repeat(a, k, axis=0), k, axis=1)
    out = np.empty((a.shape[0] * k, a.shape[1] * k))  # each strided view of a block's entry
    for i in range(k):
        for j in range(k):
            out[i::k, j::k] = a
    return out
""",
    """\
def _maxpool_mask(a, k):
    # 1 at the first max of each k x k window, row by row (a tie as max_pool2d routes it)
    n, m = a.shape[0] // k, a.shape[1] // k
    if n * m < 1024:  # few windows: the argmax of each window's entries, row by row
        windows = a.reshape(n, k, m, k).transpose(0, 2, 1, 3).reshape(n, m, k * k)
        mask = np.zeros_like(windows)
        np.put_along_axis(mask, np.argmax(windows, axis=2)[:, :, None], 1.0, axis=2)
        return mask.reshape(n, m, k, k).transpose(0, 2, 1, 3).reshape(a.shape)
    # many: the k² strided views in row-major order, each 1 where it is its window's max and
    # no view before it was; every entry of the mask is written once
    top, mask = _maxpool(a, k), np.empty(a.shape)
    free = np.ones((n, m), dtype=bool)
    for i in range(k):
        for j in range(k):
            hit = (a[i::k, j::k] == top) & free
            mask[i::k, j::k] = hit
            free &= ~hit
    return mask
""",
    """\
def _masked_upsample(a, top, g, k):
    # 𝟙[a ≥ upsample(top, k)] ⊙ upsample(g, k), top = maxpool(a, k): each entry of g at the
    # first max of its window of a, row by row (a tie as max_pool2d routes it), 0 elsewhere
    if top.size < 1024:
        return _maxpool_mask(a, k) * _upsample(g, k)
    # written once through the k² strided views of a window's entries: no mask, no copy of g
    out, free = np.empty(a.shape), np.ones(top.shape, dtype=bool)
    for i in range(k):
        for j in range(k):
            hit = (a[i::k, j::k] == top) & free
            np.multiply(g, hit, out=out[i::k, j::k])
            free &= ~hit
    return out
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
