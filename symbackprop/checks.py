"""Proofs of a derivation: numeric (finite differences) and symbolic (entry by entry).

:func:`check` compares the generated NumPy gradients with central finite
differences of the objective at random float64 values.

:func:`verify` builds the objective as one SymPy scalar from matrices of
scalar symbols at small concrete sizes, differentiates it entry by entry with
:func:`sympy.diff` (the ground truth SymPy is good at), and proves the
matrix-form gradient equal to it entry by entry.  Abstract functions may stay
abstract: ``phi'`` and ``dL/do`` are compared as unknown functions.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import time
from dataclasses import dataclass, field

import mpmath
import networkx as nx
import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from .derivation import Derivation, derive
from .numeric import compile_derivation
from . import proving

__all__ = ["check", "verify", "CheckReport", "VerifyReport", "default_dims", "explicit"]

#: Relative error a gradient must stay within, along each direction, to pass :func:`check`.
TOLERANCE = 1e-7
#: Random unit directions along which each gradient is compared (one for a scalar).
DIRECTIONS = 3
#: The largest finite-difference step along a unit direction: a large step resolves a
#: small gradient beside a large objective, whose rounding is about eps |J| / step.
LARGEST_STEP = 1.0
#: The smallest step, halved down to from the largest: below a kink (relu near 0)
#: that lies within the larger steps.
KINK_STEP = 1e-7
#: The rounding of one objective value, in units of eps |J|: a few operations' worth.
ROUNDING = 4.0
_SIZES = (5, 4, 3, 6, 2, 7, 8, 9)
#: Seconds :func:`verify` may spend on proofs by default: most examples are proved in a
#: few seconds, and a proof SymPy has not found in half a minute it rarely finds at all.
TIMEOUT = 30.0
#: Random points at which :func:`verify` compares each entry, to DIGITS digits.
POINTS = 3
DIGITS = 50
#: Relative difference below which two sides agree at a point: 50 digits less 20 for rounding.
AGREEMENT = 1e-30
#: Differences whose expansion has at most this many terms (an upper bound) are expanded in
#: this process; larger ones only in a child process with a time limit.
_SMALL_EXPANSION = 2000
#: Seconds each cheap canonical form of one entry may take at least before simplify is tried.
_QUICK = 2.0


def _derivation(model, bind):
    d = model if isinstance(model, Derivation) else derive(model)
    return d if not bind else derive(d.model.bind(bind))


def default_dims(model, dims=None, sizes=_SIZES):
    """Concrete sizes for every dim: those given, then distinct small defaults.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> default_dims(sbp.load("examples/textbook_mlp.sbp"), {"q": 2})
    {'d': 5, 'h': 4, 'q': 2}
    """
    dims = dict(dims or {})
    unknown = [n for n in dims if n not in model.dims]
    if unknown:
        raise ValueError(f"unknown dimension {unknown[0]!r}; the model's dims are "
                         f"{', '.join(model.dims) or '(none)'}")
    for name, size in dims.items():
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"dimension {name} must be a positive whole number, not {size!r}")
    return {name: int(dims.get(name, sizes[i % len(sizes)]))
            for i, name in enumerate(model.dims)}


def _size(expr, dims):
    return int(expr.xreplace(dims))


@dataclass
class CheckReport:
    """The result of :func:`check`.

    Attributes
    ----------
    errors : dict of str to float
        Per gradient, its largest relative error over random unit directions
        ``v``: ``|<g, v> - f| / max(|<g, v>|, |f|, e / tolerance)``, where ``g``
        is the generated gradient, ``f`` the objective's derivative along ``v``
        by finite differences and ``e`` the estimated error of ``f``.  A
        gradient is measured against itself, or, along a direction where finite
        differences cannot resolve it to the tolerance, against what they do
        resolve there; never against the size of the objective.
    ok : bool
        Whether every error is within `tolerance` and every value finite.
    dims : dict of str to int
    seed : int
    tolerance : float
    problems : list of str
        Where a NaN or infinity first appears, if one does.
    resolution : dict of str to float
        Per gradient, the largest error that finite differences leave along its
        directions, relative to the gradient: ``e / max(|g|, |f|)`` (infinite
        for a gradient that is exactly zero).
    """

    errors: dict
    dims: dict
    seed: int
    tolerance: float = TOLERANCE
    problems: list = field(default_factory=list)
    dtype: str = "float64"
    resolution: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.problems and all(e <= self.tolerance for e in self.errors.values())

    def __str__(self):
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items()) or "none"
        lines = [f"check: each gradient along {DIRECTIONS} random unit directions against "
                 f"central finite differences (Richardson) in {self.dtype}, dims {dims}, "
                 f"seed {self.seed}, tolerance {self.tolerance:.0e}"]
        width = max([len(n) for n in self.errors] + [8])
        lines.append(f"  {'gradient':<{width}}  relative error  finite-difference resolution")
        for name, err in self.errors.items():
            mark = "ok" if err <= self.tolerance else "FAIL"
            resolved = self.resolution.get(name, float("nan"))
            shown = "exactly zero" if resolved == float("inf") else f"{resolved:.2e}"
            lines.append(f"  {name:<{width}}  {err:<14.2e}  {shown:<28}  {mark}")
        if any(r > self.tolerance for r in self.resolution.values()):
            lines.append("  (the resolution is the error finite differences leave, relative to "
                         "the gradient; where it exceeds the tolerance, the error is measured "
                         "against it)")
        lines.extend(f"  {p}" for p in self.problems)
        lines.append("passed" if self.ok else "FAILED")
        return "\n".join(lines)


def random_arrays(model, dims, seed=0):
    """Random float64 values for the declared variables, from their declared domains.

    Entries are standard normal, uniform in [0.5, 2] for a ``positive`` variable
    and in [0.05, 0.95] for a ``unit`` one; consts are uniform in [0.5, 1.5]
    (in [0.05, 0.95] if ``unit``).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> m = sbp.parse("dim n\\ninput x: vector(n) positive\\ninput u: scalar unit\\n"
    ...               "J = sum(log(x)) + log(u) + log(1 - u)\\nobjective J")
    >>> arrays = random_arrays(m, {"n": 3})
    >>> bool(all(arrays["x"] > 0)), 0 < arrays["u"] < 1
    (True, True)
    """
    rng = np.random.default_rng(seed)
    sizes = {model.dims[n]: s for n, s in dims.items()}
    arrays = {}
    for v in model.variables.values():
        if not v.declared:
            continue
        shape = v.shape
        if shape.is_scalar:
            dims_ = ()
        elif shape.kind == "vector":
            dims_ = (_size(shape.rows, sizes),)
        else:
            dims_ = (_size(shape.rows, sizes), _size(shape.cols, sizes))
        if _domain(v) == "unit":
            value = rng.uniform(0.05, 0.95, size=dims_)
        elif v.role == "const":
            value = rng.uniform(0.5, 1.5, size=dims_)
        elif _domain(v) == "positive":
            value = rng.uniform(0.5, 2.0, size=dims_)
        else:
            value = rng.standard_normal(size=dims_)
        arrays[v.name] = float(value) if dims_ == () else value
    return arrays


def check(model, dims=None, bind=None, seed=0, step=LARGEST_STEP):
    """Check each derived gradient along random directions against finite differences.

    For each param and input ``W``, the derivative of the objective along a few
    random unit directions ``V`` (seeded) by central finite differences,
    Richardson-extrapolated, is compared with ``<dJ/dW, V>`` from the generated
    code.  Each comparison is judged at the scale of that directional derivative
    and of what finite differences resolve along that direction (see
    :func:`_derivative_along`), so a small gradient beside a large objective is
    checked as strictly as finite differences allow.

    Parameters
    ----------
    model : Model or Derivation
    dims : dict of str to int, optional
        Sizes for the dims; distinct small sizes by default.
    bind : dict of str to str, optional
        Abstract functions bound to built-ins; every abstract function must be.
    seed : int
        Seed of the random values and of the directions.
    step : float
        The largest finite-difference step along a unit direction (smaller
        where a declared domain would be left); halved down to
        :data:`KINK_STEP`.

    Returns
    -------
    CheckReport
        With one relative error per param and per input (their adjoints are
        derived too).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> report = check(sbp.load("examples/textbook_mlp.sbp"),
    ...                bind={"phi": "tanh", "ell": "squared_error"})
    >>> report.ok, sorted(report.errors)
    (True, ['W1', 'W2', 'x', 'y'])
    """
    d = _derivation(model, bind).bound()
    m = d.model
    dims = default_dims(m, dims)
    wrt = [n for n, v in m.variables.items() if v.role in ("param", "input")]
    f = compile_derivation(d, wrt)
    arrays = random_arrays(m, dims, seed)
    with np.errstate(all="ignore"):
        _, grads = f(**arrays)
        problems = _first_non_finite(d, f, arrays)
    errors, resolution = {}, {}
    for index, name in enumerate(wrt):
        g = np.asarray(grads[name], dtype=np.float64)
        if g.shape != np.shape(arrays[name]):
            problems.append(f"the gradient of {name} has shape {g.shape}, not "
                            f"{np.shape(arrays[name])}")
        if g.shape != np.shape(arrays[name]) or not np.all(np.isfinite(g)):
            errors[name] = float("nan")
            continue
        # each gradient its own directions, the same whatever else the model has
        rng = np.random.default_rng([seed, index])
        errors[name], resolution[name] = _compare(
            f.objective, arrays, name, g, _domain(m.variables[name]), rng, step)
    if not wrt:
        problems.append("nothing to compare: the model has no param or input")
    return CheckReport(errors, dims, seed, problems=problems, resolution=resolution)


def _domain(variable):
    return getattr(variable, "domain", None) or "real"


def _first_non_finite(derivation, f, arrays):
    """Where a NaN or infinity first appears: a forward value the objective reads, else
    an adjoint."""
    model = derivation.model
    live = nx.ancestors(derivation.graph, model.objective) | {model.objective}
    for name, value in f.trace(**arrays).items():
        if name in model.variables and name not in live:
            continue  # a dead value cannot make the gradients wrong
        if not np.all(np.isfinite(value)):
            if name in model.variables:
                line = model.variables[name].line
                return [f"{name} (line {line}) is not finite: the first non-finite forward value"]
            return [f"{name} is not finite: the first non-finite adjoint"]
    return []


def _compare(objective, arrays, name, gradient, domain, rng, largest):
    """The largest relative error of `gradient` over random unit directions, and the
    largest relative error finite differences leave along them (see :class:`CheckReport`)."""
    base = arrays[name]
    errors, resolutions = [], []
    for direction in _directions(np.shape(base), rng):
        def line(t, direction=direction):
            moved = base + t * direction
            with np.errstate(all="ignore"):
                return objective(**{**arrays, name: float(moved) if np.ndim(base) == 0
                                    else moved})

        fd, estimate = _derivative_along(line, _largest_step(base, direction, domain, largest))
        derived = float(np.sum(gradient * direction))
        size = max(abs(derived), abs(fd))
        errors.append(_ratio(abs(derived - fd), max(size, estimate / TOLERANCE)))
        resolutions.append(_ratio(estimate, max(np.linalg.norm(gradient), abs(fd))))
    return max(errors), max(resolutions)


def _ratio(a, b):
    """a / b, where 0 / 0 is 0 (agreement) and NaN stays NaN (a failure)."""
    if np.isnan(a) or np.isnan(b):
        return float("nan")
    if b == 0:
        return 0.0 if a == 0 else float("inf")
    return float(a / b)


def _directions(shape, rng):
    """Random unit directions (Frobenius norm 1) of an array's shape; one for a scalar."""
    count = 1 if int(np.prod(shape)) == 1 else DIRECTIONS
    out = []
    for _ in range(count):
        v = rng.standard_normal(shape)
        out.append(v / np.linalg.norm(v))
    return out


def _largest_step(value, direction, domain, largest):
    """`largest`, or less where ``value ± step direction`` would come within half its
    distance of the edge of its declared domain (0, or 0 and 1)."""
    if domain == "real":
        return largest
    value = np.asarray(value, dtype=np.float64)
    room = value if domain == "positive" else np.minimum(value, 1.0 - value)
    moving = np.abs(direction) > 0
    if not moving.any():
        return largest
    return min(largest, 0.5 * float(np.min(room[moving] / np.abs(direction[moving]))))


def _derivative_along(line, largest, smallest=KINK_STEP):
    """The derivative of ``line(t)`` at 0, and an estimate of its error.

    Central differences ``D(h)`` at steps ``h`` = `largest`, `largest`/2, ...
    down to `smallest` are extrapolated in pairs (Richardson):
    ``R(h) = (4 D(h/2) - D(h)) / 3``, whose error is O(h^4).  The error of one
    ``R`` is estimated as its larger distance to its two neighbours in the
    sequence (for a smooth line about 15 times its truncation error; rounding
    noise, or a kink within the step, makes neighbours disagree) plus a bound on
    its rounding, 1.5 times :data:`ROUNDING` eps |J| over its smaller step.  The
    ``R`` with the smallest estimated error is taken: a large step where
    rounding would swamp a small gradient beside a large objective, a step
    below a kink where the line bends within the larger ones.  The halving
    stops early once the rounding bound alone exceeds the best estimate: no
    smaller step can do better.

    Returns
    -------
    tuple of float
        The derivative and its estimated error; NaN and NaN when no step gives
        finite values.

    Examples
    --------
    >>> import numpy as np
    >>> value, error = _derivative_along(lambda t: np.exp(1 + t), 1.0)
    >>> abs(value - np.e) <= error < 1e-11
    True
    """
    rounding_per_size = 1.5 * ROUNDING * np.finfo(np.float64).eps
    steps, central, sizes, extrapolated = [], [], [], []
    best, best_error = float("nan"), float("inf")
    h = largest
    while h >= smallest or len(steps) < 4:
        plus, minus = line(h), line(-h)
        steps.append(h)
        central.append((plus - minus) / (2 * h))
        sizes.append(max(abs(plus), abs(minus)))
        h /= 2
        if len(central) < 2:
            continue
        extrapolated.append((4 * central[-1] - central[-2]) / 3)
        if len(extrapolated) < 3:
            continue
        before, candidate, after = extrapolated[-3:]  # the candidate reads steps[-3], steps[-2]
        rounding = rounding_per_size * max(sizes[-3], sizes[-2]) / steps[-2]
        error = max(abs(candidate - before), abs(candidate - after)) + rounding
        if np.isfinite(error) and np.isfinite(candidate) and error < best_error:
            best, best_error = float(candidate), float(error)
        if rounding >= best_error:
            break
    if not np.isfinite(best_error):
        return float("nan"), float("nan")
    return best, best_error


# --- symbolic verification --------------------------------------------------------

def explicit(expr, env, sizes):
    """The explicit value of a matrix-calculus expression.

    Parameters
    ----------
    expr : sympy.Expr
    env : dict
        Symbols (variables, adjoints) to their explicit values.
    sizes : dict
        Dim symbols to integers.

    Returns
    -------
    sympy.ImmutableMatrix or sympy.Expr
    """
    cache = {}

    def value(e):
        if e in cache:
            return cache[e]
        if e in env:
            out = env[e]
        elif isinstance(e, sp.MatrixSymbol):
            raise KeyError(f"no value for {e}")
        elif isinstance(e, sp.OneMatrix):
            out = sp.ImmutableMatrix(sp.ones(_size(e.rows, sizes), _size(e.cols, sizes)))
        elif isinstance(e, sp.ZeroMatrix):
            out = sp.ImmutableMatrix(sp.zeros(_size(e.rows, sizes), _size(e.cols, sizes)))
        elif isinstance(e, sp.Identity):
            out = sp.ImmutableMatrix(sp.eye(_size(e.rows, sizes)))
        elif isinstance(e, (sp.MatMul, sp.Mul)):
            out = sp.Integer(1)
            for a in e.args:
                out = out * value(a)
        elif isinstance(e, (sp.MatAdd, sp.Add)):
            out = sum((value(a) for a in e.args[1:]), value(e.args[0]))
        elif isinstance(e, sp.Transpose):
            out = value(e.arg).T
        elif isinstance(e, sp.HadamardProduct):
            out = value(e.args[0])
            for a in e.args[1:]:
                out = out.multiply_elementwise(value(a))
        elif isinstance(e, sp.HadamardPower):
            exponent = value(e.exp)
            out = value(e.base).applyfunc(lambda x: x**exponent)
        elif isinstance(e, sp.Trace):
            out = value(e.arg).trace()
        elif hasattr(e, "explicit"):  # the classes of symbackprop.expressions
            out = e.explicit(*[value(a) for a in e.operands])
        elif isinstance(e, MatrixExpr):
            raise TypeError(f"no explicit form for {type(e).__name__}")
        elif e in sizes:
            # a dim in a coefficient, the 1/m of center_rows: the size it stands for, or
            # the explicit form is proved for every m instead of the m it was built at
            out = sp.Integer(sizes[e])
        elif not e.args or isinstance(e, sp.Number):
            out = e
        else:
            out = e.func(*[value(a) for a in e.args])
        if isinstance(out, sp.MatrixBase):
            out = sp.ImmutableMatrix(out)
        cache[e] = out
        return out

    return value(expr)


def _canonical(expr):
    """Spell unknown derivatives one way, any order: f__d<k>__d<m>(args), slots sorted.

    SymPy writes the chain rule through ``f(u(x), v)`` as
    ``Subs(Derivative(f(t, v), t), t, u(x))``; the derivation's explicit form
    writes ``f__d0(u(x), v)``.  Both become the latter; likewise
    ``Subs(Derivative(f(t, v), t, t), t, u)`` and ``Derivative(f__d0(u, v), u)``
    become ``f__d0__d0(u, v)``, mixed partials of a smooth function being one
    function whatever the order.  Unknown functions' arguments are expanded
    (:func:`expanded_calls`), and ``sign(u)`` is written ``u/|u|``
    (:func:`symbackprop.proving.almost_everywhere`).
    """
    def spelled(name, slots):
        base, *earlier = name.split("__d")
        if not all(k.isdigit() for k in earlier):
            base, earlier = name, []
        ordered = sorted([int(k) for k in earlier] + slots)
        return sp.Function(base + "".join(f"__d{k}" for k in ordered))

    def as_partial(derivative, point=None):
        f = derivative.expr
        if not isinstance(f, sp.core.function.AppliedUndef):
            return None
        slots = []
        for variable, count in derivative.variable_count:
            found = [k for k, a in enumerate(f.args) if a == variable]
            if len(found) != 1 or any(variable in a.free_symbols
                                      for k, a in enumerate(f.args) if k != found[0]):
                return None
            slots += [found[0]] * int(count)
        args = f.args if point is None else [a.xreplace(point) for a in f.args]
        # SymPy differentiates along a whole argument, W2[1,0]*phi(...), by writing it as
        # a stand-in symbol named after it, "_W2[1,0]*phi(...)", that no Subs binds
        # (entry symbols never start with "_"): it stands for that argument, which
        # occurs elsewhere in the expression; names are compared, nothing is parsed.
        undummied = {}
        for a in args:
            for symbol in a.free_symbols:
                if isinstance(symbol, sp.Dummy) or symbol.name.startswith("_"):
                    name = symbol.name[1:] if symbol.name.startswith("_") else symbol.name
                    if by_text(name) is not None:
                        undummied[symbol] = by_text(name)
        return spelled(f.func.__name__, slots)(*[a.xreplace(undummied) for a in args])

    def subs(e):
        if isinstance(e.expr, sp.Derivative):
            out = as_partial(e.expr, dict(zip(e.variables, e.point)))
            if out is not None:
                return out
        return e

    texts = {}

    def by_text(name):
        if not texts:  # built once, and only if a stand-in occurs: str() of all is slow
            texts.update((str(e), e) for e in sp.preorder_traversal(expr)
                         if not isinstance(e, (sp.Dummy, sp.Tuple)))
        return texts.get(name)

    while expr.has(sp.Subs, sp.Derivative):
        before = expr
        expr = expr.replace(lambda e: isinstance(e, sp.Subs), subs)
        expr = expr.replace(lambda e: isinstance(e, sp.Derivative), lambda e: as_partial(e) or e)
        if expr == before:
            break
    expr = expanded_calls(expr.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef)
                                       and "__d" in e.func.__name__,
                                       lambda e: spelled(e.func.__name__, [])(*e.args)))
    return proving.almost_everywhere(expr)


def expanded_calls(expr):
    """`expr` with the arguments of unknown functions expanded, innermost first.

    The same value of an unknown function can be spelled two ways, ``ell((W W) x)``
    by the derivation and ``ell(W (W x))`` by the chain rule; expanded, both are one.
    """
    return expr.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef),
                        lambda e: e.func(*[sp.expand(a) for a in e.args]))


def _at_random_point(expr, rng, unknowns):
    """`expr` at a random point, to 50 digits: symbols and unknown-function values drawn at random.

    An unknown function's value (``phi(z0)``, ``ell__d0(o0, y0)``) is an
    independent unknown, so it gets its own random value, the same on both
    sides of a comparison (`unknowns` remembers them).  A symbol assumed
    positive or nonnegative gets a positive value.
    """
    return complex(_values_at_random_point([expr], rng, unknowns)[0])


def _values_at_random_point(exprs, rng, unknowns):
    """`exprs` at one random point (see :func:`_at_random_point`), as mpmath numbers.

    The explicit forms share subexpressions heavily (a softmax's denominator
    in every entry, a layer's output in every later one): each distinct one is
    evaluated once, in mpmath with 10 guard digits beyond :data:`DIGITS`
    (walked as a tree, ``evalf(subs=...)`` took 30 s an entry).
    """
    def draw(symbol=None):
        sign = 1 if symbol is not None and symbol.is_nonnegative else rng.choice((-1, 1))
        return sp.Float(rng.uniform(0.25, 1.75) * sign, DIGITS + 10)

    for symbol in sorted(set().union(*(e.free_symbols for e in exprs)), key=str):
        unknowns.setdefault(symbol, draw(symbol))
    cache = {}

    def value(e):
        if e in cache:
            return cache[e]
        if isinstance(e, sp.core.function.AppliedUndef):
            out = _mpmath(unknowns.setdefault(e, draw()))
        elif e.is_Symbol:
            out = _mpmath(unknowns[e])
        elif e.is_Number or e.is_NumberSymbol or e is sp.I:
            out = _mpmath(e)
        else:
            args = [value(a) for a in e.args]
            rule = _MPMATH.get(type(e).__name__)
            out = rule(*args) if rule is not None else _mpmath(
                e.func(*[_sympy_number(a) for a in args]).evalf(DIGITS + 10))
        cache[e] = out
        return out

    with mpmath.workdps(DIGITS + 10):
        return [value(e) for e in exprs]


def _mpmath(number):
    """A SymPy number as an mpmath one (a real or a complex)."""
    re, im = number.as_real_imag()
    if im == 0:
        return mpmath.mpf(sp.Float(re, DIGITS + 10)._mpf_)
    return mpmath.mpc(sp.Float(re, DIGITS + 10)._mpf_, sp.Float(im, DIGITS + 10)._mpf_)


def _sympy_number(z):
    return sp.Float(z, DIGITS + 10) if isinstance(z, mpmath.mpf) else (
        sp.Float(z.real, DIGITS + 10) + sp.I * sp.Float(z.imag, DIGITS + 10))


def _heaviside(x, at_zero=mpmath.mpf(0.5)):
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0) if x < 0 else at_zero


#: mpmath for the functions of the explicit forms; others are evaluated by SymPy.
_MPMATH = {
    "Add": lambda *a: mpmath.fsum(a), "Mul": lambda *a: mpmath.fprod(a),
    "Pow": lambda b, e: b ** e, "exp": mpmath.exp, "log": mpmath.log, "tanh": mpmath.tanh,
    "Abs": abs, "sign": mpmath.sign, "Heaviside": _heaviside,
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)), "softplus": lambda x: mpmath.log1p(
        mpmath.exp(x)), "relu": lambda x: max(x, mpmath.mpf(0)),
}


def _compare_at_points(mine, truth, points, rng):
    """How many of `points` (dicts of drawn values) `mine` and `truth` agree at, to 50 digits.

    Returns
    -------
    agreed : int
        Points where the two sides, evaluated to 50 digits (and 10 more),
        differ by at most :data:`AGREEMENT` times their size.  Points outside
        the functions' real domain (a root of a negative const, say) or
        where a side is not finite do not count either way.
    counterexample : proving.Counterexample or None
        The first point where the two differ.
    """
    agreed = 0
    for unknowns in points:
        try:
            a, b = _values_at_random_point([mine, truth], rng, unknowns)
        except (ValueError, TypeError, ZeroDivisionError):
            continue
        if not all(mpmath.isfinite(x) for x in (a, b)):
            continue
        value = a - b
        a, b = complex(a), complex(b)
        if abs(value) > AGREEMENT * max(abs(a) + abs(b), 1.0):
            return agreed, proving.counterexample(mine, truth, unknowns, a, b)
        agreed += 1
    return agreed, None


@dataclass
class _Verdict:
    """What became of one entry: proved (how), equal at random points only (why), or failed."""

    name: str
    index: tuple
    status: str = "numeric"
    how: str = ""
    points: int = 0
    counterexample: object = None


def _judge(cells, deadline, points=POINTS, symbolic=True):
    """A :class:`_Verdict` for each ``(name, index, sides)`` of `cells`, by `deadline`.

    ``sides()`` builds the entry's two sides, derived and true; past the
    deadline it is not called, and the entry is reported as not compared.

    First every entry is compared at `points` random points (a difference
    there fails it at once, so a wrong rule never waits on a proof), and
    small ones are expanded here.  Then the rest, in forked processes with a
    hard time limit (:mod:`symbackprop.proving`): each cheap canonical form,
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
        elif proving.expansion_size(difference) <= _SMALL_EXPANSION and sp.expand(
                difference) == 0:
            verdict.status, verdict.how = "proved", "expand"
        else:
            pending.append((verdict, difference))
    # each canonical form in its own process and time, so that a slow one (an expansion
    # that grows) does not keep a fast one from being tried; each may take a few seconds,
    # or its part of the entry's fair share of the time left if that is more
    tries = len(proving.CANONICAL_FORMS) + 1
    stages = [((form,), lambda left, k: min(max(_QUICK, left / (k * tries)), left))
              for form in proving.CANONICAL_FORMS]
    stages.append((proving.SIMPLIFY, lambda left, k: left / k))
    for forms, share in stages if symbolic else ():
        pending = [(v, e) for v, e in pending if v.status == "numeric"]
        for k, (verdict, difference) in enumerate(pending):
            left = deadline - time.monotonic()
            if left <= 0.01:
                verdict.how = "the time budget ran out"
                continue
            how, late = proving.bounded_proof(difference, share(left, len(pending) - k), forms)
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
    """The :class:`VerifyReport` of the verdicts of :func:`_judge`."""
    entries, methods = {}, {}
    for v in verdicts:
        entries[v.name] = entries.get(v.name, 0) + 1
        if v.status == "proved":
            methods[v.how] = methods.get(v.how, 0) + 1
    rank = {name: k for k, name in enumerate(entries)}  # the gradients took turns
    verdicts = sorted(verdicts, key=lambda v: (rank[v.name], v.index))
    order = ["as built", "expand"] + [n for n, _ in proving.CANONICAL_FORMS + proving.SIMPLIFY]
    methods = dict(sorted(methods.items(), key=lambda item: order.index(item[0])
                          if item[0] in order else len(order)))
    mismatches = [(v.name, v.index, v.counterexample or v.how)
                  for v in verdicts if v.status == "failed"]
    unproved = [(v.name, v.index, v.how, v.points) for v in verdicts if v.status == "numeric"]
    return VerifyReport(entries, mismatches, dims, what, unproved, accept_numeric, methods,
                        timeout, time.monotonic() - start)


def _entry_symbols(name, shape, sizes, domain=None):
    """The entries of a variable as SymPy symbols: real, or positive for a variable
    declared ``positive`` or ``unit`` ((0, 1) has no SymPy assumption)."""
    known = {"positive": True} if domain in ("positive", "unit") else {"real": True}
    if shape.is_scalar:
        return sp.Symbol(name, **known)
    rows, cols = _size(shape.rows, sizes), _size(shape.cols, sizes)
    if shape.kind == "vector":
        return sp.ImmutableMatrix(rows, 1, [sp.Symbol(f"{name}[{i}]", **known)
                                            for i in range(rows)])
    return sp.ImmutableMatrix(rows, cols, [sp.Symbol(f"{name}[{i},{j}]", **known)
                                           for i in range(rows) for j in range(cols)])


def explicit_environment(derivation, sizes):
    """Every declared variable as a matrix of entry symbols, every value and adjoint explicitly.

    Parameters
    ----------
    derivation : Derivation
    sizes : dict of sympy.Symbol to int
        A size for each dim symbol.

    Returns
    -------
    dict
        Each variable's and adjoint's symbol to its explicit value, for
        :func:`explicit` to evaluate further expressions of the derivation in.
    """
    env = {}
    for name, v in derivation.model.variables.items():
        if v.declared:
            env[derivation.symbols[name]] = _entry_symbols(name, v.shape, sizes, v.domain)
    for name, expr in derivation.forward.items():
        env[derivation.symbols[name]] = explicit(expr, env, sizes)
    for step in derivation.steps:
        env[step.adjoint] = explicit(step.result, env, sizes)
    return env


def _small_dims(model, dims=None):
    """Sizes for verify: those given, then 2, 3, 4, ... for the rest, never one given.

    Distinct sizes, so that a transpose or a confused axis is a shape error and
    not a coincidence of a square matrix; the smallest such (size 1 would let a
    vector pass for a scalar), because explicit forms grow fast with the sizes.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> _small_dims(sbp.load("examples/textbook_mlp.sbp"), {"h": 2})
    {'d': 3, 'h': 2, 'q': 4}
    """
    given = {name: size for name, size in default_dims(model, dims).items()
             if name in (dims or {})}
    free = (size for size in itertools.count(2) if size not in given.values())
    return {name: given[name] if name in given else next(free) for name in model.dims}


def _gradient_cells(derivation, env):
    """(name, index, sides) for every entry of every gradient; ``sides()`` is
    (derived entry, sympy.diff entry).

    The gradients take turns, one entry each, so that when the budget runs out
    every gradient has had entries compared.
    """
    m = derivation.model
    objective = env[derivation.symbols[m.objective]]

    def sides(symbol, derived):
        return _canonical(derived), _canonical(sp.diff(objective, symbol))

    columns = []
    for name, v in m.variables.items():
        if v.role not in ("param", "input"):
            continue
        symbols = env[derivation.symbols[name]]
        derived = env[derivation.step(name).adjoint] if name in derivation.order else None
        cells = [((), symbols)] if v.shape.is_scalar else [
            ((i, j), symbols[i, j]) for i in range(symbols.rows) for j in range(symbols.cols)]
        column = []
        for index, symbol in cells:
            mine = sp.Integer(0) if derived is None else (
                derived if v.shape.is_scalar else derived[index])
            shown = index[:1] if v.shape.kind == "vector" else index
            column.append((name, shown, functools.partial(sides, symbol, mine)))
        columns.append(column)
    for row in itertools.zip_longest(*columns):
        yield from (cell for cell in row if cell is not None)


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
    dims = _small_dims(m, dims)
    env = explicit_environment(d, {m.dims[n]: s for n, s in dims.items()})
    deadline = start + (math.inf if timeout is None else timeout)
    verdicts = _judge(_gradient_cells(d, env), deadline)
    return _report(verdicts, dims, "matrix-form gradients", timeout, accept_numeric, start)
