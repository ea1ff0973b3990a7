"""The expressions of the model language as a syntax tree: what the parser makes of them.

Each node keeps the line and column it was written at, for errors; a number keeps its
text and its exact value.  Nothing here is evaluated: meaning (names, shapes) is given
by :mod:`symbackprop.language.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Num", "Name", "Call", "Keyword", "Binary", "Unary", "Transpose", "Member",
           "Range", "Slice", "Reduce"]


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
    """``f(a, b)``; `keywords` the arguments given by name, ``stride=2``, as
    :class:`Keyword` records."""
    func: str
    args: tuple
    line: int
    col: int
    keywords: tuple = ()


@dataclass(frozen=True)
class Keyword:
    """``NAME=EXPR`` inside a call's brackets, after its other arguments."""
    name: str
    value: object
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
class Member:
    """``NAME[i]`` (or ``NAME[i, j]``): a member of a family, its indices expressions."""
    name: str
    indices: tuple
    line: int
    col: int


@dataclass(frozen=True)
class Range:
    """``A..B``: the integers from A to B, both included; the bounds are expressions."""
    lo: object
    hi: object
    line: int
    col: int


@dataclass(frozen=True)
class Slice:
    """``NAME[A..B]``, ``NAME[A..B, :]``, ``NAME[:, A..B]``, ``NAME[A..B, C..D]``: a
    contiguous block, 1-based and inclusive; each of `ranges` a :class:`Range` or None for
    ``:`` (all of that axis).  Of a value in parentheses, ``(W @ x)[1..n]``, `operand` is
    that expression and `name` None."""
    name: str
    ranges: tuple
    line: int
    col: int
    operand: object = None


@dataclass(frozen=True)
class Reduce:
    """``sum(EXPR for VAR in A..B)`` (or ``mean``)."""
    func: str
    body: object
    var: str
    range: Range
    line: int
    col: int
