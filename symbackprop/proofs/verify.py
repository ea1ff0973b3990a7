"""Symbolic proofs of a derivation, entry by entry, within a time budget.

:func:`verify` builds the objective as one SymPy scalar from matrices of
scalar symbols at small concrete sizes, differentiates it entry by entry with
:func:`sympy.diff` (the ground truth SymPy is good at), and proves the
matrix-form gradient equal to it entry by entry; :func:`verify_hvp` does the
same for the Hessian-vector products.  Abstract functions may stay abstract:
``phi'`` and ``dL/do`` are compared as unknown functions.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import time
from dataclasses import dataclass, field

import sympy as sp

from ..derivation.tangent import HVPDerivation, derive_hvp
from ..primitives import expressions as ex
from . import bounded
from .check import _derivation
from .explicit import (
    DIGITS,
    POINTS,
    _canonical,
    _compare_at_points,
    explicit,
    explicit_environment,
    on_domain,
)
from .sizes import small_dims

__all__ = ['verify', 'verify_hvp', 'VerifyReport', 'TIMEOUT']


#: Seconds :func:`verify` may spend on proofs by default: most examples are proved in a
#: few seconds, and a proof SymPy has not found in half a minute it rarely finds at all.
TIMEOUT = 30.0


#: Differences whose expansion has at most this many terms (an upper bound) are expanded in
#: this process; larger ones only in a child process with a time limit.
_SMALL_EXPANSION = 2000


#: Seconds each cheap canonical form of one entry may take at least before simplify is tried.
_QUICK = 2.0


@dataclass
class _Verdict:
    """What became of one entry: proved (how), equal at random points only (why), or failed."""

    name: str
    index: tuple
    status: str = "numeric"
    how: str = ""
    points: int = 0
    counterexample: object = None


def _judge_entries(cells, deadline, points=POINTS, symbolic=True):
    """A :class:`_Verdict` for each ``(name, index, sides)`` of `cells`, by `deadline`.

    ``sides()`` builds the entry's two sides, derived and true; past the
    deadline it is not called, and the entry is reported as not compared.

    First every entry is compared at `points` random points (a difference
    there fails it at once, so a wrong rule never waits on a proof), and
    small ones are expanded here.  Then the rest, in forked processes with a
    hard time limit (:mod:`symbackprop.proofs.bounded`): each cheap canonical form,
    a few seconds an entry or more if time allows; then :func:`sympy.simplify`, each entry
    given an equal share of the time left, so one hard entry cannot take the
    budget of all the others.  With `symbolic` false, only the comparison at
    random points (and the small expansions) are done.
    """
    rng, drawn = random.Random(0), [{} for _ in range(points)]
    verdicts, pending = [], []
    for name, index, sides in cells:
        verdict = _Verdict(name, index)
        verdicts.append(verdict)
        if time.monotonic() >= deadline and symbolic:
            # building and comparing an entry can take seconds on a large model: past the
            # deadline, the rest are counted, not built
            verdict.how = "not compared: the time budget ran out before this entry"
            continue
        mine, truth = sides()
        difference = mine - truth
        if difference == 0:
            verdict.status, verdict.how = "proved", "as built"
            continue
        verdict.points, verdict.counterexample = _compare_at_points(mine, truth, drawn, rng)
        if verdict.counterexample is not None:
            verdict.status = "failed"
        elif bounded.expansion_size(difference) <= _SMALL_EXPANSION and sp.expand(
                difference) == 0:
            verdict.status, verdict.how = "proved", "expand"
        else:
            pending.append((verdict, difference))
    # each canonical form in its own process and time, so that a slow one (an expansion
    # that grows) does not keep a fast one from being tried; each may take a few seconds,
    # or its part of the entry's fair share of the time left if that is more
    tries = len(bounded.CANONICAL_FORMS) + 1
    stages = [((form,), lambda left, k: min(max(_QUICK, left / (k * tries)), left))
              for form in bounded.CANONICAL_FORMS]
    stages.append((bounded.SIMPLIFY, lambda left, k: left / k))
    for forms, share in stages if symbolic else ():
        pending = [(v, e) for v, e in pending if v.status == "numeric"]
        for k, (verdict, difference) in enumerate(pending):
            left = deadline - time.monotonic()
            if left <= 0.01:
                verdict.how = "the time budget ran out"
                continue
            how, late = bounded.bounded_proof(difference, share(left, len(pending) - k), forms)
            if how is not None:
                verdict.status, verdict.how = "proved", how
            else:
                verdict.how = (f"{forms[0][0]} did not finish in its share of the budget" if late
                               else f"no canonical form, nor {forms[0][0]}, reached 0")
    for verdict in verdicts:
        if verdict.status == "numeric" and not symbolic:
            verdict.how = "not attempted"
        if verdict.status == "numeric" and not verdict.points and not verdict.how.startswith(
                "not compared"):
            verdict.status = "failed"  # neither proved nor evaluated: nothing supports it
            verdict.how = "not proved, and no random point was in the functions' real domain"
    return verdicts


@dataclass
class VerifyReport:
    """The result of :func:`verify`.

    Attributes
    ----------
    entries : dict of str to int
        How many entries each gradient has (all of them are compared).
    mismatches : list of tuple
        ``(name, index, counterexample)`` for each entry that differs at a
        random point (or was neither proved nor evaluated).
    dims : dict of str to int
    what : str
        What was proved: the gradients, or the Hessian-vector products.
    unproved : list of tuple
        ``(name, index, why, points)`` for each entry equal at `points` random
        points to 50 digits but not proved symbolically.
    accept_numeric : bool
        Whether such entries pass (:attr:`ok`).
    methods : dict of str to int
        How many entries each way proved: ``"as built"`` (identical), a
        canonical form (``"expand"``, ...) or ``"simplify"``.
    timeout : float or None
        The time budget, in seconds.
    seconds : float
        The time taken.
    """

    entries: dict
    mismatches: list
    dims: dict
    what: str = "matrix-form gradients"
    unproved: list = field(default_factory=list)
    accept_numeric: bool = False
    methods: dict = field(default_factory=dict)
    timeout: float = TIMEOUT
    seconds: float = 0.0

    @property
    def proved(self):
        """How many entries of each gradient were proved equal symbolically."""
        return {name: count - sum(1 for e in self.mismatches + self.unproved if e[0] == name)
                for name, count in self.entries.items()}

    @property
    def ok(self):
        """No entry differs, and every entry is proved (or, with `accept_numeric`, equal at
        random points)."""
        if self.accept_numeric:
            return not self.mismatches and all(points for *_, points in self.unproved)
        return not self.mismatches and not self.unproved

    def __str__(self):
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items()) or "none"
        budget = ("no time limit" if self.timeout is None else f"budget {self.timeout:g} s"
                  if self.timeout else "compared at random points only")
        lines = [f"verify: {self.what} against sympy.diff, entry by entry, dims {dims}, {budget}"]
        for name, count in self.entries.items():
            numeric = sum(1 for u in self.unproved if u[0] == name and u[3])
            unseen = sum(1 for u in self.unproved if u[0] == name and not u[3])
            bad = sum(1 for m in self.mismatches if m[0] == name)
            line = f"  {name}: {self.proved[name]}/{count} proved"
            if numeric:
                line += f", {numeric} equal at random points to {DIGITS} digits only"
            if unseen:
                line += f", {unseen} not compared (out of time)"
            lines.append(line + (f", {bad} differ  FAIL" if bad else ""))
        for name, index, counterexample in self.mismatches[:5]:
            lines.append(f"  {name}{list(index)} differs: {counterexample}")
        for name, index, why, points in self.unproved[:5]:
            lines.append(f"  {name}{list(index)}: equal at {points} random points to {DIGITS} "
                         f"digits; not proved symbolically ({why})" if points else
                         f"  {name}{list(index)}: {why}")
        hidden = max(len(self.mismatches) - 5, 0) + max(len(self.unproved) - 5, 0)
        if hidden:
            lines.append(f"  ... and {hidden} more entries like these")
        lines.append(self._verdict())
        return "\n".join(lines)

    def _verdict(self):
        total = sum(self.entries.values())
        how = ", ".join(f"{k} {v}" for k, v in self.methods.items())
        proved = f"{total - len(self.mismatches) - len(self.unproved)} of {total} entries proved"
        proved += f" ({how})" if how else ""
        if self.mismatches:
            return f"FAILED: {len(self.mismatches)} of {total} entries differ; {proved}"
        if not self.unproved:
            return f"proved: all {total} entries ({how})" if total else "proved: no entries"
        compared = sum(1 for *_, points in self.unproved if points)
        numeric = (f"{compared} equal at random points to {DIGITS} digits, "
                   "not proved symbolically")
        if compared < len(self.unproved):
            numeric += f"; {len(self.unproved) - compared} not compared in the time budget"
        if compared < len(self.unproved):
            return f"NOT PROVED: {proved}; {numeric}"
        if self.accept_numeric:
            return f"passed, not all proved: {proved}; {numeric} (accepted)"
        return (f"NOT PROVED: {proved}; {numeric} (accept_numeric=True, or --accept-numeric, "
                "accepts them)")


def _report(verdicts, dims, what, timeout, accept_numeric, start):
    """The :class:`VerifyReport` of the verdicts of :func:`_judge_entries`."""
    entries, methods = {}, {}
    for v in verdicts:
        entries[v.name] = entries.get(v.name, 0) + 1
        if v.status == "proved":
            methods[v.how] = methods.get(v.how, 0) + 1
    rank = {name: k for k, name in enumerate(entries)}  # the gradients took turns
    verdicts = sorted(verdicts, key=lambda v: (rank[v.name], v.index))
    order = ["as built", "expand"] + [n for n, _ in bounded.CANONICAL_FORMS + bounded.SIMPLIFY]
    methods = dict(sorted(methods.items(), key=lambda item: order.index(item[0])
                          if item[0] in order else len(order)))
    mismatches = [(v.name, v.index, v.counterexample or v.how)
                  for v in verdicts if v.status == "failed"]
    unproved = [(v.name, v.index, v.how, v.points) for v in verdicts if v.status == "numeric"]
    return VerifyReport(entries, mismatches, dims, what, unproved, accept_numeric, methods,
                        timeout, time.monotonic() - start)


def _cells(outputs, domain=None):
    """(name, index, sides) for every entry of every output; ``sides()`` is
    (derived entry, true entry), each in :func:`_canonical` form.

    `outputs` holds ``(name, shape, derived, entries, truth)``: the explicit
    matrix-form value (None for 0), the variable's entry symbols, and
    ``truth(symbol)``, the entry with respect to that entry symbol by
    :func:`sympy.diff`.  The outputs take turns, one entry each, so that when
    the budget runs out every output has had entries compared.
    """
    columns = []
    for name, shape, derived, entries, truth in outputs:
        cells = [((), entries)] if shape.is_scalar else [
            ((i, j), entries[i, j]) for i in range(entries.rows) for j in range(entries.cols)]
        column = []
        for index, symbol in cells:
            mine = sp.Integer(0) if derived is None else (
                derived if shape.is_scalar else derived[index])
            shown = index[:1] if shape.kind == "vector" else index
            column.append((name, shown, functools.partial(_sides, mine, truth, symbol,
                                                          domain or {})))
        columns.append(column)
    for row in itertools.zip_longest(*columns):
        yield from (cell for cell in row if cell is not None)


def _sides(mine, truth, symbol, domain):
    """Both sides, differentiated first and then put on the declared domains."""
    return _canonical(sp.sympify(mine).xreplace(domain)), \
        _canonical(sp.sympify(truth(symbol)).xreplace(domain))


def verify(model, dims=None, bind=None, timeout=TIMEOUT, accept_numeric=False):
    """Prove the matrix-form gradients equal to SymPy's entrywise derivatives.

    Parameters
    ----------
    model : Model or Derivation
    dims : dict of str to int, optional
        Small concrete sizes; distinct ones, 2, 3, 4, ..., by default.
    bind : dict of str to str, optional
        Abstract functions to bind; unbound ones stay abstract.
    timeout : float or None
        Seconds the proofs may take (None: no limit).  An entry whose proof
        does not finish in its share is reported as equal at random points
        to 50 digits but not proved, if it is.
    accept_numeric : bool
        Whether such entries pass (:attr:`VerifyReport.ok`).

    Returns
    -------
    VerifyReport

    Examples
    --------
    >>> import symbackprop as sbp
    >>> report = verify(sbp.load("examples/textbook_mlp.sbp"))
    >>> report.ok, report.entries
    (True, {'x': 2, 'y': 4, 'W1': 6, 'W2': 12})
    """
    start = time.monotonic()
    d = _derivation(model, bind)
    m = d.model
    dims = small_dims(m, dims)
    env = explicit_environment(d, {m.dims[n]: s for n, s in dims.items()})
    gradient = functools.partial(sp.diff, env[d.symbols[m.objective]])
    outputs = [(name, v.shape, env[d.step(name).adjoint] if name in d.order else None,
                env[d.symbols[name]], gradient)
               for name, v in m.variables.items() if v.role in ("param", "input")]
    deadline = start + (math.inf if timeout is None else timeout)
    verdicts = _judge_entries(_cells(outputs, on_domain(d, env)), deadline)
    return _report(verdicts, dims, "matrix-form gradients", timeout, accept_numeric, start)


def verify_hvp(model, dims=None, bind=None, wrt=None, prove=True, timeout=TIMEOUT,
               accept_numeric=False):
    """Prove H v equal, entry by entry, to the Hessian of the explicit objective times v.

    Parameters
    ----------
    model : Model, Derivation or HVPDerivation
    dims : dict of str to int, optional
        Small concrete sizes (distinct ones, 2, 3, 4, ..., by default).
    bind : dict of str to str, optional
        Abstract functions to bind; unbound ones stay abstract (phi'' and the
        second partials of ell are compared as unknown functions).
    wrt : list of str, optional
        As in :func:`derive_hvp`.
    prove : bool
        Prove each entry equal symbolically (random points refute at once;
        otherwise the difference must reach 0 in a canonical form or by
        :func:`sympy.simplify`).  With False, each entry is compared at
        random points to 50 digits only: the same ground truth, without
        :func:`sympy.simplify`, which can take minutes on the second
        derivatives of sigmoids and softmaxes.
    timeout : float or None
        Seconds the proofs may take once the entries are built (None: no
        limit).
    accept_numeric : bool
        Whether entries equal at random points but not proved pass
        (``prove=False`` accepts them).

    Returns
    -------
    symbackprop.VerifyReport

    Examples
    --------
    >>> import symbackprop as sbp
    >>> report = verify_hvp(sbp.load("examples/textbook_mlp.sbp"), dims={"d": 2, "h": 2, "q": 2})
    >>> report.ok, report.entries
    (True, {'W1': 4, 'W2': 4})
    """
    start = time.monotonic()
    if isinstance(model, HVPDerivation):
        hvp = model if not bind else model.bound(bind)
    else:
        hvp = derive_hvp(_derivation(model, bind), wrt)
    d, m = hvp.derivation, hvp.model
    dims = small_dims(m, dims)
    sizes = {m.dims[n]: s for n, s in dims.items()}
    env = explicit_environment(d, sizes, hvp)
    objective = env[d.symbols[m.objective]]
    moving = [(t, v) for name, direction in hvp.directions.items()
              for t, v in zip(_entries(env[d.symbols[name]]), _entries(env[direction]))]

    def hessian_times_v(theta):  # sum over b of d2J / d(theta) d(theta_b) v_b
        gradient = sp.diff(objective, theta)
        return sp.Add(*[sp.diff(gradient, t) * v for t, v in moving])

    outputs = [(n, m.variables[n].shape, explicit(hvp.hvp(n), env, sizes), env[d.symbols[n]],
                hessian_times_v) for n in hvp.wrt]
    built = [(n, i, sides()) for n, i, sides in _cells(outputs, on_domain(d, env))]
    cells = [(n, i, lambda sides=sides: sides) for n, i, sides in built]
    # the entries are built above, all at once: the budget is the proofs'
    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
    verdicts = _judge_entries(cells, deadline, symbolic=prove)
    return _report(verdicts, dims, "matrix-form Hessian-vector products", timeout if prove else 0,
                   accept_numeric or not prove, start)


def _entries(value):
    return list(value) if ex.is_matrix(value) else [value]
