"""The Hessian itself: closed-form blocks, and entry by entry at small sizes.

:func:`hessian_block` reads a block d2J/da db off the H v derivation where it
is a matrix acting by a product (``A + Aᵀ`` for ``xᵀ A x``);
:func:`elementwise_hessian` evaluates the tangent steps entry by entry
(:func:`symbackprop.proofs.explicit.explicit`) and reads the Hessian off them.
"""

from __future__ import annotations

import sympy as sp

from ..derivation.tangent import derive_hvp
from ..primitives import expressions as ex
from ..printing.entries import entry_text
from ..printing.names import display_names
from ..printing.printers import TextPrinter
from .explicit import (
    _at_random_point,
    _entry_symbols,
    explicit,
    explicit_environment,
)
from .sizes import default_dims

__all__ = ["hessian_block", "elementwise_hessian", "hessian_text"]


def _terms(expr):
    """`expr` as a list of products: sums distributed, transposes pushed onto factors."""
    if isinstance(expr, (sp.MatAdd, sp.Add)):
        return [t for a in expr.args for t in _terms(a)]
    if isinstance(expr, sp.Transpose):
        return [ex.transpose(t) for t in _terms(expr.arg)]
    if isinstance(expr, sp.MatMul):
        coeff, mats = ex._split(expr)
        products = [[coeff]]
        for factor in mats:
            products = [p + [t] for p in products for t in _terms(factor)]
        return [ex.mul(*p) for p in products]
    return [expr]


def hessian_block(derivation, a, b):
    """The Hessian block d2J / da db in closed form, where it is a matrix M acting by a product.

    The block is the linear map V_b -> (H v restricted to a) with only `b`
    moving.  When every term of that map, written in forward variables, is
    ``L V_b`` (or every term is ``V_b R``), the block is the matrix
    ``M = sum of L`` (``sum of R``): ``A + Aᵀ`` for ``xᵀ A x``, ``XᵀX`` for
    ``1/2 ‖X w - y‖²``.

    Parameters
    ----------
    derivation : Derivation
    a, b : str
        Params or inputs.

    Returns
    -------
    (side, M) or None
        `side` is ``"left"`` for ``V_b -> M V_b`` and ``"right"`` for
        ``V_b -> V_b M``; None when the block has no such form (it then acts on
        V_b in another way, ``V ⊙ ...`` or ``Vᵀ``: see :func:`elementwise_hessian`).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.parse("dim n\\nparam x: vector(n)\\nparam A: matrix(n, n)\\n"
    ...                          "J = x.T @ A @ x\\nobjective J"))
    >>> side, M = hessian_block(d, "x", "x")
    >>> side, M
    ('left', A + A.T)
    """
    hvp = derive_hvp(derivation, [a], [b])
    direction = hvp.directions[b]
    value = hvp.substituted(a)
    if ex.is_zero(value):
        return "left", _zero_block(derivation.model, a, b)
    if not ex.is_matrix(direction):
        # H v is linear in the direction, so with a scalar one the block is H v at v_b = 1
        return "left", value.xreplace({direction: sp.Integer(1)})
    sides = []
    for term in _terms(value):
        coeff, mats = ex._split(term)
        if sum(m.has(direction) for m in mats) != 1 or coeff.has(direction):
            return None
        if mats == [direction]:  # c V is c I V and V c I
            sides.append((None, coeff))
        elif mats[-1] == direction:
            sides.append(("left", ex.mul(coeff, *mats[:-1])))
        elif mats[0] == direction:
            sides.append(("right", ex.mul(coeff, *mats[1:])))
        else:
            return None
    found = {side for side, _ in sides} - {None}
    if len(found) > 1:
        return None
    side = found.pop() if found else "left"
    identity = sp.Identity(direction.rows if side == "left" else direction.cols)
    return side, ex.add(*[factor if ex.is_matrix(factor) else ex.mul(factor, identity)
                          for _, factor in sides])


def _zero_block(model, a, b):
    va, vb = model.variables[a].shape, model.variables[b].shape
    return sp.ZeroMatrix(va.rows, vb.rows)


def elementwise_hessian(derivation, dims, wrt=None, named=False):
    """The Hessian of the objective entry by entry at small sizes, read off the tangent steps.

    Entry (i, j) is the coefficient of the j-th direction entry in the i-th
    entry of H v, from the derivation's tangent steps evaluated explicitly
    (:func:`symbackprop.proofs.explicit.explicit`), entries of each variable row by row.
    With `named`, each entry of a forward value an entry holds whole is written by its
    name (``z[0]`` for ``W1[0,0]*x[0] + W1[0,1]*x[1]``), as a reader would write it.

    Returns
    -------
    labels : list of str
        ``W1[0,1]`` for each row and column.
    hessian : sympy.ImmutableMatrix

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/ridge_regression.sbp"))
    >>> labels, H = elementwise_hessian(d, {"n": 1, "d": 2})
    >>> labels
    ['w[0]', 'w[1]']
    >>> H[0, 1]
    X[0,0]*X[0,1]
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    >>> elementwise_hessian(d, {"d": 1, "h": 1, "q": 1}, named=True)[1][1, 1]
    h[0]**2*ell__d0__d0(o[0], y[0]) + lambda
    """
    hvp = derive_hvp(derivation, wrt)
    m = hvp.model
    dims = default_dims(m, dims)
    sizes = {m.dims[n]: v for n, v in dims.items()}
    env = explicit_environment(derivation, sizes, hvp)

    def entries(value):
        return list(value) if ex.is_matrix(value) else [value]

    labels = [str(t) for n in hvp.wrt for t in entries(env[derivation.symbols[n]])]
    directions = [v for n in hvp.wrt for v in entries(env[hvp.directions[n]])]
    rows = [_expanded(e) for n in hvp.wrt for e in entries(explicit(hvp.hvp(n), env, sizes))]
    # at these sizes, a dim in a coefficient (mean's 1/n) is its number too
    H = sp.ImmutableMatrix([[sp.diff(r, v).xreplace(sizes) for v in directions] for r in rows])
    if named:
        H = H.applyfunc(_renamer(derivation, env, sizes, entries))
    return labels, H


#: The most terms an entry is expanded into; past it the entry stays as it was built.  The
#: derivative of 20 nested tanh is a product of 20 sums, 2^20 terms expanded.
MAX_EXPANDED_TERMS = 2000


def _expanded(e):
    """`e` expanded into a sum of products, unless that sum would have more than
    :data:`MAX_EXPANDED_TERMS` terms (counted without expanding).

    Examples
    --------
    >>> a, b = sp.symbols("a b")
    >>> _expanded((a + b) * (a - b))
    a**2 - b**2
    >>> deep = sp.Mul(*[1 - sp.Symbol(f"t{k}")**2 for k in range(20)])
    >>> _expanded(deep) == deep
    True
    """
    terms = {}
    for node in sp.postorder_traversal(e):
        if node in terms:
            continue
        if node.is_Add:
            count = sum(terms[a] for a in node.args)
        elif node.is_Mul:
            count = 1
            for a in node.args:
                count = min(count * terms[a], MAX_EXPANDED_TERMS + 1)
        elif node.is_Pow and node.exp.is_Integer and node.exp > 0:
            count = terms[node.base] ** min(int(node.exp), 64)
        else:
            count = 1
        terms[node] = min(count, MAX_EXPANDED_TERMS + 1)
    return sp.expand(e) if terms[e] <= MAX_EXPANDED_TERMS else e


def _renamer(derivation, env, sizes, entries):
    """A function writing each entry of a forward value that an expression holds whole by
    its name: ``W1[0,0]*x[0] + W1[0,1]*x[1]`` as ``z[0]``, then ``phi(z[0])`` as ``h[0]``."""
    names = {}

    def renamed(e):
        if e.is_Atom:
            return e
        e = e.func(*[renamed(a) for a in e.args]) if e.args else e
        return names.get(e, e)

    for name, v in derivation.model.variables.items():
        if name not in derivation.forward:
            continue
        shown = entries(_entry_symbols(name, v.shape, sizes))
        for value, symbol in zip(entries(env[derivation.symbols[name]]), shown):
            value = renamed(sp.expand(value))
            if not value.is_Atom:
                names.setdefault(value, symbol)
    return renamed



def _agree_at_points(mine, truth, rng, points=3):
    """Whether `mine` and `truth` agree to 40 digits at `points` random points (unknown
    functions' values drawn at random, the same on both sides)."""
    if mine - truth == 0:
        return True
    evaluated = 0
    for _ in range(points):
        unknowns = {}
        try:
            a = _at_random_point(mine, rng, unknowns)
            b = _at_random_point(truth, rng, unknowns)
        except (ValueError, TypeError, ZeroDivisionError):
            continue  # outside the real domain here: another point decides
        evaluated += 1
        if abs(a - b) > 1e-25 * max(abs(a) + abs(b), 1.0):
            return False
    return evaluated > 0


def hessian_text(derivation, dims):
    """The Hessian as ``symbackprop hessian`` prints it: each block of the params in closed
    form (:func:`hessian_block`), then every entry at the sizes `dims`."""
    d, pretty = derivation, TextPrinter(display_names(derivation, latex=False)).doprint
    lines = ["Hessian blocks in closed form (V -> M V or V -> V M)"]
    for a in d.params:
        for b in d.params:
            block = hessian_block(d, a, b)
            if block is None:
                shown = "no matrix-product form (see the entries below, or symbackprop hvp)"
            else:
                side, M = block
                # as `hvp` names directions: V for a matrix, v for a vector or a scalar
                v = f"{'V' if d.model.variables[b].shape.kind == 'matrix' else 'v'}_{b}"
                matrix = pretty(M)
                matrix = f"({matrix})" if isinstance(M, (sp.MatAdd, sp.Add)) else matrix
                shown = (f"{v} -> 0" if M == 0 or isinstance(M, sp.ZeroMatrix) else
                         f"{v} -> {matrix} {v}" if side == "left" else f"{v} -> {v} {matrix}")
            lines.append(f"  ∂²{d.model.objective}/∂{a}∂{b}: {shown}")
    labels, H = elementwise_hessian(d, dims, named=True)
    sizes = ", ".join(f"{k}={v}" for k, v in dims.items())
    lines += ["", f"Hessian entry by entry ({sizes or 'no dims'}), rows and columns "
              f"{', '.join(labels)}"]
    lines += [f"  [{labels[i]}, {labels[j]}] = {entry_text(H[i, j])}"
              for i in range(H.rows) for j in range(H.cols) if H[i, j] != 0]
    if H.is_zero_matrix:
        lines.append("  every entry is 0")
    if d.model.functions:
        lines.append("  (the entries of the forward values by their names, z[0] for the first "
                     "entry of z; ∂ℓ/∂o[0] and φ'(z[0]) at the forward values)")
    return "\n".join(lines) + "\n"
