"""Closed forms of linear recurrences: backpropagation through time unrolled on paper.

When a family's adjoint recurrence is linear with a coefficient that is the
same at every index,

    a_t = A a_{t+1} + b_t  for t = T-1, ..., lo,    a_T = b_T,

it unrolls to a_t = sum_{i=t}^{T} A^(T-i) b_{T+t-i}, as the book writes it for
the linear RNN (dL/dh_t = sum_i (W_hh^T)^(T-i) W_qh^T dL/do_{T+t-i}); powers of
A are why gradients through time vanish or explode.  :func:`closed_forms`
finds such recurrences among a derivation's steps and gives each closed form,
and the gradients that read the family's adjoint with the closed form put in
(dL/dW_hh).  An activation between the steps (``h_t = tanh(...)``) puts
``⊙ tanh'(a_t)`` into every step, the coefficient is no longer one matrix,
and no closed form is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..primitives import expressions as ex
from ..primitives.members import IndexSum, Member, index_sum

__all__ = ["ClosedForm", "closed_forms"]


@dataclass(frozen=True)
class ClosedForm:
    """dJ/d(node[index]) without the recurrence, for ``index = lo, ..., hi``.

    Attributes
    ----------
    node : str
    index : sympy.Symbol
    lo, hi : sympy.Expr
    adjoint : sympy.Expr
        The member dJ/d(node[index]).
    result : sympy.Expr
        The sum over the summation index `along` of powers of the coefficient.
    along : sympy.Symbol
    gradients : dict of str to sympy.Expr
        The steps of single values (shared params) that read the adjoint, with the
        closed form put in.
    """

    node: str
    index: object
    lo: object
    hi: object
    adjoint: object
    result: object
    along: object
    gradients: dict


def closed_forms(derivation):
    """The closed forms of a derivation's linear recurrences with a constant coefficient.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> (c,) = closed_forms(sbp.derive(sbp.load("examples/loops/bptt.sbp")))
    >>> c.node, c.lo, c.hi, list(c.gradients)
    ('h', 1, T, ['W_hx', 'W_hh'])
    """
    out = []
    for node in dict.fromkeys(s.node for s in derivation.steps):
        pieces = [s for s in derivation.steps if s.node == node and s.index is not None]
        if any(isinstance(p.index, sp.Tuple) for p in pieces):
            continue  # a declared family of two indices: no recurrence
        form = _closed_form(derivation, pieces)
        if form is not None:
            out.append(form)
    return tuple(out)


def _closed_form(derivation, pieces):
    """The closed form of a boundary at the top of a range and the recurrence below it."""
    singles = [p for p in pieces if _integer(p.hi - p.lo) == 0]
    ranged = [p for p in pieces if p not in singles]
    if len(singles) != 1 or len(ranged) != 1:
        return None
    (top,), (rest,) = singles, ranged
    u = rest.index
    if _integer(top.lo - rest.hi) != 1 or rest.adjoint.index != u:
        return None
    split = _linear(rest.result, rest.adjoint, u)
    at_top = {top.index: top.lo}
    if split is None or top.result.xreplace(at_top) != split[1].xreplace({u: top.lo}):
        return None
    coefficient, inhomogeneous = split
    i, T = sp.Symbol("i", integer=True), top.hi
    later = inhomogeneous.xreplace({u: T + u - i})
    term = later if isinstance(coefficient, sp.Identity) else \
        ex.mul(sp.MatPow(coefficient, T - i), later)
    result = index_sum(term, i, u, T)
    gradients = {}
    for step in derivation.steps:
        if step.index is None and _has_family(step.result, rest.adjoint):
            put = _put_in(step.result, rest.adjoint, result, u, rest.lo, T)
            if put is not None:
                gradients[step.node] = put
    return ClosedForm(rest.node, u, rest.lo, T, rest.adjoint, result, i, gradients)


def _integer(expr):
    """`expr` as an int when it is one whatever the lengths, else None."""
    expr = sp.simplify(expr)
    return int(expr) if expr.is_Integer else None


def _linear(result, adjoint, u):
    """``A a[u+1] + b(u)``: (A, b) when `result` has that form, A free of u, b free of a."""
    following = adjoint.xreplace({u: u + 1})
    terms = result.args if isinstance(result, sp.MatAdd) else (result,)
    recurrent = [t for t in terms if t.has(following)]
    rest = [t for t in terms if not t.has(following)]
    if len(recurrent) != 1 or not rest or any(_has_family(t, adjoint) for t in rest):
        return None
    (term,) = recurrent
    if term == following:
        coefficient = sp.Identity(following.shape[0])
    elif isinstance(term, sp.MatMul) and term.args[-1] == following:
        coefficient = ex.mul(*term.args[:-1])
    else:
        return None
    if coefficient.has(u) or _has_family(coefficient, adjoint):
        return None
    return coefficient, ex.add(*rest)


def _has_family(expr, adjoint):
    return any(m.family == adjoint.family for m in expr.atoms(Member))


def _put_in(expr, adjoint, closed, u, lo, hi):
    """`expr` with the closed form put in for the adjoint's members, when every one of them
    sits in a sum over an index whose range is inside [lo, hi]; else None."""
    sums = [e for e in expr.atoms(IndexSum) if _has_family(e.body, adjoint)]
    if not sums or any((_integer(a - lo) or 0) < 0 or (_integer(hi - b) is None)
                       or _integer(hi - b) < 0 for (_, a, b) in (e.limits for e in sums)):
        return None
    outside = expr.replace(lambda e: isinstance(e, IndexSum), lambda e: sp.ZeroMatrix(*e.shape))
    if _has_family(outside, adjoint):
        return None
    return expr.replace(lambda e: isinstance(e, Member) and e.family == adjoint.family,
                        lambda e: closed.xreplace({u: e.index}))
