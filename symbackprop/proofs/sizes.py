"""Concrete sizes for the dims of a model: the numbers the proofs evaluate at."""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["default_dims", "small_dims", "positive_sizes", "entries", "refuse_beyond"]


_SIZES = (5, 4, 3, 6, 2, 7, 8, 9)


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
    drawn = {name: int(dims.get(name, sizes[i % len(sizes)]))
             for i, name in enumerate(model.dims)}
    return positive_sizes(model, drawn, [n for n in model.dims if n not in dims], sizes)


#: How many other assignments of sizes :func:`positive_sizes` tries at most.
MAX_TRIES = 20_000


def positive_sizes(model, dims, free, pool):
    """`dims`, or another choice of the `free` dims' sizes, at which every size of the model
    (``n - k + 1``, ``h - d``) is positive: first the pool's sizes in other orders, then
    any of 1 to 9.

    Raises
    ------
    ValueError
        When no choice tried makes every size positive, naming a size and its value.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> m = sbp.parse("dim d, h\\nparam w: vector(h - d)\\nJ = sum(w)\\nobjective J")
    >>> positive_sizes(m, {"d": 5, "h": 4}, ["d", "h"], (5, 4, 3))
    {'d': 4, 'h': 5}
    """
    compound = {k for v in model.variables.values() for k in (v.shape.rows, v.shape.cols)
                if not k.is_Atom} | {k for k in getattr(model, "bounds", ()) if not k.is_number}
    if not compound:
        return dims
    symbols = model.dims

    def broken(choice):
        at = {symbols[n]: k for n, k in choice.items()}
        return next(((k, k.xreplace(at)) for k in sorted(compound, key=str)
                     if k.xreplace(at) < 1), None)

    first = broken(dims)
    if first is None:
        return dims
    pool = list(dict.fromkeys(pool))
    tries = itertools.chain(itertools.permutations(pool, len(free)) if len(pool) >= len(free)
                            else (), itertools.product(range(1, 10), repeat=len(free)))
    for values in itertools.islice(tries, MAX_TRIES):
        choice = {**dims, **dict(zip(free, values))}
        if broken(choice) is None:
            return choice
    size, value = first
    shown = ", ".join(f"{n}={k}" for n, k in dims.items())
    hint = ("no sizes of the other dims tried make every size positive" if free else
            "give sizes at which every size is positive (--dims)")
    raise ValueError(f"the size {size} is {value} at {shown}, and a size counts entries: "
                     f"{hint}")


def _size_at(expr, dims):
    """The whole number a size (an expression in the dims' symbols) is at `dims`."""
    return int(expr.xreplace(dims))


def small_dims(model, dims=None):
    """Sizes for verify: those given, then 2, 3, 4, ... for the rest, never one given.

    Distinct sizes, so that a transpose or a confused axis is a shape error and
    not a coincidence of a square matrix; the smallest such (size 1 would let a
    vector pass for a scalar), because explicit forms grow fast with the sizes.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> small_dims(sbp.load("examples/textbook_mlp.sbp"), {"h": 2})
    {'d': 3, 'h': 2, 'q': 4}
    """
    given = {name: size for name, size in default_dims(model, dims).items()
             if name in (dims or {})}
    free = (size for size in itertools.count(2) if size not in given.values())
    drawn = {name: given[name] if name in given else next(free) for name in model.dims}
    rest = [n for n in model.dims if n not in given]
    pool = sorted(k for n, k in drawn.items() if n in rest)
    return positive_sizes(model, drawn, rest, pool + [k for k in range(2, 10) if k not in pool
                                                      and k not in given.values()])


def entries(model, dims):
    """How many entries the model's variables have at `dims` (the size of its arrays).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> entries(sbp.load("examples/textbook_mlp.sbp"), {"d": 3, "h": 2, "q": 2})
    25
    """
    sizes = {model.dims[n]: v for n, v in dims.items()}
    return sum(_size_at(v.shape.size, sizes) for v in model.variables.values())


def refuse_beyond(model, dims, limit, command):
    """A ValueError when the model at `dims` has more than `limit` entries: the cost of
    `command` grows with them (arrays for ``check``, symbolic entries for ``verify`` and
    ``hessian``), and a literal ``vector(99999999)`` would exhaust memory or never end.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> m = sbp.parse("param w: vector(9999)\\nJ = sum(w)\\nobjective J")
    >>> refuse_beyond(m, {}, 10_000, "verify") is None
    True
    >>> try:
    ...     refuse_beyond(m, {}, 100, "verify")
    ... except ValueError as err:
    ...     print(str(err).split(", more")[0])
    verify: the model has 10,000 entries at these sizes
    """
    count = entries(model, dims)
    if count > limit:
        raise ValueError(f"{command}: the model has {count:,} entries at these sizes, more "
                         f"than the limit of {limit:,} (--max-entries raises it)")
