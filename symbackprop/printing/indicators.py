"""How the printers write piecewise notation: indicators 𝟙[...], max(a, b), min(a, b).

One mixin a printer (:class:`TextIndicators` for text, :class:`LatexIndicators`
for LaTeX, where the indicator is ``\\mathbb{I}``):

* SymPy's step ``Heaviside(x, 0)`` is ``𝟙[x > 0]``, ``Heaviside(-x, 1)`` is
  ``𝟙[x ≤ 0]``, and so on: a step's value at 0 says which of > and ≥ it is;
* max's indicator, the step at ``a - b`` with 1/2 at 0, is ``𝟙[a > b]``
  (at a tie it is 1/2, as the documents say);
* where an extreme of a matrix is (:class:`~symbackprop.primitives.piecewise.ArgExtreme`)
  is ``𝟙[X ≥ m]``, ``𝟙[X ≥ r 𝟏ᵀ]``: the entries that reach it (sharing it at a tie);
* max and min entry by entry are written as the model writes them, ``max(a, b)``.
"""

from __future__ import annotations

import sympy as sp

from ..primitives import expressions as ex
from ..primitives.functions import TABLE

__all__ = ["TextIndicators", "LatexIndicators", "comparison", "step_relation"]


def step_relation(step):
    """What SymPy's step prints as, (side, relation): 𝟙[x > 0] for Heaviside(x, 0) (and for
    max's Heaviside(x, 1/2)), 𝟙[x ≤ 0] for Heaviside(-x, 1), 𝟙[x < 0] for Heaviside(-x, 0).

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> step_relation(sp.Heaviside(-x, 1)), step_relation(sp.Heaviside(x, 0))
    ((x, '≤'), (x, '>'))
    """
    arg, at_zero = step.args[0], step.args[1] if len(step.args) > 1 else sp.S.Half
    if arg.could_extract_minus_sign():
        return -arg, "≤" if at_zero == 1 else "<"
    return arg, "≥" if at_zero == 1 else ">"


def comparison(entrywise):
    """(a, ">", b) for max's indicator of `a - b` entry by entry, which prints 𝟙[a > b]; None
    for any other entrywise function."""
    arg = entrywise.arg
    if entrywise.function.expr != sp.Heaviside(ex.ENTRY, sp.S.Half) \
            or not isinstance(arg, sp.MatAdd) or len(arg.args) != 2:
        return None
    a, b = arg.args
    coeff, _ = ex._split(b)
    if not coeff.could_extract_minus_sign():
        return None
    return a, ">", ex.neg(b)


class _Indicators:
    def _relation(self, relation):
        return relation

    def _print_Heaviside(self, expr, exp=None):
        side, relation = step_relation(expr)
        return self._indicator(self._arg(side), self._relation(relation), "0")

    def _compare(self, a, relation, b):
        return self._indicator(self._print(a), self._relation(relation), self._print(b))

    def _print_ArgExtreme(self, expr):
        return self._compare(expr.operands[0], "≥" if expr.kind == "max" else "≤",
                             expr.spread_extreme())


class TextIndicators(_Indicators):
    """𝟙[x > 0], max(a, b) in text."""

    def _indicator(self, a, relation, b):
        return f"𝟙[{a} {relation} {b}]"

    def _print_Extremum(self, expr):
        a, b = (self._print(o) for o in expr.operands)
        return f"{TABLE[expr.function.__name__].text}({a}, {b})"


class LatexIndicators(_Indicators):
    """\\mathbb{I}\\left[x > 0\\right], \\max{\\left(a, b\\right)} in LaTeX."""

    def _relation(self, relation):
        return {"≤": "\\leq", "≥": "\\geq"}.get(relation, relation)

    def _indicator(self, a, relation, b):
        # amssymb has no blackboard-bold 1: the indicator is written \mathbb{I}
        return f"\\mathbb{{I}}\\left[{a} {relation} {b}\\right]"

    def _print_Extremum(self, expr):
        a, b = (self._print(o) for o in expr.operands)
        # braced, as every function applied (printers._applied): no space before the bracket
        return f"{TABLE[expr.function.__name__].latex}{{\\left({a}, {b}\\right)}}"
