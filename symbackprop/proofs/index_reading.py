"""Printed formulas with indices, read back: members of families, sums over an index.

A model with loops prints its derivation for a general index: ``h_{t-1}``,
``∂L/∂h_{t+1}``, ``W⁽ˡ⁾``, ``Σ_{t=1}^{T} (∂L/∂h_t) x_tᵀ``, ``(W_hhᵀ)^(T - i)``.
This module extends the reader of :mod:`symbackprop.proofs.reading` to that
notation, at concrete lengths and indices:

* a member's index is read from the printed text and worked out, ``∂L/∂o_{T+t-i}``
  at T = 3, t = 2, i = 3 is the adjoint of o_2, and looked up (:class:`Family`): an
  index outside the family's range is no reading, so a formula that reads it fails;
* a sum ``Σ_{i=a}^{b}`` adds the readings of its body at every index of its range;
  the body is a product, as readers take it, or the rest of the sum, as some take it
  (``Σ_t a_t + b``): where the two differ, the formula is ambiguous;
* an index or a length written as a value (``1/T``, an exponent ``T - i``) is its
  number.

Which indices are bound is the caller's: a formula under a heading ``for t = T - 1,
…, 1`` is read once for each t (:func:`read_at`).  Nothing read is evaluated as
code: an index is worked out from its integers and names here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .notation_values import add, combine, distinct
from .reading import Parser, Token, Value, tokenise

__all__ = ["Spelling", "Family", "Indices", "read_at", "index_value"]

_SUPERSCRIPT_LETTERS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ˡᴸᵗᵀⁱ", "0123456789+-lLtTi"))
_TERM = re.compile(r"\s*([+-]?)\s*([A-Za-z][A-Za-z0-9]*|[0-9]+)")
_SIGMAS = (re.compile(r"Σ_\{([A-Za-z])=([^{}]*)\}\^\{([^{}]*)\}"),
           re.compile(r"\\sum_\{([A-Za-z])=([^{}]*)\}\^\{([^{}]*)\}"))


@dataclass(frozen=True)
class Spelling:
    """How one family's members print: the text before the index and after it.

    ``Spelling("h_", "")`` is ``h_t``, ``h_{t-1}`` (a one-letter index bare, a longer one
    braced); ``Spelling("\\\\boldsymbol{h}_{", "}")`` is ``\\\\boldsymbol{h}_{t-1}``;
    `superscripts` reads the index in superscript letters, ``h⁽ˡ⁻¹⁾``.
    """

    prefix: str
    suffix: str
    superscripts: bool = False

    def pattern(self):
        if self.superscripts:
            index = f"([{''.join(_SUPERSCRIPT_LETTERS)}]+)"
        elif self.prefix.endswith("_"):  # a text subscript: a letter or digit, or braced
            index = r"(?:\{([^{}()]*)\}|([A-Za-z0-9])(?![A-Za-z0-9_]))"
        else:
            index = r"([^{}()]*?)"
        return re.compile(re.escape(self.prefix) + index + re.escape(self.suffix))

    def index_text(self, match):
        text = next(g for g in match.groups() if g is not None)
        if self.superscripts:
            text = "".join(_SUPERSCRIPT_LETTERS[c] for c in text)
        return text


@dataclass(frozen=True)
class Family:
    """A family as printed: its spellings, and ``meanings(index)`` for an index tuple
    (a list of :class:`~symbackprop.proofs.reading.Value`; empty outside the family)."""

    spellings: tuple
    meanings: object


@dataclass(frozen=True)
class Indices:
    """The notation of indices in one document: its families, the index variables
    headings and sums bind, and the lengths (``{"T": 3}``)."""

    families: tuple
    variables: tuple = ()
    lengths: dict = field(default_factory=dict)


def index_value(text, bound):
    """An index as printed, worked out: ``T+t-i`` with the values in `bound`.

    A tuple of integers (one per comma-separated part), or None where a name is
    unbound or the text is not a sum of names and integers.

    Examples
    --------
    >>> index_value("T+t-i", {"T": 3, "t": 2, "i": 3}), index_value("l-1,t", {"l": 2, "t": 1})
    ((2,), (1, 1))
    >>> index_value("2*t", {"t": 1}) is None, index_value("s", {"t": 1}) is None
    (True, True)
    """
    out = []
    for part in text.split(","):
        total, pos, part = 0, 0, part.strip()
        if not part:
            return None
        while pos < len(part):
            m = _TERM.match(part, pos)
            if not m or (pos and not m.group(1)):  # terms are joined by + and -
                return None
            name = m.group(2)
            value = int(name) if name.isdigit() else bound.get(name)
            if value is None:
                return None
            total += -value if m.group(1) == "-" else value
            pos = m.end()
        out.append(total)
    return tuple(out)


def _rules(formula, vocabulary, indices):
    """Tokenizer rules for members, sums and index names (tried before plain names)."""
    names = vocabulary.pattern()
    spellings = [(s.pattern(), s, f) for f in indices.families for s in f.spellings]
    summed = {m.group(1) for pattern in _SIGMAS for m in pattern.finditer(formula)}
    letters = sorted({*indices.variables, *indices.lengths, *summed}, key=len, reverse=True)

    def plain_end(text, i):
        m = names.match(text, i)
        return m.end() if m else i

    def member(text, i):
        found = None
        for pattern, spelling, family in spellings:
            m = pattern.match(text, i)
            if m and (found is None or m.end() > found[0].end()):
                found = (m, spelling, family)
        if found is None or found[0].end() < plain_end(text, i):
            return None  # W_hh is a name, not the member hh of a family W
        m, spelling, family = found
        return Token("member", m.group(), value=(family, spelling.index_text(m))), m.end()

    def sigma(text, i):
        for pattern in _SIGMAS:
            m = pattern.match(text, i)
            if m:
                return Token("sigma", m.group(), value=m.groups()), m.end()
        return None

    def letter(text, i):
        for name in letters:
            end = i + len(name)
            if text.startswith(name, i) and not re.match(r"[A-Za-z0-9_{]", text[end:end + 1]) \
                    and plain_end(text, i) <= i and not text[i - 1:i].isalnum():
                return Token("index", name), end
        return None

    return (sigma, member, letter)


class _IndexedParser(Parser):
    """The reader's parser with members, sums over an index and index names as values."""

    def __init__(self, tokens, vocabulary, indices, bound):
        super().__init__(tokens, vocabulary)
        self.indices = indices
        self.bound = tuple(sorted(bound.items()))

    def _values(self):
        return {**self.indices.lengths, **dict(self.bound)}

    def other_primary(self, pos):
        tok = self.t[pos]
        if tok.kind == "member":
            family, text = tok.value
            index = index_value(text, self._values())
            values = [] if index is None else \
                [m.value for m in family.meanings(index) if isinstance(m, Value)]
            return [(distinct(values), pos + 1)] if values else []
        if tok.kind == "index":
            value = self._values().get(tok.text)
            return [] if value is None else [([np.asarray(float(value))], pos + 1)]
        if tok.kind == "sigma":
            return self._sum_over(pos)
        return []

    def _sum_over(self, pos):
        var, lo, hi = self.t[pos].value
        ends = [index_value(lo, self._values()), index_value(hi, self._values())]
        if None in ends or ends[0][0] > ends[1][0]:
            return []  # an unbound bound, or an empty range: no reading here
        outer, by_end = self.bound, None
        for k in range(ends[0][0], ends[1][0] + 1):
            self.bound = tuple(sorted({**dict(outer), var: k}.items()))
            try:
                found = {p: v for v, p in self.sum(pos + 1)}  # a product, or the rest
            finally:
                self.bound = outer
            by_end = {p: [*by_end[p], v] for p, v in found.items() if p in by_end} \
                if by_end is not None else {p: [v] for p, v in found.items()}
        out = []
        for p, parts in sorted(by_end.items()):
            total = parts[0]
            for part in parts[1:]:
                total = combine(add, total, part)
            if total:
                out.append((total, p))
        return out


def read_at(formula, vocabulary, indices, bound):
    """The values of every plausible reading of `formula` with the indices in `bound`.

    Parameters
    ----------
    formula : str
    vocabulary : Vocabulary
        The plain names (:func:`symbackprop.proofs.reading.read`'s).
    indices : Indices
        The families, index variables and lengths of the document.
    bound : dict of str to int
        The index variables bound where the formula is printed (``{"t": 2}``).

    Returns
    -------
    list of ndarray

    Raises
    ------
    ReadError
        If the formula cannot be read as a whole.

    Examples
    --------
    >>> import numpy as np
    >>> from symbackprop.proofs.reading import Value, Vocabulary
    >>> h = {k: np.array([[float(k)]]) for k in range(4)}
    >>> family = Family((Spelling("h_", ""),), lambda k: [Value(h[k[0]])] if k[0] in h else [])
    >>> vocabulary = Vocabulary({}, sizes=(1,))
    >>> indices = Indices((family,), variables=("t",), lengths={"T": 3})
    >>> [v.item() for v in read_at("Σ_{t=1}^{T} h_t h_{t-1}", vocabulary, indices, {})]
    [8.0]
    >>> read_at("h_{t+1}", vocabulary, indices, {"t": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symbackprop.proofs.notation_values.ReadError: no reading of the whole formula (stopped at ...)
    """
    tokens = tokenise(formula, vocabulary, _rules(formula, vocabulary, indices))
    return _IndexedParser(tokens, vocabulary, indices, bound).formula()
