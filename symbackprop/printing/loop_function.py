"""Looped NumPy code compiled into a callable taking keyword arrays named as in the model.

:func:`compile_loop_derivation` compiles the module of
:mod:`symbackprop.printing.loop_code` and wraps it as
:mod:`symbackprop.printing.numpy_function` wraps flat code: arrays are checked
against the declared shapes, the lengths and sizes resolved from them; the
generated functions take and return a vector as a 1-D array, a scalar as a float.  A family whose
members have one shape is one array, index first (``x`` of ``x[t]: vector(d)``
for t in 1..T is T x d, ``x[t]`` at ``x[t - 1]``), and its gradient too; a
family whose shape varies with the index is a list, and so is its gradient.

Why compiling is safe: the source is generated from the derivation's
expressions, never from the model's text (see :mod:`symbackprop.printing.numpy_code`).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..derivation.loop_program import checked_loop_wrt
from .loop_code import generate_loop_source, loop_arguments, loop_bound

__all__ = ["compile_loop_derivation"]


def _integer(expr, symbols):
    """`expr` (an index or a bound) as a function of the integers `symbols`."""
    return sp.lambdify(symbols, sp.sympify(expr, strict=True), modules=[])


class _Size:
    """A size in a shape: a number, a dim, or a width n[k] of a family of dims."""

    def __init__(self, size, arguments):
        size = sp.sympify(size, strict=True)
        self.text = str(size)
        self.number = int(size) if size.is_Integer else None
        self.base = self.at = None
        if isinstance(size, sp.Indexed):
            self.base, self.at = size.base, _integer(size.indices[0], arguments)

    def key(self, values):
        if self.base is not None:
            return (self.base, int(self.at(*values)))
        return self.text


class _Declared:
    """One declared value or family: its layout, and the sizes of its members."""

    def __init__(self, name, model, stacked, symbols):
        self.name = name
        family = model.families.get(name)
        self.family, self.stacked = family is not None, stacked
        if family is None:
            self.shape, self.first = model.variables[name].shape, None
            self.sizes = self._sizes(self.shape, symbols)
            return
        self.shape = family.shape
        self.sizes = self._sizes(family.shape, (family.index, *symbols))
        lo, hi = family.ranges[0]
        self.first, self.last = _integer(lo, symbols), _integer(hi, symbols)
        self.bounds = f"{lo}..{hi}"
        # K[o, c]: one stacked array, both indices first
        self.pairs = tuple((_integer(a, symbols), _integer(b, symbols), f"{a}..{b}")
                           for a, b in family.bounds) if family.extra else ()

    @staticmethod
    def _sizes(shape, symbols):
        if shape.is_scalar:
            return ()
        sizes = (shape.rows,) if shape.kind == "vector" else (shape.rows, shape.cols)
        return tuple(_Size(s, symbols) for s in sizes)

    @property
    def ndim(self):
        return {"scalar": 0, "vector": 1, "matrix": 2}[self.shape.kind]


class _LoopArrays:
    """Keyword arrays into the generated code's layout, lengths and sizes resolved and checked."""

    def __init__(self, derivation):
        model = derivation.model
        self.model, self.valid_from = model, derivation.valid_from
        self.arguments = loop_arguments(derivation)
        self.lengths = [model.dims[n] for n in model.lengths]
        self.declared = [_Declared(n, model, self.arguments.stacked.get(n, False), self.lengths)
                         for n in self.arguments.arrays]
        count = self.arguments.count
        self.solved = {s: (name, sp.lambdify([count], e, modules=[]))
                       for s, (name, e) in self.arguments.lengths.items()}

    def __call__(self, arrays):
        names = [d.name for d in self.declared]
        passed = [n for n in self.arguments.passed if n in self.model.lengths]
        missing = [n for n in names + passed if n not in arrays]
        extra = [n for n in arrays if n not in names and n not in self.arguments.passed]
        if missing or extra:
            parts = (["missing " + ", ".join(missing)] if missing else []) + \
                (["unknown " + ", ".join(extra)] if extra else [])
            lengths = f"; no array has the length {', '.join(passed)}: give it" if passed else ""
            raise TypeError(f"arrays: {'; '.join(parts)} (the model declares "
                            f"{', '.join(names)}{lengths})")
        values = self._lengths(arrays)
        sizes = {}
        converted = [self._converted(d, arrays[d.name], values, sizes) for d in self.declared]
        dims = self.model.dims
        return converted + [values[self.lengths.index(dims[n])] if n in self.model.lengths
                            else int(arrays.get(n, 0)) for n in self.arguments.passed]

    def _lengths(self, arrays):
        found = {}
        for symbol, (name, solve) in self.solved.items():
            given = arrays[name]
            axis = self.arguments.axes.get(symbol, 0)
            found[symbol] = int(solve(np.shape(given)[axis] if self.arguments.stacked[name]
                                      else len(given)))
        for name in self.model.lengths:
            symbol = self.model.dims[name]
            if symbol not in found:
                found[symbol] = int(arrays[name])
        values = [found[s] for s in self.lengths]
        short = [f"{n} = {v}" for n, v in zip(self.model.lengths, values)
                 if v < self.valid_from]
        if short:
            raise ValueError(f"{', '.join(short)}: the derivation's steps hold for "
                             f"{', '.join(self.model.lengths)} >= {self.valid_from}")
        return values

    def _converted(self, d, given, values, sizes):
        if not d.family:
            return self._member(d, given, d.name, values, sizes)
        if d.pairs:
            return self._pair(d, given, values, sizes)
        lo, hi = int(d.first(*values)), int(d.last(*values))
        if d.stacked:
            value = np.asarray(given, dtype=np.float64)
            if value.ndim != d.ndim + 1 or value.shape[0] != hi - lo + 1:
                raise ValueError(f"{d.name} is a family of {hi - lo + 1} members "
                                 f"({d.name}[{d.bounds}]) of {d.shape}: expected a "
                                 f"{d.ndim + 1}-D array with {hi - lo + 1} rows, got shape "
                                 f"{value.shape}")
            if len(value):
                self._member(d, value[0], f"{d.name}[{lo}]", values, sizes, lo)
            return value
        if len(given) != hi - lo + 1:
            raise ValueError(f"{d.name} is a family of {hi - lo + 1} members ({d.name}"
                             f"[{d.bounds}]): got a list of {len(given)}")
        return [self._member(d, m, f"{d.name}[{k}]", values, sizes, k)
                for k, m in zip(range(lo, hi + 1), given)]

    def _pair(self, d, given, values, sizes):
        """A family of two indices: one array, (count of the first, of the second, ...)."""
        counts = tuple(int(hi(*values)) - int(lo(*values)) + 1 for lo, hi, _ in d.pairs)
        value = np.asarray(given, dtype=np.float64)
        if value.ndim != d.ndim + 2 or value.shape[:2] != counts:
            bounds = ", ".join(b for _, _, b in d.pairs)
            raise ValueError(f"{d.name} is a family of {counts[0]} × {counts[1]} members "
                             f"({d.name}[{bounds}]) of {d.shape}: expected a {d.ndim + 2}-D "
                             f"array of shape ({counts[0]}, {counts[1]}, ...), got shape "
                             f"{value.shape}")
        if value.size:
            self._member(d, value[0, 0], f"{d.name}[1, 1]", values, sizes)
        return value

    def _member(self, d, given, label, values, sizes, index=None):
        """One value or member, checked against its shape."""
        value = np.asarray(given, dtype=np.float64)
        if d.shape.is_scalar:
            if value.size != 1:
                raise ValueError(f"{label} is a scalar; got an array of shape {value.shape}")
            return np.float64(value.reshape(()))
        if value.ndim != d.ndim:
            raise ValueError(f"{label} is a {d.shape}: expected a {d.ndim}-D array, got shape "
                             f"{value.shape}")
        at = values if index is None else [index, *values]
        for size, actual in zip(d.sizes, value.shape):
            key = size.number if size.number is not None else size.key(at)
            known = key if size.number is not None else sizes.setdefault(key, actual)
            if known != actual:
                raise ValueError(f"{label} is a {d.shape}: got shape {value.shape}, but "
                                 f"{_named(key)} = {known} from the arrays before it")
        return value


def _named(key):
    return f"{key[0]}[{key[1]}]" if isinstance(key, tuple) else str(key)


def compile_loop_derivation(derivation, wrt=None):
    """Compile a derivation with loops into a NumPy function whose loops stay loops.

    Parameters
    ----------
    derivation : LoopDerivation
        With every abstract function bound.
    wrt : list of str, optional
        Params and inputs, single values or families; the params by default.

    Returns
    -------
    callable
        ``f(**arrays) -> (J, grads)``: `arrays` holds every declared value and
        family by name (a family of members of one shape as one array, index
        first, a vector member as a row of it; a family whose shape varies as
        a list), and any length no array gives (``T=5``).  `grads` holds each
        gradient in the layout of its value.  ``f.objective(**arrays)`` is J
        alone and ``f.source`` the generated module.

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp", bind={"ell": "squared_error"}))
    >>> f = compile_loop_derivation(d, wrt=["W_hh", "x"])
    >>> rng = np.random.default_rng(0)
    >>> T, d_, h, q = 5, 3, 4, 2
    >>> J, grads = f(x=rng.normal(size=(T, d_)), y=rng.normal(size=(T, q)),
    ...              h0=np.zeros(h), W_hx=rng.normal(size=(h, d_)),
    ...              W_hh=rng.normal(size=(h, h)), W_qh=rng.normal(size=(q, h)))
    >>> grads["W_hh"].shape, grads["x"].shape
    ((4, 4), (5, 3))
    """
    derivation = loop_bound(derivation)
    wrt = checked_loop_wrt(derivation, wrt)
    source = generate_loop_source(derivation, wrt)
    namespace = {}
    # Safe: `source` is generated from the derivation's expressions, not from user text.
    exec(compile(source, f"<symbackprop {derivation.model.filename}>", "exec"), namespace)
    convert = _LoopArrays(derivation)

    def value_and_grad(**arrays):
        return namespace["value_and_grad"](*convert(arrays))

    value_and_grad.objective = lambda **arrays: namespace["objective"](*convert(arrays))
    value_and_grad.source = source
    value_and_grad.wrt = tuple(wrt)
    return value_and_grad
