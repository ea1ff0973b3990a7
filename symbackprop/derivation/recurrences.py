"""The reverse sweep of a model with loops, once for a general index: its recurrences.

A model with loops (:class:`~symbackprop.language.looped.LoopModel`) is not
unrolled to be derived.  Each assignment is swept backwards once, at a general
index, with the local rules of every model (:func:`~.reverse._shares`); what is
new is where each share goes:

* to a member read at an offset: the share of ``h[t-1]`` from ``h[t] = ... W h[t-1]``
  is re-indexed to the member it reaches, ``dJ/dh[t] += W^T dJ/dh[t+1]``, and
  holds where ``t + 1`` is in the loop's range, ``t <= T - 1``;
* to a value every iteration reads (a param shared across time, ``W_hh``): the
  sum over the loop, ``dJ/dW_hh = sum_t (dJ/dh_t) h_{t-1}^T``;
* to a member read inside a sum over an index: re-indexed in the same way.

A family's adjoint is then a recurrence: its index range split where the set
of consumers changes, one :class:`RecurrenceStep` per piece (for the RNN,
``dL/dh_T`` at the boundary, ``dL/dh_t`` for ``t = T-1, ..., 1``, ``dL/dh_0``).
The pieces are found with the lengths taken large; :attr:`LoopDerivation.valid_from`
says from which length on the order of the pieces' bounds, and so the
derivation, holds.  Nothing here depends on the lengths: the derivation is built once.
"""

from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import sympy as sp

from ..language.looped import CHECK_LENGTH, IndexRange
from ..language.model import Node, Ref, walk
from ..primitives import expressions as ex
from ..language.unrolling import member_name
from ..primitives.members import IndexSum, Member, ScalarMember, index_sum, member
from .closed_forms import closed_forms
from .reverse import _shares, _walked, adjoint_symbol, shaped_symbol

__all__ = ["derive_loops", "LoopDerivation", "RecurrenceStep", "Share", "instantiate",
           "Renamer", "step_indices", "member_index", "unaligned", "at_long_lengths", "LARGE"]

#: The value every length takes when the pieces of a range are put in order.
LARGE = 10**6


@dataclass(frozen=True)
class Share:
    """One consumer's share of a recurrence step.

    Attributes
    ----------
    consumer : str
        The variable or family whose assignment reads the node.
    index : sympy.Expr or None
        The consumer member's index, in the step's index (``t + 1`` for ``h[t+1]``).
    value : sympy.Expr
        The share in matrix form, summed over the iterations it adds up
        (:class:`~symbackprop.primitives.members.IndexSum`).
    over : tuple of IndexRange
        The indices `value` sums over, outermost first.
    lo, hi : sympy.Expr or None
        The node's indices at which the consumer reads it.
    """

    consumer: str
    index: object
    value: object
    over: tuple
    lo: object = None
    hi: object = None


@dataclass(frozen=True)
class RecurrenceStep:
    """dJ/d(node[index]) for ``index`` from `lo` to `hi` (or of a single value).

    Attributes
    ----------
    node : str
    index : sympy.Symbol or None
        None for a value that is not a family.
    lo, hi : sympy.Expr or None
        The piece of the family's range the step holds on.
    adjoint : sympy.Expr
        The symbol of dJ/d(node[index]).
    terms : tuple of Share
    result : sympy.Expr
    """

    node: str
    index: object
    lo: object
    hi: object
    adjoint: object
    terms: tuple
    result: object
    within: tuple = None  # (lo, hi) of the loop it is written in, when its range is a part


def derive_loops(model):
    """The backward derivation of a model with loops, for a general index.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = derive_loops(sbp.load("examples/loops/bptt.sbp"))
    >>> [(s.node, str(s.lo), str(s.hi)) for s in d.steps if s.node == "h"]
    [('h', 'T', 'T'), ('h', '1', 'T - 1')]
    """
    return LoopDerivation.of(model)


class LoopDerivation:
    """The backward derivation of a :class:`~symbackprop.language.looped.LoopModel`.

    Attributes
    ----------
    model : LoopModel
    steps : tuple of RecurrenceStep
        In backward order, the objective first; a family's pieces from its highest index.
    forward : tuple of (sympy.Expr, sympy.Expr, tuple)
        Each assignment's target, defining expression and loops.
    index_of : dict of str to sympy.Symbol
        The index each family's steps are written in.
    valid_from : int
        The least length (every length at least this) at which the pieces hold.
    """

    def __init__(self, model, steps, forward, index_of, valid_from):
        self.model, self.steps, self.forward = model, steps, forward
        self.index_of, self.valid_from = index_of, valid_from

    @classmethod
    def of(cls, model):
        sweep = _Sweep(model)
        return cls(model, sweep.steps(), sweep.forward, sweep.index_of, sweep.valid_from)

    def __repr__(self):
        return (f"<LoopDerivation of {self.model.objective} from {self.model.filename}: "
                f"{len(self.steps)} steps>")

    @cached_property
    def closed_forms(self):
        """The closed forms of its linear recurrences (:func:`.closed_forms.closed_forms`)."""
        return closed_forms(self)

    @cached_property
    def order(self):
        """The nodes in backward order, each once."""
        return tuple(dict.fromkeys(s.node for s in self.steps))

    def symbol(self, name, index=None):
        """The symbol of a value, or of a family's member at `index`."""
        return _Symbols(self.model, self.index_of).value(name, index)

    def adjoint_symbol(self, name, index=None):
        """The symbol of dJ/d(name), or of dJ/d(name[index])."""
        return _Symbols(self.model, self.index_of).adjoint(name, index)


class _Symbols:
    """Symbols of values, members and adjoints of a model with loops."""

    def __init__(self, model, index_of):
        self.model, self.index_of = model, index_of

    def shape(self, name, index):
        if name in self.model.families:
            return self.model.families[name].shape_at(index)
        return self.model.variables[name].shape

    def value(self, name, index=None):
        if name in self.model.families:
            shape = self.shape(name, index)
            return member(name, index, shape.rows, shape.cols, shape.is_scalar)
        v = self.model.variables[name]
        return shaped_symbol(name, v.shape, v.domain)

    def adjoint(self, name, index=None):
        label = f"∂{self.model.objective}/∂{name}"
        if name in self.model.families:
            shape = self.shape(name, index)
            return member(label, index, shape.rows, shape.cols, shape.is_scalar)
        return shaped_symbol(label, self.model.variables[name].shape)


def at_long_lengths(expr, model):
    """`expr` (an index or a bound) with every length at :data:`LARGE`: how the pieces of a
    range are put in order, as they stand for long sequences and deep networks."""
    return sp.sympify(expr, strict=True).xreplace({model.dims[n]: LARGE for n in model.lengths})


class _Sweep:
    def __init__(self, model):
        self.model = model
        self.index_of = _indices(model)
        self.symbols = _Symbols(model, self.index_of)
        self.plain = {n: self.symbols.value(n) for n in model.variables}
        self.walked = [_walked(a, self.plain, self._value_of) for a in model.assignments]
        self.forward = tuple((self._target(a), w.value, a.loops)
                             for a, w in zip(model.assignments, self.walked))
        self.reads = [self._reads(w) for w in self.walked]
        self.valid_from = 1

    def _value_of(self, ref):
        return self.symbols.value(ref.name, member_index(ref.index))

    def _target(self, a):
        return self.symbols.value(a.target, a.index[0] if a.index else None)

    def _reads(self, walked):
        """Each Ref of an assignment's tree with the sums over an index around it."""
        around = {}
        for node in reversed(walked.nodes):
            inside = around.get(id(node), ())
            if isinstance(node, Node):
                here = inside + ((node.param,) if node.op.name.startswith("index_") else ())
                for arg in node.args:
                    around[id(arg)] = here
        return {id(n): around.get(id(n), ()) for n in walked.nodes if isinstance(n, Ref)}

    # which nodes are derived, in which order

    def _graph(self):
        g = nx.DiGraph()
        g.add_nodes_from(self.model.roles)
        for a, w in zip(self.model.assignments, self.walked):
            for n in w.nodes:
                if isinstance(n, Ref):
                    g.add_edge(n.name, a.target)
        return g

    def _active(self, g):
        """The nodes whose adjoint is derived: they reach the objective and vary with data or
        params."""
        roles = self.model.roles
        influences = nx.ancestors(g, self.model.objective) | {self.model.objective}
        varies = {n for n, r in roles.items() if r in ("input", "param")}
        for source in list(varies):
            varies |= nx.descendants(g, source)
        self.varies = {n: n in varies for n in roles}
        return {n for n in roles if n in influences and n in varies}

    def _order(self, g, active):
        """Groups of nodes (strongly connected: a recurrence) in backward order."""
        sub = g.subgraph(active)
        condensed = nx.condensation(sub)
        members = condensed.graph["mapping"]
        groups = {}
        for name, c in members.items():
            groups.setdefault(c, []).append(name)
        remaining = {c: condensed.out_degree(c) for c in condensed}
        roles = self.model.roles
        first = list(self.model.roles)
        ready, counter, out = [], 0, []
        start = members[self.model.objective]
        heapq.heappush(ready, (False, 0, start))
        while ready:
            _, _, c = heapq.heappop(ready)
            out.append(sorted(groups[c], key=first.index))
            for p in sorted(condensed.predecessors(c), key=lambda k: min(
                    first.index(n) for n in groups[k])):
                remaining[p] -= 1
                if remaining[p] == 0:
                    counter += 1
                    is_input = all(roles[n] == "input" for n in groups[p])
                    heapq.heappush(ready, (is_input, counter, p))
        return out

    # the shares

    def _send(self, targets, active, received, numbers):
        """The shares of the assignments of `targets`, to the nodes they read.

        An adjoint that is a plain number (dJ/dL = 1) is written into the shares; any
        other is its symbol."""
        for k, (a, w) in enumerate(zip(self.model.assignments, self.walked)):
            if a.target not in targets:
                continue
            index = a.index[0] if a.index else None
            adjoint = numbers.get(a.target, self.symbols.adjoint(a.target, index))
            around = self.reads[k]

            def key(ref, around=around):
                return (ref.name, ref.index, around[id(ref)])
            wanted = {key(n) for n in w.nodes if isinstance(n, Ref) and n.name in active}
            shares = _shares(w, self.plain, adjoint, wanted, target=self._target(a), key=key)
            for (name, ref_index, around_ref), value in shares.items():
                received[name].append(self._placed(a, name, ref_index, around_ref, value))

    def _placed(self, a, name, ref_index, around, value):
        """A share moved to the member it reaches, summed over the other iterations."""
        loops = tuple(a.loops) + tuple(_range(p) for p in around)
        consumer_index = a.index[0] if a.index else None
        lo = hi = None
        if len(ref_index) > 1:  # K[o, c]: every index a loop's or a sum's, over its range
            return self._placed_pair(a, name, ref_index, loops, value, consumer_index)
        if ref_index:
            (g,) = ref_index
            u = self.index_of[name]
            moved = [r for r in loops if r.var in g.free_symbols]
            if moved:
                r = moved[0]
                shift = {r.var: u - (g - r.var)}
                value = value.xreplace(shift)
                consumer_index = None if consumer_index is None else \
                    sp.sympify(consumer_index, strict=True).xreplace(shift)
                lo, hi = r.lo + (g - r.var), r.hi + (g - r.var)
                loops = tuple(x for x in loops if x is not r)
            else:
                lo = hi = g
        for r in reversed(loops):
            value = index_sum(value, r.var, r.lo, r.hi)
        return Share(a.target, consumer_index, value, loops, lo, hi)

    def _placed_pair(self, a, name, ref_index, loops, value, consumer_index):
        """A share to a member of a family of two indices, at the family's own indices; the
        loops that do not index it are summed over (the language checked that each index is
        a loop's variable, shifted, over the index's whole range)."""
        family = self.model.families[name]
        shift = {}
        for u, g in zip(family.indices, ref_index):
            r = next(r for r in loops if r.var in g.free_symbols)
            shift[r.var] = u - (g - r.var)
        value = value.xreplace(shift)
        if consumer_index is not None:
            consumer_index = sp.sympify(consumer_index, strict=True).xreplace(shift)
        loops = tuple(r for r in loops if r.var not in shift)
        for r in reversed(loops):
            value = index_sum(value, r.var, r.lo, r.hi)
        lo, hi = (sp.Tuple(*b) for b in zip(*family.bounds))
        return Share(a.target, consumer_index, value, loops, lo, hi)

    # the steps

    def steps(self):
        g = self._graph()
        active = self._active(g)
        received = {n: [] for n in active}
        numbers = {}
        out = []
        for group in self._order(g, active):
            recurrent = len(group) > 1 or g.has_edge(group[0], group[0])
            if recurrent:  # the group's shares to itself come first: a recurrence
                self._send(set(group), active, received, numbers)
            pieces = []
            for name in group:
                pieces.extend(self._pieces(name, received[name]))
            if not recurrent:
                if pieces[0].index is None and pieces[0].result.is_number:
                    numbers[group[0]] = pieces[0].result
                self._send(set(group), active, received, numbers)
                out.extend(pieces)
            else:
                out.extend(self._one_loop(pieces))
        return tuple(out)

    def _one_loop(self, pieces):
        """A recurrence's pieces in order: the boundaries, highest index first, and the pieces
        whose ranges are shifts of one loop's written as that loop's body (dJ/dh[l-1] for
        l = L, ..., 1 beside dJ/dz[l]), each after the pieces of the iteration it reads."""
        m = self.model
        ranged = [p for p in pieces if p.index is not None and at_long_lengths(p.hi - p.lo, m) > 0]
        main = max(ranged, key=lambda p: (at_long_lengths(p.hi, m), at_long_lengths(p.lo, m)),
                   default=None)
        aligned = []
        for p in pieces:
            shift = None if main is None or p not in ranged else sp.simplify(p.hi - main.hi)
            if shift is not None and shift.is_Integer and shift != 0:
                p = _reindexed(p, main.index, shift)
                # a part of the loop: t = T, ..., 2
                if at_long_lengths(p.lo, m) > at_long_lengths(main.lo, m):
                    p = dataclasses.replace(p, within=(main.lo, main.hi))
            aligned.append(p)
        loop = [p for p in aligned if main is not None and p.index == main.index and (
            (p.lo == main.lo and p.hi == main.hi) or p.within == (main.lo, main.hi))]
        rest = sorted((p for p in aligned if p not in loop), key=self._piece_order)
        before = [p for p in rest if p.hi is None
                  or at_long_lengths(p.hi, m) >= at_long_lengths(main.hi, m)] \
            if main is not None else rest
        after = [p for p in rest if p not in before]
        return before + _by_dependency(loop) + after

    def _piece_order(self, step):
        hi = -at_long_lengths(step.hi, self.model) if step.hi is not None else 0
        return (hi, -at_long_lengths(step.lo, self.model) if step.lo is not None else 0)

    def _pieces(self, name, shares):
        if name == self.model.objective:
            return [RecurrenceStep(name, None, None, None, self.symbols.adjoint(name), (),
                                   sp.Integer(1))]
        if name not in self.model.families:
            return [RecurrenceStep(name, None, None, None, self.symbols.adjoint(name),
                                   tuple(shares), ex.add(*(s.value for s in shares)))]
        u = self.index_of[name]
        family = self.model.families[name]
        if family.extra:  # one piece: every member of a declared family of two indices
            lo, hi = (sp.Tuple(*b) for b in zip(*family.bounds))
            value = ex.add(*(s.value for s in shares)) if shares else _zero(family.shape)
            return [RecurrenceStep(name, u, lo, hi, self.symbols.adjoint(name, u),
                                   tuple(shares), value)]
        pieces = []
        for lo, hi in self._segments(self._varying_ranges(family), shares):
            terms = tuple(s for s in shares if self._covers(s, lo, hi))
            if pieces and pieces[-1].terms == terms and \
                    sp.simplify(pieces[-1].hi + 1 - lo) == 0:
                last = pieces.pop()
                lo = last.lo
            value = ex.add(*(s.value for s in terms)) if terms else \
                _zero(family.shape_at(u))
            pieces.append(RecurrenceStep(name, u, lo, hi, self.symbols.adjoint(name, u),
                                         terms, value))
        return pieces

    def _varying_ranges(self, family):
        """The ranges of a family's members that vary with data or params: a member defined
        from consts alone (``h[0] = h0``) has no adjoint, as a const has none."""
        if family.declared:
            return family.ranges
        ranges = []
        for a, (lo, hi) in zip((a for a in self.model.assignments if a.target == family.name),
                               family.ranges):
            if any(self.varies.get(n.name, False) for n in walk(a.tree) if isinstance(n, Ref)):
                ranges.append((lo, hi))
        return tuple(ranges)

    def _covers(self, share, lo, hi):
        m = self.model
        return (at_long_lengths(share.lo, m) <= at_long_lengths(lo, m)
                and at_long_lengths(hi, m) <= at_long_lengths(share.hi, m))

    def _segments(self, ranges, shares):
        """The pieces of a family's range between which its consumers change, lowest first."""
        m = self.model
        points = {}
        for lo, hi in list(ranges) + [(s.lo, s.hi) for s in shares]:
            for p in (sp.sympify(lo, strict=True), sp.sympify(hi, strict=True) + 1):
                points.setdefault(at_long_lengths(p, m), p)
        ordered = [points[k] for k in sorted(points)]
        self.valid_from = max(self.valid_from, _least_length(ordered, m))
        pieces = []
        for p, q in zip(ordered, ordered[1:]):
            inside = any(at_long_lengths(lo, m) <= at_long_lengths(p, m)
                         and at_long_lengths(q - 1, m) <= at_long_lengths(hi, m)
                         for lo, hi in ranges)
            if inside:
                pieces.append((p, q - 1))
        return pieces


def _reindexed(step, index, shift):
    """`step` written for ``index - shift`` as ``index``: dJ/dh[u] for u = 0..L-1 as
    dJ/dh[l-1] for l = 1..L."""
    rule = {step.index: index + shift}
    terms = tuple(Share(t.consumer, None if t.index is None else
                        sp.sympify(t.index, strict=True).xreplace(rule),
                        t.value.xreplace(rule), t.over, t.lo, t.hi) for t in step.terms)
    return RecurrenceStep(step.node, index, step.lo - shift, step.hi - shift,
                          step.adjoint.xreplace(rule), terms, step.result.xreplace(rule))


def unaligned(step):
    """A step written in a part of another loop (:attr:`RecurrenceStep.within`) as its own
    piece again: dJ/dh[t-1] for t = T, ..., 2 as dJ/dh[t] for t = T-1, ..., 1."""
    if step.within is None:
        return step
    shift = -sp.simplify(step.adjoint.index - step.index)
    return _reindexed(dataclasses.replace(step, within=None), step.index, shift)


def _by_dependency(loop):
    """One iteration's steps, each after those whose adjoints it reads."""
    done, out, pending = set(), [], list(loop)
    while pending:
        for p in pending:
            reads = {q.adjoint for q in pending if q is not p and p.result.has(q.adjoint)}
            if not reads:
                break
        else:  # a cycle within one iteration cannot come from a model: keep the order
            p = pending[0]
        pending.remove(p)
        done.add(p.adjoint)
        out.append(p)
    return out


def _least_length(points, model):
    """The least length at which `points`, ordered for large lengths, are still in order."""
    for k in range(1, 101):
        values = [sp.sympify(p, strict=True).xreplace({model.dims[n]: k for n in model.lengths})
                  for p in points]
        if all(a <= b for a, b in zip(values, values[1:])):
            return k
    return 101


def _range(param):
    var, lo, hi = param
    return IndexRange(var, lo, hi)


def _indices(model):
    """The index each family's steps are written in: its declared index, or the variable of
    the first loop that defines it."""
    out = {}
    for name, family in model.families.items():
        if family.extra:
            out[name] = sp.Tuple(*family.indices)
        elif family.declared:
            out[name] = family.index
    for a in model.assignments:
        free = sp.sympify(a.index[0], strict=True).free_symbols if a.index else ()
        if free and a.target not in out:
            out[a.target] = next(iter(free))
    for name, family in model.families.items():
        out.setdefault(name, family.index)
    return out


def _zero(shape):
    return sp.Integer(0) if shape.is_scalar else sp.ZeroMatrix(shape.rows, shape.cols)



def instantiate(derivation, lengths=None):
    """The general derivation at concrete lengths, in the written-out model's symbols.

    Parameters
    ----------
    derivation : LoopDerivation
    lengths : dict of str to int, optional
        As for :meth:`~symbackprop.language.looped.LoopModel.unrolled`.

    Returns
    -------
    flat : Model
        The model written out at these lengths.
    adjoints : dict
        Each adjoint symbol of `flat` that a step of the general derivation gives, to the
        step's formula with its index and lengths put in and its sums written out.
    forward : dict
        Each assigned variable's symbol of `flat` to its general definition, put in likewise.
    closed : dict
        Each adjoint a closed form gives (:attr:`LoopDerivation.closed_forms`), likewise.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = derive_loops(sbp.load("examples/loops/bptt.sbp"))
    >>> flat, adjoints, _, _ = instantiate(d, {"T": 2})
    >>> print({str(k): str(v) for k, v in adjoints.items()}["∂L/∂W_hh"])
    ∂L/∂h_1*h_0.T + ∂L/∂h_2*h_1.T
    """
    rename = Renamer.at(derivation, lengths)
    flat, values = rename.flat, rename.values
    adjoints = {}
    for step in derivation.steps:
        if step.index is None:
            adjoints[rename.adjoint(step.node, None)] = rename(step.result)
            continue
        for at in step_indices(step, values):
            adjoints[rename(step.adjoint.xreplace(at))] = rename(step.result.xreplace(at))
    forward = {}
    for target, value, loops in derivation.forward:
        for env in _iterations(loops, values):
            forward[rename(target.xreplace(env))] = rename(value.xreplace(env))
    closed = {}
    for form in derivation.closed_forms:
        lo, hi = (int(sp.sympify(b, strict=True).xreplace(values)) for b in (form.lo, form.hi))
        for k in range(lo, hi + 1):
            at = {form.index: sp.Integer(k)}
            closed[rename(form.adjoint.xreplace(at))] = rename(form.result.xreplace(at))
        for name, value in form.gradients.items():
            closed[rename.adjoint(name, None)] = rename(value)
    return flat, adjoints, forward, closed


def step_indices(step, values):
    """Each substitution of integers for a step's index (or two) over its range, at the
    lengths `values`."""
    if isinstance(step.index, sp.Tuple):
        ranges = [IndexRange(v, lo, hi) for v, lo, hi in zip(step.index, step.lo, step.hi)]
        return _iterations(ranges, values)
    lo, hi = (int(sp.sympify(b, strict=True).xreplace(values)) for b in (step.lo, step.hi))
    return [{step.index: sp.Integer(k)} for k in range(lo, hi + 1)]


def member_index(index):
    """The index of a member as its symbol holds it: the one index, a sympy.Tuple of two,
    None for a single value."""
    if not index:
        return None
    return index[0] if len(index) == 1 else sp.Tuple(*index)


def _iterations(loops, values):
    """Every assignment of integers to the loops' variables, outermost first."""
    envs = [{}]
    for r in loops:
        lo, hi = (int(sp.sympify(b, strict=True).xreplace(values)) for b in (r.lo, r.hi))
        envs = [{**env, r.var: sp.Integer(k)} for env in envs for k in range(lo, hi + 1)]
    return envs


class Renamer:
    """A general formula at concrete indices, into the written-out model's symbols.

    Attributes
    ----------
    flat : Model
        The model written out.
    values : dict
        Each length's symbol to its integer.
    """

    def __init__(self, flat, values, widths):
        self.flat, self.values, self.widths = flat, values, widths

    @classmethod
    def at(cls, derivation, lengths=None):
        """The renamer into `derivation`'s model written out at `lengths`."""
        model = derivation.model
        flat = model.unrolled(lengths)
        given = dict(lengths or {})
        values = {model.dims[n]: sp.Integer(given.get(n, CHECK_LENGTH)) for n in model.lengths}
        return cls(flat, values, model.widths_in(flat))

    def indices(self, lo, hi):
        """The integers from `lo` to `hi` at these lengths."""
        lo, hi = (int(sp.sympify(b, strict=True).xreplace(self.values)) for b in (lo, hi))
        return range(lo, hi + 1)

    def iterations(self, loops):
        """Every assignment of integers to the loops' variables, outermost first."""
        return _iterations(loops, self.values)

    def adjoint(self, name, index):
        return adjoint_symbol(self.flat, name if index is None else member_name(name, (index,)))

    def __call__(self, expr):
        expr = sp.sympify(expr, strict=True).xreplace(self.values)
        expr = _written_out(expr)
        expr = expr.replace(lambda e: isinstance(e, (Member, ScalarMember)), self._member)
        return expr.xreplace(self.widths)

    def _member(self, e):
        index = tuple(map(int, e.index)) if isinstance(e.index, sp.Tuple) else (int(e.index),)
        family = e.family
        if family[:2] in ("R{", "V{") and family.endswith("}"):  # a tangent, a direction
            inner = self._member(type(e)(family[2:-1], *e.args[1:]))
            name = f"{family[0]}{{{inner.name}}}"
            return sp.MatrixSymbol(name, *inner.shape) if isinstance(inner, sp.MatrixSymbol) \
                else sp.Symbol(name, real=True)
        prefix = f"∂{self.flat.objective}/∂"
        if family.startswith(prefix):
            return adjoint_symbol(self.flat, member_name(family[len(prefix):], index))
        v = self.flat.variables[member_name(family, index)]
        return shaped_symbol(v.name, v.shape, v.domain)


def _written_out(expr):
    """Sums over an index with integer bounds, written out term by term (innermost first),
    and powers of a matrix to a whole number as products."""
    expr = _sums_written_out(expr)
    return expr.replace(lambda e: isinstance(e, sp.MatPow) and e.exp.is_Integer, _product)


def _product(power):
    k = int(power.exp)
    if k == 0:
        return sp.Identity(power.base.shape[0])
    return ex.mul(*[power.base] * k) if k > 1 else power.base


def _sums_written_out(expr):
    """Outermost first: an inner sum's bounds may be the outer sum's index."""
    if isinstance(expr, sp.Sum) and len(expr.limits) > 1:  # Σ_o Σ_c joined: the last outside
        var, lo, hi = expr.limits[-1]
        inner = sp.Sum(expr.function, *expr.limits[:-1])
        return sp.Add(*[_sums_written_out(inner.xreplace({var: sp.Integer(k)}))
                        for k in range(int(lo), int(hi) + 1)])
    if isinstance(expr, (IndexSum, sp.Sum)):
        var, lo, hi = expr.limits[0] if isinstance(expr, sp.Sum) else expr.limits
        terms = [_sums_written_out(expr.args[0].xreplace({var: sp.Integer(k)}))
                 for k in range(int(lo), int(hi) + 1)]
        if isinstance(expr, sp.Sum):
            return sp.Add(*terms)
        return ex.add(*terms) if terms else sp.ZeroMatrix(*expr.shape)
    if not expr.has(IndexSum, sp.Sum):
        return expr
    return expr.func(*(_sums_written_out(a) for a in expr.args))
