"""The program of a derivation with loops: the forward pass and the backward steps as loops.

A :class:`LoopProgram` is what the looped NumPy code runs, as SymPy
expressions: statements (:class:`LoopStatement`) and loops over an index
(:class:`ForLoop`), written once for a general length, so that neither grows
with T or L.  It is built from a
:class:`~symbackprop.derivation.recurrences.LoopDerivation`:

* the forward definitions in source order, the definitions of one loop of the
  model in one loop, ascending;
* the backward steps in the derivation's order: a boundary piece (dJ/dh_T) as
  statements at its index, the pieces of a recurrence aligned to one loop in
  one loop, descending, in the steps' order;
* a sum over an index (dJ/dW_hh = sum_t (dJ/dh_t) h_{t-1}^T, a param shared
  across iterations) accumulated where the adjoints it reads are computed: its
  term at the boundary beside the boundary piece, the others inside the
  recurrence's loop; a sum that fits no such place is a loop of its own;
* within a run of statements and within one iteration, every repeated
  subexpression computed once (:func:`~.program.share_subexpressions`), the
  forward pass's last statements and the backward pass's first taken as one run
  (:func:`~.loop_saved.shared_passes`: cross-entropy's log-softmax, computed for
  the objective, is read again by its adjoint); and a
  subexpression that one iteration computes and the next reads shifted by one
  (``dJ/dh_{t+1} * (1 - h_{t+1}^2)`` of a tanh RNN, computed at t + 1 as
  ``dJ/dh_t * (1 - h_t^2)``) carried from one iteration to the next instead of
  computed twice; a subexpression of the forward loop that the backward steps
  read again kept for them (:mod:`~.loop_saved`).

Every program is run on paper before it is handed on
(:func:`~.loop_statements.replayed`): at the lengths from which the derivation
holds, each value is read only after it is written (and before the code frees
it) and each sum only once complete; a program that fails falls back to one
with fewer of the above.  Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from ..primitives import expressions as ex
from ..primitives.members import IndexSum, Member, ScalarMember, members_in
from .loop_statements import (ForLoop, LoopStatement, _offset_of, _same, dead_members,
                              fused_accumulations, is_sum, is_view, replayed, sum_limits,
                              unread_first_left_out)
from .loop_saved import saved_for_backward, shared_passes
from .recurrences import at_long_lengths, unaligned
from .program import needed_steps, zero

__all__ = ["Storage", "LoopProgram", "loop_program", "checked_loop_wrt", "is_stacked"]


@dataclass(frozen=True)
class Storage:
    """Where the members of a family (or of its adjoint) are kept.

    Attributes
    ----------
    name : str
        The family, or its adjoint's label ``∂J/∂h``.
    offset : sympy.Expr
        The index of the member at position 0.
    count : sympy.Expr
        The number of positions.
    stacked : bool
        One array, index first (every member has one shape), rather than a list.
    declared : bool
        An argument (an input, param or const) or a result (the gradient of one).
    zeros : bool
        A result some members of which no step gives: it starts as zeros.
    """

    name: str
    offset: object
    count: object
    stacked: bool
    declared: bool
    zeros: bool = False


class LoopProgram:
    """The forward and backward passes of a model with loops, for a general length.

    Attributes
    ----------
    derivation : LoopDerivation
    wrt : tuple of str
        The values and families whose gradients are returned, in order.
    forward, backward : tuple of LoopStatement and ForLoop
    results : tuple
        Each gradient: a single value's adjoint symbol, or a family's adjoint label.
    storage : dict of str to Storage
        Of every family and of every adjoint family the program uses.
    objective : sympy.Expr
        The objective's symbol.
    """

    def __init__(self, derivation, wrt, forward, backward, results, storage):
        self.derivation, self.wrt = derivation, tuple(wrt)
        self.forward, self.backward = tuple(forward), tuple(backward)
        self.results, self.storage = tuple(results), dict(storage)
        self.objective = derivation.symbol(derivation.model.objective)


def is_stacked(family):
    """Whether a declared family is passed as one array, index first: its members all have
    one shape (``x[t]: vector(d)``, not ``W[l]: matrix(n[l], n[l-1])``)."""
    rows, cols = (sp.sympify(k, strict=True) for k in (family.shape.rows, family.shape.cols))
    return family.declared and not (rows.has(family.index) or cols.has(family.index))


def checked_loop_wrt(derivation, wrt=None):
    """The values and families to differentiate with respect to: `wrt`, or the params.

    Raises
    ------
    ValueError
        For a name the model does not declare, or a const.
    """
    model = derivation.model
    roles = model.roles
    if wrt is None:
        return [n for n, role in roles.items() if role == "param"]
    wrt = list(wrt)
    for name in wrt:
        role = roles.get(name)
        if role is None:
            raise ValueError(f"'{name}' is not a variable of the model")
        if role == "const":
            raise ValueError(f"'{name}' is a const, which the derivation holds fixed: declare "
                             "it a param (or an input) to differentiate with respect to it")
        if role not in ("param", "input"):
            raise ValueError(f"'{name}' is computed by the model: the looped code returns the "
                             "gradients of params and inputs")
    return wrt


# --- the forward pass ----------------------------------------------------------------------

def _forward(derivation, apart):
    """The forward definitions, a loop per run of definitions in the same loops."""
    items, run, loops = [], [], None
    for target, value, these in derivation.forward:
        value = apart(value, {r.var for r in these})
        if run and (these != loops or not _joins(run, value, these)):
            items.extend(_nested(run, loops))
            run = []
        loops = these
        run.append(LoopStatement(target, value))
    items.extend(_nested(run, loops))
    return items


def _joins(run, value, loops):
    """Whether a definition may run in the iterations of `run` (a loop of its own in the model
    with the same range): it reads no member of theirs that a later iteration defines."""
    if not loops:
        return True
    defined = {s.target.family: s.target.index for s in run
               if isinstance(s.target, (Member, ScalarMember))}
    for m in members_in(value):
        if m.family in defined:
            k = sp.simplify(m.index - defined[m.family])
            if not (k.is_Integer and k <= 0):
                return False
    return True


def _nested(statements, loops):
    if not loops:
        return list(statements)
    r = loops[0]
    return [ForLoop(r.var, r.lo, r.hi, tuple(_nested(statements, loops[1:])))]


# --- sums over an index ----------------------------------------------------------------------

def _split_sums(value):
    """(the terms that are no sum over an index, added, or None; the sums)."""
    terms = value.args if isinstance(value, (sp.Add, sp.MatAdd)) else (value,)
    sums = [t for t in terms if is_sum(t)]
    plain = [t for t in terms if not is_sum(t)]
    return (ex.add(*plain) if plain else None), sums


class _Apart:
    """Sums over an index whose index is also free around them, given an index of their own:
    the sum over t of dJ/dc_t in the step of dJ/dx_t, inside the loop over t, sums over a t
    of its own (printed ``t_``), so that no loop variable is taken by another."""

    def __init__(self):
        self.count = 0

    def __call__(self, expr, scope):
        rule = {}
        for e in _outermost_sums(expr):
            body, var, lo, hi = sum_limits(e)
            if var in scope:
                new = sp.Symbol(f"{var}\0{self.count}", integer=True)
                self.count += 1
                body, var = body.xreplace({var: new}), new
            body = self(body, set(scope) | {var})
            rule[e] = IndexSum(body, (var, lo, hi)) if isinstance(e, IndexSum) else \
                sp.Sum(body, (var, lo, hi))
        return expr.xreplace(rule) if rule else expr


def _outermost_sums(expr):
    stack, out = [expr], []
    while stack:
        e = stack.pop()
        if is_sum(e):
            out.append(e)
        elif not isinstance(e, sp.Lambda):
            stack.extend(e.args)
    return out


def _zero_of(target):
    return sp.ZeroMatrix(*target.shape) if ex.is_matrix(target) else sp.Integer(0)


def _accumulation(target, term, first, comment="", fresh=True):
    """Statements adding `term` to `target` (assigning it, when `first`), a loop per sum."""
    if not is_sum(term):
        return [LoopStatement(target, term, comment, accumulate=not first,
                              fresh=first and fresh)]
    body, var, lo, hi = sum_limits(term)
    start = [LoopStatement(target, _zero_of(target), comment, fresh=True)] if first else []
    return start + [ForLoop(var, lo, hi, tuple(_accumulation(target, body, False)),
                            descending=True)]


def _assigned(target, value, comment, fresh):
    """Statements giving `target` the value `value`, its sums over an index as loops."""
    plain, sums = _split_sums(value)
    if plain is None and not sums:
        plain = value
    out = []
    if plain is not None:
        out.append(LoopStatement(target, plain, comment, fresh=fresh or bool(sums)))
    for term in sums:
        out += _accumulation(target, term, not out, "" if out else comment)
    return out


# --- the backward pass -----------------------------------------------------------------------

class _Block:
    """A run of the backward pass while it is built: statements ("straight"), a boundary piece
    at one index ("at"), or a loop ("loop") over `var` from `hi` down to `lo`.

    `defines` maps each adjoint family the block gives members of to their index: an
    expression in `var` for a loop, the index itself at a boundary.
    """

    def __init__(self, kind, items, var=None, lo=None, hi=None, defines=None, steps=()):
        self.kind, self.items = kind, list(items)
        self.var, self.lo, self.hi = var, lo, hi
        self.defines = dict(defines or {})
        self.steps = list(steps)  # a loop's: the steps it runs, to peel an iteration off


class _Backward:
    """The backward steps the gradients of `wrt` read, as blocks, sums placed."""

    def __init__(self, derivation, wrt, comment):
        self.d, self.model, self.wrt = derivation, derivation.model, set(wrt)
        self.comment = comment or (lambda target, value: "")
        self.blocks = []
        self.done = {}  # a single value's adjoint: the last block that adds to it
        self.singles = {derivation.adjoint_symbol(n) for n in self.model.variables}
        self.prefix = f"∂{self.model.objective}/∂"
        self.fuse = True
        self.apart = _Apart()

    def blocks_of(self, wrt):
        for step in unread_first_left_out(needed_steps(self.d, wrt), self.wrt):
            if step.within is not None and self._peeled(step):
                continue
            step = unaligned(step)  # scheduled as a piece of its own
            if isinstance(step.index, sp.Tuple):  # a declared family of two indices
                self._pair(step)
                continue
            step = replace(step, result=self.apart(step.result, {step.index} - {None}))
            if step.index is None:
                if step.result.is_number and step.node not in self.wrt:
                    continue  # dJ/dJ = 1, written into the steps that read it
                self._single(step)
            elif _same(step.lo, step.hi):
                self._boundary(step)
            else:
                self._ranged(step)
        return self.blocks

    def _position(self, block):
        return next(i for i, b in enumerate(self.blocks) if b is block)

    def _single(self, step):
        target, comment = step.adjoint, self.comment(step.adjoint, step.result)
        plain, sums = _split_sums(step.result)
        placed, rest = [], []
        for term in sums:
            plan = self._hosts(term) if self.fuse else None
            if plan is None:
                rest.append(term)
            else:
                placed += plan
        here = _Block("straight", [])
        self.blocks.append(here)
        contributions = sorted(placed, key=lambda p: self._position(p[0]))
        if plain is not None or not sums:
            contributions.append((here, step.result if plain is None else plain))
        contributions += [(here, term) for term in rest]
        fresh = step.node in self.wrt or len(contributions) > 1
        for k, (block, term) in enumerate(contributions):
            first, note = k == 0, comment if k == 0 else ""
            if first and block.kind == "loop":  # a sum begun inside a loop starts from 0
                start = LoopStatement(target, _zero_of(target), comment, fresh=True)
                self.blocks.insert(self._position(block), _Block("straight", [start]))
                first, note = False, ""
            block.items += _accumulation(target, term, first, note, fresh)
        self.done[target] = contributions[-1][0]
        if not here.items:
            self.blocks.remove(here)

    def _pair(self, step):
        """The step of a family of two indices: a loop over each, the first outermost."""
        result = self.apart(step.result, set(step.index))
        items = _assigned(step.adjoint, result, self.comment(step.adjoint, result),
                          step.node in self.wrt)
        for var, lo, hi in reversed(tuple(zip(step.index, step.lo, step.hi))):
            items = [ForLoop(var, lo, hi, tuple(items), descending=True)]
        self.blocks.append(_Block("straight", items))

    def _boundary(self, step):
        at = {step.index: step.lo}
        target, value = step.adjoint.xreplace(at), step.result.xreplace(at)
        items = _assigned(target, value, self.comment(target, value), step.node in self.wrt)
        self.blocks.append(_Block("at", items, step.index, step.lo, step.lo,
                                  {target.family: target.index}))

    def _ranged(self, step):
        items = _assigned(step.adjoint, step.result, self.comment(step.adjoint, step.result),
                          step.node in self.wrt)
        last = self.blocks[-1] if self.blocks else None
        if last is not None and last.kind == "loop" and last.var == step.index and \
                _same(last.lo, step.lo) and _same(last.hi, step.hi) and \
                self._joins(last, step.result):
            last.items += items
            last.defines[step.adjoint.family] = step.adjoint.index
            last.steps.append(step)
            return
        self.blocks.append(_Block("loop", items, step.index, step.lo, step.hi,
                                  {step.adjoint.family: step.adjoint.index}, [step]))

    def _peeled(self, step):
        """A step that holds in a part of the loop just built (dJ/dh[t-1] for t = T, ..., 2 in
        the loop t = T, ..., 1): the loop runs down to the part's end with the step in it, and
        its last iteration, peeled off, runs without it.  False where that does not fit."""
        last = self.blocks[-1] if self.blocks else None
        if last is None or last.kind != "loop" or last.var != step.index or not (
                _same(last.lo, step.within[0]) and _same(last.hi, step.within[1])
                and _same(step.lo, last.lo + 1) and _same(step.hi, last.hi)):
            return False
        step = replace(step, result=self.apart(step.result, {step.index}))
        if not self._joins(last, step.result):
            return False
        at = {last.var: last.lo}
        peeled = []
        for s in last.steps:
            target, value = s.adjoint.xreplace(at), s.result.xreplace(at)
            peeled += _assigned(target, value, self.comment(target, value), s.node in self.wrt)
        last.items += _assigned(step.adjoint, step.result,
                                self.comment(step.adjoint, step.result), step.node in self.wrt)
        last.defines[step.adjoint.family] = step.adjoint.index
        last.steps.append(step)
        lo = last.lo
        last.lo = step.lo
        self.blocks.append(_Block("at", peeled, last.var, lo, lo,
                                  {s.adjoint.family: s.adjoint.index.xreplace(at)
                                   for s in last.steps[:-1]}))
        return True

    def _joins(self, loop, value):
        """Whether a step computing `value` may run in the iterations of `loop`: it reads no
        sum the loop adds to, and of the adjoints the loop gives, only those of the iteration
        it runs in or of iterations before."""
        if any(self.done.get(s) is loop for s in value.atoms(sp.MatrixSymbol, sp.Symbol)):
            return False
        for m in members_in(value):
            if m.family in loop.defines:
                k = sp.simplify(m.index - loop.defines[m.family])
                if not (k.is_Integer and k >= 0):
                    return False
        return True

    def _is_adjoint(self, m):
        return m.family.startswith(self.prefix)

    def _hosts(self, term):
        """Where the terms of a sum over an index are added: [(block, its term there)], each
        beside the members of the adjoint it reads, which partition the sum's range; or None."""
        body, var, lo, hi = sum_limits(term)
        aligned = {}
        for m in members_in(body):
            k = _offset_of(m.index, var)
            if self._is_adjoint(m) and k is not None:
                aligned.setdefault(m.family, set()).add(k)
        best = None
        for family, offsets in aligned.items():
            blocks = [b for b in self.blocks if family in b.defines]
            if len(offsets) == 1 and blocks and (
                    best is None or self._position(blocks[-1]) > self._position(best[2][-1])):
                best = (family, next(iter(offsets)), blocks)
        if best is None:
            return None
        family, k, blocks = best
        plan = []
        for b in blocks:
            # the sum's index at the block's member
            at = sp.sympify(b.defines[family], strict=True) - k
            if b.kind == "loop":
                first, last = at.xreplace({b.var: b.lo}), at.xreplace({b.var: b.hi})
            else:
                first = last = at
            if self._within(first, last, lo, hi):
                plan.append((b, first, last,
                             self.apart(body, {var, b.var} - {None}).xreplace({var: at})))
        return self._partition(plan, lo, hi)

    def _within(self, first, last, lo, hi):
        m = self.model
        return (at_long_lengths(lo, m) <= at_long_lengths(first, m)
                and at_long_lengths(last, m) <= at_long_lengths(hi, m))

    def _partition(self, plan, lo, hi):
        ordered = sorted(plan, key=lambda p: at_long_lengths(p[1], self.model))
        if not ordered or not _same(ordered[0][1], lo) or not _same(ordered[-1][2], hi):
            return None
        if any(not _same(p[2] + 1, q[1]) for p, q in zip(ordered, ordered[1:])):
            return None
        if not all(self._available(mapped, b) for b, _, _, mapped in plan):
            return None
        return [(b, mapped) for b, _, _, mapped in plan]

    def _available(self, expr, host):
        """Whether every adjoint `expr` reads is computed at the end of `host` (an iteration of
        it, for a loop)."""
        position = self._position(host)
        for s in expr.atoms(sp.MatrixSymbol, sp.Symbol):
            if s in self.singles and (s not in self.done or
                                      self._position(self.done[s]) >= position):
                return False
        for m in members_in(expr):
            if not self._is_adjoint(m):
                continue
            if m.family in host.defines and _same(m.index, host.defines[m.family]):
                continue  # computed earlier in the same iteration
            if any(self._position(b) >= position for b in self.blocks
                   if m.family in b.defines):
                return False
        return True


def _loops(blocks):
    items = []
    for b in blocks:
        if b.kind == "loop":
            items.append(ForLoop(b.var, b.lo, b.hi, tuple(b.items), descending=True))
        else:
            items.extend(b.items)
    return items


# --- shared and carried subexpressions ---------------------------------------------------------

class _Names:
    """Temporaries and carried values, numbered across one program."""

    def __init__(self):
        self.count = {}

    def symbol(self, kind, like):
        k = self.count[kind] = self.count.get(kind, -1) + 1
        name = f"\0{kind}{k}"
        return sp.MatrixSymbol(name, *like.shape) if ex.is_matrix(like) else \
            sp.Symbol(name, real=True)


def _outside_sums(expr):
    """Every subexpression, not entering sums over an index or entrywise bodies."""
    stack = [expr]
    while stack:
        e = stack.pop()
        yield e
        if not isinstance(e, (sp.Lambda, IndexSum, sp.Sum, Member, ScalarMember)):
            stack.extend(e.args)


def _worth_carrying(e, var):
    if isinstance(e, (sp.Symbol, sp.MatrixSymbol, Member, ScalarMember, sp.Number,
                      sp.ZeroMatrix, sp.OneMatrix, sp.Identity, sp.Lambda)):
        return False
    if isinstance(e, sp.Transpose) and is_view(e):
        return False
    return (ex.is_matrix(e) or e.has(Member)) and var in e.free_symbols | {
        i for m in members_in(e) for i in sp.sympify(m.index, strict=True).free_symbols}


def _carried(loop, names):
    """(statements before the loop, the loop): each subexpression an iteration reads at the
    index of the iteration before, where that iteration computed it, carried over."""
    if any(isinstance(i, ForLoop) for i in loop.body) or not loop.descending:
        return [], loop
    var = loop.var
    found = {e for s in loop.body for e in _outside_sums(s.value) if _worth_carrying(e, var)}
    size = {e: sum(1 for _ in sp.preorder_traversal(e)) for e in found}
    chosen = []
    for e in sorted(found, key=lambda e: (-size[e], sp.default_sort_key(e))):
        now = e.xreplace({var: var - 1})  # e is `now` at the index of the iteration before
        if now != e and now in found and not any(c.has(e) for c, _ in chosen):
            chosen.append((e, now))
    if not chosen:
        return [], loop
    symbols = {e: names.symbol("carried", e) for e, _ in chosen}
    body = [replace(s, value=s.value.xreplace(symbols)) for s in loop.body]
    body += [LoopStatement(symbols[e], now) for e, now in chosen]
    start = [LoopStatement(symbols[e], e.xreplace({var: loop.hi})) for e, _ in chosen]
    return start, replace(loop, body=tuple(body),
                          carried=tuple((symbols[e], e) for e, _ in chosen))


def _with_carries(items, names):
    out = []
    for item in items:
        if isinstance(item, ForLoop):
            start, item = _carried(item, names)
            out += start
        out.append(item)
    return out


# --- the program -------------------------------------------------------------------------------

def _bounds(ranges, model):
    """The least and the greatest index of `ranges`, lengths taken large."""
    lo = min((r[0] for r in ranges), key=lambda b: at_long_lengths(b, model))
    hi = max((r[1] for r in ranges), key=lambda b: at_long_lengths(b, model))
    return sp.sympify(lo, strict=True), sp.sympify(hi, strict=True)


def _covers(pieces, lo, hi, model):
    """Whether the ranges `pieces` partition lo..hi."""
    ordered = sorted(pieces, key=lambda p: at_long_lengths(p[0], model))
    return bool(ordered) and _same(ordered[0][0], lo) and _same(ordered[-1][1], hi) and \
        all(_same(p[1] + 1, q[0]) for p, q in zip(ordered, ordered[1:]))


def _storage(derivation, wrt):
    """Where each family and each adjoint family is kept."""
    model = derivation.model
    out = {}
    for name, f in model.families.items():
        if f.extra:  # K[o, c]: one array (or list) indexed by both, each from its lo
            lo, hi = (sp.Tuple(*b) for b in zip(*f.bounds))
            count = sp.Tuple(*(sp.simplify(b - a + 1) for a, b in zip(lo, hi)))
            label = derivation.adjoint_symbol(name, sp.Tuple(*f.indices)).family
            out[name] = Storage(name, lo, count, is_stacked(f), f.declared)
            out[label] = Storage(label, lo, count, is_stacked(f) and name in wrt, name in wrt)
            continue
        lo, hi = _bounds(f.ranges, model)
        count = sp.simplify(hi - lo + 1)
        stacked = is_stacked(f)
        out[name] = Storage(name, lo, count, stacked, f.declared)
        label = derivation.adjoint_symbol(name, f.index).family
        pieces = [(s.lo, s.hi) for s in derivation.steps if s.node == name]
        result = name in wrt
        out[label] = Storage(label, lo, count, stacked and result, result,
                             result and not _covers(pieces, lo, hi, model))
    return out


def _results(derivation, wrt):
    """Each gradient (an adjoint symbol, or an adjoint family's label), and the statements
    giving a 0 to those of single values the objective does not depend on."""
    model, results, zeros = derivation.model, [], []
    for name in wrt:
        if name in model.families:
            results.append(derivation.adjoint_symbol(name, model.families[name].index).family)
            continue
        symbol = derivation.adjoint_symbol(name)
        results.append(symbol)
        if name not in derivation.order:
            zeros.append(LoopStatement(symbol, zero(model.variables[name].shape), fresh=True))
    return results, zeros


def loop_program(derivation, wrt=None, comment=None):
    """The program computing the objective and the gradients of `wrt` (the params by default)
    of a model with loops, for a general length.

    Parameters
    ----------
    derivation : LoopDerivation
    wrt : list of str, optional
        Params and inputs, single values or families.
    comment : callable, optional
        ``comment(target, value)`` gives the text quoted above a backward step.

    Returns
    -------
    LoopProgram

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop.derivation.recurrences import derive_loops
    >>> d = derive_loops(sbp.load("examples/loops/bptt.sbp", bind={"ell": "squared_error"}))
    >>> p = loop_program(d)
    >>> [type(item).__name__ for item in p.backward]  # no item per iteration: no T in sight
    ['LoopStatement', 'ForLoop', 'LoopStatement', 'LoopStatement', 'LoopStatement', 'ForLoop']
    >>> [str(s.target) for s in p.backward[-1].body]  # t = T-1, ..., 1: ∂L/∂h_t and two sums
    ['Member(∂L/∂h, t, h, 1)', '∂L/∂W_hx', '∂L/∂W_hh']
    """
    wrt = checked_loop_wrt(derivation, wrt)
    results, zeros = _results(derivation, wrt)
    storage = _storage(derivation, wrt)
    forward = _forward(derivation, _Apart())
    problem = None
    for fuse, more in ((True, True), (True, False), (False, False)):
        builder = _Backward(derivation, wrt, comment)
        builder.fuse = fuse
        backward = fused_accumulations(_loops(builder.blocks_of(wrt)) + zeros)
        kept, names = [], _Names()
        first = forward
        if more:  # kept forward subexpressions, carried values
            first, backward, kept = saved_for_backward(forward, backward)
            backward = _with_carries(backward, names)
        lists = {**storage, **{name: Storage(name, loop.lo, sp.simplify(loop.hi - loop.lo + 1),
                                             False, False) for name, loop in kept}}
        program = LoopProgram(derivation, wrt, *shared_passes(first, backward, names, more),
                              results, lists)
        problem = replayed(program)
        if problem is None:
            for items in (program.forward, program.forward + program.backward):
                freed = replayed(program, items, dead_members(items, lists, derivation.model))
                if freed:
                    raise AssertionError(f"a member is freed too soon: {freed}")
            return program
    raise AssertionError(f"the looped program of {derivation.model.filename} does not run: "
                         f"{problem}")

