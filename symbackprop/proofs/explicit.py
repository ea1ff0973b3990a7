"""Matrix-calculus expressions evaluated entry by entry, and compared at random points.

:func:`explicit` evaluates an expression of a derivation on matrices of scalar
symbols at small concrete sizes: the form :func:`sympy.diff` can differentiate,
which is the ground truth :mod:`symbackprop.proofs.verify` proves against.
Unknown functions (``phi'``, the partials of ``ell``) are spelled one way
(:func:`_canonical`) so that both sides compare equal when they are.
"""

from __future__ import annotations

import mpmath
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from . import bounded
from .sizes import _size_at

__all__ = ['explicit', 'explicit_environment', 'named_environment', 'expanded_calls']


#: Random points at which :func:`verify` compares each entry, to DIGITS digits.
POINTS = 3


DIGITS = 50


#: Relative difference below which two sides agree at a point: 50 digits less 20 for rounding.
AGREEMENT = 1e-30


def explicit(expr, env, sizes):
    """The explicit value of a matrix-calculus expression.

    Parameters
    ----------
    expr : sympy.Expr
    env : dict
        Symbols (variables, adjoints) to their explicit values.
    sizes : dict
        Dim symbols to integers.

    Returns
    -------
    sympy.ImmutableMatrix or sympy.Expr
    """
    cache = {}

    def value(e):
        if e in cache:
            return cache[e]
        if e in env:
            out = env[e]
        elif isinstance(e, sp.MatrixSymbol):
            raise KeyError(f"no value for {e}")
        elif isinstance(e, sp.OneMatrix):
            out = sp.ImmutableMatrix(sp.ones(_size_at(e.rows, sizes), _size_at(e.cols, sizes)))
        elif isinstance(e, sp.ZeroMatrix):
            out = sp.ImmutableMatrix(sp.zeros(_size_at(e.rows, sizes), _size_at(e.cols, sizes)))
        elif isinstance(e, sp.Identity):
            out = sp.ImmutableMatrix(sp.eye(_size_at(e.rows, sizes)))
        elif isinstance(e, (sp.MatMul, sp.Mul)):
            out = sp.Integer(1)
            for a in e.args:
                out = out * value(a)
        elif isinstance(e, (sp.MatAdd, sp.Add)):
            out = sum((value(a) for a in e.args[1:]), value(e.args[0]))
        elif isinstance(e, sp.Transpose):
            out = value(e.arg).T
        elif isinstance(e, sp.HadamardProduct):
            out = value(e.args[0])
            for a in e.args[1:]:
                out = out.multiply_elementwise(value(a))
        elif isinstance(e, sp.HadamardPower):
            exponent = value(e.exp)
            out = value(e.base).applyfunc(lambda x: x**exponent)
        elif isinstance(e, sp.Trace):
            out = value(e.arg).trace()
        elif hasattr(e, "explicit_at"):  # a slice: its bounds at the sizes
            out = e.explicit_at(lambda k: _size_at(k, sizes), *[value(a) for a in e.operands])
        elif hasattr(e, "explicit"):  # the classes of symbackprop.primitives
            out = e.explicit(*[value(a) for a in e.operands])
        elif isinstance(e, MatrixExpr):
            raise TypeError(f"no explicit form for {type(e).__name__}")
        elif e in sizes:
            # a dim in a coefficient, the 1/m of center_rows: the size it stands for, or
            # the explicit form is proved for every m instead of the m it was built at
            out = sp.Integer(sizes[e])
        elif not e.args or isinstance(e, sp.Number):
            out = e
        else:
            out = e.func(*[value(a) for a in e.args])
        if isinstance(out, sp.MatrixBase):
            out = sp.ImmutableMatrix(out)
        cache[e] = out
        return out

    return value(expr)


def _canonical(expr):
    """Spell unknown derivatives one way, any order: f__d<k>__d<m>(args), slots sorted.

    SymPy writes the chain rule through ``f(u(x), v)`` as
    ``Subs(Derivative(f(t, v), t), t, u(x))``; the derivation's explicit form
    writes ``f__d0(u(x), v)``.  Both become the latter; likewise
    ``Subs(Derivative(f(t, v), t, t), t, u)`` and ``Derivative(f__d0(u, v), u)``
    become ``f__d0__d0(u, v)``, mixed partials of a smooth function being one
    function whatever the order.  Unknown functions' arguments are expanded
    (:func:`expanded_calls`), and ``sign(u)`` is written ``u/|u|``
    (:func:`symbackprop.bounded.almost_everywhere`).
    """
    def spelled(name, slots):
        base, *earlier = name.split("__d")
        if not all(k.isdigit() for k in earlier):
            base, earlier = name, []
        ordered = sorted([int(k) for k in earlier] + slots)
        return sp.Function(base + "".join(f"__d{k}" for k in ordered))

    def as_partial(derivative, point=None):
        f = derivative.expr
        if not isinstance(f, sp.core.function.AppliedUndef):
            return None
        slots = []
        for variable, count in derivative.variable_count:
            found = [k for k, a in enumerate(f.args) if a == variable]
            if len(found) != 1 or any(variable in a.free_symbols
                                      for k, a in enumerate(f.args) if k != found[0]):
                return None
            slots += [found[0]] * int(count)
        args = f.args if point is None else [a.xreplace(point) for a in f.args]
        # SymPy differentiates along a whole argument, W2[1,0]*phi(...), by writing it as
        # a stand-in symbol named after it, "_W2[1,0]*phi(...)", that no Subs binds
        # (entry symbols never start with "_"): it stands for that argument, which
        # occurs elsewhere in the expression; names are compared, nothing is parsed.
        undummied = {}
        for a in args:
            for symbol in a.free_symbols:
                if isinstance(symbol, sp.Dummy) or symbol.name.startswith("_"):
                    name = symbol.name[1:] if symbol.name.startswith("_") else symbol.name
                    if by_text(name) is not None:
                        undummied[symbol] = by_text(name)
        return spelled(f.func.__name__, slots)(*[a.xreplace(undummied) for a in args])

    def subs(e):
        if isinstance(e.expr, sp.Derivative):
            out = as_partial(e.expr, dict(zip(e.variables, e.point)))
            if out is not None:
                return out
        return e

    texts = {}

    def by_text(name):
        if not texts:  # built once, and only if a stand-in occurs: str() of all is slow
            texts.update((str(e), e) for e in sp.preorder_traversal(expr)
                         if not isinstance(e, (sp.Dummy, sp.Tuple)))
        return texts.get(name)

    while expr.has(sp.Subs, sp.Derivative):
        before = expr
        expr = expr.replace(lambda e: isinstance(e, sp.Subs), subs)
        expr = expr.replace(lambda e: isinstance(e, sp.Derivative), lambda e: as_partial(e) or e)
        if expr == before:
            break
    expr = expanded_calls(expr.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef)
                                       and "__d" in e.func.__name__,
                                       lambda e: spelled(e.func.__name__, [])(*e.args)))
    return bounded.almost_everywhere(expr)


def expanded_calls(expr):
    """`expr` with the arguments of unknown functions expanded, innermost first.

    The same value of an unknown function can be spelled two ways, ``ell((W W) x)``
    by the derivation and ``ell(W (W x))`` by the chain rule; expanded, both are one.
    """
    return expr.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef),
                        lambda e: e.func(*[sp.expand(a) for a in e.args]))


def _at_random_point(expr, rng, unknowns):
    """`expr` at a random point, to 50 digits: symbols and unknown-function values drawn at random.

    An unknown function's value (``phi(z0)``, ``ell__d0(o0, y0)``) is an
    independent unknown, so it gets its own random value, the same on both
    sides of a comparison (`unknowns` remembers them).  A symbol assumed
    positive or nonnegative gets a positive value.
    """
    return complex(_values_at_random_point([expr], rng, unknowns)[0])


def _values_at_random_point(exprs, rng, unknowns):
    """`exprs` at one random point (see :func:`_at_random_point`), as mpmath numbers.

    The explicit forms share subexpressions heavily (a softmax's denominator
    in every entry, a layer's output in every later one): each distinct one is
    evaluated once, in mpmath with 10 guard digits beyond :data:`DIGITS`
    (walked as a tree, ``evalf(subs=...)`` took 30 s an entry).
    """
    def draw(symbol=None):
        sign = 1 if symbol is not None and symbol.is_nonnegative else rng.choice((-1, 1))
        return sp.Float(rng.uniform(0.25, 1.75) * sign, DIGITS + 10)

    for symbol in sorted(set().union(*(e.free_symbols for e in exprs)), key=str):
        unknowns.setdefault(symbol, draw(symbol))
    cache = {}

    def value(e):
        if e in cache:
            return cache[e]
        if isinstance(e, sp.core.function.AppliedUndef):
            out = _mpmath(unknowns.setdefault(e, draw()))
        elif e.is_Symbol:
            out = _mpmath(unknowns[e])
        elif e.is_Number or e.is_NumberSymbol or e is sp.I:
            out = _mpmath(e)
        else:
            args = [value(a) for a in e.args]
            rule = _MPMATH.get(type(e).__name__)
            out = rule(*args) if rule is not None else _mpmath(
                e.func(*[_sympy_number(a) for a in args]).evalf(DIGITS + 10))
        cache[e] = out
        return out

    with mpmath.workdps(DIGITS + 10):
        return [value(e) for e in exprs]


def _mpmath(number):
    """A SymPy number as an mpmath one (a real or a complex)."""
    re, im = number.as_real_imag()
    if im == 0:
        return mpmath.mpf(sp.Float(re, DIGITS + 10)._mpf_)
    return mpmath.mpc(sp.Float(re, DIGITS + 10)._mpf_, sp.Float(im, DIGITS + 10)._mpf_)


def _sympy_number(z):
    return sp.Float(z, DIGITS + 10) if isinstance(z, mpmath.mpf) else (
        sp.Float(z.real, DIGITS + 10) + sp.I * sp.Float(z.imag, DIGITS + 10))


def _heaviside(x, at_zero=mpmath.mpf(0.5)):
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0) if x < 0 else at_zero


#: mpmath for the functions of the explicit forms; others are evaluated by SymPy.
_MPMATH = {
    "Add": lambda *a: mpmath.fsum(a), "Mul": lambda *a: mpmath.fprod(a),
    "Pow": lambda b, e: b ** e, "exp": mpmath.exp, "log": mpmath.log, "tanh": mpmath.tanh,
    "Abs": abs, "sign": mpmath.sign, "Heaviside": _heaviside,
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)), "softplus": lambda x: mpmath.log1p(
        mpmath.exp(x)), "relu": lambda x: max(x, mpmath.mpf(0)),
}


def _compare_at_points(mine, truth, points, rng):
    """How many of `points` (dicts of drawn values) `mine` and `truth` agree at, to 50 digits.

    Returns
    -------
    agreed : int
        Points where the two sides, evaluated to 50 digits (and 10 more),
        differ by at most :data:`AGREEMENT` times their size.  Points outside
        the functions' real domain (a root of a negative const, say) or
        where a side is not finite do not count either way.
    counterexample : bounded.Counterexample or None
        The first point where the two differ.
    """
    agreed = 0
    for unknowns in points:
        try:
            a, b = _values_at_random_point([mine, truth], rng, unknowns)
        except (ValueError, TypeError, ZeroDivisionError):
            continue
        if not all(mpmath.isfinite(x) for x in (a, b)):
            continue
        value = a - b
        a, b = complex(a), complex(b)
        if abs(value) > AGREEMENT * max(abs(a) + abs(b), 1.0):
            return agreed, bounded.counterexample(mine, truth, unknowns, a, b)
        agreed += 1
    return agreed, None


def _entry_symbols(name, shape, sizes, domain=None):
    """The entries of a variable as SymPy symbols: real, or positive for a variable
    declared ``positive`` or ``unit`` ((0, 1) has no SymPy assumption)."""
    known = {"positive": True} if domain in ("positive", "unit") else {"real": True}
    if shape.is_scalar:
        return sp.Symbol(name, **known)
    rows, cols = _size_at(shape.rows, sizes), _size_at(shape.cols, sizes)
    if shape.kind == "vector":
        return sp.ImmutableMatrix(rows, 1, [sp.Symbol(f"{name}[{i}]", **known)
                                            for i in range(rows)])
    return sp.ImmutableMatrix(rows, cols, [sp.Symbol(f"{name}[{i},{j}]", **known)
                                           for i in range(rows) for j in range(cols)])


def explicit_environment(derivation, sizes, hvp=None):
    """Every declared variable as a matrix of entry symbols, every value and adjoint explicitly.

    Parameters
    ----------
    derivation : Derivation
    sizes : dict of sympy.Symbol to int
        A size for each dim symbol.
    hvp : HVPDerivation, optional
        Of `derivation`: its directions as matrices of entry symbols ``V_W[i,j]``,
        and its tangents explicitly, too.

    Returns
    -------
    dict
        Each variable's and adjoint's (and tangent's) symbol to its explicit value,
        for :func:`explicit` to evaluate further expressions of the derivation in.
    """
    env = {}
    for name, v in derivation.model.variables.items():
        if v.declared:
            env[derivation.symbols[name]] = _entry_symbols(name, v.shape, sizes, v.domain)
    definitions = [(derivation.symbols[n], e) for n, e in derivation.forward.items()]
    definitions += [(s.adjoint, s.result) for s in derivation.steps]
    if hvp is not None:
        for name, direction in hvp.directions.items():
            env[direction] = _entry_symbols(f"V_{name}", derivation.model.variables[name].shape,
                                            sizes)
        definitions += [(s.symbol, s.result) for s in hvp.forward + hvp.backward]
    for symbol, value in definitions:
        env[symbol] = explicit(value, env, sizes)
    return env


def on_domain(derivation, env):
    """The substitution that puts the entry symbols of declared variables on their domains.

    A derivative rule may hold on a domain only (softmax(O) - Y, where each row of a
    one-hot or simplex Y sums to 1): both sides of a proof are compared there, after
    differentiating.  The last entry of each line of a one-hot or simplex input (or
    const) is 1 minus the others; an entry below the diagonal of a symmetric or spd
    matrix is the one above it.

    Parameters
    ----------
    derivation : Derivation
    env : dict
        From :func:`explicit_environment`.

    Returns
    -------
    dict of sympy.Symbol to sympy.Expr
    """
    out = {}
    for name, v in derivation.model.variables.items():
        entries = env.get(derivation.symbols[name])
        if not isinstance(entries, sp.MatrixBase):
            continue
        if v.domain in ("onehot", "simplex") and v.role in ("input", "const"):
            lines = [entries[:, 0]] if v.shape.kind == "vector" else [
                entries[i, :] for i in range(entries.rows)]
            for line in lines:
                out[line[-1]] = 1 - sp.Add(*list(line)[:-1])
        elif v.domain in ("symmetric", "spd"):
            for i in range(entries.rows):
                for j in range(i):
                    out[entries[i, j]] = entries[j, i]
    return out


def named_environment(derivation, sizes, hvp=None):
    """Every variable, adjoint (and direction and tangent) as a matrix of entry symbols of its own.

    Two formulas written in the same named values (``W_hhᵀ ∂L/∂h_3``) that agree in this
    environment agree whatever those values are: a proof of a step that does not expand
    what the names stand for.

    Parameters
    ----------
    derivation : Derivation
    sizes : dict of sympy.Symbol to int
    hvp : HVPDerivation, optional
        Its directions and tangents are named too.
    """
    model = derivation.model
    env = {derivation.symbols[name]: _entry_symbols(name, v.shape, sizes, v.domain)
           for name, v in model.variables.items()}
    for step in derivation.steps:
        env[step.adjoint] = _entry_symbols(step.adjoint.name, model.variables[step.node].shape,
                                           sizes)
    if hvp is not None:
        for name, direction in hvp.directions.items():
            env[direction] = _entry_symbols(direction.name, model.variables[name].shape, sizes)
        for step in hvp.forward + hvp.backward:
            env[step.symbol] = _entry_symbols(step.symbol.name,
                                              model.variables[step.node].shape, sizes)
    return env
