"""Reading block matrices and slices back: ``[a; b]``, ``[A B]``, ``v[1..h]``, ``W[1..d, :]``
and their LaTeX, ``\\begin{bmatrix} a \\\\ b \\end{bmatrix}``, ``{\\boldsymbol{v}}_{1:h}``.

The rules of :class:`symbackprop.proofs.reading.Parser` for them, as functions of
the parser.  In text the blocks of a row are factors side by side, and a row of
one block may be a sum (beside other blocks a sum is printed bracketed, a factor);
in LaTeX blocks are separated by ``&``, rows by ``\\\\`` (read as ``;``).  A
matrix of one block is no reading (``[x]`` is not printed).
A slice's bounds are read as formulas (the dims' sizes are values) and must be
whole numbers inside the value sliced, or the reading is dropped.
"""

from __future__ import annotations

import numpy as np

from .notation_values import ReadError, combine, distinct

__all__ = ["block_matrix", "sliced"]


def _joined(rows):
    """The block matrix of `rows` (each a list of arrays) as one array."""
    blocks = [[np.asarray(b, dtype=np.float64).reshape(np.shape(b) or (1, 1)) for b in row]
              for row in rows]
    if sum(len(r) for r in blocks) < 2:
        raise ValueError("one block")
    return np.vstack([np.hstack(row) for row in blocks])


def block_matrix(parser, pos):
    """The readings of the block matrix opening at `pos` (a ``[``): [(values, end)]."""
    latex = parser.vocabulary.latex
    done, partial = [], [((), (), pos + 1)]
    while partial:
        grown = []
        for rows, row, q in partial:
            items = parser.sum(q) if latex or not row else []
            if not latex:
                # a sum is a whole row: a block beside others is printed bracketed, so
                # [A B C] is never the product A B beside C
                items = [(v, p) for v, p in items if parser._is(p, "]") or parser._is(p, ";")]
                items = items + parser.factor(q)
            for values, p in items:
                current = row + (values,)
                if parser._is(p, "]"):
                    done.append((rows + (current,), p + 1))
                elif parser._is(p, ";"):
                    grown.append((rows + (current,), (), p + 1))
                elif parser._is(p, "&") if latex else parser._starts_factor(p):
                    grown.append((rows, current, p + (1 if latex else 0)))
        partial = grown
    out = []
    for rows, end in done:
        shape = [len(r) for r in rows]
        flat = [values for r in rows for values in r]

        def join(*blocks, shape=shape):
            it = iter(blocks)
            return _joined([[next(it) for _ in range(k)] for k in shape])

        values = combine(join, *flat)
        if values:
            out.append((values, end))
    return out


def _bound(value):
    k = float(np.asarray(value))
    if k != int(k):
        raise ValueError("not a whole number")
    return int(k)


def _cut(a, spans):
    """`a` (a 2-D array) cut to `spans`: one (lo, hi) of the long axis of a vector, or one
    per axis (None for all of it); 1-based, both ends included."""
    a = np.asarray(a, dtype=np.float64)
    if np.ndim(a) != 2:
        raise ValueError("a scalar has no slices")
    if len(spans) == 1:
        spans = (spans[0], None) if a.shape[1] == 1 else (None, spans[0])
    for axis, span in enumerate(spans):
        if span is None:
            continue
        lo, hi = (_bound(b) for b in span)
        if not 1 <= lo <= hi <= a.shape[axis]:
            raise ValueError("outside the value")
        a = a[lo - 1:hi, :] if axis == 0 else a[:, lo - 1:hi]
    return a


def _spans(parser, pos, closing, to):
    """The ranges inside a slice's brackets: [(list of span readings, end after `closing`)]."""
    done, partial = [], [((), pos)]
    while partial:
        grown = []
        for spans, q in partial:
            options = []
            if parser._is(q, ":"):
                options.append(([None], q + 1))
            for lo, p in parser.sum(q):
                if parser._is(p, to):
                    for hi, r in parser.sum(p + 1):
                        options.append((combine(lambda a, b: (a, b), lo, hi), r))
            for span, p in options:
                if parser._is(p, closing):
                    done.append((spans + (span,), p + 1))
                elif parser._is(p, ",") and not spans:
                    grown.append((spans + (span,), p + 1))
        partial = grown
    return done


def sliced(parser, values, pos):
    """The readings of `values` sliced at `pos`: text ``[lo..hi]``, LaTeX ``_{lo:hi}``."""
    if parser.vocabulary.latex:
        if not (parser._is(pos, "_") and parser._is(pos + 1, "{")):
            return []
        found = _spans(parser, pos + 2, "}", ":")
    else:
        if not parser._is(pos, "["):
            return []
        found = _spans(parser, pos + 1, "]", "..")
    out = []
    for spans, end in found:
        if all(r is None for s in spans for r in s):
            continue
        cut = [_cut(v, chosen) for v in values for chosen in _choices(spans)
               if _fits(v, chosen)]
        if cut:
            out.append((distinct(cut), end))
    return out


def _choices(spans):
    """Every choice of one reading per span."""
    out = [()]
    for readings in spans:
        out = [c + (r,) for c in out for r in readings]
    return out


def _fits(value, spans):
    try:
        _cut(value, spans)
    except (ValueError, ReadError):
        return False
    return True
