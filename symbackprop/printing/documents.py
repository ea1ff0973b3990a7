"""Whole derivations as documents: Unicode text, LaTeX, Markdown.

Each document has the textbook's form: the forward equations with their
shapes; then, in reverse topological order, one block per node with the
generic chain-rule line (one ``prod(dJ/dchild, dchild/dnode)`` term per
consumer) and the result in matrix form; then a summary of the params'
gradients.  A :class:`~symbackprop.printing.names.Notation` sets the lecturer's
choices.  Only the printers of :mod:`symbackprop.printing.printers` print expressions.
"""

from __future__ import annotations

import re

import sympy as sp

from ..derivation.reverse import adjoint_symbol
from .names import Notation, adjoint_name, display_names, shape_latex, shape_text
from .printers import MatrixLatexPrinter, TextPrinter

__all__ = ["text", "latex", "markdown", "hvp_text", "hvp_latex", "hvp_markdown",
           "STANDALONE_PREAMBLE"]

#: The packages a standalone document (and a fragment's host) needs.
STANDALONE_PREAMBLE = "\\usepackage{amsmath}\n\\usepackage{amssymb}\n"


class _Writer:
    """The parts of a derivation document, printed once for every format."""

    def __init__(self, derivation, latex, notation):
        self.d = derivation
        self.model = derivation.model
        self.notation = notation
        names = display_names(derivation, latex, notation)
        printer = (MatrixLatexPrinter if latex else TextPrinter)(names, notation)
        self.print = printer.doprint
        self.name = {n: names[("var", n)] for n in self.model.variables}
        self.shape = shape_latex if latex else shape_text
        self.latex = latex

    def in_shape(self, name):
        if not self.notation.shapes:
            return ""
        shape = self.shape(self.model.variables[name].shape)
        return f" \\in {shape}" if self.latex else f"  ∈ {shape}"

    def forward(self):
        """(name, expression, shape) per assignment."""
        return [(self.name[n], self.print(e), self.in_shape(n)) for n, e in self.d.forward.items()]

    def prod(self, term, node):
        j = self.name[self.model.objective]
        child, wrt = self.name[term.consumer], self.name[node]
        first = adjoint_name(j, child, self.latex, self.notation)
        local = adjoint_name(child, wrt, self.latex, Notation())  # a local partial: always ∂
        if self.latex:
            return f"\\operatorname{{prod}}\\left({first}, {local}\\right)"
        return f"prod({first}, {local})"

    def steps(self):
        """(lhs, [prod terms], result, substituted or None, shape) per backward step."""
        out = []
        too_deep = False
        for step in self.d.steps:
            if not step.terms:
                continue  # the seed dJ/dJ = 1 is said in the heading
            terms = [self.prod(t, step.node) for t in step.terms] if self.notation.prod else []
            substituted = None
            if self.notation.substituted and not too_deep:
                try:
                    full = self.d.gradient(step.node)
                except ValueError:  # too deep to substitute: the named forms stand
                    full, too_deep = step.result, True
                if full != step.result:
                    substituted = self.print(full)
            out.append((self.print(step.adjoint), terms, self.print(step.result), substituted,
                        self.in_shape(step.node)))
        return out

    def summary(self):
        """(lhs, result) per param; 0 where the objective does not depend on it."""
        j = self.name[self.model.objective]
        return [(self.print(self.d.step(n).adjoint), self.print(self.d.step(n).result))
                if n in self.d.order else
                (adjoint_name(j, self.name[n], self.latex, self.notation), "0")
                for n in self.d.params]

    def seed(self):
        j = self.name[self.model.objective]
        return adjoint_name(j, j, self.latex, self.notation)


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
      ∂J/∂W2 = (∂J/∂o) hᵀ + λ W2
    ...
    """
    w = _Writer(derivation, False, Notation(**options))
    lines = ["Forward"]
    lines += [f"  {name} = {expr}{shape}" for name, expr, shape in w.forward()]
    lines += ["", f"Backward (reverse topological order, from {w.seed()} = 1)"]
    for lhs, terms, result, substituted, shape in w.steps():
        chain = "".join(f"{' + '.join(terms)} = " if terms else "")
        lines.append(f"  {lhs} = {chain}{result}{shape}")
        if substituted:
            lines.append(f"  {' ' * len(lhs)} = {substituted}")
    summary = w.summary()
    if summary:
        lines += ["", "Gradients of the params"]
        lines += [f"  {lhs} = {result}" for lhs, result in summary]
    if memory:
        from .memory import memory_report
        report = memory_report(derivation).text(dims, dtype)
        lines += ["", *report.rstrip("\n").splitlines()]
    return "\n".join(lines) + "\n"


#: The tokens that nest: \left and \right with their delimiter (\left. \left\| \left\{
#: included; not \leftarrow), other commands and escaped characters (\{ is no brace), braces.
_TOKEN = re.compile(r"\\(left|right)(?![A-Za-z])\s*(\\[A-Za-z]+|\\.|.)|\\[A-Za-z]+|\\.|[{}]")


def _summands(latex):
    """A printed sum's top-level terms, each with its sign: [("", "a"), ("+", "b"), ("-", "c")].

    Top level: outside every brace group and every \\left ... \\right pair.
    """
    depth, start, out, sign = 0, 0, [], ""
    tokens = {m.start(): m for m in _TOKEN.finditer(latex)}
    i = 0
    while i < len(latex):
        token = tokens.get(i)
        if token is not None:
            if token.group(1) == "left" or token.group() == "{":
                depth += 1
            elif token.group(1) == "right" or token.group() == "}":
                depth -= 1
            i = token.end()
            continue
        if depth == 0 and latex[i:i + 3] in (" + ", " - ") and i > start:
            out.append((sign, latex[start:i]))
            sign, start = latex[i + 1], i + 3
            i += 3
            continue
        i += 1
    out.append((sign, latex[start:]))
    return out


_COMMAND = re.compile(r"\\([A-Za-z]+)")
_INVISIBLE = {"left", "right", "frac", "boldsymbol", "mathbf", "operatorname", "mathsf",
              "mathrm", "mathtt", "mathcal", "top", "quad", "qquad"}


def _width(latex):
    """About how many characters wide `latex` renders (a fraction counts both its lines)."""
    text = _COMMAND.sub(lambda m: "" if m.group(1) in _INVISIBLE else "x", latex)
    return sum(c not in "{}^_ " for c in text)


#: About as many characters of mathematics as a line of an article holds.
LINE_WIDTH = 36


def _broken_sum(latex, first, following):
    """`latex` as rows, breaking a long sum before its top-level terms, so it fits the page.

    A term still too long, such as W^T (a + b) with a long sum in its brackets, is
    broken inside its first bracketed sum, whose brackets become \\Bigl( \\Bigr).
    """
    if _width(latex) <= LINE_WIDTH:
        return [first + latex]
    terms = _summands(latex)
    rows = [first + terms[0][1]]
    width = _width(terms[0][1])
    for sign, term in terms[1:]:
        if width + _width(term) > LINE_WIDTH:
            rows.append(f"{following}{sign} {term}")
            width = _width(term)
        else:
            rows[-1] += f" {sign} {term}"
            width += _width(term)
    out = []
    for row in rows:
        out += _broken_inside(row, following) if _width(row) > LINE_WIDTH else [row]
    return out


class _Pair:
    """A \\left ... \\right pair of a row: where its two delimiters are, what encloses it."""

    def __init__(self, opening, parent, braces):
        self.opening, self.closing, self.parent = opening, None, parent
        self.braces = braces  # how many brace groups enclose it: \\ is legal only outside all

    @property
    def inside(self):
        return self.opening.end(), self.closing.start()

    def text(self, row):
        """What the brackets hold."""
        return row[self.opening.end():self.closing.start()]


def _pairs(row):
    """The \\left ... \\right pairs of `row`, each knowing its enclosing pair and brace depth."""
    pairs, stack, braces = [], [], 0
    for token in _TOKEN.finditer(row):
        if token.group(1) == "left":
            stack.append(_Pair(token, stack[-1] if stack else None, braces))
        elif token.group(1) == "right" and stack:
            pair = stack.pop()
            pair.closing = token
            pairs.append(pair)
        elif token.group() == "{":
            braces += 1
        elif token.group() == "}":
            braces -= 1
    return pairs


def _broken_inside(row, following):
    """`row` broken inside its widest bracketed sum, or as it is if it has none.

    A line break is legal only at the top level of an aligned row: never in a brace
    group (\\frac{}{}, \\sqrt{}, a superscript), so a sum there is not broken.  The
    brackets around the break, that one and the \\left ... \\right pairs enclosing it,
    become \\Bigl( \\Bigr) (or \\Bigl\\| \\Bigr\\|, ...): \\left and \\right cannot span lines.
    """
    candidates = [pair for pair in _pairs(row)
                  if pair.braces == 0 and pair.opening.group(2) == "("
                  and pair.closing.group(2) == ")" and len(_summands(pair.text(row))) > 1]
    if not candidates:
        return [row]  # too long, but a break inside a brace group would not compile
    chosen = max(candidates, key=lambda pair: _width(pair.text(row)))
    fixed, pair = [], chosen
    while pair is not None:
        fixed += [(pair.opening, "\\Bigl"), (pair.closing, "\\Bigr")]
        pair = pair.parent
    fixed.sort(key=lambda f: f[0].start())
    # a term a row: the sum may fit on its own, the row around it does not
    start, end = chosen.inside
    terms = _summands(row[start:end])
    body = [terms[0][1]] + [f"{sign} {term}" for sign, term in terms[1:]]

    def text(first, last):  # row[first:last] with the enclosing brackets made Big
        out, position = "", first
        for match, big in fixed:
            if first <= match.start() and match.end() <= last:
                out += row[position:match.start()] + big + match.group(2)
                position = match.end()
        return out + row[position:last]

    rows = [text(0, start) + body[0]]
    rows += [f"{following}\\qquad {part}" for part in body[1:]]
    rows[-1] += text(end, len(row))
    return rows


def _boxed_equation(lhs, result):
    """``lhs = result`` for a box: broken over aligned lines when the result is long."""
    broken = _broken_sum(result, f"{lhs} &= ", "&\\quad ")
    if len(broken) == 1:
        return f"{lhs} = {result}"
    return " \\\\ ".join(broken).join(["\\begin{aligned}", "\\end{aligned}"])


def _latex_body(w, display):
    """The derivation in LaTeX; `display` wraps an aligned block (align* or $$aligned$$)."""
    blocks = []
    rows = [f"  {name} &= {expr}{shape}" for name, expr, shape in w.forward()]
    blocks.append(("Forward pass.", display(" \\\\\n".join(rows))))
    backward = []
    for lhs, terms, result, substituted, shape in w.steps():
        rows = []
        if terms:
            # one consumer per line when there are several, so long steps fit the page
            joined = (" \\\\\n  &\\quad + ".join(terms) if len(terms) > 2 else " + ".join(terms))
            rows.append(f"  {lhs} &= {joined}")
            rows += _broken_sum(result, "  &= ", "  &\\quad ")
        else:
            rows += _broken_sum(result, f"  {lhs} &= ", "  &\\quad ")
        if not substituted:
            rows[-1] += shape
        if substituted:
            rows.append(f"  &= {substituted}{shape}")
        backward.append(display(" \\\\\n".join(rows)))
    seed = w.seed()
    blocks.append((f"Backward pass, in reverse topological order, from ${seed} = 1$.",
                   "\n\n".join(backward)))
    summary = w.summary()
    if summary:
        rows = [f"  &\\boxed{{{_boxed_equation(lhs, result)}}}" for lhs, result in summary]
        blocks.append(("Gradients of the params.", display(" \\\\\n".join(rows))))
    return blocks


_MARKERS = {"(caller)": "caller", "(returned)": "returned", "-": "--"}


def _memory_parts(w, dims, dtype, quotes):
    """The memory section's prose, table rows (cells in LaTeX) and peak formulas."""
    from .memory import memory_report
    names = display_names(w.d, True, w.notation)
    j = names[("var", w.model.objective)]
    adjoints = {adjoint_symbol(w.model, n): names[w.d.symbols[n]] for n in w.model.variables}

    def inline_adjoint(symbol):
        # dJ/dz inline: a \frac in a table row is too cramped to read
        inner = adjoints.get(symbol)
        if inner is None:
            return None
        if w.notation.nabla:
            return f"\\nabla_{{{inner}}} {j}"
        return f"\\partial {j} / \\partial {inner}"

    report = memory_report(w.d, latex=True, notation=w.notation, name=inline_adjoint)
    head = ["Value", "Elements"] + (["Bytes"] if dims else []) + [
        "Read by", "Inference frees after", "Training frees after"]
    sizes = report.bytes_of(dims, dtype) if dims else None
    body = []
    for v in report.values:  # the role is plain from the name (an input, an adjoint)
        cells = [f"${v.name}$", f"${report.show(v.elements)}$"]
        if dims:
            cells.append(sizes[v.name])
        # one $...$ per reader: the line may break between them
        cells.append(", ".join(f"${r}$" for r in v.read_by_backward) or "--")
        for freed in (v.inference_freed_after, v.training_freed_after):
            cells.append(_MARKERS["(caller)"] if v.role in ("input", "param", "const")
                         else "returned" if freed == "(returned)" else
                         f"${freed}$" if freed else "--")
        body.append(cells)
    kept = ", ".join(f"${v.name}$" for v in report.values if v.kept_for_backward) or "nothing"
    opening, closing = quotes
    prose = ("Backward reads forward values, so training keeps each of them until the last "
             "backward step that reads it, where inference frees it after its last use in "
             f"the forward pass. Kept for backward: {kept}. Counted in elements: the named "
             "values held between two statements of the generated code, the inputs, params "
             f"and consts (marked {opening}caller{closing}) held throughout; NumPy's "
             "temporaries within one statement come on top.")
    if any(v.role.endswith("(shared)") for v in report.values):
        prose += (" The values named $\\mathtt{t0}$, $\\mathtt{t1}$, ... are subexpressions "
                  "the code computes once and shares, as in the generated module.")
    if report.abstract:
        prose += (" The functions " + ", ".join(f"${f}$" for f in report.abstract) + " are "
                  "abstract here: bound to built-ins, a derivative may read other values "
                  "(the derivative of tanh reads its output, not its input).")
    peaks = []
    for which in ("inference", "training"):
        own = report.own_peaks(which)
        rows_ = [f"  \\text{{{which}}} &= \\underbrace{{{sp.latex(report.held_by_caller)}}}"
                 "_{\\text{caller}}"]
        candidates = [sp.latex(e) for e in own]
        if sum(map(_width, candidates)) > LINE_WIDTH - 20:
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
            rows_.append(f"  &= {count} \\text{{ bytes in {dtype}}}")
        peaks.append(" \\\\\n".join(rows_))
    if dims:
        sizes = ", ".join(f"{k} = {v}" for k, v in dims.items())
        prose += f" Bytes in {dtype} at ${sizes}$."
    return prose, head, body, peaks


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

    def display(body):
        return "\\begin{align*}\n" + body + "\n\\end{align*}"

    parts = [f"% Backpropagation through {derivation.model.objective}, derived by symbackprop "
             f"from {derivation.model.filename}"]
    for heading, body in _latex_body(w, display):
        parts += [f"\\par\\noindent\\textbf{{{heading}}}", body]
    if memory:
        prose, header, rows, peaks = _memory_parts(w, dims, dtype, ("``", "''"))
        # the readers' column wraps: a const read by every layer's step is a long list
        columns = "l" * (len(header) - 3) + "p{0.3\\textwidth}ll"
        # the two "frees after" columns under one heading: the table fits the page
        first = " & ".join(header[:-2]) + " & \\multicolumn{2}{l}{Freed after}"
        second = " & " * (len(header) - 2) + "inference & training"
        table = [f"\\begin{{tabular}}{{{columns}}}", first + " \\\\", second + " \\\\ \\hline"]
        table += [" & ".join(row) + " \\\\" for row in rows]
        parts += ["\\par\\noindent\\textbf{What backward keeps.} " + prose,
                  "\\begin{center}\\footnotesize\\setlength{\\tabcolsep}{4pt}", *table,
                  "\\end{tabular}", "\\end{center}",
                  "\\noindent Peak memory, in elements:", display(" \\\\\n".join(peaks))]
    fragment = "\n".join(parts) + "\n"
    if not standalone:
        return fragment
    title = derivation.model.filename.replace("\\", "/").split("/")[-1]
    title = "".join("\\" + c if c in "#$%&_{}" else c for c in title)
    return ("\\documentclass{article}\n" + STANDALONE_PREAMBLE + "\\allowdisplaybreaks\n"
            "\\begin{document}\n"
            f"\\section*{{Backpropagation: \\texttt{{{title}}}}}\n" + fragment +
            "\\end{document}\n")


def _markdown_display(body):
    return "$$\n\\begin{aligned}\n" + body + "\n\\end{aligned}\n$$"


def _markdown_blocks(blocks):
    """(heading, body) blocks as Markdown lines: a bold heading, then the body."""
    return [line for heading, body in blocks for line in (f"**{heading}**", "", body, "")]


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
    parts = _markdown_blocks(_latex_body(w, _markdown_display))
    if memory:
        prose, header, rows, peaks = _memory_parts(w, dims, dtype, ('"', '"'))
        parts += ["**What backward keeps.** " + prose, "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        parts += ["| " + " | ".join(row) + " |" for row in rows]
        parts += ["", "Peak memory, in elements:", "",
                  _markdown_display(" \\\\\n".join(peaks)), ""]
    return "\n".join(parts)


# --- second derivatives: the tangent sweep of an HVP derivation ---------------------------

class _TangentWriter(_Writer):
    """The parts of a second-order document (:func:`hvp_text`, :func:`hvp_latex`)."""

    def __init__(self, hvp, latex, notation):
        super().__init__(hvp.derivation, latex, notation)
        self.hvp = hvp
        names = hvp.display_names(latex, notation)
        printer = (MatrixLatexPrinter if latex else TextPrinter)(names, notation)
        self.print = printer.doprint
        self.tangent = ((lambda text: f"\\mathcal{{R}}\\left\\{{{text}\\right\\}}") if latex
                        else (lambda text: f"R{{{text}}}"))

    def first_order(self):
        """(lhs, result, shape) per backward step of the first-order derivation."""
        return [(self.print(s.adjoint), self.print(s.result), self.in_shape(s.node))
                for s in self.d.steps if s.terms]

    def directions(self):
        """(direction, variable, shape) per moving variable."""
        return [(self.print(self.hvp.directions[n]), self.name[n], self.in_shape(n))
                for n in self.hvp.directions]

    def tangents(self, steps):
        """(lhs, R{what is differentiated} or None, result, shape) per tangent step."""
        return [(self.print(s.symbol),
                 self.tangent(self.print(s.of)) if self.notation.prod else None,
                 self.print(s.result), self.in_shape(s.node)) for s in steps]

    def summary(self):
        """(lhs, result) per moving variable: H v restricted to it."""
        out = []
        for n in self.hvp.wrt:
            step = self.hvp._backward.get(n)
            lhs = (self.print(step.symbol) if step is not None else
                   self.tangent(adjoint_name(self.name[self.model.objective], self.name[n],
                                             self.latex, self.notation)))
            out.append((lhs, self.print(self.hvp.hvp(n))))
        return out

    def has_second_partial(self):
        from ..derivation.tangent import SecondPartial
        return any(s.result.has(SecondPartial) for s in self.hvp.backward)


def _hvp_notes(w):
    """What the notation means, said once, in the document's own symbols."""
    if w.latex:
        r = "$\\mathcal{R}\\{\\cdot\\}$"
        t = "$t$"
    else:
        r, t = "R{·}", "t"
    notes = [f"{r} is the derivative along the directions: the rate of change of a value when "
             f"every moving variable W becomes W + {t} V_W, at {t} = 0 (Pearlmutter's "
             "R-operator, forward-over-reverse)."
             if not w.latex else
             f"{r} is the derivative along the directions: the rate of change of a value when "
             f"every moving variable $\\boldsymbol{{W}}$ becomes $\\boldsymbol{{W}} + {t[1:-1]}"
             f"\\boldsymbol{{V}}_{{\\boldsymbol{{W}}}}$, at {t} $= 0$ (Pearlmutter's R-operator, "
             "forward-over-reverse)."]
    moving = set(w.hvp.directions)
    fixed = [w.name[n] for n, v in w.model.variables.items() if v.declared and n not in moving]
    if fixed:
        shown = ", ".join(f"${f}$" if w.latex else f for f in fixed)
        notes.append(f"Fixed (their tangents are 0): {shown}.")
    if w.has_second_partial():
        notes.append("The second derivative of an abstract loss is its Hessian in the argument, "
                     "a matrix for a vector argument (multiplying the tangent), a linear map "
                     "for a matrix argument (applied to the tangent in brackets).")
    notes.append("At the end, the tangent of each gradient is the Hessian of the objective "
                 "times the directions, restricted to that variable: H v.")
    return notes


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
    >>> from symbackprop import derive_hvp
    >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> print(hvp_text(hvp, shapes=False).split("Backward tangents")[1])  # doctest: +ELLIPSIS
     (reverse topological order)
      R{∂J/∂o} = R{∂L/∂o} = (∂²L/∂o∂oᵀ) R{o}
    ...
      R{∂J/∂z} = R{∂J/∂h ⊙ φ'(z)} = R{∂J/∂h} ⊙ φ'(z) + ∂J/∂h ⊙ φ''(z) ⊙ R{z}
    ...
    """
    w = _TangentWriter(hvp, False, Notation(**options))
    lines = ["Forward"]
    lines += [f"  {name} = {expr}{shape}" for name, expr, shape in w.forward()]
    lines += ["", f"Backward (reverse topological order, from {w.seed()} = 1)"]
    lines += [f"  {lhs} = {result}{shape}" for lhs, result, shape in w.first_order()]
    lines += ["", "Directions"]
    lines += [f"  {v} for {name}{shape}" for v, name, shape in w.directions()]
    lines += [f"  {note}" for note in _hvp_notes(w)]
    for heading, steps in (("Forward tangents (forward order)", hvp.forward),
                           ("Backward tangents (reverse topological order)", hvp.backward)):
        lines += ["", heading]
        for lhs, of, result, shape in w.tangents(steps):
            lines.append(f"  {lhs} = {of + ' = ' if of else ''}{result}{shape}")
    lines += ["", "Hessian-vector products"]
    lines += [f"  H v for {w.name[n]}: {lhs} = {result}"
              for n, (lhs, result) in zip(hvp.wrt, w.summary())]
    return "\n".join(lines) + "\n"


def _hvp_latex_body(w, display):
    rows = [f"  {name} &= {expr}{shape}" for name, expr, shape in w.forward()]
    blocks = [("Forward pass.", display(" \\\\\n".join(rows)))]
    rows = []
    for lhs, result, shape in w.first_order():
        broken = _broken_sum(result, f"  {lhs} &= ", "  &\\quad ")
        broken[-1] += shape
        rows += broken
    blocks.append((f"Backward pass, from ${w.seed()} = 1$.", display(" \\\\\n".join(rows))))
    directions = ", ".join(f"${v}$ for ${name}$" for v, name, _ in w.directions())
    notes = " ".join(_hvp_notes(w)).replace(": H v.", ": $\\boldsymbol{H} \\boldsymbol{v}$.")
    blocks.append((f"Directions: {directions}.", notes + "\n\\medskip"))
    for heading, steps in (("Forward tangents, in forward order.", w.hvp.forward),
                           ("Backward tangents, in reverse topological order.",
                            w.hvp.backward)):
        rendered = []
        for lhs, of, result, shape in w.tangents(steps):
            # R{what it differentiates}, when that fits a line: a long one is the step above
            rows = [f"  {lhs} &= {of}"] if of and _width(lhs + of) <= LINE_WIDTH + 6 else []
            rows += _broken_sum(result, "  &= " if rows else f"  {lhs} &= ", "  &\\quad ")
            rows[-1] += shape
            rendered.append(display(" \\\\\n".join(rows)))
        blocks.append((heading, "\n\n".join(rendered)))
    rows = [f"  &\\boxed{{{_boxed_equation(lhs, result)}}}" for lhs, result in w.summary()]
    blocks.append(("Hessian-vector products of the objective, per variable.",
                   display(" \\\\\n".join(rows))))
    return blocks


def hvp_latex(hvp, standalone=False, **options):
    """The Hessian-vector products of an HVP derivation as LaTeX (a fragment, or a document).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop import derive_hvp
    >>> tex = hvp_latex(derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp"))))
    >>> "\\\\phi''\\\\left(\\\\boldsymbol{z}\\\\right)" in tex
    True
    """
    w = _TangentWriter(hvp, True, Notation(**options))

    def display(body):
        return "\\begin{align*}\n" + body + "\n\\end{align*}"

    model = hvp.model
    parts = [f"% Hessian-vector products of {model.objective}, derived by symbackprop "
             f"from {model.filename}"]
    for heading, body in _hvp_latex_body(w, display):
        parts += [f"\\par\\noindent\\textbf{{{heading}}}", body]
    fragment = "\n".join(parts) + "\n"
    if not standalone:
        return fragment
    title = model.filename.replace("\\", "/").split("/")[-1]
    title = "".join("\\" + c if c in "#$%&_{}" else c for c in title)
    # no \\allowdisplaybreaks: each tangent is a short block, better kept on one page
    return ("\\documentclass{article}\n" + STANDALONE_PREAMBLE +
            "\\begin{document}\n"
            f"\\section*{{Second derivatives: \\texttt{{{title}}}}}\n" + fragment +
            "\\end{document}\n")


def hvp_markdown(hvp, **options):
    """The Hessian-vector products of an HVP derivation as Markdown with ``$$`` blocks."""
    w = _TangentWriter(hvp, True, Notation(**options))
    return "\n".join(_markdown_blocks(_hvp_latex_body(w, _markdown_display)))
