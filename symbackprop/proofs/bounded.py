"""Bounded symbolic proofs that a difference of two SymPy expressions is zero.

:func:`sympy.simplify` has no time limit: on the softmaxes and logarithms of a
few entries it can run for many minutes.  SymPy cannot be interrupted from
another thread (it never checks for a request to stop), and an alarm signal
reaches only the main thread and can be swallowed by SymPy's own ``except``
clauses.  So a proof runs in a forked child process that is killed when its
time is up (:func:`run_bounded`): the only limit that holds whatever SymPy
does, memory included.  Forking copies nothing up front (the child shares the
parent's pages until it writes to them) and costs a few milliseconds, which is
paid only for differences that are not identically zero as built.

A proof tries cheap canonical forms first (:data:`CANONICAL_FORMS`: expansion,
cancellation of rational functions, exponentials and logarithms written one
way), and :func:`sympy.simplify` only where they all fail.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import sympy as sp

from .forked import run_bounded

__all__ = ["CANONICAL_FORMS", "SIMPLIFY", "prove_zero", "bounded_proof",
           "almost_everywhere", "expansion_size", "Counterexample", "counterexample",
           "differing_parts"]


def almost_everywhere(expr):
    """`expr` with ``sign(u)`` written ``u/|u|``, equal wherever the derivatives exist.

    ``d|u|/du`` is ``sign(u)`` to :func:`sympy.diff`, while the chain rule
    through ``sqrt(u^2)`` gives ``u/|u|``; the two differ only at ``u = 0``,
    where neither is a derivative.

    Examples
    --------
    >>> w = sp.Symbol("w", real=True)
    >>> almost_everywhere(sp.sign(w)) - w / sp.Abs(w)
    0
    """
    return expr.replace(lambda e: isinstance(e, sp.sign), lambda e: e.args[0] / sp.Abs(e.args[0]))


def exponentials_as_powers(expr):
    """`expr` in the exponentials of its symbols: x = log(E_x), E_x > 0, for each x in an exp.

    A softmax, a logsumexp or a tanh written with exponentials is then a
    rational function of the E's (logarithms and roots of them aside), which
    :func:`sympy.cancel` brings to a canonical form; x -> exp(x) being one to
    one, the difference is 0 in the E's exactly when it is in the x's.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> exponentials_as_powers(sp.tanh(x))
    (E_x - 1/E_x)/(E_x + 1/E_x)
    """
    expr = expr.rewrite(sp.exp)
    symbols = {s for e in expr.atoms(sp.exp) for s in e.args[0].free_symbols}
    powers = {s: sp.log(sp.Symbol(f"E_{s.name}", positive=True))
              for s in sorted(symbols, key=str)}
    return sp.expand_power_exp(sp.expand_log(expr.xreplace(powers)))


#: The canonical forms a proof tries, cheapest first: (name, function of the difference).
CANONICAL_FORMS = (
    ("expand", sp.expand),
    ("exponentials", lambda e: sp.cancel(exponentials_as_powers(e))),
)

#: The last resort, given whatever time is left.
SIMPLIFY = (
    ("simplify", sp.simplify),
    ("simplify of exponentials", lambda e: sp.simplify(e.rewrite(sp.exp))),
)


def prove_zero(difference, forms=CANONICAL_FORMS):
    """The name of the first form in which `difference` is 0, else None (in this process).

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> prove_zero((x + 1)**2 - x**2 - 2*x - 1)
    'expand'
    >>> prove_zero(sp.tanh(x) - (sp.exp(2*x) - 1) / (sp.exp(2*x) + 1))
    'exponentials'
    """
    for name, form in forms:
        if form(difference) == 0:
            return name
    return None


def bounded_proof(difference, seconds, forms=CANONICAL_FORMS):
    """`prove_zero` with a hard time limit: (the form that gave 0 or None, whether time ran out).

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> bounded_proof(sp.sin(x)**2 + sp.cos(x)**2 - 1, 10.0, SIMPLIFY)
    ('simplify', False)
    """
    start = time.monotonic()
    result = run_bounded(lambda: prove_zero(difference, forms) or "-", seconds)
    if result is None:
        return None, time.monotonic() - start >= seconds
    return (None if result == "-" else result), False


def expansion_size(expr):
    """An upper bound on the number of terms :func:`sympy.expand` can make of `expr`.

    Products multiply the terms of their factors, whole powers raise them; the
    arguments of functions are expanded too, so their terms add.  It bounds
    the work of an expansion, so that small ones can be done without a child
    process.

    Examples
    --------
    >>> a, b, c = sp.symbols("a b c")
    >>> expansion_size((a + b) * (a + c) + sp.exp(a + b))
    6
    """
    def size(e):
        if isinstance(e, sp.Add):
            return sum(size(a) for a in e.args)
        if isinstance(e, sp.Mul):
            return math.prod(size(a) for a in e.args)
        if isinstance(e, sp.Pow) and e.exp.is_Integer:
            return size(e.base) ** min(abs(int(e.exp)), 64)
        return 1 + sum(size(a) - 1 for a in e.args)

    return size(expr)


#: Characters a value or an expression of a counterexample is shown in, at most.
SHOWN = 100


def _shown(expr):
    text = sp.sstr(expr)
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def _number(z):
    return f"{z.real:.10g}" if abs(z.imag) <= 1e-12 * max(abs(z), 1.0) else f"{z:.6g}"


@dataclass
class Counterexample:
    """A point where two expressions differ: a few of its values, the two sides there, and
    the smallest subexpressions found that differ (common terms and factors removed)."""

    point: dict
    more: int
    derived: complex
    truth: complex
    parts: tuple = ()

    def __str__(self):
        values = ", ".join(f"{k} = {v}" for k, v in self.point.items())
        values += f" (and {self.more} more)" if self.more else ""
        text = (f"at {values}: derived {_number(self.derived)}, sympy.diff "
                f"{_number(self.truth)}")
        if self.parts:
            text += (f"; first difference: derived has {_shown(self.parts[0])} where "
                     f"sympy.diff has {_shown(self.parts[1])}")
        return text


def counterexample(mine, truth, unknowns, a, b, shown=3):
    """The :class:`Counterexample` of `mine` != `truth` at the point drawn in `unknowns`.

    `a` and `b` are the two sides' values there.
    """
    symbols = sorted((mine - truth).free_symbols, key=str)
    point = {str(s): _number(complex(unknowns[s])) for s in symbols[:shown] if s in unknowns}
    return Counterexample(point, max(len(symbols) - shown, 0), a, b,
                          differing_parts(mine, truth))


def _novel(a, b, limit=400):
    """The smallest subexpression of `a` that `b` lacks, all of whose arguments `b` has (or
    are atoms)."""
    inside = set(sp.preorder_traversal(b))
    found = []
    for e in sp.preorder_traversal(a):
        if e.args and e not in inside and all(x in inside or not x.args for x in e.args):
            found.append(e)
            if len(found) >= limit:
                break
    return min(found, key=lambda e: (len(sp.sstr(e)), sp.sstr(e)), default=None)


def differing_parts(mine, truth, depth=30):
    """The smallest subexpressions by which `mine` and `truth` differ.

    First, where both are sums (or both products), the terms (factors) they
    share are removed; if one term is left on each side, the search goes on
    inside them.  Then, on each side, the smallest subexpression the other
    side lacks, made of parts the other side has: for ``W (1 - tanh(z)) x``
    against ``2 W x (1 - tanh(z)**2)``, ``-tanh(z)`` against ``tanh(z)**2``.  Cheap: no
    expansion, no simplification.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> differing_parts(3 * sp.sin(x) + y, 3 * sp.cos(x) + y)
    (sin(x), cos(x))
    >>> differing_parts(y * (1 - sp.tanh(x)), y * (1 - sp.tanh(x)**2))
    (tanh(x), tanh(x)**2)
    """
    mine, truth = _stripped(mine, truth, depth)
    a, b = _novel(mine, truth), _novel(truth, mine)
    return (mine, truth) if a is None or b is None else (a, b)


def _stripped(mine, truth, depth):
    """`mine` and `truth` with the terms or factors they share removed, level by level."""
    for _ in range(depth):
        if type(mine) is not type(truth) or not isinstance(mine, (sp.Add, sp.Mul)):
            if (isinstance(mine, sp.Function) and type(mine) is type(truth)
                    and len(mine.args) == len(truth.args) == 1):
                mine, truth = mine.args[0], truth.args[0]  # f(u) against f(v): u against v
                continue
            break
        left, right = list(mine.args), list(truth.args)
        for a in list(left):
            if a in right:
                left.remove(a)
                right.remove(a)
        rest = (type(mine)(*left), type(truth)(*right))
        if rest == (mine, truth) or len(left) != 1 or len(right) != 1:
            return rest
        mine, truth = left[0], right[0]  # the one term (factor) left on each side differs
    return mine, truth
