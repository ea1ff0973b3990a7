"""The proof of printed output: every printed formula read back and checked.

``check`` and ``verify`` prove the expression trees of a derivation; a lecturer
copies the printed text.  :func:`prove_printed` closes the gap: it writes the
derivation's documents (text, LaTeX, Markdown, and on request the web page, whose
formulas carry their LaTeX; with the notation asked for),
takes every printed equation out of them (each forward line, each adjoint's
result and substituted form, each param's gradient), reads each side back
with :mod:`symbackprop.proofs.reading` under every plausible reading, and compares the
values with the derivation's own (:mod:`symbackprop.proofs.evaluation`) at random
points, with the abstract functions bound to several random smooth functions.
A formula passes only if every reading of it gives the value of its left-hand
side; one that cannot be read fails too.

The generic chain-rule lines, ``prod(∂J/∂o, ∂o/∂W2)``, name Jacobians rather
than values and are not read.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np
import sympy as sp

from ..derivation.reverse import adjoint_symbol
from ..primitives import expressions as ex
from ..primitives import matrix_functions as mf
from ..primitives.blocks import Stack
from ..printing.names import Notation, _tangent_name, adjoint_name, display_names
from ..printing.printers import MatrixLatexPrinter, TextPrinter
from .evaluation import Binding, derivation_values, sample_values
from .reading import Entrywise, Linear, ReadError, Scalar, Value, Vocabulary, read
from .sizes import default_dims

__all__ = ["prove_printed", "ReadbackReport", "printed_equations", "page_equations",
           "READBACK_TOLERANCE"]

#: Relative difference (norm-wise) within which a read formula equals its value.
READBACK_TOLERANCE = 1e-9
#: Sizes of the dims for reading back: distinct, so a 𝟏 of the wrong size cannot fit.
_SIZES = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)


@dataclass(frozen=True)
class Equation:
    """One printed equation: its left-hand side and the right-hand sides said equal to it.

    `ranges` are the index ranges it is printed for, ``(("t", "T - 1", "1"),)`` under a
    heading ``for t = T - 1, …, 1`` (the bounds as printed); empty outside loops.
    """

    lhs: str
    sides: tuple
    where: str
    ranges: tuple = ()


@dataclass
class ReadbackReport:
    """The result of :func:`prove_printed`.

    Attributes
    ----------
    counts : dict of str to int
        How many printed formulas each format has (by format name).
    failures : list of tuple
        ``(format, formula, why)`` for each formula not read back equal.
    """

    counts: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.failures

    @property
    def total(self):
        return sum(self.counts.values())

    def summary(self):
        """One line: how many printed formulas read back equal, per format."""
        bad = {}
        for fmt, _, _ in self.failures:
            bad[fmt] = bad.get(fmt, 0) + 1
        parts = [f"{fmt} {n - bad.get(fmt, 0)}/{n}" for fmt, n in self.counts.items()]
        return f"printed formulas: {', '.join(parts)} read back equal"

    def __str__(self):
        lines = [self.summary()]
        for fmt, formula, why in self.failures[:10]:
            lines.append(f"  {fmt}: {formula}")
            lines.append(f"    {why}")
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10} more")
        return "\n".join(lines)


# --- taking equations out of documents ---------------------------------------------------

_TEXT_SECTIONS = ("Forward", "Backward", "Closed form", "Gradients", "Hessian-vector",
                  "正向传播", "反向传播（", "参数的梯度", "梯度", "闭式解", "正向切向量",
                  "反向切向量", "Hessian 向量积")  # and in Chinese (printing/words.py)


# a loop's heading, "for t = T - 1, …, 1:", in Chinese "对 t = T - 1, …, 1："
_TEXT_HEADING = re.compile(r"(?:for|对) ([A-Za-z]) = (.+), …, (.+)[:：]")
# for o = O, …, 1, c = C, …, 1: the heading of a family of two indices
_TEXT_PAIR_HEADING = re.compile(r"(?:for|对) ([A-Za-z]) = ([^,]+), …, ([^,]+), "
                                r"([A-Za-z]) = ([^,]+), …, ([^,]+)[:：]")
# after the shape: "(for t = T, …, 2)", in Chinese "（对 t = T, …, 2）"
_TEXT_AT = re.compile(r"\s+(?:\(for|（对) ([A-Za-z]) = (.+?), …, (.+?)[)）]$")
_TEXT_RANGE = re.compile(r",\s+([A-Za-z]) = ([^,]+?), …, ([^,]+?)$")  # a boxed gradient's range
_LATEX_HEADING = re.compile(r"(?:For|对) \$([A-Za-z]) = (.+?), \\dots, (.+?)\$"
                            r"(?:, \$([A-Za-z]) = (.+?), \\dots, (.+?)\$)?[:：]")
_LATEX_RANGE = re.compile(r",\s*\\quad\s*([A-Za-z]) = ([^,]+?), \\dots, ([^,]+?)\s*$")


def _narrowed(ranges, found):
    """`ranges` with the range a formula states for itself (`found`, a match, or a tuple
    of matches) in place."""
    if found is None:
        return ranges
    for one in (found if isinstance(found, tuple) else (found,)):
        var = one.group(1)
        ranges = tuple(r for r in ranges if r[0] != var) + (one.groups(),)
    return ranges


def _stated(body, pattern):
    """The ranges a formula states at its end (``,  o = 1, …, O,  c = 1, …, C``), in order,
    and the formula without them; (None, body) if it states none."""
    found = []
    while True:
        m = pattern.search(body)
        if m is None:
            break
        found.insert(0, m)
        body = body[:m.start()]
    return (tuple(found) or None), body


def _pairs(groups):
    """The (var, first, last) of a heading's match: one, or two for a pair of indices."""
    groups = tuple(groups)
    return tuple(groups[k:k + 3] for k in range(0, len(groups), 3) if groups[k] is not None)


def _text_equations(document):
    out, section, current, headings = [], None, None, []
    for number, line in enumerate(document.splitlines(), 1):
        if not line.strip():
            continue
        if not line.startswith(" "):
            section = line if line.startswith(_TEXT_SECTIONS) else None
            current, headings = None, []
            continue
        if section is None:
            continue
        indent = len(line) - len(line.lstrip())
        headings = [h for h in headings if h[0] < indent]
        heading = _TEXT_PAIR_HEADING.fullmatch(line.strip()) or \
            _TEXT_HEADING.fullmatch(line.strip())
        if heading:
            headings.extend((indent, pair) for pair in _pairs(heading.groups()))
            current = None
            continue
        at = _TEXT_AT.search(line)
        line = line[:at.start()] if at else line
        body = line.strip().split("  ∈ ")[0]
        body = re.sub(r"^(H v for [^:]+|[^:]+ 的 H v): ", "", body)
        stated, body = _stated(body, _TEXT_RANGE)
        if body.startswith("= ") and current is not None:
            current[1].append(body[2:])
            current[3] = _narrowed(_narrowed(current[3], stated), at)
            continue
        lhs, _, rest = body.partition(" = ")
        ranges = _narrowed(_narrowed(tuple(h for _, h in headings), stated), at)
        current = [lhs, rest.split(" = ") if rest else [], f"line {number}", ranges]
        out.append(current)
    return [Equation(lhs, tuple(sides), where, ranges) for lhs, sides, where, ranges in out
            if sides]


def _top_level_split(text, separator):
    """`text` split at `separator` outside braces."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        if c == "\\" and i + 1 < len(text):
            i += 2  # an escaped character, \{ or \}, is not a brace
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    parts.append(text[start:])
    return parts


_BEGIN_END = re.compile(r"\\(begin|end)\{(align\*|aligned)\}")


def _blocks(document):
    """(start, body) of each outermost align* or aligned block; nested ones stay in the body."""
    depth, start = 0, None
    for m in _BEGIN_END.finditer(document):
        if m.group(1) == "begin":
            if depth == 0:
                start = m
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                yield start.start(), document[start.end():m.start()]
_SHAPE = re.compile(r"\s*\\in \\mathbb\{R\}(\^\{[^{}]*(\{[^{}]*\}[^{}]*)*\})?\s*$")


def _rows(body):
    """The rows of an aligned block; a boxed row's own aligned rows in its place."""
    for row in _top_level_split(body, "\\\\"):
        row = row.strip()
        # \\* (no page break after the row before) and \\[3pt] (space before this one)
        row = re.sub(r"^(\*|\[[^\]]*\])\s*", "", row)
        boxed = re.fullmatch(r"&\\boxed\{(.*)\}", row, re.S)
        if not boxed:
            yield row
            continue
        inner = boxed.group(1)
        nested = re.fullmatch(r"\\begin\{aligned\}(.*)\\end\{aligned\}", inner, re.S)
        if nested:
            yield from _rows(nested.group(1))
        else:
            yield inner.replace(" = ", " &= ", 1)


def _latex_equations(document):
    out, previous = [], 0
    for begin, body in _blocks(document):
        where = f"line {document[:begin].count(chr(10)) + 1}"
        # a heading "For $t = T, \dots, 1$:" between the last block and this one is its range
        headings = tuple(pair for m in _LATEX_HEADING.finditer(document, previous, begin)
                         for pair in _pairs(m.groups()))
        previous = begin + len(body)
        current = None
        for row in _rows(body):
            stated, row = _stated(row, _LATEX_RANGE)
            if row.startswith("&\\quad"):
                if current is not None:
                    current[1][-1] += " " + row[len("&\\quad"):]
                    current[3] = _narrowed(current[3], stated)
                continue
            lhs, *sides = [s.strip() for s in _top_level_split(row, "&=")]
            if lhs and not sides:
                continue
            if lhs:
                current = [lhs, [], where, headings]
                out.append(current)
            if current is not None:
                current[1].extend(sides)
                current[3] = _narrowed(current[3], stated)
    return [Equation(lhs, tuple(_SHAPE.sub("", s) for s in sides), where, ranges)
            for lhs, sides, where, ranges in out]


class _PageEquations(HTMLParser):
    """The equations of one part of a web page (:mod:`symbackprop.printing.page`): each
    equation's left-hand side and sides, the TeX annotations of its formulas, and the ranges
    it is printed for (a model with loops: its loop's heading, ``For t = T, …, 1:``, and the
    ranges it states at its end or after its shape)."""

    def __init__(self, part):
        super().__init__(convert_charrefs=True)
        self.part, self.inside, self.role, self.text = part, False, None, None
        self.equations, self.heading, self.ranges, self.in_math = [], None, (), False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "section":
            self.inside = attrs.get("data-document") == self.part
        elif not self.inside:
            return
        if tag in ("h2", "h3") or (tag == "div" and "loop" in classes):
            self.ranges = ()  # a new section, or a loop's part of one
            self.heading = [] if tag == "h3" else None
        elif tag == "div" and "eq" in classes:
            self.equations.append(["", [], self.ranges])
        elif tag == "math":
            self.in_math = True
            self.role = next((c for c in classes if c in ("lhs", "side", "shape")), None)
        elif tag == "annotation" and (self.role or self.heading is not None):
            self.text = []

    def handle_data(self, data):
        if self.text is not None:
            self.text.append(data)
        elif self.heading is not None and not self.in_math:
            self.heading.append(data)

    def handle_endtag(self, tag):
        if tag == "annotation" and self.text is not None:
            formula, self.text = "".join(self.text), None
            if self.heading is not None and self.role is None:
                self.heading.append(f"${formula}$")
            elif self.role == "lhs":
                self.equations[-1][0] = formula
            elif self.role in ("side", "shape"):
                stated, formula = _stated(formula, _LATEX_RANGE)
                self.equations[-1][2] = _narrowed(self.equations[-1][2], stated)
                if self.role == "side":
                    self.equations[-1][1].append(formula)
        elif tag == "h3" and self.heading is not None:
            found = _LATEX_HEADING.fullmatch("".join(self.heading).strip())
            self.ranges = _pairs(found.groups()) if found else ()
            self.heading = None
        elif tag == "math":
            self.role, self.in_math = None, False


def page_equations(page, part):
    """The equations a web page prints in its `part` (``"backprop"`` or ``"hvp"``).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> page = sbp.derive(sbp.load("examples/textbook_mlp.sbp")).html(second_order=False)
    >>> first = page_equations(page, "backprop")[0]
    >>> print(first.lhs, "=", *first.sides)
    \\boldsymbol{z} = \\boldsymbol{W}^{(1)} \\boldsymbol{x}
    """
    reader = _PageEquations(part)
    reader.feed(page)
    reader.close()
    return [Equation(lhs, tuple(sides), f"equation {k}", ranges)
            for k, (lhs, sides, ranges) in enumerate(reader.equations, 1)]


def printed_equations(document, latex):
    """The equations printed in a document (text, or LaTeX/Markdown when `latex`).

    Examples
    --------
    >>> eqs = printed_equations("Forward\\n  z = W1 x  ∈ ℝ^h\\n", latex=False)
    >>> eqs[0].lhs, eqs[0].sides
    ('z', ('W1 x',))
    """
    return (_latex_equations if latex else _text_equations)(document)


# --- what the names mean -------------------------------------------------------------------

def _calls(derivation):
    """Every call of an abstract scalar function in the forward equations: (of, Apply)."""
    out = []
    for name, expr in derivation.forward.items():
        for node in sp.preorder_traversal(expr):
            if isinstance(node, mf.Apply):
                out.append((name if node == expr else None, node))
    return out


def _zero_blocks(subject):
    """The zero blocks of the block matrices in a derivation's expressions (and its H v's)."""
    first = getattr(subject, "derivation", subject)
    expressions = [*first.forward.values(), *(s.result for s in first.steps)]
    if subject is not first:
        expressions += [s.result for s in (*subject.forward, *subject.backward)]
    if not any(isinstance(e, sp.Basic) and e.has(Stack) for e in expressions):
        return []
    expressions += [first.gradient(n) for n in first.params if n in first.order]
    found = set()
    for expr in expressions:
        for stack in expr.atoms(Stack) if isinstance(expr, sp.Basic) else ():
            found.update(b for b in stack.blocks if isinstance(b, sp.ZeroMatrix))
    return sorted(found, key=str)


def printed_vocabulary(subject, latex, notation, evaluator, binding, sizes):
    derivation = getattr(subject, "derivation", subject)
    names = display_names(derivation, latex, notation)
    if subject is not derivation:  # the directions V_W and tangents R{z} of H v
        from ..printing.names import second_order_names
        names = second_order_names(subject, names, latex, notation)
    model = derivation.model
    printer = (MatrixLatexPrinter if latex else TextPrinter)(names, notation)
    words = {}

    def add(text, meaning):
        words.setdefault(text, [])
        if not any(m is meaning or (not isinstance(m, Value) and m == meaning)
                   for m in words[text]):
            words[text].append(meaning)

    for key, text in names.items():
        if isinstance(key, tuple):
            if key[0] == "func":
                f = model.functions[key[1]]
                add(text, Entrywise(_entrywise(binding, key[1])) if f.elementwise
                    else Scalar(key[1], binding))
            continue
        if key in evaluator.env:
            add(text, Value(evaluator.env[key]))
    for name, v in model.variables.items():  # ∂J/∂B = 0 where J does not depend on B
        symbol = adjoint_symbol(model, name)
        zero = Value(np.zeros(np.shape(evaluator.env[derivation.symbols[name]])))
        if symbol not in evaluator.env and symbol in names:
            add(names[symbol], zero)
        if subject is not derivation and symbol in names:  # and R{∂J/∂B} = 0 likewise
            tangent = _tangent_name(names[symbol], latex)
            if tangent not in words:
                add(tangent, zero)
    for step in derivation.steps:  # a scalar's own gradient, ∂s/∂W1, shown as a step
        for term in step.terms:
            if getattr(term, "local", None) is not None:
                local = adjoint_name(names[("var", term.consumer)], names[("var", step.node)],
                                     latex, Notation())
                add(local, Value(evaluator.value(term.local)))
    for name, symbol in model.dims.items():  # a dim as a value, 1/n, unless a name prints alike
        text = printer.doprint(symbol)
        if text not in words:
            add(text, Value(np.asarray(float(sizes[symbol]))))
    for name, symbol in model.dims.items():  # the identity and a vector of ones, I_n and 𝟏_n
        eye, dim = np.eye(sizes[symbol]), printer.doprint(symbol)
        add(f"\\mathbf{{I}}_{{{dim}}}" if latex else f"I_{dim}", Value(eye))
        add(f"\\mathbf{{1}}_{{{dim}}}" if latex else f"𝟏_{dim}", Value(np.ones((len(eye), 1))))
    for zero in _zero_blocks(subject):  # a zero block of a block matrix, with its size
        add(printer.zero_block(zero), Value(np.zeros((evaluator.size(zero.rows),
                                                      evaluator.size(zero.cols)))))
    for of, call in _calls(derivation):
        shown = [names[("func", call.name)]] + ([names[("var", of)]] if of else [])
        args = [evaluator.value(a) for a in call.call_args]
        plain = [k for k, a in enumerate(call.call_args)
                 if isinstance(a, (sp.Symbol, sp.MatrixSymbol))]
        for slot in plain:
            value = binding.partial(call.name, slot, args)
            arg = printer.doprint(call.call_args[slot])
            for who in shown:
                add(printer._partial(who, arg), Value(value))
                for along in plain:
                    add(*_second_partial(printer, who, call, slot, along, args, binding))
    return Vocabulary(words, sizes=_lengths(derivation, sizes), latex=latex)


def _lengths(derivation, sizes):
    """The sizes a printed 𝟏 may have: the dims', and the rows and columns of every value and
    of every matrix a definition computes (d + h, 4 h, 24 too; an unnamed convolution's 2 q)."""
    shapes = [(v.shape.rows, v.shape.cols) for v in derivation.model.variables.values()]
    for expr in (derivation.forward or {}).values():
        shapes.extend(e.shape for e in sp.preorder_traversal(expr)
                      if getattr(e, "is_Matrix", False))
    lengths = set(sizes.values())
    for k in {k for shape in shapes for k in shape}:
        k = k if isinstance(k, sp.Basic) else sp.Integer(k)
        if not k.is_Atom or (k.is_Integer and k > 1):
            lengths.add(int(k.xreplace(sizes)))
    return tuple(sorted(lengths))


def _second_partial(printer, who, call, slot, along, args, binding):
    """The printed ∂²L/∂o∂yᵀ of a call and its meaning: a Hessian matrix, or a linear map."""
    a, b = call.call_args[slot], call.call_args[along]
    columns = all(not ex.is_matrix(x) or x.shape[1] == 1 for x in (a, b))
    text = printer._second_partial(who, printer.doprint(a), printer.doprint(b), slot == along,
                                   columns)

    def apply(tangent):
        return binding.second_partial(call.name, slot, along, args, tangent)

    if not columns:
        return text, Linear(apply)
    size = int(np.size(args[along]))
    units = np.eye(size).reshape((size,) + (np.shape(args[along]) or (1, 1)))
    columns_ = [np.reshape(apply(u.reshape(np.shape(args[along]))), (-1,)) for u in units]
    hessian = np.stack(columns_, axis=1)
    # the Hessian matrix times the tangent: (∂²L/∂o∂oᵀ) R{o}; 1 x 1 for scalars
    return text, Value(hessian.reshape(()) if hessian.shape == (1, 1) else hessian)


def _entrywise(binding, name):
    return lambda x, order: binding.entrywise(name, x, order)


# --- the proof ----------------------------------------------------------------------------------

def _equal(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    diff = float(np.linalg.norm(a - b))
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    # values are of order one at these points: a difference of rounding size beside an
    # exact 0 (logsumexp(log_softmax(x)) = 0) is equality, not an error
    return diff <= READBACK_TOLERANCE * scale or diff <= 1e-12


_CHAIN_RULE = re.compile(r"((Σ|\\sum)_\{[^{}]*\}\^\{[^{}]*\} )?(prod\(|\\operatorname\{prod\})")


_DIRECTION = ("a direction of ", "\\text{a direction of }")  # V_W = a direction of W
_DIRECTION_ZH = (" 的方向", "\\text{ 的方向}")  # in Chinese: V_W = W 的方向


def is_definition(side, vocabulary):
    """A chain-rule line, prod(∂J/∂o, ∂o/∂W2) (or their sum over an index), or a tangent's
    definition, R{W1 x}: not values."""
    if _CHAIN_RULE.match(side) or side.startswith(_DIRECTION) or side.endswith(_DIRECTION_ZH):
        return True
    for head, opening, closing in (("R", "{", "}"),
                                   ("\\mathcal{R}", "\\left\\{", "\\right\\}")):
        if side.startswith(head + opening) and side not in vocabulary.names:
            # R{W1 x} names the tangent of a formula when its bracket closes at the very end
            end = _closing_delimiter(side, len(head), opening, closing)
            return end == len(side) - len(closing)
    return False


def _closing_delimiter(text, start, opening, closing):
    """Where the bracket `opening` at `start` closes (-1 if it does not)."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith(opening, i):
            depth, i = depth + 1, i + len(opening)
        elif text.startswith(closing, i):
            depth -= 1
            if depth == 0:
                return i
            i += len(closing)
        else:
            i += 2 if text[i] == "\\" else 1  # \{ in text is no bracket of R{...}
    return -1


def why_wrong(lhs, side, vocabulary, reader=read):
    """Why `lhs = side` is wrong under `vocabulary`'s values, "" if undefined here, else None.

    `reader(formula, vocabulary)` gives the values of a formula's readings.
    """
    try:
        truths = reader(lhs, vocabulary)
    except ReadError as e:
        return f"cannot read the left-hand side: {e}"
    if len(truths) != 1:
        return f"the left-hand side {lhs!r} names {len(truths)} different values"
    truth = truths[0]
    if not np.all(np.isfinite(truth)):
        return ""  # not defined at this point: no verdict here
    if side == "0" and not np.any(truth):
        return None  # 0 for a zero matrix, as a lecturer writes it
    try:
        values = reader(side, vocabulary)
    except ReadError as e:
        return f"cannot read it: {e}"
    # the left-hand side fixes the shape: ∂J/∂x = 𝟏 is a 𝟏 the size of x
    values = [v for v in values if np.shape(v) == np.shape(truth)] or values
    wrong = [v for v in values if not _equal(v, truth)]
    if not wrong:
        return None
    if len(values) > 1:
        return (f"ambiguous: {len(values)} plausible readings with different values, "
                f"{len(wrong)} of them not equal to {lhs}")
    return f"not equal to {lhs}"


def first_failure(verdicts):
    """The first ``(where, why)`` of `verdicts` (pairs of a place and :func:`why_wrong`'s
    verdict) that says a formula is wrong; one saying it is defined nowhere tried if every
    verdict is "" (undefined there); None if it is right.  Read lazily: the first wrong
    verdict ends the reading."""
    undefined = True
    for where, verdict in verdicts:
        if verdict:
            return where, verdict
        undefined = undefined and verdict == ""
    return ("", "not finite at any point tried") if undefined else None


def _documents(subject, formats, notation):
    from ..printing import documents
    from ..printing.page import html
    options = dataclasses.asdict(notation)  # every field: the steps shown, the language too
    if hasattr(subject, "derivation"):  # H v: the second-order documents
        writers = {"text": (lambda: documents.hvp_text(subject, **options), False),
                   "LaTeX": (lambda: documents.hvp_latex(subject, **options), True),
                   "Markdown": (lambda: documents.hvp_markdown(subject, **options), True),
                   "HTML": (lambda: html(subject.derivation, subject, **options), True)}
        return {fmt: (writers[fmt][0](), writers[fmt][1]) for fmt in formats}
    derivation = subject
    writers = {"text": (lambda: documents.text(derivation, **options), False),
               "LaTeX": (lambda: documents.latex(derivation, **options), True),
               "Markdown": (lambda: documents.markdown(derivation, **options), True),
               "HTML": (lambda: html(derivation, **options), True)}
    return {fmt: (writers[fmt][0](), writers[fmt][1]) for fmt in formats}


def values_of(subject, values, sizes, binding, seed):
    """Every value of a derivation; for H v also the directions (random) and the tangents."""
    first = getattr(subject, "derivation", subject)
    evaluator = derivation_values(first, values, sizes, binding)
    if first is subject:
        return evaluator
    rng = np.random.default_rng(1000 + seed)
    with np.errstate(all="ignore"):
        for symbol in subject.directions.values():
            shape = tuple(evaluator.size(n) for n in symbol.shape) if ex.is_matrix(symbol) \
                else ()
            evaluator.env[symbol] = np.asarray(rng.standard_normal(shape))
        for step in (*subject.forward, *subject.backward):
            evaluator.env[step.symbol] = evaluator.value(step.result)
    return evaluator


def prove_printed(derivation, formats=("text", "LaTeX", "Markdown"), notation=None,
                  bindings=(0, 1), points=(0,), documents=None):
    """Read back every formula printed for a derivation and check its value.

    Parameters
    ----------
    derivation : Derivation or HVPDerivation
        A first-order derivation, or Hessian-vector products (their documents are read).
    formats : tuple of str
        Which documents: ``"text"``, ``"LaTeX"``, ``"Markdown"``, ``"HTML"`` (the web
        page's formulas, their TeX annotations: see :func:`page_equations`).
    notation : Notation, optional
        The notation the documents are written in (the default notation if None).
    bindings : tuple of int
        Seeds of the random smooth functions the abstract ones are bound to.
    points : tuple of int
        Seeds of the random points.
    documents : dict, optional
        Already written documents, format name to (text, is LaTeX); written here if None.

    Returns
    -------
    ReadbackReport

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    >>> print(prove_printed(d, formats=("text",)).summary())
    printed formulas: text 17/17 read back equal
    """
    notation = notation or Notation()
    model = derivation.model
    dims = default_dims(model, sizes=_SIZES)
    sizes = {model.dims[n]: s for n, s in dims.items()}
    documents = documents or _documents(derivation, formats, notation)
    report = ReadbackReport()
    settings = [(b, p) for b in bindings for p in points]
    vocabularies = {}

    def vocabulary(latex, b, p):
        if (latex, b, p) not in vocabularies:
            binding = Binding(b)
            evaluator = values_of(derivation, sample_values(model, dims, p), sizes, binding, p)
            vocabularies[latex, b, p] = printed_vocabulary(derivation, latex, notation, evaluator,
                                                    binding, sizes)
        return vocabularies[latex, b, p]

    part = "hvp" if hasattr(derivation, "derivation") else "backprop"  # of a web page
    for fmt, (document, latex) in documents.items():
        report.counts[fmt] = 0
        for equation in (page_equations(document, part) if fmt == "HTML" else
                         printed_equations(document, latex)):
            for side in equation.sides:
                if is_definition(side, vocabulary(latex, *settings[0])):
                    continue
                report.counts[fmt] += 1
                failed = first_failure(("", why_wrong(equation.lhs, side, vocabulary(latex, b, p)))
                                       for b, p in settings)
                if failed:
                    report.failures.append((fmt, f"{equation.lhs} = {side}  "
                                                 f"({equation.where}{failed[0]})", failed[1]))
    return report
