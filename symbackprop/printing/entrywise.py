"""How an entrywise function prints: the scalar function applied to the matrix, φ'(z),
``1 - tanh²(z)``, σ(z) ⊙ tanh(z), h^⊙2.

A mixin of the text and LaTeX printers of :mod:`symbackprop.printing.printers`: the
body of a map is printed as a scalar expression whose entry prints as the operand,
and inside it a power or a product of what varies with the entry is a Hadamard one
(a superscript on a matrix would read as a matrix power).
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import HadamardPower, HadamardProduct, MatrixSymbol

from ..primitives import expressions as ex
from .indicators import comparison

__all__ = ["EntrywiseFunctions", "hadamard_body"]


class EntrywiseFunctions:
    """The printing of :class:`~symbackprop.primitives.expressions.Map`; the printer using it
    holds ``names``, ``plain_operands`` and ``entries`` (the entry of the map being printed)."""

    def _print_Map(self, expr):
        compared = comparison(expr)  # 𝟙[a > b] of max(a, b)
        if compared is not None:
            return self._compare(*compared)
        # A product of functions of the entries, f(z) g(z), is written f(z) ⊙ g(z).
        body = expr.function.expr
        if body.is_Mul:
            varying = [f for f in body.args if f.has(ex.ENTRY)]
            if len(varying) > 1:
                constant = sp.Mul(*(f for f in body.args if not f.has(ex.ENTRY)))
                # entrywise, not Map: a factor that is the entry itself is the operand
                product = HadamardProduct(*(ex.entrywise(f, expr.arg) for f in varying))
                return self._print(product if constant == 1 else sp.MatMul(constant, product))
        # The body is printed as a scalar function of a stand-in symbol that
        # prints as the operand: phi'(z), 1 - tanh^2(z).
        # In a power or a product the operand is bracketed unless a plain name;
        # as a function's argument it is not (the call has brackets already).
        operand = self._print(expr.arg)
        bracketed = operand if self._plain_operand(expr.arg) else self._parens(operand)
        if _composes(body):
            # A composition is printed at its own entry: substituting would rebuild every
            # call, and each rebuilt tanh(tanh(...)) asks its argument's assumptions down the
            # whole chain (cubic in the nesting depth).
            entry = ex.ENTRY
        else:
            # Real, as ENTRY is: a real stand-in renames and evaluates nothing new.  Its name
            # orders the operand first in a sum: 𝟙[r + δ > 0], not 𝟙[δ + r > 0].
            entry = sp.Symbol(f"\0map{len(self.names)}", real=True)
            body = expr.body_at(entry)
        # a body holds no map, so no other entry is printed meanwhile
        self.names[entry], self.plain_operands[entry] = bracketed, operand
        self.entries.add(entry)
        try:
            return self._print(body)
        finally:
            del self.names[entry], self.plain_operands[entry]
            self.entries.discard(entry)

    def _plain_operand(self, arg):
        """Whether an entrywise function's operand is a name, which needs no brackets."""
        return isinstance(arg, MatrixSymbol)

    def _varies(self, expr):
        """Whether a scalar expression depends on the entry of an entrywise function being
        printed (the body of a rule printed alone, in ξ, has no operand)."""
        return not self.entries.isdisjoint(getattr(expr, "free_symbols", ()))

    def _entrywise_power(self, expr):
        """A power of a matrix inside an entrywise function, h^⊙2, as a Hadamard power.

        (1 - σ(a))^⊙2 too: a superscript on a matrix would read as a matrix power.  A
        function's power keeps the lecturer's tanh²(z).
        """
        if self._varies(expr.base) and expr.exp != sp.Rational(1, 2) \
                and not (isinstance(expr.base, sp.Function) and expr.exp.is_positive):
            return self._print_HadamardPower(HadamardPower(expr.base, expr.exp))
        return None

    def _entrywise_product(self, expr):
        """A product inside an entrywise function of two factors that vary: f(a) ⊙ g(a)."""
        varying = [f for f in expr.args if self._varies(f)]
        if len(varying) < 2:
            return None
        constant = sp.Mul(*(f for f in expr.args if not self._varies(f)))
        factors = []
        for f in varying:
            text = self._print(f)
            factors.append(self._parens(text) if f.is_Add or f.could_extract_minus_sign()
                           else text)
        product = self._hadamard_join(factors)
        if constant == 1:
            return product
        if constant == -1:
            return f"-{product}"  # a minus negates the whole product after it
        return f"{self._factor(constant)} {self._parens(product)}"


def _composes(body):
    """Whether an entrywise body calls a function of a function of its entry: tanh(tanh(ξ))."""
    return any(a.has(sp.Function) for f in body.atoms(sp.Function) for a in f.args)


def hadamard_body(body):
    """Whether an entrywise body prints as a Hadamard product, σ(z) ⊙ tanh(z)."""
    return body.is_Mul and sum(1 for f in body.args if f.has(ex.ENTRY)) > 1
