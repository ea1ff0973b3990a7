"""Statements and loops of a looped program, and the run on paper that checks one.

A program of a model with loops (:mod:`symbackprop.derivation.loop_program`) is
a sequence of :class:`LoopStatement` and :class:`ForLoop`.  :func:`replayed`
runs one on paper at concrete lengths, keeping only which values exist: each
value must be read after it is written, and each sum over an index read only
once nothing more is added to it.  :func:`released` says where each value is
used for the last time, and :func:`dead_members` which member of a list each
iteration of a loop reads for the last time, so that the code frees it there.
:func:`unread_first_left_out` leaves out of a step the iteration whose value no other
step reads (dJ/dX of a layer stack whose input's gradient is not asked for).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import sympy as sp

from ..primitives.members import IndexSum, Member, ScalarMember, members_in
from .recurrences import at_long_lengths

__all__ = ["LoopStatement", "ForLoop", "is_view", "is_sum", "sum_limits", "statements",
           "replayed", "released", "dead_members", "unread_first_left_out",
           "fused_accumulations"]


@dataclass(frozen=True)
class LoopStatement:
    """``target = value``, or ``target += value``.

    Attributes
    ----------
    target : sympy.Expr
        A symbol (a single value, an adjoint, a temporary) or a member (a slot of a family).
    value : sympy.Expr
    comment : str
        The step's formula as text, or empty.
    accumulate : bool
        Whether the value is added to the target (a sum over an index).
    fresh : bool
        Whether the target must be an array of its own: a sum that is added to later, or a
        returned gradient (a name or a view of another array is copied).
    """

    target: object
    value: object
    comment: str = ""
    accumulate: bool = False
    fresh: bool = False


@dataclass(frozen=True)
class ForLoop:
    """``for var in lo, ..., hi`` (from `hi` down when `descending`), running `body`.

    Attributes
    ----------
    carried : tuple of (sympy.Expr, sympy.Expr)
        For each value carried from one iteration to the next, its symbol and what it
        holds (the subexpression at the index of the iteration before).
    """

    var: object
    lo: object
    hi: object
    body: tuple
    descending: bool = False
    carried: tuple = ()


def fused_accumulations(items):
    """`items` with a loop that only adds to sums joined to the same loop before it.

    Two gradients summed over one index, each its own loop (a kernel's and a bias's over the
    images of a batch), read the same forward values at each index: one loop computes them
    once (the shared subexpressions of its body) where two would compute them twice. The
    zeros the second sums start from move before the first loop; a loop is joined only when
    neither loop reads what the other adds to, so the order of the additions is all that
    changes.
    """
    out = []
    for item in items:
        if isinstance(item, ForLoop):
            item = replace(item, body=tuple(fused_accumulations(item.body)))
        out = _joined(out, item) or out + [item]
    return out


def _adds_only(item):
    return isinstance(item, ForLoop) and not item.carried and all(
        isinstance(s, LoopStatement) and s.accumulate for s in item.body)


def _joined(out, loop):
    """`out` + [`loop`] with `loop` joined to the loop before it, or None."""
    if not _adds_only(loop):
        return None
    starts = len(out)
    while starts and isinstance(out[starts - 1], LoopStatement) and \
            not out[starts - 1].accumulate and _is_zero(out[starts - 1].value):
        starts -= 1
    if not starts or not _adds_only(out[starts - 1]):
        return None
    first, zeros = out[starts - 1], out[starts:]
    if (first.var, first.lo, first.hi, first.descending) != \
            (loop.var, loop.lo, loop.hi, loop.descending):
        return None
    mine, theirs = _sums(loop.body), _sums(first.body)
    if {_family(z.target) for z in zeros} != mine or mine & theirs \
            or any(s.value.has(*theirs) for s in loop.body) \
            or any(s.value.has(*mine) for s in first.body):
        return None
    return out[:starts - 1] + zeros + [replace(first, body=first.body + loop.body)]


def _family(target):
    return target.args[0] if isinstance(target, (Member, ScalarMember)) else target


def _sums(body):
    return {_family(s.target) for s in body}


def _is_zero(value):
    return value == 0 or isinstance(value, sp.ZeroMatrix)


def is_view(value):
    """Whether NumPy computes `value` without a new array: a name, a member or a transpose."""
    if isinstance(value, sp.Transpose):
        value = value.arg
    return isinstance(value, (sp.Symbol, sp.MatrixSymbol, Member, ScalarMember))




def is_sum(term):
    """Whether `term` is a sum over an index (of a matrix or of a scalar)."""
    return isinstance(term, (IndexSum, sp.Sum))


def sum_limits(term):
    """(body, var, lo, hi) of a sum over an index, its outermost index last."""
    if isinstance(term, IndexSum):
        var, lo, hi = term.limits
        return term.body, var, lo, hi
    limits = term.limits
    body = term.function if len(limits) == 1 else sp.Sum(term.function, *limits[:-1])
    return (body, *limits[-1])




# --- lengths taken large, as the derivation orders its pieces ------------------------------

def _same(a, b):
    return sp.simplify(sp.sympify(a, strict=True) - sp.sympify(b, strict=True)) == 0


def _offset_of(index, var):
    """``k`` when `index` is ``var + k`` for an integer k, else None (and for the index of
    a member of two indices)."""
    if isinstance(index, sp.Tuple) or isinstance(var, sp.Tuple):
        return None
    k = sp.simplify(sp.sympify(index, strict=True) - var)
    return int(k) if k.is_Integer else None


# --- the program run on paper ------------------------------------------------------------------

def replayed(program, items=None, dead=None):
    """None if `program`, run on paper at the least length from which the derivation holds and
    at the three after, reads each value after it is written and each sum once complete;
    else the first problem found.

    `items` are the program's forward and backward items by default; `dead` gives for each
    of them the members freed at the end of each of its iterations (``(family, index)``)."""
    d = program.derivation
    items = tuple(program.forward + program.backward if items is None else items)
    for length in range(d.valid_from, d.valid_from + 4):
        problem = _Replay(program, items, length).run(dead or [()] * len(items))
        if problem:
            return f"at length {length}, {problem}"
    return None


def statements(items):
    """Every statement of `items`, those inside loops too, in order."""
    for item in items:
        if isinstance(item, ForLoop):
            yield from statements(item.body)
        else:
            yield item


class _Replay:
    """Which values exist, statement by statement, at one length (every length that value)."""

    def __init__(self, program, items, length):
        d, model = program.derivation, program.derivation.model
        self.items = items
        self.lengths = {model.dims[n]: sp.Integer(length) for n in model.lengths}
        self.known = {d.symbol(n) for n, v in model.variables.items() if v.declared}
        for name, f in model.families.items():
            if f.declared and f.extra:  # K[o, c]: every pair
                spans = [range(*(int(sp.sympify(b, strict=True).xreplace(self.lengths)) + d
                                 for b, d in zip(bounds, (0, 1)))) for bounds in f.bounds]
                self.known |= {(name, ks) for ks in itertools.product(*spans)}
            elif f.declared:
                lo, hi = (int(sp.sympify(b, strict=True).xreplace(self.lengths))
                          for b in f.ranges[0])
                self.known |= {(name, k) for k in range(lo, hi + 1)}
        every = list(statements(self.items))
        self.values = set(self.known) | {s.target for s in every
                                         if not isinstance(s.target, (Member, ScalarMember))}
        self.summed = {getattr(s.target, "family", s.target) for s in every if s.accumulate}
        self.complete, self.freed = set(), set()

    def run(self, dead):
        return self._run(self.items, dict(self.lengths), dead)

    def _run(self, items, env, dead=None):
        for item, freed in zip(items, dead or [()] * len(items)):
            if isinstance(item, ForLoop):
                lo, hi = (int(sp.sympify(b, strict=True).xreplace(env))
                          for b in (item.lo, item.hi))
                order = range(hi, lo - 1, -1) if item.descending else range(lo, hi + 1)
                for k in order:
                    at = {**env, item.var: sp.Integer(k)}
                    problem = self._run(item.body, at)
                    if problem:
                        return problem
                    gone = {(family, int(sp.sympify(i, strict=True).xreplace(at)))
                            for family, i in freed}
                    self.known -= gone
                    self.freed |= gone
                continue
            problem = self._statement(item, env)
            if problem:
                return problem
        return None

    def _key(self, e, env):
        if isinstance(e, (Member, ScalarMember)):
            if isinstance(e.index, sp.Tuple):
                return (e.family, tuple(int(i) for i in e.index.xreplace(env)))
            return (e.family, int(sp.sympify(e.index, strict=True).xreplace(env)))
        return e

    def _statement(self, s, env):
        for key in self._reads(s.value, env):
            if key not in self.known:
                when = "after it is freed" if key in self.freed else "before it is written"
                return f"{key} is read {when}"
            if (key[0] if isinstance(key, tuple) else key) in self.summed:
                self.complete.add(key)
        key = self._key(s.target, env)
        if s.accumulate and key not in self.known:
            return f"{key} is added to before it has a value"
        if s.accumulate and key in self.complete:
            return f"{key} is added to after it is read"
        self.known.add(key)
        return None

    def _reads(self, value, env):
        """The values an expression reads at these indices, its sums written out."""
        keys = set(value.atoms(sp.MatrixSymbol, sp.Symbol) & self.values)
        stack = [(value, env)]
        while stack:
            e, at = stack.pop()
            if isinstance(e, (Member, ScalarMember)):
                keys.add(self._key(e, at))
            elif is_sum(e):
                body, var, lo, hi = sum_limits(e)
                lo, hi = (int(sp.sympify(b, strict=True).xreplace(at)) for b in (lo, hi))
                stack += [(body, {**at, var: sp.Integer(k)}) for k in range(lo, hi + 1)]
            else:
                stack += [(a, at) for a in e.args]
        return keys


def released(items, keep):
    """For each of `items` (the top level of a program), the values last used there: members
    by their family's name, other values by their symbol; none of `keep`."""
    last = {}
    for i, item in enumerate(items):
        for s in statements([item]):
            for e in (s.target, *s.value.atoms(sp.MatrixSymbol, sp.Symbol), *members_in(s.value)):
                last[getattr(e, "family", e)] = i
            if isinstance(s.target, (Member, ScalarMember)):
                last[s.target.family] = i
    out = [[] for _ in items]
    for handle, i in last.items():
        if handle not in keep:
            out[i].append(handle)
    return out


def dead_members(items, storage, model):
    """For each of `items` (the top level of a function), the members of lists that each
    iteration of it (if it is a loop) reads for the last time, to be freed there.

    A list's members are freed by the last loop that reads the list, when every member it
    reads is at a fixed offset from its index: after iteration t of ``for t = T-1, ..., 1``
    reading ``h[t]`` and ``h[t-1]``, ``h[t]`` is read no more.  Statements after that loop
    may still read members at fixed indices (an iteration peeled off the loop) that no
    iteration frees.

    Returns
    -------
    list of list of (str, sympy.Expr)
        For each item, the families and the index (in the loop's variable) freed at the end of
        every iteration.
    """
    used = {}  # family -> the members' indices each item uses
    for i, item in enumerate(items):
        for s in statements([item]):
            for m in (*members_in(s.value), s.target):
                if isinstance(m, (Member, ScalarMember)):
                    used.setdefault(m.family, {}).setdefault(i, []).append(m.index)
    out = [[] for _ in items]
    for family, where in used.items():
        loops = [i for i in where if isinstance(items[i], ForLoop)]
        if storage[family].declared or not loops:
            continue
        i = loops[-1]
        loop, index = items[i], _freed_index(items[i], family)
        if index is None:
            continue
        s = storage[family]
        first, final = s.offset, s.offset + s.count - 1
        ends = sorted(at_long_lengths(index.xreplace({loop.var: b}), model)
                      for b in (loop.lo, loop.hi))
        later = [at_long_lengths(k, model) for j in where if j > i for k in where[j]]
        if all(at_long_lengths(first, model) <= e <= at_long_lengths(final, model)
               for e in ends) and all(_outside(k, ends) for k in later):
            out[i].append((family, index))
    return out


def _outside(index, ends):
    """Whether `index` is known to lie outside the range `ends` (False where unknown, as for
    an index bound by a sum)."""
    below, above = sp.simplify(ends[0] - index), sp.simplify(index - ends[1])
    return any(d.is_number and d > 0 for d in (below, above))


def _freed_index(loop, family):
    """The member of `family` an iteration of `loop` reads for the last time, or None."""
    reads, writes = set(), set()
    for s in loop.body:
        if isinstance(s, ForLoop):
            if any(m.family == family for t in statements([s]) for m in members_in(t.value)):
                return None
            continue
        for m in members_in(s.value):
            if m.family == family:
                reads.add(_offset_of(m.index, loop.var))
        if isinstance(s.target, (Member, ScalarMember)) and s.target.family == family:
            writes.add(_offset_of(s.target.index, loop.var))
    if not reads or None in reads | writes:
        return None
    k = max(reads) if loop.descending else min(reads)
    if any(c > k if loop.descending else c < k for c in writes):
        return None  # a later iteration writes what this one would free
    return loop.var + k


# --- the iterations a program runs -----------------------------------------------------------

def unread_first_left_out(steps, wrt):
    """`steps`, a ranged step's first iteration left out where no step reads what it gives
    there and it is no gradient of `wrt` (dJ/dH[0] = dJ/dX of a layer stack, when X's
    gradient is not asked for).

    The step then holds in a part of its loop (:attr:`RecurrenceStep.within`), and it moves
    after the steps of that loop which follow it and do not read it, so that the iteration
    is peeled off the loop instead of the part becoming a loop of its own.
    """
    out = list(steps)
    for step in steps:
        if step.index is None or isinstance(step.index, sp.Tuple) or \
                step.within is not None or step.node in wrt or _same(step.lo, step.hi):
            continue
        first = step.adjoint.index.xreplace({step.index: step.lo})
        if any(_reads(other, step.adjoint.family, first) for other in steps):
            continue
        k = out.index(step)
        out[k] = replace(step, lo=step.lo + 1, within=(step.lo, step.hi))
        while k + 1 < len(out) and _same_loop(out[k + 1], step) and \
                not _reads(out[k + 1], step.adjoint.family, None):
            out[k], out[k + 1] = out[k + 1], out[k]
            k += 1
    return out


def _same_loop(a, b):
    return a.index == b.index and a.within is None and a.lo is not None and \
        _same(a.lo, b.lo) and _same(a.hi, b.hi)


def _reads(step, family, index):
    """Whether `step` may read the member of `family` at `index` (any member: None); True
    where that cannot be decided."""
    for m in members_in(step.result):
        if m.family != family:
            continue
        if index is None or isinstance(step.index, sp.Tuple):
            return True  # a step of a family of two indices: taken to read every member
        offset = None if step.index is None else _offset_of(m.index, step.index)
        if offset is None:  # a member at a fixed index, or at an index bound by a sum
            apart = sp.simplify(m.index - index)
            if apart.is_Integer and apart != 0:
                continue
            return True
        below = sp.simplify(index - (step.lo + offset))
        above = sp.simplify(step.hi + offset - index)
        if not ((below.is_Integer and below < 0) or (above.is_Integer and above < 0)):
            return True
    return False
