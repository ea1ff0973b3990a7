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

import dataclasses
import itertools

import numpy as np
import sympy as sp

from ..derivation.recurrences import CHECK_LENGTH
from ..derivation.reverse import Derivation, adjoint_symbol
from ..language.unrolling import member_name
from ..primitives import matrix_functions as mf
from ..primitives.members import member
from ..derivation.tangent import derive_hvp, jvp
from ..printing.loops import (LoopLatexPrinter, LoopTextPrinter, loop_hvp_latex,
                              loop_hvp_markdown, loop_hvp_names, loop_hvp_text, loop_latex,
                              loop_markdown, loop_names, loop_text)
from ..printing.names import Notation
from .evaluation import Binding, initialised, sample_values
from .index_reading import Family, Indices, Spelling, index_value, read_at
from .readback import (ReadbackReport, first_failure, is_definition, page_equations,
                       printed_equations, printed_vocabulary, values_of, why_wrong)
from .reading import Value
from .sizes import default_dims

__all__ = ["prove_printed_loops"]

#: Stands for the index where a family's spelling is printed (never in a model's names).
_SENTINEL = sp.Symbol("◊", integer=True)
_SIZES = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)


def _documents(subject, formats, notation):
    writers = (loop_hvp_text, loop_hvp_latex, loop_hvp_markdown) if _is_hvp(subject) else \
        (loop_text, loop_latex, loop_markdown)
    options = dataclasses.asdict(notation)  # every field: the steps shown too
    made = {"text": (lambda: writers[0](subject, **options), False),
            "LaTeX": (lambda: writers[1](subject, **options), True),
            "Markdown": (lambda: writers[2](subject, **options), True),
            "HTML": (lambda: _page(subject, options), True)}
    return {fmt: (made[fmt][0](), made[fmt][1]) for fmt in formats}


def _page(subject, options):
    from ..printing.loop_page import loop_html  # the page's module draws; only it needs that
    if _is_hvp(subject):
        return loop_html(subject.derivation, subject, **options)
    return loop_html(subject, **options)


def _is_hvp(subject):
    return hasattr(subject, "derivation")


def _spellings(text):
    """How a member printed with the sentinel index is spelled, as :class:`Spelling` s."""
    prefix, _, suffix = text.partition(str(_SENTINEL))
    out = [Spelling(prefix, suffix)]
    if prefix.endswith("^(") and suffix.startswith(")"):  # h^(l-1) is also h⁽ˡ⁻¹⁾
        out.append(Spelling(prefix[:-2] + "⁽", "⁾" + suffix[1:], superscripts=True))
    return tuple(out)


class _Members:
    """The members of the written-out model: (family, index) to its values, adjoints and,
    for H v, tangents and directions (a value the written-out side leaves out is 0: its
    adjoint where J does not depend on it, its tangent where nothing that moves reaches it)."""

    def __init__(self, flat, evaluator):
        self.flat = flat
        self.named = {getattr(k, "name", None): v for k, v in evaluator.env.items()}

    def _held(self, family, index, held=lambda name: name):
        """[the value named `held(member)`, 0 if left out], or [] outside the family."""
        name = member_name(family, index)
        if name not in self.flat.variables:
            return []
        return [Value(self.named.get(held(name), np.zeros(np.shape(self.named[name]))))]

    def value(self, family, index):
        return self._held(family, index)

    def adjoint(self, family, index, tangent=""):
        def held(name):
            adjoint = adjoint_symbol(self.flat, name).name
            return f"{tangent}{{{adjoint}}}" if tangent else adjoint
        return self._held(family, index, held)

    def tangent(self, family, index, kind="R"):
        return self._held(family, index, lambda name: f"{kind}{{{name}}}")


def _families(derivation, hvp, written, members, printer, evaluator, binding):
    """Every family as printed: its values, its adjoints, the partials of calls at it; for
    H v (`hvp`) also their tangents and the directions."""
    model = derivation.model
    objective = model.objective
    out = []

    for name, declared in model.families.items():
        shape = declared.shape  # a matrix's direction prints V, a vector's v

        def family(printed_as, meanings, shape=shape):
            sentinel = member(printed_as, _SENTINEL, 1, 2 if shape.kind == "matrix" else 1,
                              scalar=shape.is_scalar)
            out.append(Family(_spellings(printer.doprint(sentinel)), meanings))

        family(name, lambda k, name=name: members.value(name, k))
        family(f"∂{objective}/∂{name}", lambda k, name=name: members.adjoint(name, k))
        if hvp is None:
            continue
        family(f"R{{{name}}}", lambda k, name=name: members.tangent(name, k))
        family(f"R{{∂{objective}/∂{name}}}", lambda k, name=name: members.adjoint(name, k, "R"))
        if name in hvp.wrt:
            family(f"V{{{name}}}", lambda k, name=name: members.tangent(name, k, "V"))
    partials = {}
    for call in _calls(written):
        args = [evaluator.value(a) for a in call.call_args]
        for slot, arg in enumerate(call.call_args):
            if not isinstance(arg, (sp.Symbol, sp.MatrixSymbol)):
                continue
            family, k = _member_of(derivation, arg.name)
            if family is None:
                continue
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


def _member_of(derivation, name):
    """(family, index) of a written-out variable's name that is a member, else (None, None)."""
    for family in derivation.model.families:
        head = f"{family}_"
        if name.startswith(head):
            rest = name[len(head):].split("_")
            if all(p.isdigit() for p in rest) and member_name(family, tuple(map(int, rest))) \
                    == name:
                return family, tuple(map(int, rest))
    return None, None


def _every_tangent(written, hvp, evaluator):
    """The tangents the written-out H v leaves out, because no H v reads them, worked out
    from their definitions into `evaluator` (R{∂J/∂h_0} of a piece the general H v prints
    down to h_0); one that nothing moving reaches stays out (it is 0)."""
    adjoints = {s.node: s.adjoint for s in written.steps}
    moving = {written.symbols[n]: d for n, d in hvp.directions.items()}
    moving.update({written.symbols[s.node]: s.symbol for s in hvp.forward})
    moving.update({adjoints[s.node]: s.symbol for s in hvp.backward})
    defined = [(written.symbols[n], e) for n, e in written.forward.items()]
    for symbol, expr in defined + [(s.adjoint, s.result) for s in written.steps]:
        if symbol in moving:
            continue
        value = jvp(expr, moving, out=symbol)
        if value is not None:
            name = f"R{{{symbol.name}}}"
            tangent = sp.MatrixSymbol(name, *symbol.shape) if isinstance(
                symbol, sp.MatrixSymbol) else sp.Symbol(name, real=True)
            evaluator.env[tangent] = evaluator.value(value)
            moving[symbol] = tangent


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


class _Settings:
    """The vocabularies to read with, by (LaTeX?, binding seed, point seed): the model
    written out at the lengths, its derivation (and H v) evaluated at a random point."""

    def __init__(self, subject, lengths, notation):
        self.subject, self.notation = subject, notation
        self.hvp = subject if _is_hvp(subject) else None
        self.derivation = subject.derivation if self.hvp else subject
        model = self.derivation.model
        self.lengths = {n: dict(lengths or {}).get(n, CHECK_LENGTH) for n in model.lengths}
        self.written = Derivation.of(model.unrolled(self.lengths))
        self.flat_subject = self.written
        if self.hvp:
            moving = {*self.hvp.wrt}
            wrt = [n for n in self.written.params if n in self.written.order
                   and (n in moving or _member_of(self.derivation, n)[0] in moving)]
            self.flat_subject = derive_hvp(self.written, wrt)
        flat = self.written.model
        self.dims = default_dims(flat, sizes=_SIZES)
        self.sizes = {flat.dims[n]: s for n, s in self.dims.items()}
        self.variables = tuple(sorted({str(v) for index in self.derivation.index_of.values()
                                       for v in (index if isinstance(index, sp.Tuple)
                                                 else (index,))}))
        self.made = {}

    def __call__(self, latex, b, p):
        if (latex, b, p) not in self.made:
            self.made[latex, b, p] = self._made(latex, b, p)
        return self.made[latex, b, p]

    def _made(self, latex, b, p):
        d, flat, notation = self.derivation, self.written.model, self.notation
        binding = Binding(b)
        values = initialised(flat, sample_values(flat, self.dims, p))
        evaluator = values_of(self.flat_subject, values, self.sizes, binding, p)
        if self.hvp:
            _every_tangent(self.written, self.flat_subject, evaluator)
        names = loop_hvp_names(self.hvp, latex, notation) if self.hvp else \
            loop_names(d, latex, notation)
        printer = (LoopLatexPrinter if latex else LoopTextPrinter)(names, notation,
                                                                  d.model.objective)
        members = _Members(flat, evaluator)
        families = _families(d, self.hvp, self.written, members, printer, evaluator, binding)
        vocabulary = printed_vocabulary(self.flat_subject, latex, notation, evaluator, binding,
                                        self.sizes)
        return vocabulary, Indices(families, self.variables, self.lengths)


def prove_printed_loops(derivation, lengths=None, formats=("text", "LaTeX", "Markdown"),
                        notation=None, bindings=(0, 1), points=(0,), documents=None):
    """Read back every formula printed for a derivation with loops, at `lengths`.

    Parameters
    ----------
    derivation : LoopDerivation or LoopHVP
        A derivation with loops, or its H v (the second-order documents are read).
    lengths : dict of str to int, optional
        The lengths to read at (:data:`~symbackprop.derivation.recurrences.CHECK_LENGTH`
        for each not given).
    formats : tuple of str
        Which documents: ``"text"``, ``"LaTeX"``, ``"Markdown"``, ``"HTML"`` (the web
        page's formulas, their TeX annotations, each under its loop's heading).
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
    printed formulas: text 16/16 read back equal
    """
    notation = notation or Notation()
    settings = _Settings(derivation, lengths, notation)
    report = ReadbackReport()
    documents = documents or _documents(derivation, formats, notation)
    for fmt, (document, latex) in documents.items():
        report.counts[fmt] = 0
        equations = (page_equations(document, "hvp" if _is_hvp(derivation) else "backprop")
                     if fmt == "HTML" else printed_equations(document, latex))
        for equation in equations:
            at = _at_every_index(equation.ranges, settings.lengths)
            for side in equation.sides:
                if at == [] or is_definition(side, settings(latex, 0, 0)[0]):
                    continue  # an empty range (t = T - 1, …, 1 at T = 1): nothing is claimed
                report.counts[fmt] += 1
                why = _first_failure(equation, side, at,
                                     [settings(latex, b, p) for b in bindings for p in points])
                if why:
                    report.failures.append((fmt, f"{equation.lhs} = {side}  "
                                                 f"({equation.where}{why[0]})", why[1]))
    return report


def _first_failure(equation, side, at, settings):
    """(where, why) of the first index and setting that read `side` wrong, else None."""
    if at is None:
        return "", "its range cannot be read"
    return first_failure(_verdicts(equation, side, at, settings))


def _verdicts(equation, side, at, settings):
    for bound in at:
        where = ", ".join(f"{k} = {v}" for k, v in bound.items())
        for vocabulary, indices in settings:
            def reader(formula, vocabulary, indices=indices, bound=bound):
                return read_at(formula, vocabulary, indices, bound)
            yield (f", at {where}" if where else ""), why_wrong(equation.lhs, side, vocabulary,
                                                                   reader)
