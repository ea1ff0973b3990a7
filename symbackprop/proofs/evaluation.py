"""Numbers for formulas: a derivation's expressions evaluated with NumPy at a point.

The proof of printed output (:mod:`symbackprop.proofs.readback`) compares what a
printed formula means with what the derivation computes, at random points.
This module computes the second: every forward value and every adjoint of a
derivation, evaluated node by node with NumPy (not with the generated code, and
not with SymPy), with every abstract function bound to a random smooth one.

The bindings (:class:`Binding`) are what a reader needs to give an abstract
``phi`` or ``ell`` a value, a derivative and a second derivative:

* an entrywise ``phi(x) = a sin(b x + c) + e x^2``, with random a, b, c, e, so
  every derivative is known in closed form and no two orders coincide;
* a scalar ``ell(a_1, ..., a_k) = exp(<c, a>) + sum_s <d_s, a_s ⊙ a_s>`` with
  random arrays ``c_s``, ``d_s`` per argument: its partials differ from slot
  to slot and from call to call, so a partial written for the wrong call or
  the wrong slot has the wrong value.

Values are NumPy arrays: a vector is a column (n, 1), a scalar a 0-d array.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions import HadamardPower, HadamardProduct

from ..primitives import expressions as ex
from ..primitives import matrix_functions as mf
from ..primitives.functions import TABLE
from ..primitives.piecewise import ArgExtreme, ExtremeAll, ExtremeLines, Extremum

__all__ = ["Binding", "Evaluator", "sample_values", "initialised", "column",
           "derivation_values"]


def _rng(*key):
    """A generator seeded by `key`: the same numbers for the same key in every run."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def column(value):
    """A value in the evaluator's layout: a vector as an (n, 1) column, a scalar 0-d."""
    value = np.asarray(value, dtype=np.float64)
    return value.reshape(-1, 1) if value.ndim == 1 else value


class Binding:
    """Random smooth stand-ins for a model's abstract functions.

    Parameters
    ----------
    seed : int
        Which stand-ins: each seed gives other coefficients.

    Examples
    --------
    >>> b = Binding(0)
    >>> x = np.array([[0.5], [1.0]])
    >>> h = 1e-6
    >>> numeric = (b.entrywise("phi", x + h) - b.entrywise("phi", x - h)) / (2 * h)
    >>> bool(np.allclose(b.entrywise("phi", x, order=1), numeric))
    True
    """

    def __init__(self, seed):
        self.seed = seed

    def _phi(self, name):
        a, b, c, e = _rng("phi", self.seed, name).uniform(0.5, 1.5, size=4)
        return a, b, c, e / 4

    def entrywise(self, name, x, order=0):
        """The `order`-th derivative of the entrywise function `name` at `x`."""
        a, b, c, e = self._phi(name)
        x = np.asarray(x, dtype=np.float64)
        wave = a * b**order * np.sin(b * x + c + order * math.pi / 2)
        square = (e * x * x, 2 * e * x, 2 * e + 0 * x)[order] if order < 3 else 0 * x
        return wave + square

    def _coefficients(self, name, args):
        out = []
        for slot, a in enumerate(args):
            shape = np.shape(a)
            rng = _rng("ell", self.seed, name, slot, shape)
            size = max(1, int(np.prod(shape)))
            out.append((rng.uniform(-1, 1, size=shape) / math.sqrt(size),
                        rng.uniform(0.2, 1.0, size=shape)))
        return out

    def _exponential(self, coefficients, args):
        total = sum(float(np.sum(c * a)) for (c, _), a in zip(coefficients, args))
        return math.exp(0.5 * total)

    def scalar(self, name, args):
        """The abstract scalar function `name` at `args`."""
        cd = self._coefficients(name, args)
        value = self._exponential(cd, args)
        return np.asarray(value + sum(float(np.sum(d * a * a)) for (_, d), a in zip(cd, args)))

    def partial(self, name, slot, args):
        """Its partial derivative in argument `slot` (shaped like that argument)."""
        cd = self._coefficients(name, args)
        c, d = cd[slot]
        return 0.5 * c * self._exponential(cd, args) + 2 * d * args[slot]

    def second_partial(self, name, slot, along, args, tangent):
        """The derivative of :meth:`partial` when argument `along` moves along `tangent`."""
        cd = self._coefficients(name, args)
        c, d = cd[slot]
        out = 0.25 * c * self._exponential(cd, args) * float(np.sum(cd[along][0] * tangent))
        return out + 2 * d * tangent if slot == along else out


def sample_values(model, dims, seed):
    """Random values of a model's declared variables (in the evaluator's layout)."""
    from .check import random_arrays  # the data `check` draws, domains included
    return {name: column(v) for name, v in random_arrays(model, dims, seed).items()}


def initialised(model, values):
    """`values` with every param matrix over √(its columns), as networks are initialised.

    A recurrence run for T steps keeps its values of order one, where the functions bound
    to the abstract ones are defined and a saturated tanh leaves no gradient of rounding
    size: standard normal weights grow like ‖W‖^T.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> m = sbp.parse("dim n\\nparam W: matrix(n, n)\\ninput x: vector(n)\\n"
    ...               "J = sum(W @ x)\\nobjective J\\n")
    >>> out = initialised(m, {"W": np.full((4, 4), 2.0), "x": np.ones((4, 1))})
    >>> float(out["W"][0, 0]), float(out["x"][0, 0])
    (1.0, 1.0)
    """
    return {n: v / np.sqrt(v.shape[1]) if model.variables[n].role == "param" and np.ndim(v) == 2
            and v.shape[1] > 1 else v for n, v in values.items()}


def entrywise_function(name):
    """The NumPy form of a built-in scalar function (its row's ``evaluate``), or None."""
    row = TABLE.get(name)
    return None if row is None else row.evaluate


def _logsumexp(x, axis):
    top = np.max(x, axis=axis, keepdims=True)
    return top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))


def softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis):
    return x - _logsumexp(x, axis)


def logsumexp(x, axis):
    return _logsumexp(x, axis)


class Evaluator:
    """Evaluate expressions of a derivation with NumPy.

    Parameters
    ----------
    env : dict
        SymPy symbols (variables, adjoints, directions, tangents) to values.
    sizes : dict
        Dim symbols to integers.
    binding : Binding
        The abstract functions' stand-ins.
    """

    def __init__(self, env, sizes, binding):
        self.env = dict(env)
        self.sizes = sizes
        self.binding = binding
        self._cache = {}

    def size(self, expr):
        # a shape's size: an int or a SymPy expression in the dims, never text
        return int(expr.xreplace(self.sizes)) if isinstance(expr, sp.Basic) else int(expr)

    def __call__(self, expr):
        return self.value(expr)

    def value(self, expr):
        if expr in self.env:
            return self.env[expr]
        cached = self._cache.get(expr)
        if cached is not None:
            return cached
        out = np.asarray(self._value(expr), dtype=np.float64)
        self._cache[expr] = out
        return out

    def _value(self, e):  # noqa: C901 - one case per class, as a printer's dispatch
        v = self.value
        if e in self.sizes:  # a dim as a value: 1/n in a mean
            return float(self.sizes[e])
        if isinstance(e, (sp.MatrixSymbol, sp.Symbol)) and not isinstance(e, sp.Dummy):
            raise KeyError(f"no value for {e}")
        if isinstance(e, sp.OneMatrix):
            return np.ones((self.size(e.rows), self.size(e.cols)))
        if isinstance(e, sp.ZeroMatrix):
            return np.zeros((self.size(e.rows), self.size(e.cols)))
        if isinstance(e, sp.Identity):
            return np.eye(self.size(e.rows))
        if isinstance(e, sp.MatMul):
            out = np.asarray(1.0)
            for a in e.args:
                out = _times(out, v(a))
            return out
        if isinstance(e, sp.Mul):  # scalars: entrywise where a Map's entry is an array
            out = np.asarray(1.0)
            for a in e.args:
                out = out * v(a)
            return out
        if isinstance(e, (sp.MatAdd, sp.Add)):
            out = v(e.args[0])
            for a in e.args[1:]:
                out = out + v(a)
            return out
        if isinstance(e, sp.Transpose):
            return v(e.arg).T
        if isinstance(e, HadamardProduct):
            out = v(e.args[0])
            for a in e.args[1:]:
                out = out * v(a)
            return out
        if isinstance(e, HadamardPower):
            return v(e.base) ** v(e.exp)
        if isinstance(e, sp.Trace):
            return np.trace(v(e.arg))
        if isinstance(e, sp.Pow):
            return v(e.base) ** v(e.exp)
        if isinstance(e, ex.Map):
            return self._map(e)
        if isinstance(e, mf.AsScalar):
            return v(e.arg)[0, 0]
        if isinstance(e, mf.SumAll):
            return np.sum(v(e.arg))
        if isinstance(e, mf.Norm):
            return np.sqrt(np.sum(v(e.arg) ** 2))
        if isinstance(e, Extremum):
            return entrywise_function(e.function.__name__)(*[v(a) for a in e.operands])
        if isinstance(e, (ExtremeAll, ExtremeLines, ArgExtreme)):
            return e.numeric(*[v(a) for a in e.operands])
        if isinstance(e, mf.Softmax):
            return softmax(v(e.arg), e.axis)
        if isinstance(e, mf.LogSoftmax):
            return log_softmax(v(e.arg), e.axis)
        if isinstance(e, mf.LogSumExp):
            return logsumexp(v(e.arg), e.axis)
        if isinstance(e, mf.Apply):
            return self.binding.scalar(e.name, [v(a) for a in e.call_args])
        if isinstance(e, mf.Partial):
            return self.binding.partial(e.name, e.slot, [v(a) for a in e.call_args])
        if hasattr(e, "numeric_at"):  # block matrices and slices, at the sizes
            return e.numeric_at(self.size, *[v(a) for a in e.operands])
        if type(e).__name__ == "SecondPartial":
            return self.binding.second_partial(e.name, e.slot, e.along,
                                               [v(a) for a in e.call_args], v(e.tangent))
        if hasattr(e, "numeric"):  # the linear algebra of square matrices: inverse, det, ...
            return e.numeric(*[v(a) for a in e.operands])
        return self._scalar(e)

    def _map(self, e):
        arg = self.value(e.arg)
        inner = Evaluator({**self.env, ex.ENTRY: arg}, self.sizes, self.binding)
        body = e.function.expr
        return np.broadcast_to(inner.value(body), arg.shape).copy()

    def _scalar(self, e):
        v = self.value
        if e.is_Number:
            return float(e)
        if e in (sp.pi, sp.E):
            return float(e)
        if isinstance(e, sp.Heaviside):
            x = v(e.args[0])
            at_zero = float(e.args[1]) if len(e.args) > 1 else 0.5
            return np.where(x > 0, 1.0, np.where(x < 0, 0.0, at_zero))
        if isinstance(e, AppliedUndef):
            args = [v(a) for a in e.args]
            if len(args) == 1:
                return self.binding.entrywise(type(e).__name__, args[0])
            return self.binding.scalar(type(e).__name__, args)
        if isinstance(e, sp.Derivative):
            f = e.expr
            if isinstance(f, AppliedUndef) and len(f.args) == 1 \
                    and set(e.variables) == {f.args[0]}:
                return self.binding.entrywise(type(f).__name__, v(f.args[0]),
                                              order=len(e.variables))
        if isinstance(e, sp.Subs):
            bound = {var: v(point) for var, point in zip(e.variables, e.point)}
            inner = Evaluator({**self.env, **bound}, self.sizes, self.binding)
            return inner.value(e.expr)
        if isinstance(e, sp.Function):
            f = entrywise_function(type(e).__name__)
            if f is not None and len(e.args) == TABLE[type(e).__name__].arity:
                return f(*[v(a) for a in e.args])
            if isinstance(e, (sp.Max, sp.Min)):
                reduce = np.maximum if isinstance(e, sp.Max) else np.minimum
                out = v(e.args[0])
                for a in e.args[1:]:
                    out = reduce(out, v(a))
                return out
        raise TypeError(f"no numeric form for {type(e).__name__}: {e}")


def _times(a, b):
    """A product of two factors: scalars scale, matrices multiply."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    return a @ b


def derivation_values(derivation, values, sizes, binding):
    """Every declared variable, forward value and adjoint of `derivation`, by symbol.

    Parameters
    ----------
    derivation : Derivation
    values : dict of str to ndarray
        The declared variables' values (:func:`sample_values`).
    sizes : dict
        Dim symbols to integers.
    binding : Binding

    Returns
    -------
    Evaluator
        Holding every value in its ``env``, ready to evaluate further expressions.
    """
    ev = Evaluator({derivation.symbols[n]: column(a) for n, a in values.items()}, sizes, binding)
    with np.errstate(all="ignore"):
        for name, expr in derivation.forward.items():
            ev.env[derivation.symbols[name]] = ev.value(expr)
        for step in derivation.steps:
            ev.env[step.adjoint] = ev.value(step.result)
    return ev
