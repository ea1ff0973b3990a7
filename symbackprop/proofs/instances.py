"""The general derivation of a model with loops, proved at concrete lengths.

A model with loops is derived once, for a general index
(:mod:`symbackprop.derivation.recurrences`).  :func:`prove_instances` puts
concrete lengths into that derivation (T = 3: the steps for ``t = T-1, ..., 1``
become the steps for t = 2 and t = 1, each sum over t its terms) and compares
it with the derivation of the model written out at those lengths, which is
derived like every model and proved like every model (:func:`symbackprop.verify`,
:func:`symbackprop.check`).

Each step is compared entry by entry at small sizes, as SymPy expressions in
the entries of the values and adjoints it names, each named value a matrix of
symbols of its own: a step that agrees whatever the values it reads, for every
step, is a derivation that agrees, and nothing is expanded into the inputs.  The
forward definitions are compared the same way.  Every closed form of a linear recurrence
(:mod:`symbackprop.derivation.closed_forms`) is compared at every index too, its
entries exactly at random rational points (powers of a matrix make polynomials
of degree T, too large to expand).  Both sides must give the same set of adjoints.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

from ..derivation.loop_tangent import instantiate_hvp
from ..derivation.recurrences import instantiate
from ..derivation.reverse import Derivation
from ..derivation.tangent import derive_hvp, jvp
from .explicit import POINTS, explicit, named_environment
from .sizes import small_dims

__all__ = ["prove_instances", "prove_hvp_instances", "InstanceReport"]


@dataclass(frozen=True)
class InstanceReport:
    """The general derivation against the written-out one at some lengths.

    Attributes
    ----------
    lengths : dict of str to int
    compared : tuple of str
        The values and adjoints compared, in the written-out model's names.
    differing : tuple of str
        Those that differ.
    missing : tuple of str
        Adjoints one side gives and the other does not.
    """

    lengths: dict
    compared: tuple
    differing: tuple
    missing: tuple

    @property
    def ok(self):
        return not self.differing and not self.missing

    def __str__(self):
        at = ", ".join(f"{k} = {v}" for k, v in self.lengths.items())
        if self.ok:
            return f"general derivation at {at}: {len(self.compared)} formulas agree"
        problems = [f"differ: {', '.join(self.differing)}"] if self.differing else []
        problems += [f"missing: {', '.join(self.missing)}"] if self.missing else []
        return f"general derivation at {at}: " + "; ".join(problems)


def prove_instances(derivation, lengths, dims=None):
    """Compare the general derivation at `lengths` with the written-out model's.

    Parameters
    ----------
    derivation : LoopDerivation
    lengths : dict of str to int
    dims : dict of str to int, optional
        Sizes for the written-out model's dims (small distinct sizes by default).

    Returns
    -------
    InstanceReport

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop.derivation.recurrences import derive_loops
    >>> print(prove_instances(derive_loops(sbp.load("examples/loops/bptt.sbp")), {"T": 2}))
    general derivation at T = 2: 22 formulas agree
    """
    flat, adjoints, forward, closed = instantiate(derivation, lengths)
    written = Derivation.of(flat)
    sizes = {flat.dims[n]: k for n, k in small_dims(flat, dims).items()}
    env = named_environment(written, sizes)
    for a, value in adjoints.items():  # ∂L/∂o_1 = 0 of a loss at o_T: no written-out step
        if a not in env and _is_zero(value):
            env[a] = sp.zeros(*(int(sp.sympify(k, strict=True).xreplace(sizes))
                                for k in a.shape)) if isinstance(a, sp.MatrixSymbol) else 0
    pairs = [(str(s), forward[s], written.forward[name])
             for name, s in written.symbols.items() if s in forward and name in written.forward]
    theirs = {s.adjoint: s.result for s in written.steps}
    _constant_adjoints(env, theirs, adjoints)
    pairs += [(str(a), adjoints[a], theirs[a]) for a in theirs if a in adjoints]
    # an adjoint one side gives as 0 (∂L/∂y_1 of a loss reading y_T only) the other may
    # leave out: a derivation gives no step for what the objective does not depend on
    missing = [str(a) for a in theirs if a not in adjoints and not _is_zero(theirs[a])]
    missing += [str(a) for a in adjoints if a not in theirs and not _is_zero(adjoints[a])]
    differing = [name for name, mine, truth in pairs
                 if not _same(explicit(mine, env, sizes), explicit(truth, env, sizes))]
    # A closed form's powers of a matrix make polynomials of degree T in its entries: it
    # is compared exactly at random rational points, where the arithmetic stays small.
    closed_pairs = [(f"closed form of {a}", value, theirs[a]) for a, value in closed.items()]
    for point in _rational_points(written, sizes, POINTS) if closed_pairs else ():
        differing += [name for name, mine, truth in closed_pairs if name not in differing
                      and not _same(explicit(mine, point, sizes), explicit(truth, point, sizes))]
    compared = [name for name, _, _ in pairs + closed_pairs]
    return InstanceReport(dict(lengths), tuple(compared), tuple(differing), tuple(missing))


def _rational_points(written, sizes, count):
    """Environments like :func:`explicit_environment`'s, the declared values random
    rationals: every value and adjoint a matrix of numbers and unknown-function atoms."""
    rng = random.Random(0)
    for _ in range(count):
        env = {}
        for name, v in written.model.variables.items():
            if v.declared:
                rows, cols = (int(sp.sympify(k, strict=True).xreplace(sizes))
                              for k in (v.shape.rows, v.shape.cols))
                entries = [sp.Rational(rng.randint(1, 9), rng.randint(1, 9))
                           for _ in range(rows * cols)]
                env[written.symbols[name]] = entries[0] if v.shape.is_scalar else \
                    sp.ImmutableMatrix(rows, cols, entries)
        for name, value in written.forward.items():
            env[written.symbols[name]] = explicit(value, env, sizes)
        for step in written.steps:
            env[step.adjoint] = explicit(step.result, env, sizes)
        yield env


def _same(a, b):
    difference = sp.expand(sp.Matrix(a) - sp.Matrix(b)) if hasattr(a, "shape") else \
        sp.expand(a - b)
    return difference == 0 or (hasattr(difference, "is_zero_matrix")
                               and all(e == 0 for e in difference))


def prove_hvp_instances(hvp, lengths, dims=None):
    """Compare the general H v derivation at `lengths` with the written-out model's.

    Each tangent (forward and backward) is compared entry by entry at small sizes with
    the written-out H v derivation's, the tangents it reads taken from the written-out
    side; a tangent the written-out side leaves out is 0 there (nothing it reads moves).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop.derivation.loop_tangent import derive_loop_hvp
    >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp"))
    >>> print(prove_hvp_instances(derive_loop_hvp(d), {"T": 2}))
    general derivation at T = 2: 11 formulas agree
    """
    flat, mine = instantiate_hvp(hvp, lengths)
    written = Derivation.of(flat)
    wrt = [n for n in written.params if n in written.order]
    theirs = derive_hvp(written, wrt)
    sizes = {flat.dims[n]: k for n, k in small_dims(flat, dims).items()}
    env = named_environment(written, sizes, hvp=theirs)
    truth = {s.symbol: s.result for s in theirs.forward + theirs.backward}
    zeros = {s: _zero_like(s) for e in mine.values() for s in e.free_symbols
             if _is_tangent(s) and s not in env}
    # a tangent the written-out H v leaves out because no H v reads it (R{∂J/∂h_0} of a
    # general piece that holds down to h_0): the tangent of the written-out step itself
    moving = {written.symbols[n]: d for n, d in theirs.directions.items()}
    moving.update({_untangent(t, written): t for t in truth})
    for step in written.steps:
        name = f"R{{{step.adjoint.name}}}"
        symbol = next((m for m in mine if getattr(m, "name", None) == name), None)
        if symbol is not None and symbol not in truth and not step.result.is_number:
            value = jvp(step.result, {k: v for k, v in moving.items() if k is not None})
            truth[symbol] = _zero_like(symbol) if value is None else value
    # a tangent the written-out H v gives as 0 (R{∂J/∂Y_o} of a J linear in Y) is 0 where
    # the general steps read it, as the written-out steps have it written in
    zeros.update({s: _zero_like(s) for s, v in truth.items() if _is_zero(v)})
    compared, differing, missing = [], [], []
    for symbol, value in mine.items():
        value = value.xreplace(zeros)
        expected = truth.get(symbol)
        if expected is None:
            if not _is_zero(value):
                missing.append(str(symbol))
            continue
        compared.append(str(symbol))
        if not _same(explicit(value, env, sizes), explicit(expected, env, sizes)):
            differing.append(str(symbol))
    missing += [str(s) for s in truth if s not in mine]
    return InstanceReport(dict(lengths), tuple(compared), tuple(differing), tuple(missing))


def _untangent(tangent, written):
    """The symbol whose tangent `tangent` is (R{h_2} -> h_2, R{∂L/∂h_1} -> ∂L/∂h_1)."""
    name = tangent.name[2:-1]
    for symbol in list(written.symbols.values()) + [s.adjoint for s in written.steps]:
        if symbol.name == name:
            return symbol
    return None


def _is_tangent(symbol):
    return getattr(symbol, "name", "")[:2] in ("R{", "V{")


def _zero_like(symbol):
    return sp.ZeroMatrix(*symbol.shape) if isinstance(symbol, sp.MatrixSymbol) else sp.Integer(0)


def _constant_adjoints(env, theirs, adjoints):
    """Give a scalar adjoint that both sides make the same number (∂L/∂J_1 = 1 of
    ``L = sum(J[b] for b in 1..B)``) that number in `env`.

    The written-out derivation writes such a number in place of the adjoint's name in the
    steps that use it; the general one keeps the name. The step itself is still compared,
    so taking its value here proves nothing twice and hides no error.
    """
    for a, value in theirs.items():
        if not hasattr(value, "shape") and sp.sympify(value).is_number \
                and adjoints.get(a) == value:
            env[a] = value


def _is_zero(value):
    return value == 0 or isinstance(value, sp.ZeroMatrix)
