"""The order in which to multiply a chain of matrices, chosen from their sizes.

``A @ B @ x`` costs a matrix-matrix product left to right and two
matrix-vector products right to left.  :func:`chain_order` is the classic
dynamic programme over the brackets of a chain, run on the symbolic sizes: the
cost of each bracketing is a polynomial in the dims, and one bracketing is
chosen when its cost is provably no larger than every other's for all sizes
(every dim at least 1).  When no bracketing wins for all sizes, the sizes at
call time decide, and :func:`chain_order` says so by returning None; the code
generator then lets NumPy choose (``np.linalg.multi_dot``) or, when the chain
ends in a vector, multiplies from that end, matrix-vector products only.

Costs count scalar multiplications, p q r for a p x q by q x r product.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["chain_order", "chain_cost", "trace_split", "LONGEST_CHAIN"]

#: Chains longer than this are left to the sizes at call time: the candidates grow
#: as the Catalan numbers, and models rarely multiply more than a few matrices in a row.
LONGEST_CHAIN = 8


def chain_order(shapes):
    """The bracketing of a product of matrices of `shapes` that costs least for every size.

    Parameters
    ----------
    shapes : sequence of (rows, cols)
        The factors' shapes (SymPy integers or dims), in order; each factor's
        cols are the next one's rows.

    Returns
    -------
    tree or None
        A factor's index, or a pair (left, right) of trees; left to right first
        among bracketings of equal cost.  None when the best bracketing depends
        on the sizes (or the chain is longer than :data:`LONGEST_CHAIN`).

    Examples
    --------
    >>> n, d = sp.symbols("n d", positive=True)
    >>> chain_order([(n, n), (n, d), (d, 1)])        # A @ (B @ x)
    (0, (1, 2))
    >>> chain_order([(1, n), (n, n), (n, 1)])        # a tie: left to right
    ((0, 1), 2)
    >>> print(chain_order([(n, d), (d, n), (n, d)]))  # d < n or d > n decides
    None
    """
    shapes = tuple((sp.sympify(r), sp.sympify(c)) for r, c in shapes)
    if len(shapes) > LONGEST_CHAIN:
        return None
    return _best(shapes)


def chain_cost(shapes, tree):
    """The scalar multiplications of multiplying factors of `shapes` as `tree` brackets them.

    Examples
    --------
    >>> n = sp.Symbol("n", positive=True)
    >>> chain_cost([(n, n), (n, n), (n, 1)], ((0, 1), 2)), chain_cost([(n, n), (n, n), (n, 1)],
    ...                                                                (0, (1, 2)))
    (n**3 + n**2, 2*n**2)
    """
    def walk(t):  # (rows, cols, cost) of a subtree
        if isinstance(t, int):
            return shapes[t][0], shapes[t][1], sp.Integer(0)
        (p, q, a), (_, r, b) = walk(t[0]), walk(t[1])
        return p, r, a + b + p * q * r
    return sp.expand(walk(tree)[2])


def trace_split(shapes):
    """Where to cut a chain whose trace alone is wanted: tr(L R) is the sum of L ⊙ Rᵀ, p q
    multiplications for a p x q matrix L, where the product L R would cost p q p.

    Parameters
    ----------
    shapes : sequence of (rows, cols)
        The factors' shapes, at least two; the last factor's cols are the first's rows.

    Returns
    -------
    int
        The number of factors in L: the cut whose sides, each bracketed by
        :func:`chain_order`, and their entrywise product cost least for every size; the
        first such cut at a tie, and the last factor alone as R where no cut wins for all
        sizes (or a side's order is left to the sizes at call time).

    Examples
    --------
    >>> n, k = sp.symbols("n k", positive=True)
    >>> trace_split([(k, n), (n, n), (n, k)])  # tr(A Y B) = sum(A ⊙ (Y B)ᵀ)
    1
    >>> trace_split([(n, n), (n, n), (n, 1), (1, n)])  # tr(A B u vᵀ) = sum(A B u ⊙ v)
    3
    """
    shapes = tuple((sp.sympify(r), sp.sympify(c)) for r, c in shapes)
    sizes = sorted({x for shape in shapes for x in shape if not x.is_Number}, key=str)
    excess = {x: 1 + sp.Dummy(f"u_{x}", nonnegative=True) for x in sizes}
    costs = {}
    for cut in range(1, len(shapes)):
        sides = [shapes[:cut], shapes[cut:]]
        trees = [chain_order(side) if len(side) > 1 else 0 for side in sides]
        if all(tree is not None for tree in trees):
            costs[cut] = sp.expand(sum(chain_cost(side, tree) for side, tree in zip(sides, trees))
                                   + shapes[0][0] * shapes[cut - 1][1])
    for cut, cost in costs.items():
        if all(_at_most(cost, other, excess) for other in costs.values()):
            return cut
    return len(shapes) - 1


@lru_cache(maxsize=1024)
def _best(shapes):
    sizes = sorted({s for shape in shapes for s in shape if not s.is_Number}, key=str)
    # every dim is at least 1: a cost difference with no negative coefficient in the
    # excesses u = dim - 1 is nonnegative for all sizes
    excess = {s: 1 + sp.Dummy(f"u_{s}", nonnegative=True) for s in sizes}
    dims = [shapes[0][0]] + [c for _, c in shapes]
    cells = {}
    for i in range(len(shapes)):
        cells[i, i] = [(sp.Integer(0), i)]
    for length in range(2, len(shapes) + 1):
        for i in range(len(shapes) - length + 1):
            j = i + length - 1
            candidates = []
            for s in range(j - 1, i - 1, -1):  # the left-to-right bracketing first
                joint = dims[i] * dims[s + 1] * dims[j + 1]
                for a, left in cells[i, s]:
                    for b, right in cells[s + 1, j]:
                        _keep(candidates, (sp.expand(a + b + joint), (left, right)), excess)
            cells[i, j] = candidates
    final = cells[0, len(shapes) - 1]
    return final[0][1] if len(final) == 1 else None


def _keep(candidates, new, excess):
    """Add `new` to the candidates no other one provably beats, in place."""
    if any(_at_most(cost, new[0], excess) for cost, _ in candidates):
        return
    candidates[:] = [c for c in candidates if not _at_most(new[0], c[0], excess)]
    candidates.append(new)


def _at_most(a, b, excess):
    """Whether the cost `a` is at most `b` for every size."""
    difference = sp.expand((b - a).xreplace(excess))
    if difference.is_Number:
        return difference >= 0
    return all(c >= 0 for c in sp.Poly(difference, *difference.free_symbols).coeffs())
