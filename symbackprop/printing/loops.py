"""Derivations with loops in print: recurrences as lecture notes write them.

A family's member prints with its index: a subscript for time, ``h_t``,
``h_{t-1}``; a superscript in parentheses for a layer, ``W^{(l)}``, ``z^{(l+1)}``
(a family indexed by ``l``).  A width of a family of dimensions is a subscript,
``n_l``.  A sum over an index is ``Σ_{t=1}^{T}``.  The backward derivation
prints each family's pieces as the book does: a boundary at one index
(``∂L/∂h_T``), then the recurrence under its heading, ``for t = T−1, …, 1:``.

The document is built from the data of :mod:`symbackprop.derivation.recurrences`
into the :class:`~symbackprop.printing.documents.Document` every derivation
prints through, so text, LaTeX and Markdown come from one description.
"""

from __future__ import annotations

import dataclasses

import sympy as sp
from sympy.matrices.expressions import MatrixSymbol

from ..derivation.program import needed_steps
from ..language.model import Variable
from ..language.spelling import default_latex, unicode_name
from ..primitives.members import IndexSum, Member, ScalarMember, members_in
from .documents import (Document, Equation, Section, render_latex, render_markdown,
                        gradients_listed, render_text, wanted_gradients)
from .names import (BOLD, TRANSPOSE, Notation, adjoint_name, domain_statements,
                    normal_spellings, notation_notes, shape_latex, shape_text, variable_name)
from .printers import MatrixLatexPrinter, TextPrinter
from .words import phrase

__all__ = ["loop_text", "loop_latex", "loop_markdown", "loop_names", "LoopTextPrinter",
           "LoopLatexPrinter", "loop_hvp_text", "loop_hvp_latex", "loop_hvp_markdown",
           "loop_hvp_names", "loop_document", "loop_hvp_document"]

_SUPERSCRIPTS = dict(zip("0123456789+-=()lLtT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ˡᴸᵗᵀ"))

#: Index variables that number layers: their families print the index as a superscript.
LAYER_INDICES = ("l",)


def _index(expr):
    """An index as it is written: ``t+1``, ``T-1``, ``T+t-i``: the terms added first, then the
    subtracted ones, then the number."""
    if isinstance(expr, (sp.Tuple, tuple)):  # K[o, c]: K_{o,c}
        return ",".join(_index(part) for part in expr)
    expr = sp.expand(sp.sympify(expr, strict=True))
    if not expr.is_Add:
        return str(expr).replace(" ", "")
    number = sum((t for t in expr.args if t.is_Number), sp.Integer(0))
    terms = sorted((t for t in expr.args if not t.is_Number), key=str)
    added = [t for t in terms if not t.could_extract_minus_sign()]
    taken = [-t for t in terms if t.could_extract_minus_sign()]
    text = "+".join(str(t) for t in added) + "".join(f"-{t}" for t in taken)
    if number:
        text += f"{'+' if number > 0 else '-'}{abs(number)}"
    return text.replace(" ", "")


class _LoopPrinting:
    """What both printers add for loops: members, sums over an index, widths of layers."""

    def _print(self, expr, **kwargs):
        # a width n[l]: SymPy's Indexed prints itself as n[l] before any _print_ method
        if isinstance(expr, sp.Indexed):
            return self._print_Indexed(expr)
        return super()._print(expr, **kwargs)

    def _member_parts(self, expr):
        return self.names[("family", expr.family)], _index(expr.index), \
            self.names[("layered", expr.family)]

    def _adjoint_family(self, expr):
        prefix = f"∂{self.objective}/∂"
        return expr.family[len(prefix):] if expr.family.startswith(prefix) else None

    def _print_Member(self, expr):
        family = expr.family
        if family[:2] in ("R{", "V{") and family.endswith("}"):  # a tangent, a direction
            inner = self._print(type(expr)(family[2:-1], *expr.args[1:]))
            if family[0] == "R":
                return self._tangent(inner)
            # V for a matrix, v for a vector or a number, as for a model without loops
            kind = "scalar" if not isinstance(expr, Member) else \
                "matrix" if expr.shape[1] != 1 else "vector"
            return self._direction(inner, kind)
        wrt = self._adjoint_family(expr)
        if wrt is not None:
            inner = self._print(type(expr)(wrt, *expr.args[1:]))
            return adjoint_name(self.names[("var", self.objective)], inner, self.latex_names,
                                self.notation)
        base, index, layered = self._member_parts(expr)
        return self._indexed(base, index, layered)

    _print_ScalarMember = _print_Member

    def _plain_operand(self, arg):
        # a member of a family is a name, c_t as c is: 1 - c_t^⊙2, not 1 - (c_t)^⊙2
        if isinstance(arg, Member):
            return self._adjoint_family(arg) is None
        return super()._plain_operand(arg)

    def _is_adjoint(self, arg):
        if isinstance(arg, (Member, ScalarMember)):
            return self._adjoint_family(arg) is not None
        return super()._is_adjoint(arg)

    def _compound(self, arg):
        return isinstance(arg, (IndexSum, sp.Sum)) or super()._compound(arg)

    def _print_Indexed(self, expr):  # a width n[l]
        index = _index(expr.indices[0])
        return f"{self._plain_name(str(expr.base))}_{self._group(index)}"

    def _print_IndexSum(self, expr):
        var, lo, hi = expr.limits
        body = expr.body
        text = self._print(body)
        if isinstance(body, (sp.MatAdd, sp.Add)):
            text = self._parens(text)
        return f"{self._sigma(self._print(var), self._print(lo), self._print(hi))} {text}"

    def _print_Sum(self, expr):
        if len(expr.limits) > 1:  # SymPy joins nested sums: Σ_o Σ_c, the last limit outside
            var, lo, hi = expr.limits[-1]
            inner = sp.Sum(expr.function, *expr.limits[:-1])
            return f"{self._sigma(self._print(var), self._print(lo), self._print(hi))} " \
                f"{self._print(inner)}"
        (var, lo, hi), = expr.limits
        text = self._print(expr.function)
        if expr.function.is_Add:
            text = self._parens(text)
        return f"{self._sigma(self._print(var), self._print(lo), self._print(hi))} {text}"

    def _print_Transpose(self, expr):
        if isinstance(expr.arg, Member) and self._adjoint_family(expr.arg) is None:
            return self._transposed_member(self._print(expr.arg))
        return super()._print_Transpose(expr)

    def _print_Mul(self, expr):
        sums = [f for f in expr.args if isinstance(f, sp.Sum)]
        if len(sums) == 1:  # (1/T) Σ ..., the sum last: it reaches to the end
            rest = sp.Mul(*(f for f in expr.args if f is not sums[0]))
            return f"{self._coefficient(rest)} {self._print(sums[0])}"
        return super()._print_Mul(expr)

    def _print_MatAdd(self, expr):
        return self._summed_last(list(expr.args))

    def _print_Add(self, expr, order=None):
        terms = self._as_ordered_terms(expr, order=order)
        if not any(_has_sum(t) for t in terms):
            return super()._print_Add(expr, order)
        return self._summed_last(terms)

    def _summed_last(self, terms):
        # a sum over an index reaches to the end of the line, Σ_t a_t + b might be read as
        # Σ_t (a_t + b): such terms go last, and one before another is bracketed
        terms = [t for t in terms if not _has_sum(t)] + [t for t in terms if _has_sum(t)]
        parts = []
        for i, term in enumerate(terms):
            text = self._print(term)
            if _has_sum(term) and i < len(terms) - 1:
                text = self._parens(text)
            if i and text.startswith("-"):
                parts.append(" - " + text[1:])
            else:
                parts.append((" + " if i else "") + text)
        return "".join(parts)

    def _print_MatPow(self, expr):
        base = self._print(expr.base)
        if not isinstance(expr.base, (Member, MatrixSymbol)) or "^" in base or "ᵀ" in base \
                or "\\top" in base:
            base = self._parens(base)
        return self._power(base, self._print(expr.exp))

    def _print_Partial(self, expr):
        operand = expr.call_args[expr.slot]
        if isinstance(operand, (Member, ScalarMember)) and expr.call_args.count(operand) == 1:
            of = self._function_name(expr.name)
            return self._partial(of, self._print(operand))
        return super()._print_Partial(expr)


class LoopTextPrinter(_LoopPrinting, TextPrinter):
    """Unicode text with members: ``W_hhᵀ (∂L/∂h_{t+1})``, ``z⁽ˡ⁾``."""

    latex_names = False

    def __init__(self, names, notation, objective):
        super().__init__(names, notation)
        self.objective = objective

    def _group(self, index):
        return index if len(index) == 1 else f"{{{index}}}"

    def _plain_name(self, name):
        return unicode_name(name)

    def _indexed(self, base, index, layered):
        if layered:
            text = f"({index})"
            if all(c in _SUPERSCRIPTS for c in text):
                return base + "".join(_SUPERSCRIPTS[c] for c in text)
            return f"{base}^{text}"
        return f"{base}_{self._group(index)}"

    def _transposed_member(self, text):
        return text + "ᵀ"

    def _power(self, base, exponent):
        return f"{base}^({exponent})" if not exponent.isalnum() else f"{base}^{exponent}"

    def _tangent(self, inner):
        return f"R{{{inner}}}"

    def _direction(self, inner, kind):
        # a member's direction is braced, v_{b_o}, as the read-back spells the family
        letter = "V" if kind == "matrix" else "v"
        return f"{letter}_{{{inner}}}"

    def _sigma(self, var, lo, hi):
        return f"Σ_{{{var}={lo}}}^{{{hi}}}"

    def _coefficient(self, rest):
        text = self._print(rest)
        return text if _atom_like(rest) else f"({text})"


class LoopLatexPrinter(_LoopPrinting, MatrixLatexPrinter):
    """LaTeX with members: ``\\boldsymbol{h}_{t-1}``, ``\\boldsymbol{W}^{(l)}``."""

    latex_names = True

    def __init__(self, names, notation, objective):
        super().__init__(names, notation)
        self.objective = objective

    def _group(self, index):
        return f"{{{index}}}"

    def _plain_name(self, name):
        return default_latex(name)

    def _indexed(self, base, index, layered):
        if layered:
            return f"{base}^{{({index})}}"
        if base.endswith("}") and "_{" in base and base.count("{") == base.count("}"):
            head, _, sub = base.rpartition("_{")
            return f"{head}_{{{sub[:-1]},{index}}}"  # W_{hh} at t: W_{hh,t}
        return f"{base}_{{{index}}}"

    def _transposed_member(self, text):
        return f"{{{text}}}{TRANSPOSE[self.notation.transpose]}"

    def _power(self, base, exponent):
        return f"{base}^{{{exponent}}}"

    def _tangent(self, inner):
        return f"\\mathcal{{R}}\\left\\{{{inner}\\right\\}}"

    def _direction(self, inner, kind):
        if kind == "scalar":
            return f"v_{{{inner}}}"
        return f"{BOLD[self.notation.bold]}{{{'V' if kind == 'matrix' else 'v'}}}_{{{inner}}}"

    def _sigma(self, var, lo, hi):
        return f"\\sum_{{{var}={lo}}}^{{{hi}}}"

    def _coefficient(self, rest):
        return self._print(rest)


def _has_sum(term):
    """Whether a term prints as a sum over an index, alone or as the last factor."""
    if isinstance(term, (IndexSum, sp.Sum)):
        return True
    return isinstance(term, (sp.Mul, sp.MatMul)) and any(
        isinstance(f, (IndexSum, sp.Sum)) for f in term.args)


def _atom_like(expr):
    return isinstance(expr, (sp.Symbol, sp.Integer, MatrixSymbol))


def loop_names(derivation, latex, notation=Notation()):
    """How the model's names print: its single values, families, functions."""
    model = derivation.model
    bold = BOLD[notation.bold]
    out = {}
    for name, v in model.variables.items():
        shown = variable_name(v, latex, notation, bold)
        out[derivation.symbol(name)] = out[("var", name)] = shown
    for name, f in model.families.items():
        pseudo = Variable(name, f.role, f.shape, f.latex, f.line, f.col)
        shown = variable_name(pseudo, latex, notation, bold)
        out[("family", name)] = out[("var", name)] = shown
        out[("layered", name)] = str(derivation.index_of[name]) in LAYER_INDICES
    objective = out[("var", model.objective)]
    for name in model.variables:
        out[derivation.adjoint_symbol(name)] = adjoint_name(objective, out[("var", name)],
                                                           latex, notation)
    for name, f in model.functions.items():
        out[("func", name)] = (f.latex or default_latex(name)) if latex else unicode_name(name)
    out.update(normal_spellings(out.values(), latex))
    return out


class _LoopWriter:
    """Prints the parts of one derivation with loops, for one format."""

    def __init__(self, derivation, latex, notation, names=None):
        self.d, self.model, self.latex, self.notation = derivation, derivation.model, latex, \
            notation
        names = loop_names(derivation, latex, notation) if names is None else names
        printer = LoopLatexPrinter if latex else LoopTextPrinter
        self.printer = printer(names, notation, self.model.objective)
        self.print = self.printer.doprint

    def say(self, key, **fields):
        """What `key` says (:func:`~symbackprop.printing.words.phrase`) in the notation's
        language, in this format."""
        return phrase(key, self.notation.lang, self.latex, **fields)

    def shape(self, name, index=None):
        if not self.notation.shapes:
            return ""
        if name in self.model.families:
            shape = self.model.families[name].shape_at(index)
        else:
            shape = self.model.variables[name].shape
        if self.latex:
            return f" \\in {shape_latex(shape, self.print)}"
        return f"  ∈ {shape_text(shape, self.print)}"

    def loop_heading(self, var, first, last):
        """``for t = T−1, …, 1:`` from the first and last values in the order they run;
        ``for o = O, …, 1, c = C, …, 1:`` for the two indices of a family of two."""
        if isinstance(var, sp.Tuple):
            ranges = [self._range(*r) for r in zip(var, first, last)]
            return self.say("loop", ranges=", ".join(ranges))
        return self.say("loop", ranges=self._range(var, first, last))

    def _range(self, var, first, last):
        var, first, last = (self.print(sp.sympify(x, strict=True)) for x in (var, first, last))
        return f"${var} = {first}, \\dots, {last}$" if self.latex else \
            f"{var} = {first}, …, {last}"

    def part(self, step):
        """``(t = T, …, 2)``: the part of its loop a step holds in."""
        var, hi, lo = (self.print(sp.sympify(x, strict=True))
                       for x in (step.index, step.hi, step.lo))
        if self.latex:
            return f", \\quad {var} = {hi}, \\dots, {lo}"
        return self.say("loop part", ranges=f"{var} = {hi}, …, {lo}")

    def prod(self, share, node, index):
        child = self.d.symbol(share.consumer, share.index)
        first = self.print(self.d.adjoint_symbol(share.consumer, share.index))
        local = adjoint_name(self.print(child), self.print(self.d.symbol(node, index)),
                             self.latex, Notation())
        text = (f"\\operatorname{{prod}}{{\\left({first}, {local}\\right)}}" if self.latex else
                f"prod({first}, {local})")
        for r in reversed(share.over):
            sigma = self.printer._sigma(self.print(r.var), self.print(r.lo), self.print(r.hi))
            text = f"{sigma} {text}"
        return text


def _forward(w, rows=None, heading=None):
    """The forward pass (or its tangents), each loop's statements under its heading."""
    items = []
    for target, value, loops in (w.d.forward if rows is None else rows):
        name = getattr(target, "family", None) or str(target)
        shape = w.shape(name, getattr(target, "index", None)) if rows is None else ""
        loop = " ".join(w.loop_heading(r.var, r.lo, r.hi) for r in loops) or None
        about = name[2:-1] if name.startswith("R{") else name  # a tangent is about its value
        items.append((Equation(w.print(target), w.print(value), shape=shape, keys=(about,)),
                      loop))
    sections = _grouped(heading or w.say("forward"), items)
    return [Section(x.heading, x.equations, x.notes, wrap=False, subheading=x.subheading)
            for x in sections]


def _grouped(heading, items):
    """Sections: under `heading` the equations at single indices, each recurrence under its
    loop's heading; (equation, loop heading or None) items, in order."""
    sections, run = [Section(heading, ())], []
    for equation, loop in items:
        if loop is None:
            run.append(equation)
            continue
        if run:
            sections.append(Section("", tuple(run), subheading=True))
            run = []
        if sections[-1].heading == loop and sections[-1].subheading:  # the same loop
            sections[-1] = Section(loop, sections[-1].equations + (equation,), subheading=True)
        else:
            sections.append(Section(loop, (equation,), subheading=True))
    if run:
        sections.append(Section("", tuple(run), subheading=True))
    if not sections[0].equations and len(sections) > 1 and not sections[1].heading:
        sections[0:2] = [Section(sections[0].heading, sections[1].equations)]
    return sections


def _ranged(step):
    """Whether a piece holds over a range of indices (else at one index, or a single value)."""
    if isinstance(step.index, sp.Tuple):
        return True
    return step.index is not None and sp.simplify(step.hi - step.lo) != 0


def _backward(w):
    """The backward steps: a boundary at one index in the run of steps, a recurrence under
    its own heading."""
    seed = w.print(w.d.adjoint_symbol(w.model.objective))
    # a piece that is 0 (∂L/∂o_t for t < T of a loss at o_T) is shown where another step
    # reads its family: ∂L/∂h_{t-1} = Cᵀ (∂L/∂o_{t-1}) + … must not name an unshown value
    steps = needed_steps(w.d, wanted_gradients(w.model.roles, w.d.order, w.notation))
    read = {m.family for s in steps for m in members_in(s.result)}
    items = []
    for step in steps:
        if not step.terms and getattr(step.adjoint, "family", None) not in read:
            continue
        at = {} if step.index is None or _ranged(step) else {step.index: step.lo}
        loop = w.loop_heading(step.index, step.hi, step.lo) if _ranged(step) else None
        equation = _step_equation(w, step, at)
        if step.within is not None:  # a part of a loop's range: said on its line
            loop = w.loop_heading(step.index, step.within[1], step.within[0])
            equation = dataclasses.replace(equation, shape=equation.shape + w.part(step))
        items.append((equation, loop))
    return _grouped(w.say("backward", seed=seed), items)


def _step_equation(w, step, at):
    adjoint = step.adjoint.xreplace(at) if at else step.adjoint
    index = getattr(adjoint, "index", None)
    chain = ()
    # prod(∂L/∂L, ∂L/∂o_t) says nothing: ∂L/∂o_t is written directly, as the textbook does
    vacuous = len(step.terms) == 1 and step.terms[0].consumer == w.model.objective
    if w.notation.prod and not vacuous:
        chain = tuple(w.prod(_shifted(s, at), step.node, index) for s in step.terms)
    result = step.result.xreplace(at) if at else step.result
    return Equation(w.print(step.adjoint.xreplace(at) if at else step.adjoint), w.print(result),
                    chain, shape=w.shape(step.node, index), keys=(step.node,))


def _shifted(share, at):
    if not at or share.index is None:
        return share
    from dataclasses import replace
    return replace(share, index=sp.sympify(share.index, strict=True).xreplace(at))


def _gradients(w):
    rows = []
    roles = w.model.roles
    listed = gradients_listed(roles, wanted_gradients(roles, w.d.order, w.notation), w.notation)
    for name in listed:
        steps = [s for s in w.d.steps if s.node == name]
        for step in steps:
            if step.index is not None and not _ranged(step):  # one index: said at that index
                at = {step.index: step.lo}
                rows.append(Equation(w.print(step.adjoint.xreplace(at)),
                                     w.print(step.result.xreplace(at)), keys=(name,)))
                continue
            result = w.print(step.result)
            pairs = () if step.index is None else tuple(zip(step.index, step.lo, step.hi)) \
                if isinstance(step.index, sp.Tuple) else ((step.index, step.lo, step.hi),)
            for var, lo, hi in pairs:
                result += (f", \\quad {w.print(var)} = {w.print(lo)}, \\dots, "
                           f"{w.print(hi)}" if w.latex else
                           f",  {w.print(var)} = {w.print(lo)}, …, {w.print(hi)}")
            rows.append(Equation(w.print(step.adjoint), result, keys=(name,)))
    if not rows:
        return []
    heading = "gradients" if all(roles[n] == "param" for n in listed) else "gradients asked"
    return [Section(w.say(heading), tuple(rows), boxed=True)]


def _closed_forms(w):
    """Each linear recurrence without the recurrence, and the gradients that read it."""
    rows = []
    for form in w.d.closed_forms:
        index, lo, hi = (w.print(sp.sympify(x, strict=True))
                         for x in (form.index, form.lo, form.hi))
        at = (f", \\quad {index} = {lo}, \\dots, {hi}" if w.latex else
              f",  {index} = {lo}, …, {hi}")
        rows.append(Equation(w.print(form.adjoint), w.print(form.result) + at,
                             keys=(form.node,)))
        rows += [Equation(w.print(w.d.adjoint_symbol(name)), w.print(value), keys=(name,))
                 for name, value in form.gradients.items()]
    if not rows:
        return []
    return [Section(w.say("closed form"), tuple(rows), notes=()),
            Section("", notes=(w.say("closed form note"),), subheading=True)]


def _domains(w):
    """What the declared domains say, as the plain documents do, of a family's members at
    their index (``x_t ∈ ℝ^d, entries > 0.``): a section, if any."""
    members = [(w.print(w.d.symbol(name, f.indices if f.extra else f.index)), f)
               for name, f in w.model.families.items()]
    names = {("var", n): w.print(w.d.symbol(n)) for n, v in w.model.variables.items()
             if v.declared}
    given = domain_statements(w.model, names, w.latex, members, w.print, w.notation.lang)
    return [Section(w.say("domains"), notes=tuple(given))] if given else []


def _document(w):
    sections = _domains(w) + _forward(w) + _backward(w) + _closed_forms(w) + _gradients(w)
    notes = notation_notes([v for _, v, _ in w.d.forward] + [s.result for s in w.d.steps],
                           w.print, w.latex, w.notation.lang)  # what Φ and φ are, max's ties
    sections += [Section(w.say("notation"), notes=tuple(notes))] if notes else []
    if w.d.valid_from > 1:
        note = w.say("valid from", lengths=", ".join(w.model.lengths), first=w.d.valid_from)
        sections.append(Section("", notes=(note,), subheading=True))
    return Document(w.say("subject", objective=w.model.objective), w.say("title"),
                    w.model.filename, tuple(sections), lang=w.notation.lang)


def loop_hvp_names(hvp, latex, notation=Notation()):
    """:func:`loop_names`, and the names of the directions and tangents of single values."""
    d = hvp.derivation
    names = loop_names(d, latex, notation)
    bold = BOLD[notation.bold]
    for name, direction in hvp.directions.items():
        if name in d.model.variables:  # as second_order_names writes them
            inner, shape = names[("var", name)], d.model.variables[name].shape
            letter = "V" if shape.kind == "matrix" else "v"
            base = letter if shape.is_scalar or not latex else f"{bold}{{{letter}}}"
            names[direction] = f"{base}_{{{inner}}}" if latex else f"{letter}_{inner}"
    for step in hvp.forward + hvp.backward:
        if isinstance(step.symbol, (sp.Symbol, MatrixSymbol)):
            inner = step.symbol.name[2:-1]
            shown = names.get(d.adjoint_symbol(inner[inner.index("∂", 1) + 1:])
                              if inner.startswith("∂") else d.symbol(inner))
            names[step.symbol] = (f"\\mathcal{{R}}\\left\\{{{shown}\\right\\}}" if latex
                                  else f"R{{{shown}}}")
    return names


def _hvp_document(hvp, latex, notation):
    """Directions, the forward tangents, the backward tangents (pieces), H v."""
    w = _LoopWriter(hvp.derivation, latex, notation, loop_hvp_names(hvp, latex, notation))
    directions = []
    for name, direction in hvp.directions.items():
        of = w.print(hvp.derivation.symbol(name, getattr(direction, "index", None)))
        directions.append(Equation(w.print(direction), w.say("direction of", name=name, of=of),
                                   keys=(name,)))
    directions = tuple(directions)
    sections = [Section(w.say("loop directions"), directions, wrap=False)]
    rows = [(s.symbol, s.result, s.loops) for s in hvp.forward]
    sections += _forward(w, rows, w.say("loop forward tangents"))
    items = []
    for step in hvp.backward:
        at = {} if step.index is None or _ranged(step) else {step.index: step.lo}
        loop = w.loop_heading(step.index, step.hi, step.lo) if _ranged(step) else None
        items.append((Equation(w.print(step.symbol.xreplace(at)),
                               w.print(step.result.xreplace(at)), keys=(step.node,)), loop))
    sections += _grouped(w.say("loop backward tangents"), items)
    return Document(w.say("hvp subject", objective=w.model.objective), w.say("loop hvp title"),
                    w.model.filename, tuple(sections), lang=w.notation.lang)


def loop_document(derivation, latex, notation):
    """What a derivation with loops says, before any format (the web page renders it)."""
    return _document(_LoopWriter(derivation, latex, notation))


def loop_hvp_document(hvp, latex, notation):
    """What the H v derivation of a model with loops says, before any format."""
    return _hvp_document(hvp, latex, notation)


def loop_hvp_text(hvp, **options):
    """The H v derivation of a model with loops as Unicode text."""
    return render_text(_hvp_document(hvp, False, Notation(**options)))


def loop_hvp_latex(hvp, standalone=False, **options):
    """The H v derivation of a model with loops as LaTeX."""
    return render_latex(_hvp_document(hvp, True, Notation(**options)), standalone)


def loop_hvp_markdown(hvp, **options):
    """The H v derivation of a model with loops as Markdown."""
    return render_markdown(_hvp_document(hvp, True, Notation(**options)))


def loop_text(derivation, **options):
    """A derivation with loops as Unicode text.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop.derivation.recurrences import derive_loops
    >>> d = derive_loops(sbp.load("examples/loops/bptt.sbp"))
    >>> print(loop_text(d, prod=False, shapes=False).split("for t = T - 1")[1].splitlines()[1])
        ∂L/∂h_t = W_qhᵀ (∂L/∂o_t) + W_hhᵀ (∂L/∂h_{t+1})
    """
    return render_text(_document(_LoopWriter(derivation, False, Notation(**options))))


def loop_latex(derivation, standalone=False, **options):
    """A derivation with loops as LaTeX: a fragment, or a whole document."""
    return render_latex(_document(_LoopWriter(derivation, True, Notation(**options))),
                        standalone)


def loop_markdown(derivation, **options):
    """A derivation with loops as Markdown with ``$$`` blocks."""
    return render_markdown(_document(_LoopWriter(derivation, True, Notation(**options))))
