"""Entries of explicit matrices (a Hessian at small sizes) printed as a reader writes them.

An entry computed entry by entry holds what SymPy builds for abstract functions: a
partial of ``ell`` in its k-th scalar argument is a function ``ell__d0``, and
``phi'`` at a point is ``Subs(Derivative(phi(ξ), ξ), ξ, z[0])``.  :func:`entry_text`
prints them ``∂ℓ/∂o[0]``, ``∂²ℓ/∂o[0]∂o[1]`` and ``φ'(z[0])``, Greek names as Greek
letters, and everything else as SymPy prints it (``*`` and ``**``).
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.str import StrPrinter

from ..language.spelling import unicode_name

__all__ = ["entry_text"]

_PARTIAL = re.compile(r"(?P<name>.+?)(?P<slots>(?:__d\d+)+)")
_PRIMES = {1: "'", 2: "''", 3: "'''"}


class _EntryPrinter(StrPrinter):
    def _print_Symbol(self, expr):
        name, bracket, rest = expr.name.partition("[")
        return unicode_name(name) + bracket + rest

    def _print_Function(self, expr):
        if not isinstance(expr, AppliedUndef):
            return super()._print_Function(expr)
        m = _PARTIAL.fullmatch(type(expr).__name__)
        if m is None:
            return f"{unicode_name(type(expr).__name__)}({self.stringify(expr.args, ', ')})"
        slots = [int(k) for k in m["slots"].split("__d")[1:]]
        f = unicode_name(m["name"])
        wrt = [expr.args[k] for k in slots]
        order = "²" if len(slots) == 2 else "" if len(slots) == 1 else f"^{len(slots)}"
        if all(isinstance(a, sp.Symbol) for a in wrt):  # at the forward values: ∂ℓ/∂o[0]
            return f"∂{order}{f}/" + "".join(f"∂{self._print(a)}" for a in wrt)
        where = "".join(f"∂_{k + 1}" for k in slots)  # at another point: ∂_1 ℓ(a, b)
        return f"{where} {f}({self.stringify(expr.args, ', ')})"

    def _print_Subs(self, expr):
        derivative, (variable,), (point,) = expr.args
        f = derivative.expr if isinstance(derivative, sp.Derivative) else None
        if isinstance(f, AppliedUndef) and f.args == (variable,):
            order = derivative.derivative_count
            primes = _PRIMES.get(order, f"^({order})")
            return f"{unicode_name(type(f).__name__)}{primes}({self._print(point)})"
        return super()._print_Subs(expr)

    def _print_Derivative(self, expr):
        f = expr.expr
        if isinstance(f, AppliedUndef) and len(f.args) == 1 and \
                set(expr.variables) == {f.args[0]}:
            order = expr.derivative_count
            primes = _PRIMES.get(order, f"^({order})")
            return f"{unicode_name(type(f).__name__)}{primes}({self._print(f.args[0])})"
        return super()._print_Derivative(expr)


def entry_text(expr):
    """An explicit entry as text: partials of abstract functions with ∂, derivatives with
    primes, Greek names in Greek.

    Examples
    --------
    >>> o0, o1, y0 = sp.symbols("o[0] o[1] y[0]", real=True)
    >>> ell_00 = sp.Function("ell__d0__d1")(o0, o1, y0)
    >>> xi, z0 = sp.symbols("ξ z[0]")
    >>> phi_1 = sp.Subs(sp.Derivative(sp.Function("phi")(xi), xi), xi, z0)
    >>> entry_text(sp.Symbol("lambda") + ell_00 * phi_1**2)
    "λ + φ'(z[0])**2*∂²ℓ/∂o[0]∂o[1]"
    """
    return _EntryPrinter({"order": "none"}).doprint(expr)
