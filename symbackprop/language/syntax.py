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
> 0) or ``unit`` (entries in (0, 1)), and then by ``as``.

This module turns text into the dataclasses below with a hand-written
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
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ModelError

__all__ = [
    "parse_statements", "Num", "Name", "Call", "Binary", "Unary", "Transpose",
    "TypeSpec", "Dim", "Decl", "Func", "Assign", "Objective", "KEYWORDS",
]

MAX_SOURCE_CHARS = 1_000_000
MAX_LINE_CHARS = 10_000
MAX_STATEMENTS = 20_000
MAX_NESTING = 50
MAX_ERRORS = 20
MAX_NUMBER_DIGITS = 100
MAX_NUMBER_EXPONENT = 308

KEYWORDS = frozenset({"dim", "input", "param", "const", "func", "objective", "as"})
#: The declarations' keywords: the roles of the values a model is given, not computes.
DECLARED_ROLES = ("input", "param", "const")
#: The words that may follow a declaration's type: the values it takes.  Not keywords:
#: they mean a domain only there, so a variable may still be named ``unit``.
DOMAINS = {"positive": "entries > 0", "unit": "entries in the open interval (0, 1)"}


# --- syntax tree -------------------------------------------------------------

@dataclass(frozen=True)
class Num:
    """A numeric literal, kept exact."""
    value: Fraction
    text: str
    line: int
    col: int


@dataclass(frozen=True)
class Name:
    id: str
    line: int
    col: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple
    line: int
    col: int


@dataclass(frozen=True)
class Binary:
    op: str          # one of + - * / @ ^
    left: object
    right: object
    line: int        # the operator's position
    col: int


@dataclass(frozen=True)
class Unary:
    op: str          # "-"
    operand: object
    line: int
    col: int


@dataclass(frozen=True)
class Transpose:
    operand: object
    line: int
    col: int


@dataclass(frozen=True)
class TypeSpec:
    kind: str        # scalar | vector | matrix
    sizes: tuple     # of (str | int, line, col)
    line: int
    col: int


@dataclass(frozen=True)
class Dim:
    names: tuple     # of (name, line, col)
    line: int
    col: int


@dataclass(frozen=True)
class Decl:
    role: str        # input | param | const
    name: str
    type: TypeSpec
    latex: str | None
    line: int
    col: int         # the name's position
    domain: str | None = None   # a key of DOMAINS, written after the type


@dataclass(frozen=True)
class Func:
    name: str
    params: tuple | None   # None: elementwise; else the parameter names
    latex: str | None
    line: int
    col: int


@dataclass(frozen=True)
class Assign:
    target: str
    expr: object
    latex: str | None
    line: int
    col: int


@dataclass(frozen=True)
class Objective:
    name: str
    line: int
    col: int


# --- tokens ------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str   # NAME NUMBER STRING OP NEWLINE END
    text: str
    line: int
    col: int


_TOKEN = re.compile(r"""
    (?P<space>[ \t\f]+)
  | (?P<comment>\#[^\n]*)
  | (?P<newline>\r?\n)
  | (?P<NUMBER>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<STRING>"[^"\n]*")
  | (?P<OP>[-+*/@^(),:=.])
""", re.VERBOSE)


def _tokens(source):
    """Yield tokens; newlines inside parentheses join lines."""
    depth = 0
    line, line_start, pos = 1, 0, 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        col = pos - line_start + 1
        if m is None:
            # An ERROR token: the parser reports it when it reaches it, then
            # resumes at the next line, so later errors are found too.
            ch = source[pos]
            if ch == '"':
                yield Token("ERROR", "unterminated string: a LaTeX name ends with '\"' on the "
                            "same line", line, col)
                end = source.find("\n", pos)
                pos = len(source) if end < 0 else end
            else:
                yield Token("ERROR", f"unexpected character {ch!r}", line, col)
                pos += 1
            continue
        kind = m.lastgroup
        text = m.group()
        if kind == "newline":
            if depth == 0:
                yield Token("NEWLINE", "\n", line, col)
            line, line_start = line + 1, m.end()
        elif kind in ("NUMBER", "NAME", "STRING", "OP"):
            if text == "(":
                depth += 1
            elif text == ")":
                depth = max(depth - 1, 0)
            yield Token(kind, text, line, col)
        pos = m.end()
    yield Token("NEWLINE", "\n", line, pos - line_start + 1)
    yield Token("END", "", line, pos - line_start + 1)


def _literal_value(tok):
    """The exact value of a numeric literal, within limits that keep it cheap."""
    mantissa, _, exponent = tok.text.lower().partition("e")
    if len(mantissa) > MAX_NUMBER_DIGITS or abs(int(exponent or 0)) > MAX_NUMBER_EXPONENT:
        raise ModelError(f"number out of range: at most {MAX_NUMBER_DIGITS} digits and an "
                         f"exponent within ±{MAX_NUMBER_EXPONENT}", tok.line, tok.col)
    return Fraction(tok.text)


def _describe(tok):
    if tok.kind == "NEWLINE":
        return "end of line"
    if tok.kind == "END":
        return "end of file"
    return repr(tok.text)


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
        out, errors = [], []
        while self.toks[self.i].kind != "END":
            if self.toks[self.i].kind == "NEWLINE":
                self.i += 1
                continue
            if len(out) >= MAX_STATEMENTS:
                errors.append(self.error(f"too many statements (the limit is {MAX_STATEMENTS})",
                                         self.toks[self.i]))
                break
            try:
                statement = self.statement()
                if not self.at("NEWLINE"):
                    raise self.error(f"expected end of line, found {_describe(self.tok)}")
                out.append(statement)
            except ModelError as err:
                errors.append(err)
                if len(errors) >= MAX_ERRORS:
                    break
                self.depth = 0
                while self.toks[self.i].kind not in ("NEWLINE", "END"):
                    self.i += 1  # resume at the next line
        if errors:
            raise ModelError.collect(errors)
        return out

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
        if nxt.kind == "OP" and nxt.text == "=":
            return self.assign()
        if tok.text == "as":
            raise self.error("'as' names a statement's LaTeX and goes at the end of one")
        raise self.error(
            f"expected a statement (dim, input, param, const, func, objective, or "
            f"NAME = expression), found {_describe(tok)}")

    def dim(self):
        kw = self.advance()
        names = [self.name("a dimension name")]
        while self.at("OP", ","):
            self.advance()
            names.append(self.name("a dimension name"))
        return Dim(tuple((n.text, n.line, n.col) for n in names), kw.line, kw.col)

    def decl(self):
        role = self.advance().text
        name = self.name(f"the {role}'s name")
        self.expect("OP", ":", "':' and a type")
        type_ = self.type_spec()
        domain = self.domain()
        latex = self.latex()
        if self.at("NAME") and self.tok.text in DOMAINS:
            raise self.error(f"the domain '{self.tok.text}' goes after the type, before 'as'")
        return Decl(role, name.text, type_, latex, name.line, name.col, domain)

    def domain(self):
        """The optional domain word after a declaration's type."""
        if not self.at("NAME") or self.tok.text == "as":
            return None
        tok = self.advance()
        if tok.text not in DOMAINS:
            close = difflib.get_close_matches(tok.text, list(DOMAINS), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise self.error(f"unknown domain '{tok.text}': the type may be followed by "
                             f"{' or '.join(DOMAINS)}, then 'as \"...\"'{hint}", tok)
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
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            if not re.fullmatch(r"\d{1,%d}" % MAX_NUMBER_DIGITS, tok.text) or int(tok.text) < 1:
                raise self.error(f"a size must be a positive whole number, not {tok.text}", tok)
            return (int(tok.text), tok.line, tok.col)
        name = self.name("a size (a dimension name or a positive whole number)")
        return (name.text, name.line, name.col)

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
        self.expect("OP", "=")
        expr = self.expr()
        return Assign(target.text, expr, self.latex(), target.line, target.col)

    def latex(self):
        if not self.at("NAME", "as"):
            return None
        self.advance()
        tok = self.expect("STRING", what='a LaTeX name in double quotes after \'as\'')
        text = tok.text[1:-1]
        if not text.strip():
            raise self.error("the LaTeX name is empty", tok)
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
                opening = self.advance()
                args = []
                if not self.at("OP", ")"):
                    args.append(self.expr())
                    while self.at("OP", ","):
                        self.advance()
                        args.append(self.expr())
                self.close(opening, "the call")
                return Call(tok.text, tuple(args), tok.line, tok.col)
            return Name(tok.text, tok.line, tok.col)
        if tok.kind == "OP" and tok.text == "(":
            self.advance()
            inner = self.expr()
            self.close(tok, "'('")
            return inner
        raise self.error(f"expected a value, found {_describe(tok)}")


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
