"""What the printed notation of convolution and pooling means on NumPy values.

The reader (:mod:`symbackprop.proofs.reading`) parses ``A ⋆ K``, ``A ⋆₂ K``
(``\\star_{2}``), ``pad(A, t, l)``, ``rot180(K)``, ``dilate(G, s)``,
``upsample(G, k)``, ``maxpool(X, k)`` and ``avgpool(X, k)``; here is what they
compute, defined from the notation section's words, independently of the
classes and of the generated code.  An operand that does not fit (a kernel larger
than its input, an amount that is not a whole number, a window that does not
divide the sizes) is no reading: a ``ValueError``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["correlate", "FUNCTIONS", "MANY"]


def _matrix(a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError("a window of a scalar")
    return a


def _whole(k, least=0):
    k = float(np.asarray(k))
    if k != int(k) or k < least:
        raise ValueError("not a whole number")
    return int(k)


def correlate(a, k, stride=1):
    """(a ⋆ₛ k)[i, j] = Σ_{u, v} a[i s + u, j s + v] k[u, v] (0-based), by its definition.

    Examples
    --------
    >>> a = np.arange(9.0).reshape(3, 3)
    >>> correlate(a, np.eye(2)).tolist()
    [[4.0, 6.0], [10.0, 12.0]]
    """
    a, k = _matrix(a), _matrix(k)
    (n, m), (p, r) = a.shape, k.shape
    if p > n or r > m:
        raise ValueError("a kernel larger than its input")
    rows, cols = (n - p) // stride + 1, (m - r) // stride + 1
    out = np.zeros((rows, cols))
    for u in range(p):
        for v in range(r):
            out += k[u, v] * a[u:u + (rows - 1) * stride + 1:stride,
                               v:v + (cols - 1) * stride + 1:stride]
    return out


def _pad(a, *amounts):
    """pad(a, t) of a vector (or all around a matrix), pad(A, t, l), pad(A, t, b, l, r)."""
    a = _matrix(a)
    q = [_whole(abs(float(np.asarray(x)))) * (1 if float(np.asarray(x)) >= 0 else -1)
         for x in amounts]
    if len(q) == 1:
        q = q * 2 + ([0, 0] if a.shape[1] == 1 else q * 2)
    elif len(q) == 2:
        q = [q[0], q[0], q[1], q[1]]
    elif len(q) != 4:
        raise ValueError("pad takes one, two or four amounts")
    t, b, left, right = q
    rows, cols = a.shape[0] + t + b, a.shape[1] + left + right
    if rows < 0 or cols < 0:
        raise ValueError("cropped beyond the matrix")
    out = np.zeros((rows, cols))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if 0 <= i + t < rows and 0 <= j + left < cols:
                out[i + t, j + left] = a[i, j]
    return out


def _rot180(a):
    a = _matrix(a)
    return np.flip(a, axis=(0, 1)).copy()


def _dilate(a, s):
    a, s = _matrix(a), _whole(s, 1)
    out = np.zeros(((a.shape[0] - 1) * s + 1, (a.shape[1] - 1) * s + 1))
    out[::s, ::s] = a
    return out


def _upsample(a, k):
    return np.kron(_matrix(a), np.ones((_whole(k, 1), _whole(k, 1))))


def _pool(reduce):
    def pool(a, k):
        a, k = _matrix(a), _whole(k, 1)
        if a.shape[0] % k or a.shape[1] % k:
            raise ValueError("the window does not divide the sizes")
        out = np.zeros((a.shape[0] // k, a.shape[1] // k))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = reduce(a[i * k:(i + 1) * k, j * k:(j + 1) * k])
        return out
    return pool


#: The printed functions of windows, by name.
FUNCTIONS = {"pad": _pad, "rot180": _rot180, "dilate": _dilate, "upsample": _upsample,
             "maxpool": _pool(np.max), "avgpool": _pool(np.mean)}

#: Those that take more than one argument.
MANY = frozenset(FUNCTIONS) - {"rot180"}
