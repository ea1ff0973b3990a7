"""Inverses in print: X⁻¹ and X⁻ᵀ, and X⁻¹ for the X⁻ᵀ of a declared symmetric X.

Mixins of the text and LaTeX printers (:mod:`symbackprop.printing.printers`), as
:mod:`~symbackprop.printing.indicators` is: the printers ask ``_inverse_transpose``
whether a transpose is that of an inverse, and pass every formula through
``_symmetric_inverses`` first.  The derivation keeps X⁻ᵀ (the unconstrained
gradient); only its print says X⁻¹ where the model declares X ``symmetric`` or ``spd``.
"""

from __future__ import annotations

from sympy import MatrixSymbol

from ..primitives.linear_algebra import MatrixInverse, on_symmetric
from .names import TRANSPOSE

__all__ = ["TextInverses", "LatexInverses", "ACCENTS"]

#: The accents of LaTeX and amsmath, as a display name may use them (\mathbf{\hat{X}} too).
ACCENTS = tuple(f"\\{a}" for a in ("hat", "widehat", "tilde", "widetilde", "bar", "vec", "dot",
                                      "ddot", "dddot", "ddddot", "check", "breve", "acute",
                                      "grave", "mathring"))


class _Inverses:
    def _print_MatrixInverse(self, expr):
        return self._inverse(expr.arg, transposed=False)

    def _symmetric_inverses(self, expr):
        """`expr` with X⁻ᵀ written X⁻¹ for each X the names mark symmetric."""
        # found once: the names are the whole model's, and every formula and size is printed
        # through here (a scan per print was quadratic in the model's size)
        symmetric = self.__dict__.get("_symmetric")
        if symmetric is None:
            symmetric = self._symmetric = [k[1] for k in self.names
                                           if isinstance(k, tuple) and k[0] == "symmetric"]
        return on_symmetric(expr, symmetric) if symmetric else expr

    def _inverse_transpose(self, expr):
        """X⁻ᵀ for the transpose of an inverse."""
        return self._inverse(expr.arg.arg, True) if isinstance(expr.arg, MatrixInverse) else None

    def _sized_identity(self):
        """Whether the identity prints with its size: beside another size, or a name like I."""
        return self.names.get(("identity", "sized"), False)


class TextInverses(_Inverses):
    """X⁻¹ and X⁻ᵀ, a compound bracketed: (A + B)⁻¹."""

    def _inverse(self, arg, transposed):
        inner = self._print(arg)
        bare = isinstance(arg, MatrixSymbol) and not any(c in inner for c in "/∇ ")
        return (inner if bare else f"({inner})") + ("⁻ᵀ" if transposed else "⁻¹")


class LatexInverses(_Inverses):
    """X^{-1} and X^{-T} in LaTeX, with the transpose mark of the notation."""

    def _inverse(self, arg, transposed):
        inner = self._print(arg)
        if not isinstance(arg, MatrixSymbol) or "\\frac" in inner or (
                "^" in inner and any(a in inner for a in ACCENTS)):
            inner = f"\\left({inner}\\right)"
        elif "^" in inner or "_" in inner:
            inner = f"{{{inner}}}"
        mark = TRANSPOSE[self.notation.transpose][1:]
        mark = mark[1:-1] if mark.startswith("{") else mark
        return f"{inner}^{{-{mark if transposed else 1}}}"
