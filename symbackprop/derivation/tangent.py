"""Second derivatives on the graph: Hessian-vector products by forward-over-reverse.

The backward derivation is itself a graph of operators, so it can be
differentiated again.  Pearlmutter's R-operator differentiates every value
along a direction ``V`` in parameter space (one direction per param, ``V_W1``,
``V_W2``, shaped like the param): ``R{f} = d/dt f(theta + t V)`` at ``t = 0``.
Applied to the forward pass it gives the forward tangents,

    R{z} = V_W1 x,   R{h} = R{z} * phi'(z),   R{o} = V_W2 h + W2 R{h},

and applied to each backward step, in the backward order, the tangents of the
adjoints,

    R{dJ/dz} = R{dJ/dh} * phi'(z) + dJ/dh * phi''(z) * R{z},

until ``R{dJ/dW1} = H v`` restricted to ``W1``: the Hessian of the objective
times the direction, for every param, node by node, in matrix form.  As in the
first-order derivation each step names the tangents it reads (``R{z}``,
``R{dJ/dh}``), so a step stays a handful of operations however deep the model.

:func:`jvp` is the directional derivative of one expression: one small rule
per expression class, applied to the expressions a step holds.  It recurses
within one step's expression only, never along the model.  The package's own
classes (entrywise maps, softmax, norms, abstract functions and their
partials) carry their rules as a method, ``_tangent(sweep)``, beside their
explicit forms in :mod:`symbackprop.primitives`; SymPy's classes (sums,
products, powers, transposes, traces, scalar functions) have theirs in
:data:`RULES`.  :func:`rule_of` finds a class's rule, the method first.  Rules
build their results with the constructors of
:mod:`symbackprop.primitives.expressions`, so they read as a lecturer writes them.

Conventions, and why:

* An abstract loss ``ell`` keeps its second derivative named:
  :class:`~symbackprop.primitives.matrix_functions.SecondPartial` is
  ``d2L/do2 [t]``, the Hessian of ``ell`` in ``o`` applied to the tangent
  ``t`` (for a vector ``o`` the matrix product).
* The derivative of relu's step function is a Dirac delta at 0: it is taken
  as 0, the value it has everywhere except on a set of measure zero, which is
  also what PyTorch and JAX compute.
* Inputs and consts have direction 0 unless asked for (``wrt``).

Assumptions: the derivation came from :func:`symbackprop.derive`, so its
expressions use only classes that have a rule; any other class is an error
naming it, never a silent zero.  SymPy's ``MatrixExpr.diff`` is never
used (see :mod:`symbackprop.derivation.reverse`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp
from sympy.matrices.expressions import HadamardPower, HadamardProduct, MatrixExpr

from ..primitives import expressions as ex
from ..primitives import matrix_functions as mf
from ..primitives.expressions import is_zero, tangent_sum, without_dirac
from .program import Statement, finished, gradient_statements, zero
from .reverse import Term, adjoint_symbol, shaped_symbol

__all__ = ["derive_hvp", "HVPDerivation", "TangentStep", "jvp", "RULES", "rule_of",
           "direction_symbol", "tangent_symbol"]


# --- the directional derivative of one expression ---------------------------------------

def _has_matrix(expr):
    """Whether `expr` needs the rules: a matrix inside, or an abstract call (whose derivative
    SymPy cannot take: ``ell(o, y)`` of scalars is still differentiated by its own rule)."""
    return isinstance(expr, MatrixExpr) or expr.has(MatrixExpr, mf.Apply, mf.Partial,
                                                   mf.SecondPartial)


class _Sweep:
    """The tangents of the subexpressions of one expression (memoized).

    What a rule may use of it (``sweep(e)``, ``sweep.value(e)``, ``sweep.out``)
    is described in :mod:`symbackprop.primitives.expressions`.
    """

    def __init__(self, tangents, out, known):
        self.tangents = tangents
        self.known = known  # expression -> the symbol that names its value
        self.out = out
        self.memo = {}

    def value(self, expr):
        """How a rule refers to the value of `expr`: by its variable's symbol if it has one."""
        return self.known.get(expr, expr)

    def __call__(self, expr):
        if expr in self.memo:
            return self.memo[expr]
        if expr in self.tangents:
            result = self.tangents[expr]
        elif isinstance(expr, (sp.Symbol, sp.MatrixSymbol, sp.Number, sp.NumberSymbol,
                               sp.OneMatrix, sp.ZeroMatrix, sp.Identity)):
            result = None
        elif not _has_matrix(expr):
            result = _scalar(self, expr)
        else:
            rule = rule_of(type(expr))
            if rule is None:
                raise TypeError(f"no tangent rule for {type(expr).__name__}: {expr}")
            result = rule(self, expr)
        result = None if is_zero(result) else result
        self.memo[expr] = result
        return result


def _scalar(sweep, expr):
    """A scalar free of matrices: SymPy's own derivative in each scalar that moves."""
    terms = []
    for symbol in sorted(expr.free_symbols, key=str):
        t = sweep(symbol)
        if t is not None:
            terms.append(without_dirac(sp.diff(expr, symbol)) * t)
    return sp.Add(*terms) if terms else None


def _product(sweep, factors, join):
    """The product rule: one term per factor that moves, the others kept in place."""
    terms = []
    for i, factor in enumerate(factors):
        t = sweep(factor)
        if t is not None:
            terms.append(join(*factors[:i], t, *factors[i + 1:]))
    return tangent_sum(*terms)


def _mat_mul(sweep, expr):
    coeff, mats = ex._split(expr)
    return _product(sweep, [coeff, *mats], ex.mul)


def _scalar_mul(sweep, expr):
    return _product(sweep, list(expr.args), ex.mul)


def _hadamard_product(sweep, expr):
    def join(*factors):
        out = factors[0]
        for f in factors[1:]:
            out = ex.hadamard(out, f)
        return out
    return _product(sweep, list(expr.args), join)


def _add(sweep, expr):
    return tangent_sum(*(sweep(a) for a in expr.args))


def _pow(sweep, expr):
    base, exponent = expr.args
    if sweep(exponent) is not None:
        raise TypeError(f"no tangent rule for a power with a moving exponent: {expr}")
    t = sweep(base)
    return None if t is None else ex.mul(exponent, base ** (exponent - 1), t)


def _hadamard_power(sweep, expr):
    base, exponent = expr.args
    if sweep(exponent) is not None:
        raise TypeError(f"no tangent rule for a power with a moving exponent: {expr}")
    t = sweep(base)
    return None if t is None else ex.hadamard(ex.mul(exponent, ex.hpow(base, exponent - 1)), t)


def _function_rule(sweep, expr):
    """f(u, ...) of scalars that contain matrices: f's partials times the arguments' tangents."""
    dummies = [sp.Dummy(real=True) for _ in expr.args]
    at = expr.func(*dummies)
    terms = []
    for dummy, arg in zip(dummies, expr.args):
        t = sweep(arg)
        if t is not None:
            local = without_dirac(sp.diff(at, dummy)).subs(dict(zip(dummies, expr.args)))
            terms.append(ex.mul(local, t))
    return tangent_sum(*terms)


def _subs(sweep, expr):
    """Subs(f'(t), t, u): the next derivative of f, at u, times the tangent of u."""
    body, variables, points = expr.args
    terms = []
    for variable, point in zip(variables, points):
        t = sweep(point)
        if t is not None:
            terms.append(ex.mul(sp.Subs(without_dirac(sp.diff(body, variable)), variables,
                                        points), t))
    return tangent_sum(*terms)


def _transpose(sweep, expr):
    t = sweep(expr.arg)
    return None if t is None else ex.transpose(t)


def _trace(sweep, expr):
    t = sweep(expr.arg)
    return None if t is None else sp.Trace(t)


#: The tangent rules of SymPy's own classes: ``(sweep, expr) -> tangent or None`` (None is
#: 0).  The package's classes carry theirs (``_tangent``, see :func:`rule_of`).
def _sum_over_index(sweep, expr):
    inner = sweep(expr.function)
    return None if inner is None else sp.Sum(inner, *expr.limits)


RULES = {
    sp.MatAdd: _add,
    sp.Add: _add,
    sp.MatMul: _mat_mul,
    sp.Mul: _scalar_mul,
    sp.Pow: _pow,
    HadamardProduct: _hadamard_product,
    HadamardPower: _hadamard_power,
    sp.Transpose: _transpose,
    sp.Trace: _trace,
    sp.Subs: _subs,
    sp.Sum: _sum_over_index,
    sp.Function: _function_rule,
}


def rule_of(cls):
    """The tangent rule of an expression class, ``(sweep, expr) -> tangent or None``.

    A class of :mod:`symbackprop.primitives` carries its own, ``_tangent``
    (the protocol is in :mod:`symbackprop.primitives.expressions`); a class of
    SymPy's has the row of :data:`RULES` of the nearest class it derives from.

    Returns
    -------
    callable or None
        None when the class has no rule: differentiating it is an error.

    Examples
    --------
    >>> from symbackprop.primitives import matrix_functions as mf
    >>> rule_of(sp.MatMul) is RULES[sp.MatMul], rule_of(mf.Softmax) is not None
    (True, True)
    >>> rule_of(sp.Inverse) is None
    True
    """
    if hasattr(cls, "_tangent"):
        return _own_rule
    return next((RULES[c] for c in cls.__mro__ if c in RULES), None)


def _own_rule(sweep, expr):
    return expr._tangent(sweep)


def jvp(expr, tangents, out=None):
    """The directional derivative R{expr}: each symbol moves along its tangent.

    Parameters
    ----------
    expr : sympy.Expr
        A forward definition or a backward step's result.
    tangents : dict
        Symbols (variables, adjoints) to their tangents; a symbol not in it
        does not move.
    out : sympy.Symbol or sympy.MatrixSymbol, optional
        The variable `expr` defines; rules that read the output write it by
        name (``R{p}`` of ``p = softmax(o)`` uses ``p``).

    Returns
    -------
    sympy.Expr or None
        None when the tangent is 0.

    Examples
    --------
    >>> W, x = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1)
    >>> V = sp.MatrixSymbol("V", 2, 3)
    >>> jvp(ex.mul(W, x), {W: V})
    V*x
    >>> h = sp.MatrixSymbol("h", 2, 1)
    >>> jvp(ex.entrywise(sp.tanh(ex.ENTRY), ex.mul(W, x)), {W: V}, out=h).args[1].function.expr
    1 - ξ**2
    """
    known = {} if out is None else {expr: out}
    return _Sweep(tangents, out, known)(expr)


# --- the derivation of H v ------------------------------------------------------------

def direction_symbol(model, name):
    """The direction of `name`, ``V{name}``, shaped like the variable."""
    return shaped_symbol(f"V{{{name}}}", model.variables[name].shape)


def tangent_symbol(name, shape):
    """The tangent R{name} of a value (a variable or an adjoint) of this shape."""
    return shaped_symbol(f"R{{{name}}}", shape)


def shaped_like(name, symbol):
    """A symbol called `name` of the shape of `symbol` (a Symbol for a scalar)."""
    if isinstance(symbol, sp.MatrixSymbol):
        return sp.MatrixSymbol(name, symbol.rows, symbol.cols)
    return sp.Symbol(name, real=True)


@dataclass(frozen=True)
class TangentStep:
    """One step of the tangent sweep: R{value} = the directional derivative of its definition.

    Attributes
    ----------
    node : str
        The variable: its value (forward) or its adjoint (backward) is differentiated.
    symbol : sympy.Expr
        ``R{z}`` or ``R{dJ/dz}``, the name later steps read.
    of : sympy.Expr
        What is differentiated: the forward definition (``W1 x``) or the
        backward step's result (``dJ/dh * phi'(z)``).
    terms : tuple of Term
        Backward steps: the tangent of each consumer's share, in the order of
        the first-order step's terms.  Empty for forward steps.
    result : sympy.Expr
        The tangent (0 when nothing it reads moves).
    """

    node: str
    symbol: object
    of: object
    terms: tuple
    result: object


def derive_hvp(derivation, wrt=None, along=None):
    """The Hessian-vector products of a derivation, as data (:class:`HVPDerivation`).

    Users call :func:`symbackprop.derive_hvp` (the same parameters), whose
    derivation also prints and compiles itself.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp"))).wrt
    ['W1', 'W2']
    """
    return HVPDerivation.of(derivation, wrt, along)


def tangent(statements, tangents):
    """Forward mode over a straight-line program: the tangent of every statement, in order.

    This is the whole of second order: applied to the statements of the
    first-order program (:func:`symbackprop.derivation.program.gradient_statements`),
    with the directions as the tangents of the variables that move, it gives
    the forward tangents R{z} and then the tangents of the adjoints R{dJ/dz},
    ending in H v (jvp of vjp, forward-over-reverse).

    Parameters
    ----------
    statements : list of Statement
        In execution order; each value reads only arguments and earlier targets.
    tangents : dict
        The symbols that move (variables), to their directions.

    Returns
    -------
    list of (Statement, sympy.Expr or None, sympy.Expr)
        Each statement with its tangent (None when nothing it reads moves) and
        the symbol R{target} that later tangents read it by.

    Examples
    --------
    >>> from symbackprop.derivation.program import Statement
    >>> W, V = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("V", 2, 3)
    >>> x, z = sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("z", 2, 1)
    >>> [(str(s.target), t, str(r)) for s, t, r in tangent([Statement(z, W * x)], {W: V})]
    [('z', V*x, 'R{z}')]
    """
    tangents = dict(tangents)
    out = []
    for statement in statements:
        target = statement.target
        value = jvp(statement.value, tangents, out=target if statement.forward else None)
        symbol = shaped_like(f"R{{{target.name}}}", target)
        if value is not None:
            tangents[target] = symbol
        out.append((statement, value, symbol))
    return out


def _tangent_sweep(derivation, wrt, along):
    """The H v derivation's parts: the tangent of the first-order program, as steps."""
    model = derivation.model
    wrt = list(derivation.params if wrt is None else wrt)
    along = list(wrt if along is None else along)
    for name in wrt + along:
        v = model.variables.get(name)
        if v is None or v.role not in ("param", "input"):
            raise ValueError(f"'{name}' is not a param or input of the model: only they move "
                             "along a direction")
    directions = {name: direction_symbol(model, name) for name in along}
    moving = {derivation.symbols[name]: directions[name] for name in along}
    statements = gradient_statements(derivation, [n for n in wrt if n in derivation.order])
    swept = tangent(statements, moving)
    # what the tangent of each backward term reads: a term reads only values and
    # adjoints computed before its step, so the sweep's final tangents serve them all
    known = {**moving, **{s.target: symbol for s, value, symbol in swept if value is not None}}
    node_of = {symbol: name for name, symbol in derivation.symbols.items()}
    by_adjoint = {s.adjoint: s for s in derivation.steps}
    forward, backward = [], []
    for statement, value, symbol in swept:
        if statement.forward:
            if value is not None:
                forward.append(TangentStep(node_of[statement.target], symbol, statement.value,
                                           (), value))
            continue
        step = by_adjoint.get(statement.target)
        if step is None or step.result.is_number:
            continue  # a constant adjoint (dJ/dL = 1): its tangent is 0 and is written in
        shape = model.variables[step.node].shape
        terms = tuple(Term(t.consumer, _or_zero(jvp(t.value, known), shape)) for t in step.terms)
        backward.append(TangentStep(step.node, symbol, step.result, terms, _or_zero(value, shape)))
    return wrt, directions, _read(forward, backward), tuple(backward)


def _or_zero(value, shape):
    return zero(shape) if value is None else value


def _read(forward, backward):
    """The forward tangents that the backward tangents read, directly or through others."""
    read = set()
    for step in backward:
        read |= step.result.free_symbols
    kept = []
    for step in reversed(forward):
        if step.symbol in read:
            kept.append(step)
            read |= step.result.free_symbols
    return tuple(reversed(kept))


class HVPDerivation:
    """The Hessian-vector products of a model, as data for printers and code generators.

    Attributes
    ----------
    derivation : Derivation
        The first-order derivation that is differentiated.
    wrt : list of str
        The variables that move; one direction each.
    directions : dict of str to sympy.Expr
        Each one's direction, ``V_W1``, shaped like it.
    forward : tuple of TangentStep
        The forward tangents R{z}, in forward order (those the backward ones read).
    backward : tuple of TangentStep
        The tangents of the adjoints R{dJ/dz}, in backward order.
    """

    def __init__(self, derivation, wrt, directions, forward, backward):
        self.derivation = derivation
        self.model = derivation.model
        self.wrt = list(wrt)
        self.directions = directions
        self.forward = forward
        self.backward = backward
        self._forward = {s.node: s for s in forward}
        self._backward = {s.node: s for s in backward}

    @classmethod
    def of(cls, derivation, wrt=None, along=None):
        """The H v derivation of `derivation`, as this class (:func:`derive_hvp`)."""
        return cls(derivation, *_tangent_sweep(derivation, wrt, along))

    def __repr__(self):
        return (f"<HVPDerivation of {self.model.objective} from {self.model.filename}: "
                f"{len(self.forward)} forward and {len(self.backward)} backward tangents>")

    def tangent(self, name):
        """R{name}, the forward tangent of a variable (0 if nothing it reads moves)."""
        if name in self._forward:
            return self._forward[name].result
        if name in self.directions:
            return self.directions[name]
        if name not in self.model.variables:
            raise KeyError(f"'{name}' is not a variable of the model")
        return zero(self.model.variables[name].shape)

    def hvp(self, name):
        """(H v) restricted to `name`: R{dJ/d(name)}, later tangents as named symbols.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/ridge_regression.sbp")))
        >>> print(hvp.pretty(hvp.hvp("w")))
        Xᵀ R{∂J/∂r} + λ v_w
        """
        if name not in self.wrt:
            raise KeyError(f"'{name}' has no direction: H v is derived for "
                           f"{', '.join(self.wrt) or 'nothing'}")
        if name in self._backward:
            return self._backward[name].result
        return zero(self.model.variables[name].shape)

    def substituted(self, name):
        """H v for `name` in forward values and directions only, every tangent written in."""
        value = self.hvp(name)
        try:
            return value.xreplace(self._full)
        except RecursionError:
            raise ValueError(f"the fully substituted H v of '{name}' is too deep to build; "
                             "the named form (hvp) has every step") from None

    @cached_property
    def _full(self):
        """Every named tangent and adjoint in forward values and directions only."""
        rule = {s.adjoint: self.derivation.gradient(s.node) for s in self.derivation.steps}
        for step in self.forward:
            rule[step.symbol] = step.result.xreplace(rule)
        for step in self.backward:
            rule[step.symbol] = step.result.xreplace(rule)
        return rule

    def output(self, name):
        """The symbol R{dJ/d(name)} standing for H v restricted to `name`."""
        return tangent_symbol(adjoint_symbol(self.model, name).name,
                              self.model.variables[name].shape)

    def program(self, comment=None):
        """The straight-line program computing J, its gradients and H v: the first-order
        program (:func:`~symbackprop.derivation.program.gradient_statements`), then its
        tangent (:func:`tangent`), repeated subexpressions computed once.

        ``comment(target, value)`` gives the text quoted above a step.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> hvp = sbp.derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
        >>> [str(s.target) for s in hvp.program()][-6:]
        ['R{o}', 'R{∂J/∂o}', 'R{∂J/∂W2}', 'R{∂J/∂h}', 'R{∂J/∂z}', 'R{∂J/∂W1}']
        """
        d, model = self.derivation, self.model
        statements = gradient_statements(d, self.wrt, comment)
        for step in self.forward + self.backward:
            text = comment(step.symbol, step.result) if comment else ""
            statements.append(Statement(step.symbol, step.result, text))
        statements += [Statement(self.output(n), zero(model.variables[n].shape))
                       for n in self.wrt if n not in self._backward]  # no move along V
        gradients = [adjoint_symbol(model, n) for n in self.wrt]
        return finished(statements, [d.symbols[model.objective], *gradients,
                                     *(self.output(n) for n in self.wrt)])

    def bound(self, bind=None):
        """This derivation with abstract functions bound to built-ins; all must be bound."""
        d = self.derivation.bound(bind)
        return self if d is self.derivation else type(self).of(d, self.wrt, list(self.directions))
