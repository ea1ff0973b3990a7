"""The exponent of ``^``: a number, a rational expression of numbers, or a const scalar.

``x ^ 3``, ``x ^ 0.5``, ``x ^ (1/3)`` and ``x ^ (-1/2)`` have a number as their
exponent: the expression is folded here, exactly, into a rational.  ``x ^ k``
with ``const k: scalar`` has the const's symbol; its base must be declared
``positive`` (or ``unit``), since a negative number has no real power of every k.
"""

from __future__ import annotations

import sympy as sp

from ..errors import ModelError
from . import syntax as ast

__all__ = ["folded_exponent", "exponent_symbol", "EXPONENT"]

#: What an exponent may be, for the messages.
EXPONENT = ("the exponent of '^' must be a number, a rational expression of numbers "
            "(1/3, -1/2) or a const scalar")

#: The largest integer power folded in an exponent, (1/2)^64.
MAX_FOLDED_POWER = 64


def folded_exponent(e):
    """The exact value of an exponent written with numbers, + - * / and integer powers;
    None when `e` holds anything else (a name, a call).

    Raises
    ------
    ModelError
        For a division by zero, or an integer power beyond :data:`MAX_FOLDED_POWER`.

    Examples
    --------
    >>> e = ast.parse_statements("y = x ^ (-1/2)")[0].expr.right
    >>> folded_exponent(e)
    -1/2
    >>> folded_exponent(ast.parse_statements("y = x ^ (2/3 + 1)")[0].expr.right)
    5/3
    """
    if isinstance(e, ast.Num):
        return sp.Rational(e.value.numerator, e.value.denominator)
    if isinstance(e, ast.Unary):
        inner = folded_exponent(e.operand)
        return None if inner is None else -inner
    if not isinstance(e, ast.Binary) or e.op not in "+-*/^":
        return None
    left, right = folded_exponent(e.left), folded_exponent(e.right)
    if left is None or right is None:
        return None
    if e.op == "/" and right == 0 or e.op == "^" and left == 0 and right < 0:
        raise ModelError("the exponent divides by zero", e.line, e.col)
    if e.op == "^":
        if not right.is_Integer or abs(right) > MAX_FOLDED_POWER:
            raise ModelError(f"{EXPONENT}: a power inside it is to an integer of at most "
                             f"{MAX_FOLDED_POWER}", e.line, e.col)
        return left ** right
    return {"+": left + right, "-": left - right, "*": left * right, "/": left / right}[e.op]


def exponent_symbol(variable):
    """The symbol of a const scalar used as an exponent: the derivation's own symbol for it
    (:func:`symbackprop.derivation.reverse.shaped_symbol`), positive if it is declared so.

    Examples
    --------
    >>> from symbackprop import parse
    >>> m = parse("const k: scalar\\nparam w: scalar\\nJ = w * k\\nobjective J")
    >>> exponent_symbol(m.variables["k"]).is_real
    True
    """
    if variable.domain in ("positive", "unit"):
        return sp.Symbol(variable.name, positive=True)
    return sp.Symbol(variable.name, real=True)
