"""Forward subexpressions the backward pass reads again, kept rather than computed twice.

A step of the backward pass may read a subexpression that the forward pass
computed inside an expression, unnamed: the derivative of ``relu`` at
``X_t W_xh + H_{t-1} W_hh`` in ``H[t] = relu(X[t] @ W_xh + H[t-1] @ W_hh)``.
The code of a model without loops computes such a subexpression once
(:func:`~.program.share_subexpressions` runs over both passes); with loops, the
two passes are separate loops, so the subexpression is kept instead, member by
member, in a list of its own (``saved0[t]``) that the forward loop fills and the
backward steps read at the index they need, as if the model had named it.

Only subexpressions with a matrix product are kept: an entrywise one costs less
to compute again than to hold.

Within a run of statements every repeated subexpression is computed once
(:func:`shared_passes`), and the forward pass's last run and the backward pass's
first are one run for it: what the objective and the first adjoints share is
computed once and held from one pass to the other.
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..primitives import expressions as ex
from ..primitives.members import IndexSum, Member, ScalarMember, member, members_in
from .loop_statements import ForLoop, LoopStatement, _offset_of, is_sum, is_view
from .program import Statement, share_subexpressions

__all__ = ["saved_for_backward", "shared_passes"]


def _outside_sums(expr):
    stack = [expr]
    while stack:
        e = stack.pop()
        yield e
        if not (isinstance(e, (sp.Lambda, Member, ScalarMember)) or is_sum(e)):
            stack.extend(e.args)


def _has_product(e):
    return any(isinstance(p, sp.MatMul) and len(ex._split(p)[1]) > 1
               for p in sp.preorder_traversal(e))


def _signature(e):
    """What a subexpression and a shift of it have alike (a shift changes indices only)."""
    return (type(e), tuple(sorted(m.family for m in members_in(e))))


def _worth_keeping(e, var):
    if isinstance(e, (sp.Symbol, sp.MatrixSymbol, Member, ScalarMember)) or is_view(e):
        return False
    members = members_in(e)
    return bool(members) and _has_product(e) and all(
        _offset_of(m.index, var) is not None for m in members)


def _alignment(kept, var, expr):
    """The index g at which `kept` (written in `var`) is `expr`, or None."""
    first = members_in(kept)[0]
    offset = _offset_of(first.index, var)
    for m in members_in(expr):
        if m.family == first.family:
            at = sp.sympify(m.index, strict=True) - offset
            if kept.xreplace({var: at}) == expr:
                return at
    return None


def _statements(items):
    for item in items:
        if isinstance(item, ForLoop):
            yield from _statements(item.body)
        else:
            yield item


def _replaced(items, rule):
    out = []
    for item in items:
        if isinstance(item, ForLoop):
            out.append(replace(item, body=tuple(_replaced(item.body, rule))))
        else:
            out.append(replace(item, value=item.value.xreplace(rule)))
    return out


def saved_for_backward(forward, backward):
    """`forward` and `backward` with each subexpression of a forward loop that the backward
    pass reads again kept in a list.

    Returns
    -------
    forward, backward : list
    kept : list of (str, ForLoop)
        Each list's name (``\\0saved0``, ...) and the forward loop that fills it, one member for
        each of its iterations.
    """
    backward = list(backward)
    read = {}
    for s in _statements(backward):
        for e in _outside_sums(s.value):
            read.setdefault(_signature(e), set()).add(e)
    forward, kept = list(forward), []
    for i, loop in enumerate(forward):
        if not isinstance(loop, ForLoop) or any(isinstance(s, ForLoop) for s in loop.body):
            continue
        candidates = {e for s in loop.body for e in _outside_sums(s.value)
                      if _worth_keeping(e, loop.var)}
        chosen, rule = [], {}
        for e in sorted(candidates, key=lambda e: (-sp.count_ops(e), sp.default_sort_key(e))):
            if any(c.has(e) for c, _ in chosen):
                continue
            at = {r: _alignment(e, loop.var, r) for r in read.get(_signature(e), ())}
            at = {r: g for r, g in at.items() if g is not None}
            if not at:
                continue
            name = f"\0saved{len(kept) + len(chosen)}"
            rows, cols = e.shape if ex.is_matrix(e) else (1, 1)
            chosen.append((e, member(name, loop.var, rows, cols, not ex.is_matrix(e))))
            rule.update({r: member(name, g, rows, cols, not ex.is_matrix(r))
                         for r, g in at.items()})
        if not chosen:
            continue
        forward[i] = _kept_in(loop, chosen)
        backward = _replaced(backward, rule)
        kept += [(m.family, loop) for _, m in chosen]
    return forward, backward, kept


def _kept_in(loop, chosen):
    """`loop` computing each chosen subexpression into its list, before its first use."""
    body = []
    pending = list(chosen)
    for s in loop.body:
        for e, m in list(pending):
            if s.value.has(e):
                body.append(LoopStatement(m, e))
                pending.remove((e, m))
        body.append(replace(s, value=s.value.xreplace({e: m for e, m in chosen})))
    return replace(loop, body=tuple(body))


# --- within a run of statements, and across the passes' ends -------------------------------

def _hidden(statements):
    """`statements` as :class:`~.program.Statement` with every member and sum over an index a
    symbol (a member is a name; a sum's bound index must not leave it), and the way back."""
    forth = {}
    for s in statements:
        for expr in (s.target, s.value):
            for e in sp.preorder_traversal(expr):
                if isinstance(e, (Member, ScalarMember, IndexSum, sp.Sum)) and e not in forth:
                    forth[e] = sp.MatrixSymbol(f"\0hidden{len(forth)}", *e.shape) \
                        if ex.is_matrix(e) else sp.Symbol(f"\0hidden{len(forth)}", real=True)
    hidden = [Statement(s.target.xreplace(forth), s.value.xreplace(forth)) for s in statements]
    return hidden, {v: k for k, v in forth.items()}


def _shared_run(run, names):
    """A run of statements with each repeated subexpression computed once."""
    hidden, back = _hidden(run)
    targets = {s.target for s in hidden}
    out, originals, rename = [], iter(run), {}
    for s in share_subexpressions(hidden):
        if s.target in targets:
            out.append(replace(next(originals), value=s.value))
        else:
            rename[s.target] = names.symbol("temp", s.value)
            out.append(LoopStatement(s.target, s.value))
    back = {**back, **rename}
    return [replace(s, target=s.target.xreplace(back), value=s.value.xreplace(back))
            for s in out]


def _shared(items, names):
    out, run = [], []
    for item in items:
        if isinstance(item, LoopStatement):
            run.append(item)
            continue
        out += _shared_run(run, names)
        run = []
        out.append(replace(item, body=tuple(_shared(item.body, names))))
    return out + _shared_run(run, names)


def shared_passes(forward, backward, names, across=True):
    """The forward and backward items, each with every repeated subexpression computed once
    within a run of statements; with `across`, the forward pass's last run and the backward
    pass's first too taken as one run, a subexpression they share computed once, in the
    forward pass, and held until the backward reads it (cross-entropy's log_softmax(H_L) in
    the objective and softmax(H_L) = exp(log_softmax(H_L)) in its adjoint).

    `names` numbers the temporaries (``names.symbol("temp", like)``).
    """
    if not across:
        return _shared(forward, names), _shared(backward, names)
    tail = len(forward) - next((i for i, item in enumerate(reversed(forward))
                                if isinstance(item, ForLoop)), len(forward))
    head = next((i for i, item in enumerate(backward) if isinstance(item, ForLoop)),
                len(backward))
    joint = _shared_run(list(forward[tail:]) + list(backward[:head]), names)
    ends = {item.target for item in forward[tail:]}
    cut = max((i + 1 for i, s in enumerate(joint) if s.target in ends), default=0)
    return (_shared(forward[:tail], names) + joint[:cut],
            joint[cut:] + _shared(backward[head:], names))
