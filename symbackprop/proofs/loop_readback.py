"""The proof of the printed derivation of a model with loops: each formula read back.

A model with loops prints its derivation once, for a general index
(:mod:`symbackprop.printing.loops`): ``∂L/∂h_t = W_qhᵀ (∂L/∂o_t) + W_hhᵀ (∂L/∂h_{t+1})``
under the heading ``for t = T - 1, …, 1``.  :func:`prove_printed_loops` reads each
printed formula back at concrete lengths, once for every index its heading (or its
own ``t = 1, …, T``) gives, with the reader of :mod:`symbackprop.proofs.index_reading`:
the members, the sums over an index and the index arithmetic are read from the text,
and every name stands for its value in the model written out at those lengths.  Both
sides must agree with the values of the written-out model's derivation (which is
proved like every model's) under every plausible reading, as
:func:`symbackprop.proofs.readback.prove_printed` asks of a model without loops.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ..derivation.recurrences import CHECK_LENGTH
from ..derivation.reverse import Derivation, adjoint_symbol
from ..language.unrolling import member_name
from ..primitives import matrix_functions as mf
from ..primitives.members import member
from ..printing.loops import (LoopLatexPrinter, LoopTextPrinter, loop_latex, loop_markdown,
                              loop_names, loop_text)
from ..printing.names import Notation
from .evaluation import Binding, sample_values
from .index_reading import Family, Indices, Spelling, index_value, read_at
from .readback import (ReadbackReport, is_definition, printed_equations, printed_vocabulary,
                       values_of, why_wrong)
from .reading import Value
from .sizes import default_dims

__all__ = ["prove_printed_loops"]

#: Stands for the index where a family's spelling is printed (never in a model's names).
_SENTINEL = sp.Symbol("◊", integer=True)
_SIZES = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)


def _documents(derivation, formats, notation):
    options = dict(prod=notation.prod, shapes=notation.shapes)
    writers = {"text": (lambda: loop_text(derivation, **options), False),
               "LaTeX": (lambda: loop_latex(derivation, bold=notation.bold,
                                            transpose=notation.transpose, **options), True),
               "Markdown": (lambda: loop_markdown(derivation, bold=notation.bold,
                                                  transpose=notation.transpose, **options),
                            True)}
    return {fmt: (writers[fmt][0](), writers[fmt][1]) for fmt in formats}


def _spellings(text):
    """How a member printed with the sentinel index is spelled, as :class:`Spelling` s."""
    prefix, _, suffix = text.partition(str(_SENTINEL))
    out = [Spelling(prefix, suffix)]
    if prefix.endswith("^(") and suffix.startswith(")"):  # h^(l-1) is also h⁽ˡ⁻¹⁾
        out.append(Spelling(prefix[:-2] + "⁽", "⁾" + suffix[1:], superscripts=True))
    return tuple(out)


class _Members:
    """The members of the written-out model: (family, index) to its variable and values."""

    def __init__(self, derivation, written, evaluator):
        self.d, self.flat, self.env = derivation, written.model, evaluator.env
        self.written = written

    def value(self, family, index):
        name = member_name(family, index)
        if name not in self.flat.variables:
            return []
        return [Value(self.env[self.written.symbols[name]])]

    def adjoint(self, family, index):
        name = member_name(family, index)
        if name not in self.flat.variables:
            return []
        symbol = adjoint_symbol(self.flat, name)
        if symbol in self.env:
            return [Value(self.env[symbol])]
        # ∂J/∂h_0 = 0 where J does not depend on the member
        return [Value(np.zeros(np.shape(self.env[self.written.symbols[name]])))]


def _families(derivation, members, printer, evaluator, binding):
    """Every family as printed: its values, its adjoints, the partials of calls at it."""
    model = derivation.model
    objective = model.objective
    out = []
    for name in model.families:
        index = member(name, _SENTINEL, 1, 1)
        out.append(Family(_spellings(printer.doprint(index)),
                          lambda k, name=name: members.value(name, k)))
        adjoint = member(f"∂{objective}/∂{name}", _SENTINEL, 1, 1)
        out.append(Family(_spellings(printer.doprint(adjoint)),
                          lambda k, name=name: members.adjoint(name, k)))
    partials = {}
    for call in _calls(members.written):
        args = [evaluator.value(a) for a in call.call_args]
        for slot, arg in enumerate(call.call_args):
            found = _member_of(members, arg)
            if found is None:
                continue
            family, k = found
            who = printer.names[("func", call.name)]
            text = printer._partial(who, printer.doprint(member(family, _SENTINEL, 1, 1)))
            value = Value(binding.partial(call.name, slot, args))
            partials.setdefault(text, {}).setdefault(k, []).append(value)
    for text, by_index in partials.items():
        out.append(Family(_spellings(text), lambda k, by=by_index: by.get(k, [])))
    return tuple(out)


def _calls(written):
    return [node for expr in written.forward.values() for node in sp.preorder_traversal(expr)
            if isinstance(node, mf.Apply)]


def _member_of(members, arg):
    """(family, index) of a written-out symbol that is a member, else None."""
    if not isinstance(arg, (sp.Symbol, sp.MatrixSymbol)):
        return None
    for family in members.d.model.families:
        head = f"{family}_"
        if arg.name.startswith(head):
            rest = arg.name[len(head):].split("_")
            if all(p.isdigit() for p in rest) and member_name(family, tuple(map(int, rest))) \
                    == arg.name:
                return family, tuple(map(int, rest))
    return None


def _tempered(flat, values):
    """The params as networks are initialised, a matrix over √(its columns): a recurrence
    run for T steps keeps its values of order one, where the functions bound to the
    abstract ones are defined (standard normal weights grow like ‖W‖^T)."""
    out = dict(values)
    for name, v in flat.variables.items():
        if v.role == "param" and np.ndim(out[name]) == 2 and np.shape(out[name])[1] > 1:
            out[name] = out[name] / np.sqrt(np.shape(out[name])[1])
    return out


def _at_every_index(ranges, lengths):
    """Each assignment of integers to the ranges' variables; None if a range cannot be read.

    A range runs the way it is printed: ``T - 1, …, 1`` counts down (its direction is
    read at long lengths), so at T = 1 it is empty, not {0, 1}.
    """
    spans = []
    for var, first, last in ranges:
        long = {n: 1000 for n in lengths}
        ends = [index_value(e, values) for values in (lengths, long) for e in (first, last)]
        if None in ends:
            return None
        (lo, hi), down = (e[0] for e in ends[:2]), ends[2][0] > ends[3][0]
        lo, hi = (hi, lo) if down else (lo, hi)
        spans.append([(var, k) for k in range(lo, hi + 1)])
    return [dict(choice) for choice in itertools.product(*spans)]


def prove_printed_loops(derivation, lengths=None, formats=("text", "LaTeX", "Markdown"),
                        notation=None, bindings=(0, 1), points=(0,), documents=None):
    """Read back every formula printed for a derivation with loops, at `lengths`.

    Parameters
    ----------
    derivation : LoopDerivation
    lengths : dict of str to int, optional
        The lengths to read at (:data:`~symbackprop.derivation.recurrences.CHECK_LENGTH`
        for each not given).
    formats : tuple of str
        Which documents: ``"text"``, ``"LaTeX"``, ``"Markdown"``.
    notation : Notation, optional
    bindings, points : tuple of int
        Seeds of the random smooth functions and of the random points.
    documents : dict, optional
        Already written documents, format name to (text, is LaTeX); written here if None.

    Returns
    -------
    ReadbackReport
        Each formula counts once; it fails if any index or setting reads it wrong.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp"))
    >>> print(prove_printed_loops(d, formats=("text",)).summary())
    printed formulas: text 18/18 read back equal
    """
    notation = notation or Notation()
    model = derivation.model
    lengths = {n: dict(lengths or {}).get(n, CHECK_LENGTH) for n in model.lengths}
    written = Derivation.of(model.unrolled(lengths))
    flat = written.model
    dims = default_dims(flat, sizes=_SIZES)
    sizes = {flat.dims[n]: s for n, s in dims.items()}
    variables = tuple(sorted({str(v) for v in derivation.index_of.values()}))
    settings = {}

    def setting(latex, b, p):
        if (latex, b, p) not in settings:
            binding = Binding(b)
            values = _tempered(flat, sample_values(flat, dims, p))
            evaluator = values_of(written, values, sizes, binding, p)
            names = loop_names(derivation, latex, notation)
            printer = (LoopLatexPrinter if latex else LoopTextPrinter)(names, notation,
                                                                      model.objective)
            members = _Members(derivation, written, evaluator)
            families = _families(derivation, members, printer, evaluator, binding)
            vocabulary = printed_vocabulary(written, latex, notation, evaluator, binding, sizes)
            settings[latex, b, p] = vocabulary, Indices(families, variables, lengths)
        return settings[latex, b, p]

    report = ReadbackReport()
    documents = documents or _documents(derivation, formats, notation)
    for fmt, (document, latex) in documents.items():
        report.counts[fmt] = 0
        for equation in printed_equations(document, latex):
            at = _at_every_index(equation.ranges, lengths)
            for side in equation.sides:
                if at == [] or is_definition(side, setting(latex, 0, 0)[0]):
                    continue  # an empty range (t = T - 1, …, 1 at T = 1): nothing is claimed
                report.counts[fmt] += 1
                why = _first_failure(equation, side, at,
                                     [setting(latex, b, p) for b in bindings for p in points])
                if why:
                    report.failures.append((fmt, f"{equation.lhs} = {side}  "
                                                 f"({equation.where}{why[0]})", why[1]))
    return report


def _first_failure(equation, side, at, settings):
    """(where, why) of the first index and setting that read `side` wrong, else None."""
    if at is None:
        return "", "its range cannot be read"
    verdicts = []
    for bound in at:
        for vocabulary, indices in settings:
            def reader(formula, vocabulary, indices=indices, bound=bound):
                return read_at(formula, vocabulary, indices, bound)
            verdict = why_wrong(equation.lhs, side, vocabulary, reader)
            if verdict:
                where = ", ".join(f"{k} = {v}" for k, v in bound.items())
                return (f", at {where}" if where else ""), verdict
            verdicts.append(verdict)
    if verdicts and all(v == "" for v in verdicts):
        return "", "not finite at any point tried"
    return None
