"""The numeric proof of a derivation: its generated gradients against finite differences.

:func:`check` compares the generated NumPy gradients with central finite
differences of the objective at random float64 values, along random
directions at each gradient's own scale.  :func:`random_arrays` draws the
data (within each variable's domain) that the other numeric proofs use too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..language.model import Node, Ref, walk
from ..derivation.reverse import Derivation, derive
from ..printing.numpy_function import compile_derivation
from .sizes import _size_at, default_dims

__all__ = ["check", "CheckReport", "default_dims", "random_arrays"]

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


def _derivation(model, bind):
    d = model if isinstance(model, Derivation) else derive(model)
    return d if not bind else derive(d.model.bind(bind))


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
    (in [0.05, 0.95] if ``unit``).  A ``onehot`` vector (or each row of a matrix) is
    a random row of the identity, a ``simplex`` one the softmax of standard normals;
    a ``symmetric`` matrix is (A + Aᵀ)/2 and an ``spd`` one A Aᵀ + n I, whose
    eigenvalues are at least n (A standard normal, n × n).

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
            dims_ = (_size_at(shape.rows, sizes),)
        else:
            dims_ = (_size_at(shape.rows, sizes), _size_at(shape.cols, sizes))
        if _domain(v) in _DRAWN:
            value = _DRAWN[_domain(v)](rng, dims_)
        elif _domain(v) == "unit":
            value = rng.uniform(0.05, 0.95, size=dims_)
        elif v.role == "const":
            value = rng.uniform(0.5, 1.5, size=dims_)
        elif _domain(v) == "positive":
            value = rng.uniform(0.5, 2.0, size=dims_)
        else:
            value = rng.standard_normal(size=dims_)
        arrays[v.name] = float(value) if dims_ == () else value
    return arrays


def _onehot(rng, shape):
    rows = np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[0] if len(shape) == 2 else 1)]
    return rows if len(shape) == 2 else rows[0]


def _simplex(rng, shape):
    e = np.exp(rng.standard_normal(shape))
    return e / np.sum(e, axis=-1, keepdims=True)


def _spd(rng, shape):
    a = rng.standard_normal(shape)
    return a @ a.T + shape[0] * np.eye(shape[0])


def _symmetric(rng, shape):
    a = rng.standard_normal(shape)
    return (a + a.T) / 2


#: How the domains of whole vectors and matrices are drawn, (rng, shape) -> array.
_DRAWN = {"onehot": _onehot, "simplex": _simplex, "spd": _spd, "symmetric": _symmetric}


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
    f = compile_derivation(d, wrt, dims)
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
                return [f"{name} (line {line}) is not finite: the first non-finite forward value"
                        ] + _power_hints(model)
            return [f"{name} is not finite: the first non-finite adjoint"] + _power_hints(model)
    return []


def _power_hints(model):
    """The non-integer powers of declared variables that may take any real value: where the
    data drawn are negative, such a power is not a real number."""
    hints = []
    for a in model.assignments:
        for node in walk(a.tree):
            if isinstance(node, Node) and node.op.name == "pow" and node.param.is_Rational \
                    and not node.param.is_Integer and isinstance(node.args[0], Ref):
                v = model.variables[node.args[0].name]
                if v.declared and v.domain is None:
                    hints.append(f"{v.name} ^ ({node.param}) (line {node.line}) is real only "
                                 f"where {v.name} >= 0: declare {v.name} positive")
    return hints


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
    distance of the edge of its declared domain (0, or 0 and 1; for an spd matrix,
    within half its least eigenvalue of singular).  The derivative compared is the
    unconstrained one, so a step may leave a domain without an edge (a symmetric
    matrix moves along any direction)."""
    if domain == "spd":  # a unit direction moves no eigenvalue by more than 1
        return min(largest, 0.5 * float(np.min(np.linalg.eigvalsh(value))))
    if domain not in ("positive", "unit"):
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
