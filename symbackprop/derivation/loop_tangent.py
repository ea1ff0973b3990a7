"""Hessian-vector products of a model with loops: forward mode over the general derivation.

As for a model without loops (:mod:`symbackprop.derivation.tangent`), H v is the
tangent of the first-order program along directions V in parameter space, and
the rules are the same :func:`~symbackprop.derivation.tangent.jvp`.  What a loop
adds is that a whole family moves: the tangent of the member ``h[t-1]`` is the
member ``R{h}[t-1]`` of the family of tangents, so each forward definition and
each backward piece is differentiated once, at its general index, and the
tangents are recurrences with the same pieces:

    R{h_t} = V_W_hx x_t + V_W_hh h_{t-1} + W_hh R{h_{t-1}}.

A member whose definition does not move (``h[0] = h0``, a const) has the
tangent 0.  :func:`derive_loop_hvp` gives a :class:`LoopHVP`; its steps, put at
concrete lengths, are the written-out model's (:mod:`symbackprop.proofs.instances`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..primitives.members import Member, ScalarMember, member
from ..primitives.shapes import SCALAR, matrix
from .recurrences import Renamer, step_indices
from .reverse import shaped_symbol
from .tangent import jvp

__all__ = ["derive_loop_hvp", "LoopHVP", "LoopTangentStep", "tangent_family",
           "direction_family", "instantiate_hvp"]


def tangent_family(name):
    """The family of tangents of a family (or of its adjoints): ``R{h}``, ``R{∂L/∂h}``."""
    return f"R{{{name}}}"


def direction_family(name):
    """The family of directions of a family of params: ``V{W}``."""
    return f"V{{{name}}}"


@dataclass(frozen=True)
class LoopTangentStep:
    """R{value} for ``index = lo, ..., hi`` (or of a single value), or for a forward
    definition inside `loops`.

    Attributes
    ----------
    node : str
    symbol : sympy.Expr
        The tangent's member (``R{h}[t]``) or symbol (``R{∂L/∂W_hh}``).
    result : sympy.Expr
    index, lo, hi : sympy.Expr or None
        A backward piece's index and range.
    loops : tuple of IndexRange
        A forward definition's loops.
    """

    node: str
    symbol: object
    result: object
    index: object = None
    lo: object = None
    hi: object = None
    loops: tuple = ()


class _Moving(dict):
    """The tangents jvp reads: single values' by symbol; a family's member's by its family."""

    def __init__(self, plain, families):
        super().__init__(plain)
        self.families = families

    def __contains__(self, expr):
        return isinstance(expr, (Member, ScalarMember)) or super().__contains__(expr)

    def __getitem__(self, expr):
        if isinstance(expr, (Member, ScalarMember)):
            moved = self.families.get(expr.family)
            return None if moved is None else type(expr)(moved, *expr.args[1:])
        return super().__getitem__(expr)


@dataclass(frozen=True)
class LoopHVP:
    """The H v derivation of a :class:`~symbackprop.derivation.recurrences.LoopDerivation`.

    Attributes
    ----------
    derivation : LoopDerivation
    wrt : list of str
        The params (single values and families) that move.
    directions : dict of str to sympy.Expr
        Each param's direction: a symbol, or a member of the family of directions.
    forward, backward : tuple of LoopTangentStep
        The tangents of the forward definitions and of the backward pieces, in order.
    """

    derivation: object
    wrt: list
    directions: dict
    forward: tuple
    backward: tuple

    @classmethod
    def of(cls, derivation, wrt=None):
        """The H v derivation of `derivation` as this class (:func:`derive_loop_hvp`)."""
        return cls(*_swept(derivation, wrt))

    def hvp(self, name):
        """The steps giving H v for the param `name` (one, or one per piece of a family)."""
        return [s for s in self.backward if s.node == name]


def derive_loop_hvp(derivation, wrt=None):
    """The Hessian-vector products of a derivation with loops, for a general index.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp"))
    >>> step = derive_loop_hvp(d).forward[1]
    >>> shown = sbp.derive_hvp(d).pretty
    >>> print(shown(step.symbol), "=", shown(step.result))
    R{h_t} = V_W_hx x_t + V_W_hh h_{t-1} + W_hh R{h_{t-1}}
    """
    return LoopHVP.of(derivation, wrt)


def _swept(derivation, wrt):
    """The parts of the H v derivation: wrt, directions, forward and backward tangents."""
    model = derivation.model
    roles = model.roles
    wrt = [n for n, r in roles.items() if r == "param"] if wrt is None else list(wrt)
    for name in wrt:
        if roles.get(name) != "param":
            raise ValueError(f"'{name}' is not a param of the model")
    plain, families, directions = {}, {}, {}
    for name in wrt:
        if name in model.families:
            families[name] = direction_family(name)
            index = derivation.index_of[name]
            shape = model.families[name].shape_at(index)
            directions[name] = member(families[name], index, shape.rows, shape.cols,
                                      shape.is_scalar)
        else:
            directions[name] = shaped_symbol(f"V{{{name}}}", model.variables[name].shape)
            plain[derivation.symbol(name)] = directions[name]
    moving = _Moving(plain, families)
    _mark_moving(derivation, moving)  # a recurrence reads its own family's earlier members
    forward = []
    for target, value, loops in derivation.forward:
        node = getattr(target, "family", None) or str(target)
        tangent = jvp(value, moving, out=target)
        forward.append(LoopTangentStep(node, _tangent_of(target, node),
                                       _zero(target) if tangent is None else tangent,
                                       loops=loops))
    for name in roles:  # every adjoint's tangent, read by the pieces it moves in
        if name in model.families:
            families[f"∂{model.objective}/∂{name}"] = tangent_family(
                f"∂{model.objective}/∂{name}")
    needed = set(wrt)  # the steps the params' gradients read, as for a model without loops
    for step in reversed(derivation.steps):
        if step.node in needed:
            needed.update(t.consumer for t in step.terms)
    backward = []
    for step in derivation.steps:
        if step.result.is_number or step.node not in needed:
            continue  # a constant adjoint (dJ/dJ = 1): its tangent is 0
        tangent = jvp(step.result, moving)
        symbol = _tangent_of(step.adjoint, None)
        if step.index is None:
            moving[step.adjoint] = symbol
        backward.append(LoopTangentStep(step.node, symbol,
                                        _zero(step.adjoint) if tangent is None else tangent,
                                        step.index, step.lo, step.hi))
    return derivation, wrt, directions, _read(forward, backward), tuple(backward)


def _read(forward, backward):
    """The forward tangents the backward tangents read, directly or through others."""
    def reads(expr):
        return {getattr(a, "family", a) for a in
                expr.atoms(Member, ScalarMember, sp.Symbol, sp.MatrixSymbol)}
    read = set().union(*(reads(s.result) for s in backward)) if backward else set()
    kept = []
    for step in reversed(forward):
        if getattr(step.symbol, "family", step.symbol) in read:
            kept.append(step)
            read |= reads(step.result)
    return tuple(reversed(kept))


def _mark_moving(derivation, moving):
    """Mark every forward value that moves along the directions, to a fixed point: a family
    moves if any of its definitions reads something that moves."""
    changed = True
    while changed:
        changed = False
        for target, value, _ in derivation.forward:
            family = getattr(target, "family", None)
            if (family in moving.families) if family else (target in dict.keys(moving)):
                continue
            reads = value.atoms(Member, ScalarMember, sp.Symbol, sp.MatrixSymbol)
            if any(_moves(r, moving) for r in reads):
                if family:
                    moving.families[family] = tangent_family(family)
                else:
                    dict.__setitem__(moving, target, _tangent_of(target, None))
                changed = True


def _moves(read, moving):
    if isinstance(read, (Member, ScalarMember)):
        return read.family in moving.families
    return dict.__contains__(moving, read)


def _tangent_of(value, node):
    """R{value}: a member of the family of tangents, or a symbol."""
    if isinstance(value, (Member, ScalarMember)):
        return type(value)(tangent_family(value.family), *value.args[1:])
    return shaped_symbol(f"R{{{value.name}}}", _shape_of(value))


def _shape_of(value):
    if isinstance(value, sp.MatrixSymbol):
        return matrix(value.rows, value.cols)
    return SCALAR


def _zero(value):
    if isinstance(value, (Member, sp.MatrixSymbol)):
        return sp.ZeroMatrix(*value.shape)
    return sp.Integer(0)


def instantiate_hvp(hvp, lengths=None):
    """The tangent steps at concrete lengths, in the written-out model's symbols.

    Returns
    -------
    flat : Model
    tangents : dict
        Each tangent symbol of the written-out H v derivation (``R{h_2}``, ``R{∂L/∂h_1}``,
        ``R{∂L/∂W_hh}``) to the general step's formula put in.
    """
    rename = Renamer.at(hvp.derivation, lengths)
    out = {}
    for step in hvp.forward:
        for env in rename.iterations(step.loops):
            out[rename(step.symbol.xreplace(env))] = rename(step.result.xreplace(env))
    for step in hvp.backward:
        if step.index is None:
            out[rename(step.symbol)] = rename(step.result)
            continue
        for at in step_indices(step, rename.values):
            out[rename(step.symbol.xreplace(at))] = rename(step.result.xreplace(at))
    return rename.flat, out
