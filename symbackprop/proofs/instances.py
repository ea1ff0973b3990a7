"""The general derivation of a model with loops, proved at concrete lengths.

A model with loops is derived once, for a general index
(:mod:`symbackprop.derivation.recurrences`).  :func:`prove_instances` puts
concrete lengths into that derivation (T = 3: the steps for ``t = T-1, ..., 1``
become the steps for t = 2 and t = 1, each sum over t its terms) and compares
it with the derivation of the model written out at those lengths, which is
derived like every model and proved like every model (:func:`symbackprop.verify`,
:func:`symbackprop.check`).

Each step is compared entry by entry at small sizes, as SymPy expressions in
the entries of the inputs and params, with the later adjoints it reads taken
from the written-out derivation: a step that agrees given the same later
adjoints, for every step, is a derivation that agrees.  The forward definitions
are compared the same way.  Both sides must give the same set of adjoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..derivation.recurrences import instantiate
from ..derivation.reverse import Derivation
from .explicit import explicit, explicit_environment
from .sizes import small_dims

__all__ = ["prove_instances", "InstanceReport"]


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
    general derivation at T = 2: 18 formulas agree
    """
    flat, adjoints, forward = instantiate(derivation, lengths)
    written = Derivation.of(flat)
    sizes = {flat.dims[n]: k for n, k in small_dims(flat, dims).items()}
    env = explicit_environment(written, sizes)
    pairs = [(str(s), forward[s], written.forward[name])
             for name, s in written.symbols.items() if s in forward and name in written.forward]
    theirs = {s.adjoint: s.result for s in written.steps}
    pairs += [(str(a), adjoints[a], theirs[a]) for a in theirs if a in adjoints]
    missing = [str(a) for a in theirs if a not in adjoints]
    missing += [str(a) for a in adjoints if a not in theirs]
    differing = [name for name, mine, truth in pairs
                 if not _same(explicit(mine, env, sizes), explicit(truth, env, sizes))]
    return InstanceReport(dict(lengths), tuple(name for name, _, _ in pairs), tuple(differing),
                          tuple(missing))


def _same(a, b):
    difference = sp.expand(sp.Matrix(a) - sp.Matrix(b)) if hasattr(a, "shape") else \
        sp.expand(a - b)
    return difference == 0 or (hasattr(difference, "is_zero_matrix")
                               and all(e == 0 for e in difference))
