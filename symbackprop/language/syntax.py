"""The model language: text to a syntax tree, never evaluated.

A model file (``.sbp``) is a list of statements, one a line::

    dim d, h, q
    input x: vector(d)
    param W1: matrix(h, d) as "\\mathbf{W}_1"
    input t: vector(d) positive
    func phi
    func ell(o, y)
    z = W1 @ x
    objective J

A declaration's type may be followed by a domain word, ``positive`` (entries
> 0), ``unit`` (entries in (0, 1)), ``onehot``, ``simplex`` (of a vector or of each
row of a matrix), ``symmetric`` or ``spd`` (of a square matrix), and then by ``as``.

Families of values are indexed by integers, and loops define them::

    dim T
    input x[t]: vector(d) for t in 1..T
    h[0] = h0
    for t in 1..T:
        h[t] = W @ h[t-1] + U @ x[t]
    L = sum(ell(h[t]) for t in 1..T) / T

A loop's body is the indented block after ``for VAR in A..B:``; ``sum`` and
``mean`` of ``EXPR for VAR in A..B`` add the members over an index.

This module turns text into the dataclasses of
:mod:`symbackprop.language.expression_nodes` and :mod:`symbackprop.language.statements`
with a hand-written
tokenizer and a recursive-descent parser.  The text is only ever read: no part
of it reaches ``eval``, ``exec`` or SymPy's string parsers.  Limits on size and
nesting turn pathological input into a :class:`~symbackprop.errors.ModelError`
instead of a crash.  Meaning (names, shapes) is checked in
:mod:`symbackprop.language.model`.

Operator precedence, loosest first: ``+ -``; ``* / @``; unary ``-``; ``^``
(right-associative, a constant exponent); postfix ``.T``.
"""

from __future__ import annotations

import difflib
import re

from ..errors import ModelError
from .spelling import unsafe_part
from .expression_nodes import (Binary, Call, Keyword, Member, Name, Num, Range, Reduce, Slice,
                               Transpose, Unary)
from .statements import Assign, Decl, Dim, For, Func, Objective, TypeSpec
from .tokens import MAX_NUMBER_DIGITS
from .tokens import describe as _describe
from .tokens import literal_value as _literal_value
from .tokens import tokens as _tokens

__all__ = [
    "parse_statements", "Num", "Name", "Call", "Keyword", "Binary", "Unary", "Transpose",
    "TypeSpec", "Dim", "Decl", "Func", "Assign", "Objective", "KEYWORDS", "Member", "Range",
    "Slice", "For", "Reduce", "REDUCTIONS",
]

MAX_SOURCE_CHARS = 1_000_000
MAX_LINE_CHARS = 10_000
MAX_STATEMENTS = 20_000
MAX_NESTING = 50
MAX_LOOPS = 8
#: The most indices a declared family has: ``K[o, c]``.
MAX_FAMILY_INDICES = 2
MAX_ERRORS = 20

KEYWORDS = frozenset({"dim", "input", "param", "const", "func", "objective", "as", "for", "in"})
#: The calls that may add members over an index: ``sum(EXPR for VAR in A..B)``.
REDUCTIONS = ("sum", "mean")
#: The declarations' keywords: the roles of the values a model is given, not computes.
DECLARED_ROLES = ("input", "param", "const")
#: The words that may follow a declaration's type: the values it takes.  Not keywords:
#: they mean a domain only there, so a variable may still be named ``unit``.
DOMAINS = {"positive": "entries > 0", "unit": "entries in the open interval (0, 1)",
           "onehot": "a vector, or each row of a matrix, has one entry 1 and the others 0",
           "simplex": "a vector, or each row of a matrix, has entries >= 0 summing to 1",
           "symmetric": "a square matrix equal to its transpose",
           "spd": "a symmetric positive definite matrix"}


# --- parser ------------------------------------------------------------------

class _Parser:
    def __init__(self, source):
        self.toks = list(_tokens(source))
        self.i = 0
        self.depth = 0

    @property
    def tok(self):
        tok = self.toks[self.i]
        if tok.kind == "ERROR":
            raise ModelError(tok.text, tok.line, tok.col)
        return tok

    def advance(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, message, tok=None):
        tok = tok or self.toks[self.i]
        return ModelError(message, tok.line, tok.col)

    def expect(self, kind, text=None, what=None):
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            wanted = what or (repr(text) if text else kind.lower())
            raise self.error(f"expected {wanted}, found {_describe(tok)}")
        return self.advance()

    def close(self, opening, what):
        """Expect the ')' matching `opening`; if it is missing, point at `opening`."""
        if self.at("OP", ")"):
            self.advance()
            return
        found = self.tok
        if found.kind in ("NEWLINE", "END") or found.line != opening.line:
            raise self.error(f"{what} opened here is never closed: expected ')' before "
                             f"{_describe(found)}", opening)
        raise self.error(f"expected ')' to close {what}, found {_describe(found)}")

    def at(self, kind, text=None):
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    def name(self, what):
        tok = self.expect("NAME", what=what)
        if tok.text in KEYWORDS:
            raise self.error(f"'{tok.text}' is a keyword and cannot be used as {what}", tok)
        return tok

    # statements

    def statements(self):
        self.errors, self.count, self.loops, self.failed = [], 0, 0, False
        out = self.block()
        if self.errors:
            raise ModelError.collect(self.errors)
        return out

    def block(self, nested=False):
        """Statements up to the end of the file or, in a loop's body, of the indented block."""
        out = []
        while True:
            tok = self.toks[self.i]
            if tok.kind == "END":
                return out
            if tok.kind == "DEDENT":
                self.i += 1
                if nested:
                    return out
                continue
            if tok.kind == "NEWLINE":
                self.i += 1
                continue
            if tok.kind == "INDENT":
                if not self.failed:  # the body of a loop whose line failed: reported there
                    self.errors.append(self.error(
                        "unexpected indentation: only a loop's body, after 'for VAR in A..B:', "
                        "is indented", tok))
                self.skip_block()
                continue
            if self.count >= MAX_STATEMENTS:
                self.errors.append(self.error(
                    f"too many statements (the limit is {MAX_STATEMENTS})", tok))
                self.i = len(self.toks) - 1
                return out
            self.one_statement(out)
            if len(self.errors) >= MAX_ERRORS:
                self.i = len(self.toks) - 1
                return out

    def one_statement(self, out):
        try:
            statement = self.statement()
            if not isinstance(statement, For) and not self.at("NEWLINE"):
                raise self.error(f"expected end of line, found {_describe(self.tok)}")
            out.append(statement)
            self.count += 1
            self.failed = False
        except ModelError as err:
            self.errors.append(err)
            self.failed = True
            self.depth = 0
            while self.toks[self.i].kind not in ("NEWLINE", "END"):
                self.i += 1  # resume at the next line

    def skip_block(self):
        """Pass over an indented block, and the blocks inside it, without parsing it."""
        depth = 0
        while self.toks[self.i].kind != "END":
            kind = self.toks[self.i].kind
            self.i += 1
            depth += (kind == "INDENT") - (kind == "DEDENT")
            if depth == 0:
                return

    def statement(self):
        tok = self.tok
        if tok.kind != "NAME":
            raise self.error(f"expected a statement, found {_describe(tok)}")
        nxt = self.toks[self.i + 1]
        if tok.text in KEYWORDS and nxt.kind == "OP" and nxt.text == "=":
            raise self.error(f"'{tok.text}' is a keyword and cannot be a variable name")
        if tok.text == "dim":
            return self.dim()
        if tok.text in DECLARED_ROLES:
            return self.decl()
        if tok.text == "func":
            return self.func()
        if tok.text == "objective":
            self.advance()
            name = self.name("the objective's name")
            return Objective(name.text, name.line, name.col)
        if tok.text == "for":
            return self.for_loop()
        if nxt.kind == "OP" and nxt.text in ("=", "["):
            return self.assign()
        if tok.text == "as":
            raise self.error("'as' names a statement's LaTeX and goes at the end of one")
        raise self.error(
            f"expected a statement (dim, input, param, const, func, objective, for, or "
            f"NAME = expression), found {_describe(tok)}")

    def for_loop(self):
        kw = self.advance()
        if self.loops >= MAX_LOOPS:
            raise self.error(f"loops nested too deeply (the limit is {MAX_LOOPS})", kw)
        var, range_ = self.loop_range("the loop's index")
        self.expect("OP", ":", "':' at the end of the loop's line")
        self.expect("NEWLINE", what="the end of the line after ':'")
        if self.toks[self.i].kind != "INDENT":
            raise self.error("a loop needs a body: indent the lines after "
                             f"'for {var.text} in ...:'", kw)
        self.i += 1
        self.loops += 1
        body = self.block(nested=True)
        self.loops -= 1
        return For(var.text, range_, tuple(body), kw.line, kw.col)

    def loop_range(self, what):
        """``VAR in A..B``: the index token and its Range."""
        var = self.name(what)
        if not self.at("NAME", "in"):
            raise self.error(f"expected 'in' and a range after '{var.text}' (for {var.text} in "
                             f"1..T), found {_describe(self.tok)}")
        self.advance()
        first = self.tok
        lo = self.expr()
        self.expect("OP", "..", "'..' between the range's bounds (1..T)")
        return var, Range(lo, self.expr(), first.line, first.col)

    def family(self):
        """An optional ``for VAR in A..B`` after a family's declaration, or ``for VAR in
        A..B, VAR in A..B`` after a family of two indices: a list of (VAR, Range)."""
        if not self.at("NAME", "for"):
            return None
        self.advance()
        var, range_ = self.loop_range("the family's index")
        out = [(var.text, range_)]
        while self.at("OP", ",") and len(out) < MAX_FAMILY_INDICES:
            self.advance()
            var, range_ = self.loop_range("the family's second index")
            out.append((var.text, range_))
        if self.at("OP", ","):
            raise self.error(f"a family has at most {MAX_FAMILY_INDICES} indices")
        return out

    def index_names(self):
        """The ``[t]`` or ``[o, c]`` after a declared family's name: its index variables."""
        opening = self.advance()
        names = [self.name("the family's index")]
        while self.at("OP", ",") and len(names) < MAX_FAMILY_INDICES:
            self.advance()
            names.append(self.name("the family's second index"))
        if not self.at("OP", "]"):
            raise self.error(f"expected ']' after the index '{names[-1].text}' (a declared "
                             f"family has one index or two), found {_describe(self.tok)}")
        self.advance()
        return names, opening

    def _named_ranges(self, what, name, names, ranges):
        """The (VAR, Range) pairs of a family declared ``NAME[VARS]: ... for VAR in ...``:
        the same variables, in the same order."""
        wanted = [n.text for n in names]
        given = [var for var, _ in ranges or ()]
        if given != wanted:
            fors = ", ".join(f"{v} in 1..{v.upper()}" for v in wanted)
            raise self.error(f"a family names its ranges after its type, one for each index "
                             f"in order: {what} {name.text}[{', '.join(wanted)}]: ... for "
                             f"{fors}", name)
        return ranges

    def dim(self):
        kw = self.advance()
        names = [self.name("a dimension name")]
        if self.at("OP", "["):
            indices, _ = self.index_names()
            index = self.family()
            var = indices[0].text
            if len(indices) > 1 or index is None or len(index) > 1 or index[0][0] != var:
                raise self.error(f"a family of dimensions has one index and names its range: "
                                 f"dim {names[0].text}[{var}] for {var} in 0..L")
            return Dim(((names[0].text, names[0].line, names[0].col),), kw.line, kw.col,
                       index[0])
        while self.at("OP", ","):
            self.advance()
            names.append(self.name("a dimension name"))
        return Dim(tuple((n.text, n.line, n.col) for n in names), kw.line, kw.col)

    def decl(self):
        role = self.advance().text
        name = self.name(f"the {role}'s name")
        names = None
        if self.at("OP", "["):
            names, _ = self.index_names()
        self.expect("OP", ":", "':' and a type")
        type_ = self.type_spec()
        domain = self.domain()
        ranges = self.family()
        if names is None and ranges is not None:
            vars_ = ", ".join(var for var, _ in ranges)
            raise self.error(f"'for {ranges[0][0]} in ...' declares a family: write the index "
                             f"after the name, {name.text}[{vars_}]", name)
        if names is not None:
            ranges = self._named_ranges(role, name, names, ranges)
        latex = self.latex()
        if self.at("NAME") and self.tok.text in DOMAINS:
            raise self.error(f"the domain '{self.tok.text}' goes after the type, before 'as'")
        index, *more = ranges or (None,)
        return Decl(role, name.text, type_, latex, name.line, name.col, domain, index,
                    tuple(more))

    def domain(self):
        """The optional domain word after a declaration's type."""
        if not self.at("NAME") or self.tok.text in ("as", "for"):
            return None
        tok = self.advance()
        if tok.text not in DOMAINS:
            close = difflib.get_close_matches(tok.text, list(DOMAINS), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            *others, last = DOMAINS
            raise self.error(f"unknown domain '{tok.text}': the type may be followed by "
                             f"{', '.join(others)} or {last}, then 'as \"...\"'{hint}", tok)
        return tok.text

    def type_spec(self):
        tok = self.expect("NAME", what="a type (scalar, vector(n) or matrix(m, n))")
        arity = {"scalar": 0, "vector": 1, "matrix": 2}.get(tok.text)
        if arity is None:
            raise self.error(f"unknown type '{tok.text}': expected scalar, vector(n) or "
                             "matrix(m, n)", tok)
        sizes = []
        if arity:
            opening = self.expect("OP", "(", f"'(' after {tok.text}")
            for k in range(arity):
                if k:
                    self.expect("OP", ",", f"',': {tok.text} takes {arity} sizes")
                sizes.append(self.size())
            self.close(opening, f"{tok.text}(...), which takes {arity} "
                                f"size{'s' * (arity > 1)},")
        return TypeSpec(tok.text, tuple(sizes), tok.line, tok.col)

    def size(self):
        """A size: a dim, a positive whole number, or dims and numbers joined by + - *."""
        tok = self.tok
        if tok.kind not in ("NUMBER", "NAME") and not self.at("OP", "(") \
                and not self.at("OP", "-"):
            self.name("a size (a dimension name or a positive whole number)")
        e = self.expr()
        if isinstance(e, Num):
            if not re.fullmatch(r"\d{1,%d}" % MAX_NUMBER_DIGITS, e.text) or int(e.text) < 1:
                raise self.error(f"a size must be a positive whole number, not {e.text}", tok)
            return (int(e.text), tok.line, tok.col)
        if isinstance(e, Name):
            if e.id in KEYWORDS:
                raise self.error(f"'{e.id}' is a keyword and cannot be used as a size", tok)
            return (e.id, e.line, e.col)
        if isinstance(e, Member):
            return (e, e.line, e.col)
        return (e, tok.line, tok.col)   # an expression of dims: d + h, 4*h

    def func(self):
        self.advance()
        name = self.name("the function's name")
        params = None
        if self.at("OP", "("):
            self.advance()
            params = [self.name("a parameter name").text]
            while self.at("OP", ","):
                self.advance()
                params.append(self.name("a parameter name").text)
            self.expect("OP", ")", "')'")
            params = tuple(params)
        return Func(name.text, params, self.latex(), name.line, name.col)

    def assign(self):
        target = self.name("a variable name")
        indexed = self.member(target) if self.at("OP", "[") else None
        if isinstance(indexed, Slice):
            raise self.error(f"a slice of '{target.text}' cannot be assigned: name the whole "
                             "value, or assign a new name", target)
        indices = indexed.indices if indexed is not None else ()
        self.expect("OP", "=")
        expr = self.expr()
        return Assign(target.text, expr, self.latex(), target.line, target.col, indices)

    def member(self, name):
        """``NAME[i, ...]``, from the '['; `name` is the name's token.  With a range ``A..B``
        or ``:`` inside, a :class:`Slice`."""
        opening, indices = self.indices()
        if any(i is None or isinstance(i, Range) for i in indices):
            self.slice_ranges(opening, indices, "NAME")
            return Slice(name.text, tuple(indices), name.line, name.col)
        return Member(name.text, tuple(indices), name.line, name.col)

    def sliced(self, operand, parenthesis):
        """``(EXPR)[A..B]`` or ``f(x)[A..B]``, from the '[': a slice of the value in
        parentheses or of the call, which begins at the token `parenthesis`."""
        opening, indices = self.indices()
        if not any(i is None or isinstance(i, Range) for i in indices):
            raise self.error("a value in parentheses has no members: slice it with a range, "
                             "(EXPR)[A..B], 1-based, both ends included", opening)
        self.slice_ranges(opening, indices, "(EXPR)")
        return Slice(None, tuple(indices), parenthesis.line, parenthesis.col, operand)

    def indices(self):
        """The '[' token and the indices inside the brackets, up to and past the ']'."""
        opening = self.advance()
        indices = [self.index()]
        while self.at("OP", ","):
            self.advance()
            indices.append(self.index())
        if not self.at("OP", "]"):
            raise self.error(f"expected ']' to close the index opened here, found "
                             f"{_describe(self.tok)}", opening if self.tok.line != opening.line
                             else None)
        self.advance()
        return opening, indices

    def slice_ranges(self, opening, indices, written):
        """Refuse the indices of a slice other than a range of a vector, one of a matrix's
        rows or columns, or one of each."""
        ranges = [i is None or isinstance(i, Range) for i in indices]
        if not all(ranges) or len(indices) > 2 or all(i is None for i in indices):
            raise self.error(f"a slice is {written}[A..B] of a vector, {written}[A..B, :], "
                             f"{written}[:, A..B] or {written}[A..B, C..D] of a matrix "
                             "(1-based, both ends included)", opening)

    def index(self):
        """One index inside brackets: an expression, a range ``A..B``, or ``:``."""
        if self.at("OP", ":"):
            self.advance()
            return None
        first = self.tok
        e = self.expr()
        if not self.at("OP", ".."):
            return e
        self.advance()
        return Range(e, self.expr(), first.line, first.col)

    def latex(self):
        if not self.at("NAME", "as"):
            return None
        self.advance()
        tok = self.expect("STRING", what='a LaTeX name in double quotes after \'as\'')
        text = tok.text[1:-1]
        if not text.strip():
            raise self.error("the LaTeX name is empty", tok)
        unsafe = unsafe_part(text)
        if unsafe is not None:  # it is compiled wherever the derivation is: it must not act
            raise self.error(f"the LaTeX name uses {unsafe}, which LaTeX documents may not "
                             "take from a model: a name is letters, digits, braces, ^, _ and "
                             "math commands such as \\mathbf, \\alpha, \\hat", tok)
        return text

    # expressions

    def nested(self, tok):
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expression nested too deeply (the limit is {MAX_NESTING} levels)",
                             tok)

    def expr(self):
        self.nested(self.tok)
        left = self.term()
        while self.at("OP", "+") or self.at("OP", "-"):
            op = self.advance()
            left = Binary(op.text, left, self.term(), op.line, op.col)
        self.depth -= 1
        return left

    def term(self):
        left = self.unary()
        while self.at("OP", "*") or self.at("OP", "/") or self.at("OP", "@"):
            op = self.advance()
            left = Binary(op.text, left, self.unary(), op.line, op.col)
        return left

    def unary(self):
        if self.at("OP", "-") or self.at("OP", "+"):
            op = self.advance()
            self.nested(op)
            operand = self.unary()
            self.depth -= 1
            return operand if op.text == "+" else Unary("-", operand, op.line, op.col)
        return self.power()

    def power(self):
        base = self.postfix()
        if self.at("OP", "^"):
            op = self.advance()
            self.nested(op)
            exponent = self.unary()
            self.depth -= 1
            return Binary("^", base, exponent, op.line, op.col)
        return base

    def postfix(self):
        node = self.atom()
        while self.at("OP", "."):
            dot = self.advance()
            tok = self.tok
            if not (tok.kind == "NAME" and tok.text == "T"):
                raise self.error(f"expected 'T' after '.', found {_describe(tok)} "
                                 "('.T' is the only attribute)")
            self.advance()
            node = Transpose(node, dot.line, dot.col)
        return node

    def atom(self):
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            return Num(_literal_value(tok), tok.text, tok.line, tok.col)
        if tok.kind == "NAME":
            if tok.text in KEYWORDS:
                raise self.error(f"'{tok.text}' is a keyword, not a value")
            self.advance()
            if self.at("OP", "("):
                called = self.call(tok)
                return self.sliced(called, tok) if self.at("OP", "[") else called
            if self.at("OP", "["):
                return self.member(tok)
            return Name(tok.text, tok.line, tok.col)
        if tok.kind == "OP" and tok.text == "(":
            self.advance()
            inner = self.expr()
            self.close(tok, "'('")
            if self.at("OP", "["):
                return self.sliced(inner, tok)
            return inner
        raise self.error(f"expected a value, found {_describe(tok)}")

    def call(self, tok):
        """``f(a, b)``, or ``sum(EXPR for VAR in A..B)``, from the '('."""
        opening = self.advance()
        args, keywords = [], []
        if not self.at("OP", ")"):
            self.argument(args, keywords)
            if self.at("NAME", "for") and not keywords:
                if tok.text not in REDUCTIONS:
                    raise self.error(f"'for' inside a call adds members over an index, in "
                                     f"{' or '.join(REDUCTIONS)} only, not in {tok.text}")
                self.advance()
                var, range_ = self.loop_range("the index of the sum")
                self.close(opening, "the call")
                return Reduce(tok.text, args[0], var.text, range_, tok.line, tok.col)
            while self.at("OP", ","):
                self.advance()
                self.argument(args, keywords)
        self.close(opening, "the call")
        return Call(tok.text, tuple(args), tok.line, tok.col, tuple(keywords))

    def argument(self, args, keywords):
        """One argument of a call: ``NAME=EXPR`` to `keywords`, else an expression to `args`
        (after which no argument is given by position)."""
        tok, following = self.tok, self.toks[self.i + 1]
        if tok.kind == "NAME" and following.kind == "OP" and following.text == "=":
            if any(k.name == tok.text for k in keywords):
                raise self.error(f"the argument '{tok.text}' is given twice", tok)
            self.advance()
            self.advance()
            keywords.append(Keyword(tok.text, self.expr(), tok.line, tok.col))
            return
        if keywords:
            raise self.error("an argument given by position after one given by name "
                             f"('{keywords[-1].name}='): give the positional ones first", tok)
        args.append(self.expr())


def parse_statements(source):
    """Parse model text into a list of statements.

    Parameters
    ----------
    source : str
        The model's text.

    Returns
    -------
    list
        :class:`Dim`, :class:`Decl`, :class:`Func`, :class:`Assign` and
        :class:`Objective` records, in source order.

    Raises
    ------
    ModelError
        On any syntax error or exceeded limit, with line and column.

    Examples
    --------
    >>> [type(s).__name__ for s in parse_statements("dim n\\ninput x: vector(n)\\ny = x.T @ x")]
    ['Dim', 'Decl', 'Assign']
    >>> parse_statements("y = (x")
    Traceback (most recent call last):
    ...
    symbackprop.errors.ModelError: <string>:1:5: error: '(' opened here is never closed:
    expected ')' before end of line
    """
    if not isinstance(source, str):
        raise ModelError("a model must be text (str)")
    if not source.strip():
        raise ModelError("the model is empty: it needs declarations, assignments and an objective",
                         1, 1)
    if len(source) > MAX_SOURCE_CHARS:
        raise ModelError(f"the model is too large ({len(source):,} characters; "
                         f"the limit is {MAX_SOURCE_CHARS:,})", 1, 1)
    for number, text in enumerate(source.splitlines(), start=1):
        if len(text) > MAX_LINE_CHARS:
            raise ModelError(f"line too long ({len(text):,} characters; "
                             f"the limit is {MAX_LINE_CHARS:,})", number, 1)
    return _Parser(source).statements()
