"""Generated NumPy code compiled into callables taking keyword arrays named as in the model.

:func:`compile_derivation` and :func:`compile_hvp` compile the modules of
:mod:`symbackprop.printing.numpy_code` and wrap them: arrays are checked
against the declared shapes (dims resolved from them), with clear messages; the
generated functions themselves take and return vectors as 1-D arrays and scalars as
floats, so the module ``symbackprop codegen`` writes is called the same way.

Why compiling is safe: the source is generated from the derivation's expressions,
never from the model's text (see :mod:`symbackprop.printing.numpy_code`).
"""

from __future__ import annotations

import numpy as np

import sympy as sp

from ..language.model import Literal, walk
from ..primitives.shapes import solved_sizes
from .numpy_code import _dim_sources, generate_hvp_source, generate_source

__all__ = ["compile_derivation", "compile_hvp"]


def _passed(model, values, declared, sized):
    """Of `values` (from :class:`_Arrays`: the `declared` arrays, then every dim's size), the
    arguments the generated functions take: the arrays, and the sizes no array (`sized`,
    from :func:`~symbackprop.printing.numpy_code._dim_sources`) has."""
    return values[:declared] + [value for symbol, value in zip(model.dims.values(),
                                                                values[declared:])
                                if symbol not in sized]


class _Arrays:
    """Keyword arrays as the generated functions' arguments, their shapes and dims checked."""

    def __init__(self, model, dims=None):
        self.model = model
        self.declared = [v for v in model.variables.values() if v.declared]
        #: The sizes of the dims no array has (a slice's bound, a dim used as a value).
        self.given = {model.dims[n]: int(k) for n, k in (dims or {}).items()}
        self.needed = set().union(*(b.free_symbols for b in getattr(model, "bounds", ()))) | {
            node.value for a in model.assignments for node in walk(a.tree)
            if isinstance(node, Literal) and node.value.is_Symbol}
        # the dims solved from the arrays' sizes, by the sizes: a check or a proof calls
        # with the same shapes thousands of times, and solving them costs a polynomial
        self.solved = {}
        # what each call reads of the declared shapes, read off them once: a call of a small
        # model costs about as much as its checks
        self.names = [v.name for v in self.declared]
        self.name_set = set(self.names)
        self.plan = [(v, v.shape.is_scalar, v.shape.kind == "vector",
                      [(size, int(size) if size.is_Integer else None)
                       for size in (v.shape.rows, v.shape.cols)]) for v in self.declared]
        self.unsolved = [(n, symbol) for n, symbol in model.dims.items() if symbol in self.needed]

    def __call__(self, arrays):
        model = self.model
        if arrays.keys() != self.name_set:
            self._wrong_names(arrays)
        sizes = {}
        values = []
        for v, scalar, vector, axes in self.plan:
            value = np.asarray(arrays[v.name], dtype=np.float64)
            if scalar:
                if value.size != 1:
                    raise ValueError(f"{v.name} is a scalar; got an array of shape {value.shape}")
                # a NaN, not a complex, from (-1)**0.5
                values.append(np.float64(value.reshape(())))
                continue
            if value.ndim != (1 if vector else 2):
                raise ValueError(f"{v.name} is a {v.shape}: expected a {1 if vector else 2}-D "
                                 f"array, got shape {value.shape}")
            for (size, fixed), actual in zip(axes, value.shape):
                known = fixed if fixed is not None else sizes.setdefault(size, actual)
                if known != actual:
                    raise ValueError(f"{v.name} is a {v.shape}: got shape "
                                     f"{np.shape(arrays[v.name])}, but {size} = {known} from "
                                     "the arrays before it")
            values.append(value)
        key = tuple(sizes.items())
        if key not in self.solved:
            self.solved[key] = _dims_of(sizes)
        dims = {**self.given, **self.solved[key]}
        unknown = [n for n, symbol in self.unsolved if symbol not in dims]
        if unknown:
            raise TypeError(f"no array has the size {', '.join(unknown)}: give it with "
                            f"dims={{{unknown[0]!r}: ...}} where the function is compiled")
        values.extend(dims.get(symbol, 0) for symbol in model.dims.values())
        return values

    def _wrong_names(self, arrays):
        names = self.names
        missing = [n for n in names if n not in arrays]
        extra = [n for n in arrays if n not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(missing))
            if extra:
                parts.append("unknown " + ", ".join(extra))
            raise TypeError(f"arrays: {'; '.join(parts)} (the model declares {', '.join(names)})")


def _dims_of(sizes):
    """The dims' values that the arrays' sizes give, each size checked against them."""
    dims = {}
    for symbol, (value, rest, coefficient) in solved_sizes(list(sizes.items())).items():
        dims[symbol] = sp.Rational(value - rest.xreplace(dims), coefficient)
    for size, actual in sizes.items():
        if size.free_symbols <= set(dims) and size.xreplace(dims) != actual \
                or any(not (k.is_Integer and k > 0) for k in dims.values()):
            shown = ", ".join(f"{s} = {k}" for s, k in dims.items())
            raise ValueError(f"the arrays' shapes give {shown}, at which {size} is "
                             f"{size.xreplace(dims)}, not {actual}")
    return {symbol: int(k) for symbol, k in dims.items()}


class _Compiled:
    """A generated module, compiled, with its functions called on keyword arrays."""

    def __init__(self, source, model, dims=None):
        self.source, self.model = source, model
        self.namespace = {}
        # Safe: `source` is generated from the derivation's expressions, not from user text
        # (see symbackprop.printing.numpy_code).
        exec(compile(source, f"<symbackprop {model.filename}>", "exec"), self.namespace)
        self.convert = _Arrays(model, dims)
        self.sized = _dim_sources(model)  # once: it is asked at every call

    def __call__(self, function, arrays, after_declared=()):
        """Run the generated `function`: the declared arrays, `after_declared`, the sizes."""
        count = len(self.convert.declared)
        passed = _passed(self.model, self.convert(arrays), count, self.sized)
        return self.namespace[function](*passed[:count], *after_declared, *passed[count:])


def compile_derivation(derivation, wrt=None, dims=None):
    """Compile a derivation into a NumPy function.

    Parameters
    ----------
    derivation : Derivation
        With every abstract function bound (see :meth:`Derivation.bound`).
    wrt : list of str, optional
        The variables to differentiate with respect to; the params by default.
    dims : dict of str to int, optional
        The sizes of the dims that no array's shape gives (``k`` of ``v[k..n]``).

    Returns
    -------
    callable
        ``f(**arrays) -> (J, grads)``: `arrays` holds every input, param and
        const by name (a vector as a 1-D array, a matrix 2-D, a scalar a
        float); `J` is a float and `grads` a dict of the gradients, each in its
        variable's shape.  ``f.objective(**arrays)`` computes `J` alone and
        ``f.source`` is the generated module.

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> d = sbp.derive(sbp.parse("dim n\\nparam w: vector(n)\\nJ = w.T @ w\\nobjective J"))
    >>> f = compile_derivation(d)
    >>> J, grads = f(w=np.array([1.0, 2.0]))
    >>> J, grads["w"]
    (5.0, array([2., 4.]))
    """
    wrt = list(derivation.params if wrt is None else wrt)
    module = _Compiled(generate_source(derivation, wrt), derivation.model, dims)

    def value_and_grad(**arrays):
        return module("value_and_grad", arrays)

    value_and_grad.objective = lambda **arrays: module("objective", arrays)
    value_and_grad.trace = lambda **arrays: module("trace", arrays)
    value_and_grad.source = module.source
    value_and_grad.wrt = tuple(wrt)
    return value_and_grad


def compile_hvp(hvp):
    """Compile an HVP derivation (every abstract function bound) into a NumPy function.

    Returns
    -------
    callable
        ``f(v, **arrays) -> (J, grads, hvps)``, as :meth:`HVPDerivation.lambdify`
        describes; ``f.source`` is the generated module.
    """
    model = hvp.model
    module = _Compiled(generate_hvp_source(hvp), model)
    wrt, along = list(hvp.wrt), list(hvp.directions)

    def hvp_function(*directions, **arrays):
        v = _directions(directions, arrays, model, along)
        return module("hvp", arrays, [_direction(v[n], arrays[n], n, model) for n in along])

    hvp_function.source = module.source
    hvp_function.wrt = tuple(wrt)
    return hvp_function


def _directions(given, arrays, model, along):
    """The directions by name, from ``f(v, **arrays)`` or ``f(v=..., **arrays)``."""
    if len(given) == 1:
        (v,) = given
    elif not given and "v" in arrays and "v" not in model.variables:
        v = arrays.pop("v")
    else:
        raise TypeError("give the directions first, f(v, **arrays), or as v=... when the "
                        "model has no variable named v")
    v = dict(v)
    missing = [n for n in along if n not in v]
    extra = [n for n in v if n not in along]
    if missing or extra:
        raise TypeError(f"v needs a direction for each of {', '.join(along)}"
                        + (f"; missing {', '.join(missing)}" if missing else "")
                        + (f"; unknown {', '.join(extra)}" if extra else ""))
    return v


def _direction(value, array, name, model):
    """A direction, checked against its variable's array."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape != np.shape(array):
        raise ValueError(f"the direction of {name} has shape {value.shape}, not "
                         f"{np.shape(array)} (the shape of {name})")
    return float(value) if model.variables[name].shape.is_scalar else value
