"""Whole derivations as documents: Unicode text, LaTeX, Markdown.

A document is data, a :class:`Document` of :class:`Section` s (a heading, then
:class:`Equation` s or prose), built once per kind of derivation: backpropagation
(the forward equations, one block per node in reverse topological order with its
generic chain-rule line, ``prod(dJ/dchild, dchild/dnode)`` a consumer, and its
result, then the params' gradients) or second order (with the directions, the
tangents ``R{...}`` and H v).  One renderer per format prints either: how LaTeX
sets a section is a field of the section.  A :class:`~symbackprop.printing.names.Notation`
sets the lecturer's choices; only :mod:`symbackprop.printing.printers` prints expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..derivation.program import needed_steps
from ..derivation.reverse import adjoint_symbol
from ..errors import visible
from ..language.spelling import latex_text
from ..primitives.matrix_functions import SecondPartial
from .line_breaks import LINE_WIDTH, broken_sum, width
from .memory import memory_report
from .names import (Notation, adjoint_name, display_names, domain_statements,
                    hvp_display_names, notation_notes, shape_latex, shape_text)
from .printers import MatrixLatexPrinter, TextPrinter
from .words import memory_words, phrase

__all__ = ["text", "latex", "markdown", "hvp_text", "hvp_latex", "hvp_markdown",
           "STANDALONE_PREAMBLE"]

#: The packages a standalone document (and a fragment's host) needs.
STANDALONE_PREAMBLE = "\\usepackage{amsmath}\n\\usepackage{amssymb}\n"
#: What a document in Chinese adds (it compiles with XeLaTeX).
CHINESE_PREAMBLE = "\\usepackage{ctex}\n"


@dataclass(frozen=True)
class Equation:
    """``lhs = chain = result = substituted  ∈ shape``, printed; an empty part is not shown."""

    lhs: str
    result: str
    chain: tuple = ()  # the generic form's summands: prod(∂J/∂o, ∂o/∂h) a consumer, or R{...}
    substituted: str | None = None  # the result with the adjoints it reads substituted
    shape: str = ""  # "  ∈ ℝ^h", " \\in \\mathbb{R}^{h}" or ""
    keys: tuple = ()  # the graph's nodes it is about: a variable, its adjoint, a tangent


@dataclass(frozen=True)
class Section:
    """A heading, then equations or prose notes; the flags say how LaTeX sets the equations."""

    heading: str
    equations: tuple = ()
    notes: tuple = ()  # prose: a line each in text, one paragraph in LaTeX
    wrap: bool = True  # a long result breaks over rows (not a forward row: the model's line)
    own_displays: bool = False  # a page may break between equations, never inside one
    chain_if_fits: bool = False  # a chain form too long for the line is left out
    boxed: bool = False  # a summary: each equation in a box
    subheading: bool = False  # part of the section before: a loop's heading, or none


@dataclass(frozen=True)
class Document:
    """What a derivation's document says, before any format."""

    subject: str  # the first line of a LaTeX fragment says it
    title: str  # a standalone document's title, before the model's file name
    filename: str
    sections: tuple
    lang: str = "en"  # the language of its words (printing/words.py)


class _Writer:
    """Prints the parts of one derivation (and of its H v derivation, if given) for a format."""

    def __init__(self, derivation, latex, notation, hvp=None):
        self.d, self.hvp, self.model = derivation, hvp, derivation.model
        self.notation, self.latex = notation, latex
        names = (display_names(derivation, latex, notation) if hvp is None else
                 hvp_display_names(hvp, latex, notation))
        self.print = (MatrixLatexPrinter if latex else TextPrinter)(names, notation).doprint
        self.name = {n: names[("var", n)] for n in self.model.variables}

    def heading(self, key, **fields):
        """What `key` says (:func:`~symbackprop.printing.words.phrase`) in the notation's
        language, in this format: a terminal's heading is short, an article's a sentence."""
        return phrase(key, self.notation.lang, self.latex, **fields)

    def in_shape(self, name):
        if not self.notation.shapes:
            return ""
        shape = self.model.variables[name].shape
        return (f" \\in {shape_latex(shape, self.print)}" if self.latex else
                f"  ∈ {shape_text(shape, self.print)}")

    def adjoint(self, wrt):
        """dJ/dwrt, from the printed names."""
        return adjoint_name(self.name[self.model.objective], self.name[wrt], self.latex,
                            self.notation)

    def local(self, of, wrt):
        """d(of)/d(wrt), a local derivative: always written with ∂, as the textbook does."""
        return adjoint_name(self.name[of], self.name[wrt], self.latex, Notation())

    def prod(self, term, node):
        first, local = self.adjoint(term.consumer), self.local(term.consumer, node)
        return (f"\\operatorname{{prod}}{{\\left({first}, {local}\\right)}}" if self.latex else
                f"prod({first}, {local})")

    def tangent(self, text):
        """R{text}: the derivative of printed `text` along the directions."""
        return f"\\mathcal{{R}}\\left\\{{{text}\\right\\}}" if self.latex else f"R{{{text}}}"


# --- what each kind of document holds ------------------------------------------------------

def _forward(w):
    """The forward pass: the model's assignments with their shapes; first, what the
    declared domains say, if any."""
    rows = tuple(Equation(w.name[n], w.print(e), shape=w.in_shape(n), keys=(n,))
                 for n, e in w.d.forward.items())
    given = domain_statements(w.model, {("var", n): s for n, s in w.name.items()}, w.latex,
                              lang=w.notation.lang)
    domains = [Section(w.heading("domains"), notes=tuple(given))] if given else []
    return *domains, Section(w.heading("forward"), rows, wrap=False)


def wanted_gradients(roles, order, notation):
    """The variables whose gradients the notes lead to: the notation's `wrt` (the params by
    default; every input for a model without params), and the inputs if asked.

    `roles` maps each variable to its role, in declaration order; `order` holds those
    with an adjoint."""
    inputs = [n for n, role in roles.items() if role == "input" and n in order]
    if notation.wrt is None:
        wanted = [n for n, role in roles.items() if role == "param" and n in order] or inputs
    else:
        for name in notation.wrt:
            if name not in order:
                why = ("it does not vary with an input or param, or does not reach the objective"
                       if name in roles else "it is not a variable of the model")
                raise ValueError(f"no gradient of {name!r} to show: {why}")
        wanted = list(notation.wrt)
    return wanted + [n for n in inputs if notation.inputs and n not in wanted]


def gradients_listed(roles, wanted, notation):
    """The gradients the summary lists: every param by default (0 for one the objective does
    not read), then the wanted inputs; with `wrt`, those asked for."""
    params = [n for n, role in roles.items() if role == "param"] if notation.wrt is None else []
    return params + [n for n in wanted if n not in params]


def _shown_locals(step):
    """The terms of `step` whose consumer's own gradient is shown as a step: those of a
    scalar consumer, in a step that sums several terms."""
    return [t for t in step.terms if t.local is not None] if len(step.terms) > 1 else []


def _local_gradients(w, consumer, steps):
    """The gradients of a scalar `consumer` (a regularizer s) that summed `steps` read, each
    shown as a step of its own before the first of them: ∂s/∂W1 = λ W1, as the textbook's
    third step; one that prints as its own name (∂L/∂o of an abstract ℓ) is left out."""
    out, declared = [], list(w.model.variables)
    for step in sorted(steps, key=lambda s: declared.index(s.node)):  # as the model lists them
        for term in _shown_locals(step):
            if term.consumer == consumer:
                lhs, result = w.local(consumer, step.node), w.print(term.local)
                if result != lhs:
                    out.append(Equation(lhs, result, shape=w.in_shape(step.node),
                                        keys=(consumer,)))
    return out


def _backward_steps(w, chain, substituted, steps):
    """One equation per backward step of `steps`, the chain-rule form and the substituted one
    if asked; a scalar's own gradients before the first step that sums them."""
    out, too_deep, locals_shown = [], False, set()
    objective = w.model.objective
    for step in steps:
        if not step.terms:
            continue  # the seed dJ/dJ = 1 is said in the heading
        for term in _shown_locals(step):
            if term.consumer not in locals_shown:
                locals_shown.add(term.consumer)
                out += _local_gradients(w, term.consumer, steps)
        # prod(∂J/∂J, ∂J/∂L) says nothing: ∂J/∂L is written directly, as the textbook does
        vacuous = len(step.terms) == 1 and step.terms[0].consumer == objective
        terms = tuple(w.prod(t, step.node) for t in step.terms) if chain and not vacuous else ()
        shown = None
        if substituted and not too_deep:
            try:
                full = w.d.gradient(step.node)
            except ValueError:  # too deep to substitute: the named forms stand
                full, too_deep = step.result, True
            if full != step.result:
                shown = w.print(full)
        out.append(Equation(w.print(step.adjoint), w.print(step.result), terms, shown,
                            w.in_shape(step.node), (step.node, step.adjoint.name)))
    return tuple(out)


def _notation(w, results):
    """A section saying what Φ, φ and max's indicators are, where the formulas use them."""
    notes = notation_notes([*w.d.forward.values(), *results], w.print, w.latex,
                           w.notation.lang)
    return [Section(w.heading("notation"), notes=tuple(notes))] if notes else []


def _backprop_document(w):
    """Forward, Backward (the steps on the way to the wanted gradients), the gradients."""
    seed = w.adjoint(w.model.objective)
    roles = {n: v.role for n, v in w.model.variables.items()}
    wanted = wanted_gradients(roles, w.d.order, w.notation)
    steps = needed_steps(w.d, wanted)
    backward = Section(w.heading("backward", seed=seed),
                       _backward_steps(w, w.notation.prod, w.notation.substituted, steps),
                       own_displays=True)
    listed = gradients_listed(roles, wanted, w.notation)
    # 0 where the objective does not depend on a param
    gradients = tuple(Equation(w.print(w.d.step(n).adjoint), w.print(w.d.step(n).result),
                               keys=(n, w.d.step(n).adjoint.name))
                      if n in w.d.order else Equation(w.adjoint(n), "0", keys=(n,))
                      for n in listed)
    sections = [*_forward(w), backward]
    if gradients:
        only_params = all(roles[n] == "param" for n in listed)
        sections.append(Section(w.heading("gradients" if only_params else "gradients asked"),
                                gradients, boxed=True))
    sections += _notation(w, [s.result for s in steps])
    return Document(w.heading("subject", objective=w.model.objective), w.heading("title"),
                    w.model.filename, tuple(sections), lang=w.notation.lang)


def _hvp_notes(w):
    """What the notation means, said once, in the document's own symbols."""
    if w.latex:
        r, moving = "$\\mathcal{R}\\{\\cdot\\}$", "$\\boldsymbol{W}$"
        moved = "$\\boldsymbol{W} + t\\boldsymbol{V}_{\\boldsymbol{W}}$"
        at, product = "$t$ $= 0$", "$\\boldsymbol{H} \\boldsymbol{v}$"
    else:
        r, moving, moved, at, product = "R{·}", "W", "W + t V_W", "t = 0", "H v"
    notes = [w.heading("r operator", r=r, moving=moving, moved=moved, at=at)]
    fixed = [f"${w.name[n]}$" if w.latex else w.name[n] for n, v in w.model.variables.items()
             if v.declared and n not in w.hvp.directions]
    if fixed:
        notes.append(w.heading("fixed", fixed=w.heading("list").join(fixed)))
    if any(s.result.has(SecondPartial) for s in w.hvp.backward):
        notes.append(w.heading("second partial"))
    notes.append(w.heading("at the end", product=product))
    return tuple(notes)


def _directions(w):
    """The directions, one per moving variable, and the notes on the notation."""
    shown = [(w.print(w.hvp.directions[n]), w.name[n], w.in_shape(n)) for n in w.hvp.directions]
    pairs = [w.heading("direction for", v=v, name=name, shape=shape) for v, name, shape in shown]
    if w.latex:  # in the heading: a display for two short symbols would waste the page
        return Section(w.heading("directions", listed=w.heading("list").join(pairs)),
                       notes=_hvp_notes(w))
    return Section(w.heading("directions"), notes=tuple(pairs) + _hvp_notes(w))


def _tangents(w, which, steps):
    """One equation per tangent step, with what it differentiates, R{...}, if asked."""
    rows = tuple(Equation(w.print(s.symbol), w.print(s.result),
                          (w.tangent(w.print(s.of)),) if w.notation.prod else (),
                          shape=w.in_shape(s.node), keys=(s.symbol.name,)) for s in steps)
    return Section(w.heading(which), rows, own_displays=True, chain_if_fits=True)


def _products(w):
    """H v restricted to each moving variable, named in text (which has no box)."""
    hvp, rows = w.hvp, []
    for n in hvp.wrt:
        step = hvp._backward.get(n)
        lhs = w.print(step.symbol) if step is not None else w.tangent(w.adjoint(n))
        rows.append(Equation(w.heading("product of", name=w.name[n], lhs=lhs),
                             w.print(hvp.hvp(n)),
                             keys=() if step is None else (step.symbol.name,)))
    return Section(w.heading("products"), tuple(rows), boxed=True)


def _hvp_document(w):
    """Forward, Backward, Directions, Forward and Backward tangents, Hessian-vector products."""
    hvp, model, seed = w.hvp, w.model, w.adjoint(w.model.objective)
    steps = needed_steps(w.d, hvp.wrt)  # the adjoints the tangents read
    backward = Section(w.heading("backward, short", seed=seed),
                       _backward_steps(w, chain=False, substituted=False, steps=steps))
    sections = (*_forward(w), backward, _directions(w),
                _tangents(w, "forward tangents", hvp.forward),
                _tangents(w, "backward tangents", hvp.backward), _products(w)) + tuple(
                    _notation(w, [s.result for s in steps]
                              + [s.result for s in hvp.forward + hvp.backward]))
    return Document(w.heading("hvp subject", objective=model.objective), w.heading("hvp title"),
                    model.filename, sections, lang=w.notation.lang)


# --- one renderer a format, for either kind ------------------------------------------------

def _text(document, appendix=()):
    """`document` as text: a heading a section, an indented line an equation or a note."""
    lines = []
    for section in document.sections:
        indent = "  "
        if section.subheading:
            if section.heading:
                lines.append(f"  {section.heading}")
                indent = "    "
        else:
            lines += ["", section.heading] if lines else [section.heading]
        for e in section.equations:
            chain = f"{' + '.join(e.chain)} = " if e.chain else ""
            lines.append(f"{indent}{e.lhs} = {chain}{e.result}{e.shape}")
            if e.substituted:
                lines.append(f"{indent}{' ' * len(e.lhs)} = {e.substituted}")
        lines += [f"{indent}{note}" for note in section.notes]
    return "\n".join([*lines, *appendix]) + "\n"


def _latex_rows(equation, section):
    """The aligned rows of one equation, as `section` sets them."""
    lhs, chain, shape = equation.lhs, equation.chain, equation.shape
    if section.boxed:  # a long result breaks over aligned lines inside its box
        broken = broken_sum(equation.result, f"{lhs} &= ", "&\\quad ")
        boxed = (" \\\\ ".join(broken).join(["\\begin{aligned}", "\\end{aligned}"])
                 if len(broken) > 1 else f"{lhs} = {equation.result}")
        return [f"  &\\boxed{{{boxed}}}"]
    if not section.wrap:
        return [f"  {lhs} &= {equation.result}{shape}"]
    if section.chain_if_fits and width(lhs + " + ".join(chain)) > LINE_WIDTH + 6:
        chain = ()
    rows = []
    if chain:
        # one consumer per line when there are several, so long steps fit the page
        rows += ([f"  {lhs} &= {chain[0]}", *(f"  &\\quad + {c}" for c in chain[1:])]
                 if len(chain) > 2 else [f"  {lhs} &= " + " + ".join(chain)])
    rows += broken_sum(equation.result, "  &= " if rows else f"  {lhs} &= ", "  &\\quad ")
    if equation.substituted:
        rows.append(f"  &= {equation.substituted}{shape}")
    else:
        rows[-1] += shape
    return rows


def _latex_section(section, display, pages=False):
    """A section's body: its notes as a paragraph, or its equations in one display.

    On `pages` (LaTeX, not Markdown), the rows of one equation are joined by ``\\\\*``, so
    that a page breaks between the steps of a derivation, never inside one, and the steps
    are set a little apart."""
    if section.notes:
        return " ".join(section.notes) + "\n\\medskip"
    rows = [_latex_rows(equation, section) for equation in section.equations]
    steps = pages and section.own_displays
    within, between = (" \\\\*\n", " \\\\[3pt]\n") if steps else (" \\\\\n",) * 2
    return display(between.join(within.join(own) for own in rows))


def _align(body):
    return "\\begin{align*}\n" + body + "\n\\end{align*}"


def _latex(document, standalone, appendix=()):
    """`document` as a LaTeX fragment, or as a whole document; `appendix` ends the fragment."""
    # a line break in the file name would end the comment and start LaTeX code: it is shown
    # escaped, as every control character is
    filename = visible(document.filename.replace("\n", "\\n").replace("\r", "\\r"))
    parts = ["% " + phrase("derived", document.lang, True, subject=document.subject,
                           filename=filename)]
    for section in document.sections:
        if not section.subheading:
            parts.append(f"\\par\\noindent\\textbf{{{section.heading}}}")
        elif section.heading:
            parts.append(f"\\par\\noindent {section.heading}")
        if section.equations or section.notes:
            parts.append(_latex_section(section, _align, pages=True))
    fragment = "\n".join([*parts, *appendix]) + "\n"
    if not standalone:
        return fragment
    title = document.filename.replace("\\", "/").split("/")[-1]
    title = latex_text(title)  # a name such as a^b.sbp prints as itself, and calls nothing
    heading = phrase("standalone title", document.lang, True, title=document.title)
    return ("\\documentclass{article}\n" + STANDALONE_PREAMBLE +
            (CHINESE_PREAMBLE if document.lang == "zh" else "") +
            "\\allowdisplaybreaks\n" +  # between the steps of a display (\\* within one)
            "\\begin{document}\n"
            f"\\section*{{{heading}\\texttt{{{title}}}}}\n" + fragment +
            "\\end{document}\n")


def _markdown_display(body):
    return "$$\n\\begin{aligned}\n" + body + "\n\\end{aligned}\n$$"


def _markdown(document, appendix=()):
    """`document` as Markdown: a bold heading a section, its body in ``$$`` blocks."""
    parts = []
    for section in document.sections:
        if not section.subheading:
            parts += [f"**{section.heading}**", ""]
        elif section.heading:
            parts += [section.heading, ""]
        if section.notes:  # a paragraph (\medskip is LaTeX's, not Markdown's)
            parts += [" ".join(section.notes), ""]
        elif section.equations:
            parts += [_latex_section(section, _markdown_display), ""]
    return "\n".join([*parts, *appendix])


# the renderers, for the documents of other modules (derivations with loops)
render_text, render_latex, render_markdown = _text, _latex, _markdown
# what a document says, before any format, for the renderers of other modules (the page)
Writer, backprop_document, hvp_document = _Writer, _backprop_document, _hvp_document


# --- what backward keeps (first order) --------------------------------------------------------

def _memory_parts(w, dims, dtype, quotes):
    """The memory section's prose, table rows (cells in LaTeX) and peak formulas."""
    names = display_names(w.d, True, w.notation)
    j = names[("var", w.model.objective)]
    adjoints = {adjoint_symbol(w.model, n): names[w.d.symbols[n]] for n in w.model.variables}

    def inline_adjoint(symbol):
        # dJ/dz inline: a \frac in a table row is too cramped to read
        inner = adjoints.get(symbol)
        if inner is None:
            return None
        return (f"\\nabla_{{{inner}}} {j}" if w.notation.nabla else
                f"\\partial {j} / \\partial {inner}")

    report = memory_report(w.d, latex=True, notation=w.notation, name=inline_adjoint)
    m = memory_words(w.notation.lang)
    head = m["head"][:2] + (m["head"][2:3] if dims else []) + m["head"][3:]
    sizes = report.bytes_of(dims, dtype) if dims else None
    body = []
    for v in report.values:  # the role is plain from the name (an input, an adjoint)
        cells = [f"${v.name}$", f"${report.show(v.elements)}$"]
        if dims:
            cells.append(sizes[v.name])
        # one $...$ per reader: the line may break between them
        cells.append(", ".join(f"${r}$" for r in v.read_by_backward) or "--")
        for freed in (v.inference_freed_after, v.training_freed_after):
            cells.append(m["caller"] if v.role in ("input", "param", "const")
                         else m["returned"] if freed == "(returned)" else
                         f"${freed}$" if freed else "--")
        body.append(cells)
    kept = m["list"].join(f"${v.name}$" for v in report.values if v.kept_for_backward)
    prose = m["prose"].format(kept=kept or m["nothing"], opening=quotes[0], closing=quotes[1])
    if any(v.role.endswith("(shared)") for v in report.values):
        prose += m["shared"]
    if report.abstract:
        prose += m["abstract"].format(functions=m["list"].join(f"${f}$" for f in report.abstract))
    peaks = []
    for which in ("inference", "training"):
        own = report.own_peaks(which)
        rows_ = [f"  \\text{{{m[which]}}} &= \\underbrace{{{sp.latex(report.held_by_caller)}}}"
                 f"_{{\\text{{{m['caller']}}}}}"]
        candidates = [sp.latex(e) for e in own]
        if sum(map(width, candidates)) > LINE_WIDTH - 20:
            # one candidate a line: a long max does not fit the page
            rows_.append(f"  &\\quad + \\max\\bigl({candidates[0]},")
            rows_ += [f"  &\\qquad {c}," for c in candidates[1:-1]]
            rows_.append(f"  &\\qquad {candidates[-1]}\\bigr)")
        elif own != [0]:
            most = candidates[0] if len(own) == 1 else \
                f"\\max\\left({', '.join(candidates)}\\right)"
            rows_.append(f"  &\\quad + {most}")
        if dims:
            count = f"{report.bytes(which, dims, dtype):,}".replace(",", "{,}")
            rows_.append(f"  &= {count} \\text{{{m['bytes in'].format(dtype=dtype)}}}")
        peaks.append(" \\\\\n".join(rows_))
    if dims:
        sizes = ", ".join(f"{k} = {v}" for k, v in dims.items())
        prose += m["bytes at"].format(dtype=dtype, sizes=sizes)
    return prose, head, body, peaks


def _latex_memory(w, dims, dtype):
    prose, header, rows, peaks = _memory_parts(w, dims, dtype, ("``", "''"))
    # the readers' column wraps: a const read by every layer's step is a long list
    columns = "l" * (len(header) - 3) + "p{0.3\\textwidth}ll"
    # the two "frees after" columns under one heading: the table fits the page
    m = memory_words(w.notation.lang)
    first = " & ".join(header[:-2]) + f" & \\multicolumn{{2}}{{l}}{{{m['freed after']}}}"
    second = " & " * (len(header) - 2) + f"{m['inference']} & {m['training']}"
    table = [f"\\begin{{tabular}}{{{columns}}}", first + " \\\\", second + " \\\\ \\hline"]
    table += [" & ".join(row) + " \\\\" for row in rows]
    return [f"\\par\\noindent\\textbf{{{m['heading']}}} " + prose,
            "\\begin{center}\\footnotesize\\setlength{\\tabcolsep}{4pt}", *table,
            "\\end{tabular}", "\\end{center}",
            f"\\noindent {m['peak']}", _align(" \\\\\n".join(peaks))]


def _markdown_memory(w, dims, dtype):
    prose, header, rows, peaks = _memory_parts(w, dims, dtype, ('"', '"'))
    m = memory_words(w.notation.lang)
    return [f"**{m['heading']}** " + prose, "",
            "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows),
            "", m["peak"], "", _markdown_display(" \\\\\n".join(peaks)), ""]


def text(derivation, memory=False, dims=None, dtype="float64", **options):
    """The derivation as Unicode text for a terminal.

    Parameters
    ----------
    derivation : Derivation
    memory : bool
        Add the section "What backward keeps" (:func:`symbackprop.printing.memory.memory_report`).
    dims : dict of str to int, optional
        With `memory`: sizes at which to price the values in bytes.
    dtype : str
        With `memory` and `dims`: ``"float64"`` (the default), ``"float32"``, ...
    **options
        Fields of :class:`~symbackprop.printing.names.Notation` (``prod``,
        ``shapes``, ``substituted``, ``nabla``).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    >>> print(text(d, prod=False, shapes=False).split("Backward")[1])  # doctest: +ELLIPSIS
     (reverse topological order, from ∂J/∂J = 1)
      ∂J/∂L = 1
      ∂J/∂s = 1
      ∂J/∂o = ∂L/∂o
      ∂s/∂W1 = λ W1
      ∂s/∂W2 = λ W2
      ∂J/∂W2 = (∂J/∂o) hᵀ + λ W2
    ...
    """
    w = _Writer(derivation, False, Notation(**options))
    report = memory_report(derivation).text(dims, dtype) if memory else ""
    return _text(_backprop_document(w), ["", *report.rstrip("\n").splitlines()] if memory else ())


def latex(derivation, standalone=False, memory=False, dims=None, dtype="float64", **options):
    """The derivation as LaTeX: a fragment to ``\\input``, or a whole document.

    The fragment needs ``amsmath`` and ``amssymb`` (:data:`STANDALONE_PREAMBLE`).

    Parameters
    ----------
    derivation : Derivation
    standalone : bool
        A complete document that compiles with ``pdflatex``.
    memory, dims, dtype
        As in :func:`text`: the section "What backward keeps".
    **options
        Fields of :class:`~symbackprop.printing.names.Notation`.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    >>> tex = latex(d, bold="mathbf", transpose="T")
    >>> "\\\\frac{\\\\partial J}{\\\\partial \\\\mathbf{o}} \\\\mathbf{h}^{T}" in tex
    True
    """
    w = _Writer(derivation, True, Notation(**options))
    appendix = _latex_memory(w, dims, dtype) if memory else ()
    return _latex(_backprop_document(w), standalone, appendix)


def markdown(derivation, memory=False, dims=None, dtype="float64", **options):
    """The derivation as Markdown with ``$$`` blocks (Jupyter, GitHub, MkDocs with KaTeX).

    Options as in :func:`latex`.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> md = markdown(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> md.splitlines()[0], "\\\\begin{aligned}" in md
    ('**Forward pass.**', True)
    """
    w = _Writer(derivation, True, Notation(**options))
    appendix = _markdown_memory(w, dims, dtype) if memory else ()
    return _markdown(_backprop_document(w), appendix)


def hvp_text(hvp, **options):
    """The Hessian-vector products of an HVP derivation as Unicode text.

    Parameters
    ----------
    hvp : HVPDerivation
    **options
        Fields of :class:`~symbackprop.printing.names.Notation`; ``prod`` shows what
        each tangent differentiates, ``R{...}``.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> print(hvp_text(hvp, shapes=False).split("Backward tangents")[1])  # doctest: +ELLIPSIS
     (reverse topological order)
      R{∂J/∂o} = R{∂L/∂o} = (∂²L/∂o∂oᵀ) R{o}
    ...
      R{∂J/∂z} = R{∂J/∂h ⊙ φ'(z)} = R{∂J/∂h} ⊙ φ'(z) + ∂J/∂h ⊙ φ''(z) ⊙ R{z}
    ...
    """
    return _text(_hvp_document(_Writer(hvp.derivation, False, Notation(**options), hvp)))


def hvp_latex(hvp, standalone=False, **options):
    """The Hessian-vector products of an HVP derivation as LaTeX (a fragment, or a document).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> tex = hvp_latex(sbp.derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp"))))
    >>> "\\\\phi''{\\\\left(\\\\boldsymbol{z}\\\\right)}" in tex
    True
    """
    w = _Writer(hvp.derivation, True, Notation(**options), hvp)
    return _latex(_hvp_document(w), standalone)


def hvp_markdown(hvp, **options):
    """The Hessian-vector products of an HVP derivation as Markdown with ``$$`` blocks."""
    return _markdown(_hvp_document(_Writer(hvp.derivation, True, Notation(**options), hvp)))
