"""The statements of the model language's syntax tree: declarations, loops, assignments.

:mod:`symbackprop.language.syntax` parses text into them (and into the expressions they
hold, :mod:`symbackprop.language.expression_nodes`); it offers both under its own name too.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["For", "TypeSpec", "Dim", "Decl", "Func", "Assign", "Objective"]


@dataclass(frozen=True)
class For:
    """``for VAR in A..B:`` and its indented body of statements."""
    var: str
    range: object    # a syntax.Range
    body: tuple
    line: int
    col: int


@dataclass(frozen=True)
class TypeSpec:
    kind: str        # scalar | vector | matrix
    sizes: tuple     # of (str | int | Member | an expression of dims, line, col)
    line: int
    col: int


@dataclass(frozen=True)
class Dim:
    names: tuple     # of (name, line, col)
    line: int
    col: int
    index: tuple | None = None   # (VAR, Range) of ``dim n[l] for l in 0..L``: one name


@dataclass(frozen=True)
class Decl:
    role: str        # input | param | const
    name: str
    type: TypeSpec
    latex: str | None
    line: int
    col: int         # the name's position
    domain: str | None = None   # a key of DOMAINS, written after the type
    index: tuple | None = None    # (VAR, Range) of a family: ``x[t]: ... for t in 1..T``
    more: tuple = ()   # the further (VAR, Range) of a family of two indices, ``K[o, c]``

    @property
    def family_indices(self):
        """Every (VAR, Range) of a declared family, in the order of its indices."""
        return () if self.index is None else (self.index, *self.more)


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
    indices: tuple = ()    # of a member's assignment, ``h[t] = ...``


@dataclass(frozen=True)
class Objective:
    name: str
    line: int
    col: int
