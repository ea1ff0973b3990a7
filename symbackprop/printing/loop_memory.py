"""What backward keeps, for a model with loops: counts in the lengths and the widths.

The backward steps of a general derivation read forward values at their
indices: the RNN's ``∂L/∂W_hh = Σ_t (∂L/∂h_t) h_{t-1}ᵀ`` reads h_0, ..., h_{T-1},
``∂L/∂W_qh`` reads h_1, ..., h_T.  Training must keep every such member from the
forward pass to the backward pass.  :func:`loop_memory_report` collects, for each
family, the indices its members are read at, and adds up their entries: a
formula in T (or L) and the widths, linear in the length, and linear in the
batch size when the members are minibatches.  This is 3.14.4's argument
(intermediate values kept for backward grow with the depth and the batch) and
its analogue through time, printed from the model.  The inputs, params and
consts are the caller's and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..derivation.recurrences import at_long_lengths
from ..primitives.members import IndexSum, Member, ScalarMember
from .loops import LoopTextPrinter, loop_names
from .names import Notation

__all__ = ["loop_memory_report", "LoopMemoryReport", "Kept"]

@dataclass(frozen=True)
class Kept:
    """The members of a family that backward reads: indices `lo`, ..., `hi` (with `index`)."""

    family: str
    index: sp.Symbol
    lo: object
    hi: object
    elements: object  # of the member at `index`


class LoopMemoryReport:
    """The forward values a derivation with loops keeps for its backward pass.

    Attributes
    ----------
    kept : tuple of Kept
    total : sympy.Expr
        The entries kept, in the lengths and widths.
    """

    def __init__(self, derivation, kept):
        self.derivation, self.kept = derivation, tuple(kept)
        self.total = sp.Add(*(_count(k) for k in self.kept))

    def at(self, lengths, widths=None):
        """:attr:`total` at concrete lengths (and, optionally, sizes of the dims)."""
        model = self.derivation.model
        rule = {model.dims[n]: v for n, v in lengths.items()}
        total = self.total.xreplace(rule).doit()
        return total.xreplace(widths or {})

    def text(self):
        """The report as lines of text."""
        names = loop_names(self.derivation, latex=False)
        p = LoopTextPrinter(names, Notation(), self.derivation.model.objective)
        lines = [f"What backward keeps: {self.derivation.model.filename}"]
        for k in self.kept:
            member = p.doprint(_member(self.derivation, k.family, k.index))
            lines.append(f"  {member} for {p.doprint(k.index)} = {p.doprint(k.lo)}, …, "
                         f"{p.doprint(k.hi)}: {p.doprint(k.elements)} entries each")
        lines.append(f"  in all: {p.doprint(sp.simplify(self.total))} entries, besides the "
                     "inputs, params and consts")
        model = self.derivation.model
        # the lengths it grows with: O of channels, not C (the inputs' count)
        lengths = ", ".join([n for n in model.lengths if self.total.has(model.dims[n])]
                            or model.lengths)
        lines.append(f"  it grows linearly with {lengths}" if _linear(self) else
                     f"  it grows with {lengths}")
        return "\n".join(lines) + "\n"


def _member(derivation, family, index):
    return derivation.symbol(family, index)


def _count(k):
    if not k.elements.has(k.index):
        return sp.expand((k.hi - k.lo + 1) * k.elements)
    return sp.Sum(k.elements, (k.index, k.lo, k.hi))


def _linear(report):
    model = report.derivation.model
    total = report.total.doit()
    lengths = [model.dims[n] for n in model.lengths]
    if total.has(sp.Sum):
        return all(not s.function.has(*lengths) for s in total.atoms(sp.Sum))
    return all(sp.degree(total, n) <= 1 for n in lengths) if lengths else True


def loop_memory_report(derivation):
    """The forward members a derivation with loops keeps for backward, and their entries.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp"))
    >>> report = loop_memory_report(d)
    >>> [(k.family, str(k.lo), str(k.hi)) for k in report.kept], report.total
    ([('h', '0', 'T'), ('o', '1', 'T')], T*h + T*q + h)
    """
    model = derivation.model
    forward = {n for n, f in model.families.items() if not f.declared}
    reads = {}
    for step in derivation.steps:
        if step.index is None:
            _collect(step.result, (), forward, reads)
        elif isinstance(step.index, sp.Tuple):  # a step of a family of two indices
            _collect(step.result, tuple(zip(step.index, step.lo, step.hi)), forward, reads)
        else:
            _collect(step.result, ((step.index, step.lo, step.hi),), forward, reads)
    kept = []
    for family in model.families:
        if family not in reads:
            continue
        index = derivation.index_of[family]
        for lo, hi in _union(reads[family], model):
            shape = model.families[family].shape_at(index)
            kept.append(Kept(family, index, lo, hi, shape.rows * shape.cols))
    return LoopMemoryReport(derivation, kept)


def _collect(expr, ranges, forward, reads):
    """The forward members `expr` reads, as intervals of indices per family; `ranges` are
    the (var, lo, hi) the step's index (or two) runs over."""
    for e in sp.preorder_traversal(expr):
        if isinstance(e, IndexSum):
            _collect(e.body, (e.limits,), forward, reads)
    outside = expr.replace(lambda e: isinstance(e, IndexSum), lambda e: sp.ZeroMatrix(*e.shape))
    for m in outside.atoms(Member, ScalarMember):
        if m.family not in forward:
            continue
        index = sp.sympify(m.index, strict=True)
        interval = (index, index)
        for var, lo, hi in ranges:
            if index.has(var):
                interval = (index.xreplace({var: lo}), index.xreplace({var: hi}))
                break
        reads.setdefault(m.family, []).append(interval)


def _union(intervals, model):
    """Intervals of indices merged where they overlap or touch, ordered for long lengths."""
    def large(e):
        return at_long_lengths(e, model)
    merged = []
    for lo, hi in sorted(intervals, key=lambda iv: (large(iv[0]), large(iv[1]))):
        if merged and large(lo) <= large(merged[-1][1]) + 1:
            if large(hi) > large(merged[-1][1]):
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged
