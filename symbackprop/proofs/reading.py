"""A reader of printed formulas: the notation symbackprop prints, read back into numbers.

A printed formula is right only if every reading a careful reader might take
gives the right value.  This module reads the Unicode text form and the LaTeX
subset the printers emit, and evaluates the formula with NumPy: not into one
value, but into the set of values of all its plausible readings.  Where
readers' conventions differ it tries each one:

* juxtaposition against ⊙: ``A B ⊙ C`` as ``(A B) ⊙ C`` and as ``A (B ⊙ C)``;
* an inline slash: ``a/b c`` as ``(a/b) c``, ``a/(b c)``; ``a/b ⊙ c`` likewise;
* an exponent followed by a slash: ``x^⊙3/2`` as ``x^(3/2)`` and ``(x^3)/2``;
* the size of an unsized 𝟏: every size of the model's dims that fits;
* a name with two meanings (two calls of one function written ``∂ℓ/∂o``, a
  variable printed like a function): each meaning.

What every reader shares is fixed: function application binds tightest,
postfix ᵀ and powers bind to the atom before them, a unary minus negates the
product after it, + and - are loosest, a named adjoint ``∂J/∂h`` is an atom.
Readings that do not type-check (a matrix product of mismatched sizes, a
division by a matrix) are not plausible and are dropped.

The reader knows the notation, not the derivation: the names it can meet come
in a :class:`Vocabulary` (what each printed name may stand for), which
:mod:`symbackprop.proofs.readback` builds from the model.  Nothing read is ever
evaluated as code: the text is tokenised and parsed here, and what the
notation's operations compute, reading by reading, is
:mod:`symbackprop.proofs.notation_values`.

Examples
--------
>>> import numpy as np
>>> x = np.array([[1.0], [2.0]])
>>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
>>> vocabulary = Vocabulary({"x": [Value(x)], "A": [Value(A)]}, sizes=(2,))
>>> [v.ravel().tolist() for v in read("A x ⊙ x", vocabulary)]
[[5.0, 22.0], [9.0, 19.0]]
>>> [v.ravel().tolist() for v in read("(A x) ⊙ x", vocabulary)]
[[5.0, 22.0]]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..primitives.functions import arity, latex_macros, text_names
from . import window_values
from .block_reading import block_matrix, sliced
from .notation_values import (  # part of what this module offers
    TOO_MANY,
    ReadError,
    add,
    builtin,
    combine,
    distinct,
    divide,
    entrywise_power,
    inverse,
    is_scalar,
    norm,
    readings,
    scalar_power,
    superscript_power,
)

__all__ = ["Vocabulary", "Value", "Entrywise", "Scalar", "Linear", "ReadError", "read", "TOO_MANY"]

_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"
_SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉"


@dataclass(frozen=True, eq=False)
class Value:
    """A printed name that stands for a value."""

    value: object


@dataclass(frozen=True, eq=False)
class Linear:
    """A printed name that stands for a linear map applied in brackets: ``∂²L/∂O² [R{O}]``."""

    apply: object


@dataclass(frozen=True)
class Entrywise:
    """A printed name that stands for a scalar function applied entrywise.

    ``function(x, order)`` is its `order`-th derivative at the array `x`.
    """

    function: object


@dataclass(frozen=True)
class Scalar:
    """An abstract scalar function of matrices, ``ℓ(o, y)``, and its partials.

    `binding` has ``scalar(name, args)``, ``partial(name, slot, args)`` and
    ``second_partial(name, slot, along, args, tangent)``.
    """

    name: str
    binding: object


@dataclass
class Vocabulary:
    """What the names in a printed formula may stand for.

    Parameters
    ----------
    names : dict of str to list
        Each printed name (``"W1"``, ``"∂J/∂o"``, ``"\\\\boldsymbol{h}"``,
        ``"φ"``) to its possible meanings: :class:`Value`, :class:`Entrywise`,
        :class:`Scalar`.  More than one meaning is more than one reading.
    sizes : tuple of int
        The sizes an unsized 𝟏 may have (the dims' sizes).
    latex : bool
        Whether formulas are LaTeX.
    """

    names: dict
    sizes: tuple = ()
    latex: bool = False
    _pattern: object = field(default=None, repr=False)

    def pattern(self):
        if self._pattern is None:
            ordered = sorted(self.names, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(n) for n in ordered)) if ordered \
                else re.compile(r"(?!x)x")
        return self._pattern


# --- tokens --------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # name, num, op, func, end
    text: str
    meanings: tuple = ()
    value: object = None


_TEXT_OPERATORS = ["⁻ᵀ", "^⊙", "(", ")", "[", "]", ",", "+", "-", "⊙", "/", "ᵀ", "^", "‖", "𝟏",
                   "𝟙", ">", "<", "≤", "≥", "'", "∂²", "∂", "·", "⁽", "⁾", "I", "..", ";", ":",
                   "⋆"]
_TEXT_FUNCTIONS = ["log_softmax", "logsumexp", "softmax", "sum", "tr", "max_rows", "min_rows",
                   "max_cols", "min_cols", "det", "log det", "diag",
                   *window_values.FUNCTIONS]  # with the table's
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # not \\d: 𝟏 and 𝟙 are Unicode digits

_LATEX_FIXED = [
    (r"\begin{bmatrix}", "["), (r"\end{bmatrix}", "]"), ("\\\\[1.5ex]", ";"), ("\\\\", ";"),
    ("&", "&"), (":", ":"),
    (r"^{-\top}", "⁻ᵀ"), (r"^{-T}", "⁻ᵀ"), (r"^{-\mathsf{T}}", "⁻ᵀ"),
    (r"\left\|", "‖"), (r"\right\|_F", "‖"), (r"\right\|", "‖"), (r"\left(", "("),
    (r"\right)", ")"), (r"\left[", "["), (r"\right]", "]"), (r"\Bigl(", "("), (r"\Bigr)", ")"),
    (r"\bigl(", "("), (r"\bigr)", ")"), (r"\Bigl\|", "‖"), (r"\Bigr\|_F", "‖"),
    (r"\Bigr\|", "‖"), (r"\Bigl[", "["), (r"\Bigr]", "]"), (r"\Bigl|", "|"),
    (r"\Bigr|", "|"), (r"\left|", "|"), (r"\right|", "|"),
    (r"\odot", "⊙"), (r"\star", "⋆"), (r"^\top", "ᵀ"), (r"^{T}", "ᵀ"), (r"^{\mathsf{T}}", "ᵀ"),
    (r"\mathbf{1}", "𝟏"), (r"\mathbb{I}", "𝟙"), (r"\mathbf{I}", "I"), (r"\cdot", "·"),
    (r"\frac", "frac"), (r"\sqrt", "sqrt"), (r"\partial", "∂"), ("^{", "^{"), ("{", "{"),
    ("}", "}"), ("(", "("), (")", ")"), ("[", "["), ("]", "]"), (",", ","), ("+", "+"),
    ("-", "-"), ("/", "/"), (">", ">"), ("<", "<"), (r"\leq", "≤"), (r"\geq", "≥"),
    ("'", "'"), ("^", "^"), ("_", "_"),
]
_LATEX_DETERMINANTS = {r"\log\det": "log det", r"\det": "det"}
# spaces only: a line break or an & left inside a group must fail to read
_LATEX_SPACE = re.compile(r"(\s|\\,|\\;|\\quad|\\qquad|\\!|\\displaystyle)+")
_OPERATORNAME = re.compile(r"\\operatorname\{([A-Za-z0-9_\\]+)\}")


def _scan(text, rules, width):
    """Tokens of `text`: at each position the first rule that matches, (token or None, end)."""
    out, i = [], 0
    while i < len(text):
        for rule in rules:
            found = rule(text, i)
            if found is not None:
                token, i = found
                if token is not None:
                    out.append(token)
                break
        else:
            raise ReadError(f"cannot read {text[i:i + width]!r} at column {i + 1}")
    out.append(Token("end", ""))
    return out


def _number_token(text, i):
    n = _NUMBER.match(text, i)
    return (Token("num", n.group(), value=float(n.group())), n.end()) if n else None


def _script(kind, digits):
    def rule(text, i):
        run = re.match(f"[{digits}]+", text[i:])
        if not run:
            return None
        return Token(kind, run.group(), value=_script_number(run.group(), digits)), \
            i + len(run.group())
    return rule


def _text_tokens(text, vocabulary, extra=()):
    names = vocabulary.pattern()
    # longest first: log_softmax is not log, then _softmax
    functions = sorted({*_TEXT_FUNCTIONS, *text_names()}, key=lambda n: (-len(n), n))

    def space(text, i):
        return (None, i + 1) if text[i].isspace() else None

    def name_or_function(text, i):
        m = names.match(text, i)
        if m and re.match(r"[A-Za-z0-9_]", m.group()[-1:]) \
                and re.match(r"[A-Za-z0-9_]", text[m.end():m.end() + 1]):
            m = None  # W in W1: a name ends where its word does
        fn = next((f for f in functions if text.startswith(f, i)), None)
        if m and (fn is None or len(m.group()) >= len(fn)):
            called = any(isinstance(x, (Entrywise, Scalar)) for x in vocabulary.names[m.group()])
            if fn is not None and len(m.group()) == len(fn) and text.startswith("(", m.end()) \
                    and not called:  # the model's φ: the built-in is then printed otherwise
                raise ReadError(f"{fn!r} is both a function and a name at column {i + 1}")
            return Token("name", m.group(), tuple(vocabulary.names[m.group()])), m.end()
        if fn is not None and not re.match(r"[A-Za-z0-9_]", text[i + len(fn):i + len(fn) + 1]):
            return Token("func", fn), i + len(fn)
        return None

    def operator(text, i):
        op = next((o for o in _TEXT_OPERATORS if text.startswith(o, i)), None)
        return (Token("op", op), i + len(op)) if op else None

    def inverse_transpose(text, i):  # X⁻ᵀ: not the superscript ⁻ of a power
        return (Token("op", "⁻ᵀ"), i + 2) if text.startswith("⁻ᵀ", i) else None

    return _scan(text, [space, *extra, name_or_function, _number_token, _euler,
                        inverse_transpose, _script("sup", _SUPERSCRIPTS),
                        _script("sub", _SUBSCRIPTS), operator], 12)


def _euler(text, i):
    """Euler's number e, where no name of the model is printed e (names are matched first)."""
    if text.startswith("e", i) and not re.match(r"[A-Za-z0-9_{]", text[i + 1:i + 2]):
        return Token("num", "e", value=float(np.e)), i + 1
    return None


def _script_number(run, digits):
    return int(run.translate(str.maketrans(digits[:10] + "⁻", "0123456789-")))


def _latex_tokens(text, vocabulary, extra=()):
    names = vocabulary.pattern()
    macros = latex_macros()

    def space(text, i):
        m = _LATEX_SPACE.match(text, i)
        return (None, m.end()) if m else None

    def name(text, i):
        m = names.match(text, i)
        return (Token("name", m.group(), tuple(vocabulary.names[m.group()])), m.end()) if m \
            else None

    def function(text, i):
        named = next((f for f in _LATEX_DETERMINANTS if text.startswith(f, i)), None)
        if named:  # \log\det before \log
            return Token("func", _LATEX_DETERMINANTS[named]), i + len(named)
        fn = next((f for f in macros if text.startswith(f, i)
                   and not text[i + len(f):i + len(f) + 1].isalpha()), None)
        if fn:
            return Token("func", macros[fn]), i + len(fn)
        m = _OPERATORNAME.match(text, i)
        return (Token("func", m.group(1).replace("\\_", "_")), m.end()) if m else None

    def fixed(text, i):
        found = next(((t, k) for t, k in _LATEX_FIXED if text.startswith(t, i)), None)
        return (Token("op", found[1]), i + len(found[0])) if found else None

    return _scan(text, [space, *extra, name, function, _number_token, _euler, fixed], 16)


# --- the parser --------------------------------------------------------------------------

def _memoised(rule):
    """A rule computed once per position (a packrat parser: linear, not exponential)."""
    def wrapper(self, pos, *args):
        key = (rule.__name__, pos, args, self.bound)
        if key not in self.memo:
            self.memo[key] = rule(self, pos, *args)
        return self.memo[key]
    wrapper.__name__ = rule.__name__
    return wrapper


class Parser:
    """Recursive descent over tokens; each rule returns the readings' values.

    Where the token stream itself can be split two ways (an exponent followed by
    a slash), a rule returns several (values, position) alternatives.  `bound` holds
    the values of the indices bound where the parser is (none here; a sum over an
    index binds one, :mod:`symbackprop.proofs.index_reading`), as sorted pairs.
    """

    def __init__(self, tokens, vocabulary):
        self.t = tokens
        self.vocabulary = vocabulary
        self.memo = {}
        self.bound = ()

    # Each rule: (position) -> list of (values, position)

    def formula(self):
        out = []
        for values, pos in self.sum(0):
            if self.t[pos].kind == "end":
                out.extend(values)
        if not out:
            end = max((p for _, p in self.sum(0)), default=0)
            raise ReadError(f"no reading of the whole formula (stopped at "
                            f"{self.t[end].text or 'the end'!r})")
        return distinct(out)

    def _is(self, pos, *texts):
        tok = self.t[pos]
        return tok.kind == "op" and tok.text in texts

    @_memoised
    def sum(self, pos):
        sign = 1.0
        if self._is(pos, "-", "+"):
            sign = -1.0 if self.t[pos].text == "-" else 1.0
            pos += 1
        alternatives = [(combine(lambda a: sign * a, values), p) for values, p in self.term(pos)]
        done = []
        while alternatives:
            grown = []
            for values, p in alternatives:
                if self._is(p, "+", "-"):
                    s = 1.0 if self.t[p].text == "+" else -1.0
                    for right, q in self.term(p + 1):
                        grown.append((combine(lambda a, b: add(a, b, s), values, right), q))
                done.append((values, p))
            alternatives = [(v, p) for v, p in grown if v]
        return _merged(done)

    @_memoised
    def term(self, pos):
        """Factors joined by juxtaposition, ⊙ and /: every plausible bracketing."""
        chains = [([f], [], p) for f, p in self.factor(pos)]
        done = []
        while chains:
            grown = []
            for operands, ops, p in chains:
                longer = []
                if self._is(p, "⊙", "/", "·"):
                    op = "juxt" if self.t[p].text == "·" else self.t[p].text
                    for f, q in self.factor(p + 1, True):
                        longer.append((operands + [f], ops + [op], q))
                elif self._is(p, "⋆"):  # A ⋆ K, A ⋆₂ K, A \star_{2} K
                    op, start = self._star(p)
                    for f, q in self.factor(start):
                        longer.append((operands + [f], ops + [op], q))
                elif self._starts_factor(p):
                    for f, q in self.factor(p):
                        longer.append((operands + [f], ops + ["juxt"], q))
                grown.extend(longer)
                done.append((operands, ops, p))  # ‖‖z‖ W‖: the inner chain stops before ‖
            chains = grown
        return _merged([(readings(operands, ops), p) for operands, ops, p in done])

    def _star(self, pos):
        """The operator ⋆ at `pos` with its stride, ("⋆2", next position); "⋆" for 1."""
        if self.t[pos + 1].kind == "sub":
            return f"⋆{self.t[pos + 1].value}", pos + 2
        if self._is(pos + 1, "_") and self._is(pos + 2, "{") and self.t[pos + 3].kind == "num" \
                and self._is(pos + 4, "}"):
            return f"⋆{int(self.t[pos + 3].value)}", pos + 5
        return "⋆", pos + 1

    def _starts_factor(self, pos):
        tok = self.t[pos]
        if tok.kind not in ("op", "end", "sup", "sub"):  # a name, a number, an extension's atom
            return True
        return tok.kind == "op" and tok.text in ("(", "‖", "𝟏", "𝟙", "∂", "∂²", "frac", "sqrt",
                                                  "{", "I", "|", "[")

    @_memoised
    def factor(self, pos, signed=False):
        if signed and self._is(pos, "-"):
            return [(combine(lambda a: -a, v), p) for v, p in self.factor(pos + 1)]
        out = []
        for values, p in self.primary(pos):
            out.extend(self.postfix(values, p))
        return _merged(out)

    def postfix(self, values, pos):
        """ᵀ, superscript powers, ^⊙k and slices after an atom."""
        cut = sliced(self, values, pos)
        if cut:
            return [(values, pos)] + [a for v, p in cut for a in self.postfix(v, p)]
        if self._is(pos, "ᵀ"):
            return self.postfix(combine(lambda a: a.T if not is_scalar(a) else a, values),
                                pos + 1)
        if self._is(pos, "⁻ᵀ"):
            return self.postfix(combine(lambda a: inverse(a).T, values), pos + 1)
        tok = self.t[pos]
        if tok.kind == "sup":
            return self.postfix(combine(superscript_power(tok.value), values), pos + 1)
        if self._is(pos, "^⊙", "^{", "^"):
            out = []
            for exponents, p in self.exponent(pos):
                entrywise = self.t[pos].text == "^⊙" or self._hadamard_exponent(pos)
                power = entrywise_power if entrywise else scalar_power
                out.extend(self.postfix(combine(power, values, exponents), p))
            return out
        return [(values, pos)]

    def _hadamard_exponent(self, pos):
        return self.t[pos].text == "^{" and self._is(pos + 1, "⊙")

    def exponent(self, pos):
        """The exponent after ^⊙ or ^: a number, a fraction, a bracketed formula."""
        kind = self.t[pos].text
        pos += 1
        if kind == "^{":
            if self._is(pos, "⊙"):
                pos += 1
            return [(v, p + 1) for v, p in self.sum(pos) if self._is(p, "}")]
        if self._is(pos, "("):
            return [(v, p + 1) for v, p in self.sum(pos + 1) if self._is(p, ")")]
        sign = 1.0
        if self._is(pos, "-"):
            sign, pos = -1.0, pos + 1
        if self.t[pos].kind != "num":
            if self.vocabulary.latex and self.t[pos].kind in ("name",):
                return [(v, pos + 1) for v in [self.primary_name(pos)]]
            return []
        whole = [np.asarray(sign * self.t[pos].value)]
        out = [(whole, pos + 1)]
        if self._is(pos + 1, "/") and self.t[pos + 2].kind == "num":
            # x^⊙3/2: a reader may take 3/2 as the exponent, or divide x^⊙3 by 2
            out.append(([np.asarray(sign * self.t[pos].value / self.t[pos + 2].value)], pos + 3))
        return out

    def primary_name(self, pos):
        return distinct([m.value for m in self.t[pos].meanings if isinstance(m, Value)])

    def primary(self, pos):  # noqa: C901 - one case per kind of atom
        tok = self.t[pos]
        if tok.kind == "num":
            return [([np.asarray(tok.value)], pos + 1)]
        if tok.kind == "name":
            return self._name(pos)
        if tok.kind == "func":
            many = arity(tok.text) > 1 or tok.text in window_values.MANY
            return self._call(builtin(tok.text), tok.text, pos + 1, many=many)
        if tok.kind != "op":
            return self.other_primary(pos)
        if tok.text == "(":
            return [(v, p + 1) for v, p in self.sum(pos + 1) if self._is(p, ")")]
        if tok.text == "[":
            return block_matrix(self, pos)
        if tok.text == "{":  # TeX grouping is invisible: it may hold one factor only
            return [(v, p + 1) for v, p in self.factor(pos + 1) if self._is(p, "}")]
        if tok.text == "‖":
            return [(combine(norm, v), p + 1) for v, p in self.sum(pos + 1) if self._is(p, "‖")]
        if tok.text == "|":
            return [(combine(np.abs, v), p + 1) for v, p in self.sum(pos + 1) if self._is(p, "|")]
        if tok.text == "𝟏":
            return [(self._ones(), pos + 1)]
        if tok.text == "I":
            return [([np.eye(k) for k in self.vocabulary.sizes], pos + 1)]
        if tok.text == "𝟙":
            return self._indicator(pos + 1)
        if tok.text in ("∂", "∂²"):
            return self._slot_partial(pos)
        if tok.text == "frac":
            return self._fraction(pos + 1)
        if tok.text == "sqrt":
            return [(combine(builtin("sqrt"), v), p) for v, p in self._group(pos + 1)]
        return []

    def other_primary(self, pos):
        """An atom of a kind this parser does not know: no reading (kinds of extensions)."""
        return []

    def _group(self, pos):
        if not self._is(pos, "{"):
            return []
        return [(v, p + 1) for v, p in self.sum(pos + 1) if self._is(p, "}")]

    def _fraction(self, pos):
        out = []
        for top, p in self._group(pos):
            for bottom, q in self._group(p):
                out.append((combine(divide, top, bottom), q))
        return out

    def _ones(self):
        return [np.ones((k, 1)) for k in self.vocabulary.sizes]

    def _indicator(self, pos):
        if not self._is(pos, "["):
            return []
        out = []
        for v, p in self.sum(pos + 1):
            relation = _RELATIONS.get(self.t[p].text) if self.t[p].kind == "op" else None
            for w, q in (self.sum(p + 1) if relation else []):  # 𝟙[x > 0], 𝟙[X ≥ r 𝟏ᵀ]
                if self._is(q, "]"):
                    out.append((combine(lambda a, b, r=relation: r(a - b).astype(np.float64),
                                        v, w), q + 1))
        return out

    def _name(self, pos):
        tok = self.t[pos]
        out = []
        values = [m.value for m in tok.meanings if isinstance(m, Value)]
        if values:
            out.append((distinct(values), pos + 1))
        for m in tok.meanings:
            if isinstance(m, Linear) and self._is(pos + 1, "["):
                out.extend((combine(m.apply, v), p + 1) for v, p in self.sum(pos + 2)
                           if self._is(p, "]"))
            if isinstance(m, Entrywise):
                out.extend(self._entrywise_call(m, pos + 1))
            elif isinstance(m, Scalar):
                out.extend(self._call(lambda *a, m=m: m.binding.scalar(m.name, list(a)),
                                      m.name, pos + 1, many=True))
        return out

    def _primes(self, pos):
        """The order of a derivative written after a function's name: ', '', ⁽⁴⁾, ^{(4)}."""
        order = 0
        while self._is(pos, "'"):
            order, pos = order + 1, pos + 1
        if order == 0 and self._is(pos, "⁽") and self.t[pos + 1].kind == "sup":
            return self.t[pos + 1].value, pos + 3
        if order == 0 and self._is(pos, "^{") and self._is(pos + 1, "(") \
                and self.t[pos + 2].kind == "num" and self._is(pos + 4, "}"):
            return int(self.t[pos + 2].value), pos + 5
        return order, pos

    def _entrywise_call(self, meaning, pos):
        order, pos = self._primes(pos)
        return self._call(lambda a: meaning.function(a, order), "", pos)

    def _call(self, f, name, pos, many=False):
        """f(args), f²(args) (the square of f's value), or, in LaTeX, f applied to a factor."""
        if f is None:
            return []
        power = None
        if self.t[pos].kind == "sup":
            power, pos = self.t[pos].value, pos + 1
        elif self._is(pos, "^{") and self.t[pos + 1].kind == "num" and self._is(pos + 2, "}"):
            power, pos = self.t[pos + 1].value, pos + 3
        out = []
        if self._is(pos, "("):
            for args, p in self._arguments(pos + 1, many):
                out.append((combine(f, *args), p))
        elif self.vocabulary.latex and self._is(pos, "{") and self._is(pos + 1, "("):
            # \phi{\left(z\right)}, \ell{\left(o, y\right)}: the arguments braced
            out = [(combine(f, *args), p + 1) for args, p in self._arguments(pos + 2, many)
                   if self._is(p, "}")]
        elif self.vocabulary.latex and not many:
            out = [(combine(f, v), p) for v, p in self.factor(pos)]
        if power is not None:
            out = [(combine(lambda a: a ** power, v), p) for v, p in out]
        return out

    def _arguments(self, pos, many):
        """Comma-separated formulas up to the closing bracket: [(list of value sets, pos)]."""
        done, partial = [], [([], pos)]
        while partial:
            grown = []
            for args, p in partial:
                for v, q in self.sum(p):
                    if self._is(q, ")"):
                        done.append((args + [v], q + 1))
                    elif self._is(q, ",") and many:
                        grown.append((args + [v], q + 1))
            partial = grown
        return done

    def _slot_partial(self, pos):
        """∂ₖℓ(args) and ∂ₖ∂ₘℓ(args) [tangent], in text; ∂_{k} ℓ(args) in LaTeX."""
        slots = []
        while self._is(pos, "∂"):
            if self.t[pos + 1].kind == "sub":
                slots.append(self.t[pos + 1].value - 1)
                pos += 2
            elif self._is(pos + 1, "_") and self._is(pos + 2, "{") \
                    and self.t[pos + 3].kind == "num" and self._is(pos + 4, "}"):
                slots.append(int(self.t[pos + 3].value) - 1)
                pos += 5
            else:
                return []
        if not slots or len(slots) > 2 or self.t[pos].kind != "name":
            return []
        out = []
        braced = self.vocabulary.latex and self._is(pos + 1, "{")  # \ell{\left(o, y\right)}
        opened = pos + 2 + braced
        for m in self.t[pos].meanings:
            if not isinstance(m, Scalar) or not self._is(opened - 1, "("):
                continue
            for args, p in self._arguments(opened, True):
                if braced:
                    if not self._is(p, "}"):
                        continue
                    p += 1
                if len(slots) == 1:
                    out.append((combine(lambda *a, m=m: m.binding.partial(
                        m.name, slots[0], list(a)), *args), p))
                    continue
                if not self._is(p, "["):
                    continue
                for tangent, q in self.sum(p + 1):
                    if self._is(q, "]"):
                        out.append((combine(lambda t, *a, m=m: m.binding.second_partial(
                            m.name, slots[0], slots[1], list(a), t), tangent, *args), q + 1))
        return out


#: The relations an indicator 𝟙[x > 0] may state of x and 0.
_RELATIONS = {">": lambda a: a > 0, "<": lambda a: a < 0, "≥": lambda a: a >= 0,
              "≤": lambda a: a <= 0}


def _merged(alternatives):
    """Alternatives ending at the same token are one alternative with both readings."""
    by_end = {}
    for values, pos in alternatives:
        if values:
            by_end.setdefault(pos, []).extend(values)
    return [(distinct(v), p) for p, v in sorted(by_end.items())]


def read(formula, vocabulary):
    """The values of every plausible reading of a printed formula.

    Parameters
    ----------
    formula : str
        Text or LaTeX (as `vocabulary` says) as the printers write it.
    vocabulary : Vocabulary

    Returns
    -------
    list of ndarray
        The distinct values; one if the formula reads one way only.

    Raises
    ------
    ReadError
        If the formula cannot be read, or not as a whole.
    """
    return Parser(tokenise(formula, vocabulary), vocabulary).formula()


def tokenise(formula, vocabulary, extra=()):
    """The tokens of a printed formula; `extra` rules, ``rule(text, i) -> (Token, end)`` or
    None, are tried first at each position (the notation of an extension)."""
    return (_latex_tokens if vocabulary.latex else _text_tokens)(formula, vocabulary, extra)
