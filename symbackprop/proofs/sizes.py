"""Concrete sizes for the dims of a model: the numbers the proofs evaluate at."""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["default_dims", "small_dims"]


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
    return {name: int(dims.get(name, sizes[i % len(sizes)]))
            for i, name in enumerate(model.dims)}


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
    return {name: given[name] if name in given else next(free) for name in model.dims}
