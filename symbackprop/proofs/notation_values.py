"""What the printed notation's operations mean on NumPy values, for each plausible reading.

:mod:`symbackprop.proofs.reading` parses a printed formula; what it computes
with are sets of values, one per plausible reading, combined here: a product
of mismatched sizes or a division by a matrix is not a plausible reading and
drops out (:func:`combine`), equal values count once (:func:`distinct`), and
a chain of factors joined by juxtaposition, ⊙ and / is bracketed under every
convention a reader may hold (:func:`readings`).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..primitives.functions import spelled
from . import window_values

__all__ = ["ReadError", "TOO_MANY", "BUILTINS", "builtin", "is_scalar", "add", "divide", "norm",
           "scalar_power", "entrywise_power", "superscript_power", "inverse", "combine",
           "distinct", "readings"]

#: Readings kept per subformula; more distinct values than this make a formula unreadable.
TOO_MANY = 64


class ReadError(ValueError):
    """A printed formula that cannot be read: unknown notation or no consistent reading."""


class _Mismatch(Exception):
    """A reading that does not type-check."""


def is_scalar(a):
    """Whether `a` is a scalar (a 0-d value), not a vector or a matrix."""
    return np.ndim(a) == 0


def _collapse(a):
    """A 1 x 1 product is a scalar, as xᵀ y is."""
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(()) if a.shape == (1, 1) else a


def _juxtapose(a, b):
    if is_scalar(a) or is_scalar(b):
        return a * b
    if a.shape[1] != b.shape[0]:
        raise _Mismatch
    return _collapse(a @ b)


def _hadamard(a, b):
    if np.shape(a) != np.shape(b):
        raise _Mismatch
    return a * b


def divide(a, b):
    """a / b for a scalar b, or entry by entry for a scalar a; a matrix divides nothing."""
    if is_scalar(b):
        return a / b
    if is_scalar(a):  # 1/x of a matrix: read entry by entry, as 1/(1 + exp(-x))
        return a / b
    raise _Mismatch


def add(a, b, sign=1.0):
    """a + b (a - b with `sign` -1) of equal shapes, or with a scalar broadcast."""
    if np.shape(a) != np.shape(b) and not (is_scalar(a) or is_scalar(b)):
        raise _Mismatch
    return a + sign * b


_BINARY = {"juxt": _juxtapose, "⊙": _hadamard, "/": divide}


def distinct(values):
    """`values` without repeats (equal to 1e-12, relative), bounded by :data:`TOO_MANY`."""
    out = []
    for v in values:
        v = np.asarray(v, dtype=np.float64)
        if not any(np.shape(v) == np.shape(u) and _close(v, u) for u in out):
            out.append(v)
            if len(out) > TOO_MANY:
                raise ReadError(f"more than {TOO_MANY} distinct readings")
    return out


def _close(a, b):
    with np.errstate(all="ignore"):
        scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
        diff = float(np.max(np.abs(a - b), initial=0.0))
    if not np.isfinite(diff):
        return bool(np.array_equal(a, b, equal_nan=True))
    return diff <= 1e-12 * scale or diff <= 1e-300


def combine(op, *sets):
    """Every value of `op` over the cartesian product of its operands' readings.

    Combinations that do not type-check are left out: they are no reading.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.ones((2, 1)), np.ones((3, 1))
    >>> [v.shape for v in combine(add, [a, b], [b])]
    [(3, 1)]
    """
    out = []
    for args in itertools.product(*sets):
        try:
            with np.errstate(all="ignore"):
                out.append(op(*args))
        except (_Mismatch, ValueError):
            continue
    return distinct(out)


def _unary(f):
    return lambda *a: np.asarray(f(*a), dtype=np.float64)


def _softmax(x):
    axis = 0 if x.shape[1] == 1 else 1
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _logsumexp(x):
    axis = 0 if x.shape[1] == 1 else 1
    top = np.max(x, axis=axis, keepdims=True)
    return _collapse(top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)))


def _nonscalar(f):
    def g(x):
        if is_scalar(x):
            raise _Mismatch
        return f(x)
    return g


def _square(x):
    if is_scalar(x) or x.shape[0] != x.shape[1]:
        raise _Mismatch
    return x


def _trace(x):
    return np.trace(_square(x))


def inverse(a):
    """The inverse of a square matrix, X⁻¹ (a singular one has no reading)."""
    try:
        return np.linalg.inv(_square(a))
    except np.linalg.LinAlgError:
        raise _Mismatch from None


def _diag(x):
    """diag(v) of a column, the diagonal matrix; diag(A) of a square matrix, its diagonal."""
    if not is_scalar(x) and x.shape[1] == 1:
        return np.diagflat(x)
    return np.diagonal(_square(x)).reshape(-1, 1)


#: The functions of matrices, defined here independently of the printers and of the code.
BUILTINS = {
    "sum": _unary(np.sum), "tr": _trace, "diag": _diag,
    "det": lambda x: np.linalg.det(_square(x)),
    "log det": lambda x: np.log(np.linalg.det(_square(x))),
    "softmax": _nonscalar(_softmax),
    "log_softmax": _nonscalar(lambda x: np.log(_softmax(x))),
    "logsumexp": _nonscalar(_logsumexp),
    "max_rows": lambda x: np.max(x, axis=1, keepdims=True),
    "min_rows": lambda x: np.min(x, axis=1, keepdims=True),
    "max_cols": lambda x: np.max(x, axis=0, keepdims=True).T,
    "min_cols": lambda x: np.min(x, axis=0, keepdims=True).T,
    **window_values.FUNCTIONS,
}


def norm(a):
    """The Frobenius norm ‖a‖ (the Euclidean norm of a vector)."""
    return np.sqrt(np.sum(np.asarray(a) ** 2))


def scalar_power(a, k):
    """a^k of a scalar `a`, or the k-th matrix power of a square matrix for a whole k ≥ 0
    (``(W_hhᵀ)^(T - i)``); other powers of a matrix are written entrywise, ^⊙k."""
    if not is_scalar(k):
        raise _Mismatch
    if is_scalar(a):
        return a ** k
    k = float(np.asarray(k))
    if a.ndim == 2 and a.shape[0] == a.shape[1] and k >= 0 and k == int(k):
        return np.linalg.matrix_power(a, int(k))
    if k == -1:  # X^{-1}, the inverse
        return inverse(a)
    raise _Mismatch


def entrywise_power(a, k):
    """a^⊙k: every entry of `a` to the scalar power `k`."""
    if not is_scalar(k):
        raise _Mismatch
    return a ** k


def superscript_power(k):
    """The power a printed superscript (x², x⁻¹) raises a scalar to, as a function; X⁻¹ of
    a square matrix is its inverse."""
    def power(a):
        if is_scalar(a):
            return a ** k
        if k == -1:
            return inverse(a)
        raise _Mismatch
    return power


# Binding strengths for each convention a reader may hold: (juxtaposition, ⊙, /).
_CONVENTIONS = [
    {"juxt": 2, "⊙": 1, "/": 3}, {"juxt": 2, "⊙": 1, "/": 2}, {"juxt": 2, "⊙": 1, "/": 0},
    {"juxt": 1, "⊙": 2, "/": 3}, {"juxt": 1, "⊙": 2, "/": 1}, {"juxt": 1, "⊙": 2, "/": 0},
]


def _bracketing(ops, strength):
    """The tree of a chain under one convention: nested (op, left, right) of operand indices."""
    operands = list(range(len(ops) + 1))
    operators = list(ops)
    for level in sorted(set(_strength(strength, o) for o in ops), reverse=True):
        i = 0
        while i < len(operators):
            if _strength(strength, operators[i]) == level:  # left to right within a level
                operands[i:i + 2] = [(operators[i], operands[i], operands[i + 1])]
                del operators[i]
            else:
                i += 1
    return operands[0]


def _strength(strength, op):
    """How tightly `op` binds under a convention: ⋆ (with its stride, "⋆2") as a product."""
    return strength["juxt"] if op.startswith("⋆") else strength[op]


def _binary(op):
    if op.startswith("⋆"):
        stride = int(op[1:] or 1)
        return lambda a, k: window_values.correlate(a, k, stride)
    return _BINARY[op]


def readings(operands, ops):
    """The values of a chain of factors under every convention, each bracketing once.

    Parameters
    ----------
    operands : list of list of ndarray
        Each factor's readings.
    ops : list of str
        The operators between them: ``"juxt"`` (a product written by juxtaposition),
        ``"⊙"``, ``"/"``, or ``"⋆"`` and its stride (``"⋆2"``), a cross-correlation.

    Examples
    --------
    ``A x ⊙ x`` read as ``(A x) ⊙ x`` and as ``A (x ⊙ x)``:

    >>> import numpy as np
    >>> A, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0], [2.0]])
    >>> [v.ravel().tolist() for v in readings([[A], [x], [x]], ["juxt", "⊙"])]
    [[5.0, 22.0], [9.0, 19.0]]
    """
    if not ops:
        return operands[0]
    trees = []
    for strength in _CONVENTIONS:
        tree = _bracketing(ops, strength)
        if tree not in trees:
            trees.append(tree)
    out = []
    for tree in trees:
        out.extend(_evaluate(tree, operands))
    return distinct(out)


def _evaluate(tree, operands):
    if isinstance(tree, int):
        return operands[tree]
    op, left, right = tree
    return combine(_binary(op), _evaluate(left, operands), _evaluate(right, operands))


def builtin(name):
    """What a printed function name computes: a scalar function of the table, or BUILTINS."""
    row = spelled(name)
    return BUILTINS.get(name) if row is None else _unary(row.evaluate)
