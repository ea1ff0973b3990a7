"""Scalar functions defined piece by piece, and the normal distribution's Φ and φ.

The SymPy functions behind the piecewise built-ins: :class:`leaky_relu`,
:class:`elu`, :class:`gelu` (with the standard normal CDF :class:`normal_cdf`, Φ,
and density :class:`normal_pdf`, φ), :class:`clip` (the derivative of the Huber
loss) and :class:`huber_entry` (one entry of it).  Each carries its derivative
(``fdiff``) in the notation a lecture writes: indicators ``𝟙[x > 0]`` and
``𝟙[x ≤ 0]`` (SymPy's ``Heaviside(x, 0)`` and ``Heaviside(-x, 1)``), ``clip``,
Φ and φ.  At a kink the derivative is PyTorch's: leaky_relu'(0) = a,
elu'(0) = 1, clip is continuous.  At numbers each evaluates to its closed form,
so that SymPy and mpmath can evaluate the explicit forms the proofs compare.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["leaky_relu", "elu", "gelu", "normal_cdf", "normal_pdf", "clip", "huber_entry",
           "maximum", "minimum", "greatest", "least", "extreme_share",
           "at_most_zero"]


def at_most_zero(x):
    """𝟙[x ≤ 0]: SymPy's step at -x, 1 at 0."""
    return sp.Heaviside(-x, 1)


class _Real(sp.Function):
    def _eval_is_real(self):
        return all(a.is_real for a in self.args) or None


class leaky_relu(_Real):
    """x where x > 0, a x elsewhere; the derivative 𝟙[x > 0] + a 𝟙[x ≤ 0] (a at 0, as PyTorch)."""

    nargs = 2

    @classmethod
    def eval(cls, x, a):
        if x.is_Number and a.is_Number:
            return x if x > 0 else a * x

    def fdiff(self, argindex=1):
        x, a = self.args
        if argindex == 1:
            return sp.Heaviside(x, 0) + a * at_most_zero(x)
        return x * at_most_zero(x)


class elu(_Real):
    """x where x > 0, exp(x) - 1 elsewhere (alpha 1); the derivative 1 there, exp(x) here."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return x if x > 0 else sp.exp(x) - 1

    def fdiff(self, argindex=1):
        """Written with the output h = elu(x), as backpropagation reuses it: 𝟙[h > 0] +
        𝟙[h ≤ 0] (h + 1), for elu(x) > 0 exactly where x > 0, and exp(x) = h + 1 where not."""
        h = self
        return sp.Heaviside(h, 0) + at_most_zero(h) * (h + 1)


class normal_cdf(_Real):
    """Φ(x), the standard normal distribution function, (1 + erf(x/√2))/2."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return (1 + sp.erf(x / sp.sqrt(2))) / 2

    def fdiff(self, argindex=1):
        return normal_pdf(self.args[0])


class normal_pdf(_Real):
    """φ(x), the standard normal density, exp(-x²/2)/√(2π)."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)

    def fdiff(self, argindex=1):
        x = self.args[0]
        return -x * normal_pdf(x)


class gelu(_Real):
    """x Φ(x); the derivative Φ(x) + x φ(x) (PyTorch's gelu, approximate="none")."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return x * normal_cdf(x)

    def fdiff(self, argindex=1):
        x = self.args[0]
        return normal_cdf(x) + x * normal_pdf(x)

    def unfolded(self):
        """x Φ(x): generated code computes Φ(x) once for gelu and its derivative."""
        return self.args[0] * normal_cdf(self.args[0])


class clip(_Real):
    """x clipped to [lo, hi]: lo below it, hi above it; the derivative 𝟙[lo < x < hi] in x."""

    nargs = 3

    @classmethod
    def eval(cls, x, lo, hi):
        if x.is_Number and lo.is_Number and hi.is_Number:
            return max(lo, min(x, hi))

    def fdiff(self, argindex=1):
        x, lo, hi = self.args
        inside = sp.Heaviside(x - lo, 0) * sp.Heaviside(hi - x, 0)
        if argindex == 1:
            return inside
        return at_most_zero(x - lo) if argindex == 2 else at_most_zero(hi - x)


class huber_entry(_Real):
    """One entry of the Huber loss: r²/2 where abs(r) <= δ, δ (abs(r) - δ/2) elsewhere.

    Its derivative in r is clip(r, -δ, δ).
    """

    nargs = 2

    @classmethod
    def eval(cls, r, delta):
        if r.is_Number and delta.is_Number:
            return r**2 / 2 if abs(r) <= delta else delta * (abs(r) - delta / 2)

    def fdiff(self, argindex=1):
        r, delta = self.args
        if argindex == 1:
            return clip(r, -delta, delta)
        return (sp.Abs(r) - delta) * sp.Heaviside(sp.Abs(r) - delta, 0)


class _Extremum(_Real):
    nargs = 2
    _pick = None

    @classmethod
    def eval(cls, a, b):
        if a.is_Number and b.is_Number:
            return cls._pick(a, b)

    def fdiff(self, argindex=1):
        """𝟙[a > b] for max's a (ties ½ each, as torch.maximum), 𝟙[a < b] for min's."""
        a, b = self.args if argindex == 1 else reversed(self.args)
        return sp.Heaviside(a - b if self._pick is max else b - a, sp.S.Half)


class maximum(_Extremum):
    """max(a, b) of two scalars; at a tie each argument's derivative is 1/2 (torch.maximum)."""

    _pick = max


class minimum(_Extremum):
    """min(a, b) of two scalars; at a tie each argument's derivative is 1/2 (torch.minimum)."""

    _pick = min


class extreme_share(_Real):
    """``extreme_share(i, s, x_0, ..., x_k)``: x_i's share of the extreme of the x's, the
    largest for s = 1, the smallest for s = -1: 1 if x_i is it, 0 if not, 1/k at a tie of k.

    Constant between ties, its derivative is 0 (as relu's step's is, but at the kink).

    Examples
    --------
    >>> extreme_share(1, 1, 2, 3, 3), extreme_share(0, -1, 2, 3, 3)
    (1/2, 1)
    """

    @classmethod
    def eval(cls, i, sign, *xs):
        if xs and all(x.is_Number for x in xs):
            m = max(xs) if sign > 0 else min(xs)
            return sp.Integer(xs[int(i)] == m) / sum(1 for x in xs if x == m)

    def fdiff(self, argindex=1):
        return sp.S.Zero


class _Extreme(_Real):
    """The largest (smallest) of its arguments; each argument's derivative is its share of
    the extreme, 1/k at a tie of k (:class:`extreme_share`), as torch.amax splits it."""

    _pick = None

    @classmethod
    def eval(cls, *args):
        if args and all(a.is_Number for a in args):
            return cls._pick(args)

    def fdiff(self, argindex=1):
        return extreme_share(argindex - 1, 1 if self._pick is max else -1, *self.args)


class greatest(_Extreme):
    """max(x_1, ..., x_k): the explicit form of max(A), max_rows(X), max_cols(X)."""

    _pick = max


class least(_Extreme):
    """min(x_1, ..., x_k): the explicit form of min(A), min_rows(X), min_cols(X)."""

    _pick = min
