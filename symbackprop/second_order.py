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
per expression class (:data:`RULES`), applied to the expressions a step
holds.  It recurses within one step's expression only, never along the model.
Rules build their results with the constructors of
:mod:`symbackprop.expressions`, so they read as a lecturer writes them.

Conventions, and why:

* An abstract loss ``ell`` keeps its second derivative named:
  :class:`SecondPartial` is ``d2L/do2 [t]``, the Hessian of ``ell`` in ``o``
  applied to the tangent ``t`` (for a vector ``o`` the matrix product).
* The derivative of relu's step function is a Dirac delta at 0: it is taken
  as 0, the value it has everywhere except on a set of measure zero, which is
  also what PyTorch and JAX compute.
* Inputs and consts have direction 0 unless asked for (``wrt``).

Assumptions: the derivation came from :func:`symbackprop.derive`, so its
expressions use only the classes :data:`RULES` knows; any other class is an
error naming it, never a silent zero.  SymPy's ``MatrixExpr.diff`` is never
used (see :mod:`symbackprop.derivation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp
from sympy.matrices.expressions import HadamardPower, HadamardProduct, MatrixExpr

from . import expressions as ex
from .checks import TIMEOUT
from .derivation import Term
from .operators import _lines_sum, _spread
from .program import needed_steps
from .shapes import matrix

__all__ = ["derive_hvp", "HVPDerivation", "TangentStep", "SecondPartial", "jvp", "RULES",
           "direction_symbol", "tangent_symbol", "second_partial_function", "hessian_block",
           "elementwise_hessian", "explicit_hvp", "verify_hvp", "hvp_program",
           "generate_hvp_source", "compile_hvp"]


# --- the named second derivative of an abstract scalar function ----------------------

class SecondPartial(MatrixExpr):
    """The tangent of a named partial of an abstract function, ``d2L/do2 [t]``.

    ``SecondPartial(name, of, slot, along, tangent, *args)`` is the directional
    derivative of ``Partial(name, of, slot, *args)`` (dL/d(argument `slot`))
    when argument `along` moves along `tangent`: entry k is
    ``sum_m d2 ell / d(arg_slot)_k d(arg_along)_m  tangent_m``.  For a vector
    argument it is the Hessian matrix of ``ell`` times a vector; for a matrix
    argument, the Hessian applied to a matrix.  It has the shape of argument
    `slot`.

    Examples
    --------
    >>> o, t = sp.MatrixSymbol("o", 2, 1), sp.MatrixSymbol("t", 2, 1)
    >>> e = SecondPartial("ell", "L", 0, 0, t, o)
    >>> e.shape
    (2, 1)
    >>> o0, o1, t0, t1 = sp.symbols("o0 o1 t0 t1")
    >>> e.explicit(sp.ImmutableMatrix([t0, t1]), sp.ImmutableMatrix([o0, o1]))[0]
    t0*ell__d0__d0(o0, o1) + t1*ell__d0__d1(o0, o1)
    """

    def __new__(cls, name, of, slot, along, tangent, *args):
        return super().__new__(cls, ex._str(name), ex._str(of), sp.Integer(slot),
                               sp.Integer(along), tangent, *args)

    name = property(lambda self: self.args[0].name)
    of = property(lambda self: self.args[1].name)
    slot = property(lambda self: int(self.args[2]))
    along = property(lambda self: int(self.args[3]))
    tangent = property(lambda self: self.args[4])
    call_args = property(lambda self: self.args[5:])
    operands = property(lambda self: self.args[4:])

    @property
    def shape(self):
        operand = self.call_args[self.slot]
        return operand.shape if ex.is_matrix(operand) else (sp.Integer(1), sp.Integer(1))

    def explicit(self, tangent, *args):
        flat = ex._flatten(args)
        offsets = [sum(len(ex._flatten([a])) for a in args[:k]) for k in range(len(args))]
        rows, cols = ex._explicit_shape(args[self.slot])
        steps = ex._flatten([tangent])
        entries = []
        for k in range(rows * cols):
            entries.append(sp.Add(*[
                second_partial_function(self.name, offsets[self.slot] + k,
                                        offsets[self.along] + m)(*flat) * t
                for m, t in enumerate(steps)]))
        return sp.ImmutableMatrix(rows, cols, entries)

    def _symbackprop_numpy(self, printer):
        raise TypeError(f"the abstract function {self.name} has no NumPy form; bind it")


def second_partial_function(name, first, second):
    """The undefined function standing for the second partial of `name` in two flat slots.

    Mixed partials of a smooth function are equal, so the slots are sorted:
    both spellings of the same derivative are one function.

    Examples
    --------
    >>> second_partial_function("ell", 3, 1)
    ell__d1__d3
    """
    low, high = sorted((first, second))
    return sp.Function(f"{name}__d{low}__d{high}")


# --- the directional derivative of one expression ---------------------------------------

def _is_zero(expr):
    return expr is None or expr == 0 or isinstance(expr, sp.ZeroMatrix)


def _nonzero(*terms):
    return [t for t in terms if not _is_zero(t)]


def _drop_dirac(expr):
    """The derivative of relu's step (a Dirac delta at 0) is 0 almost everywhere."""
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.Integer(0))


def _has_matrix(expr):
    """Whether `expr` needs the rules: a matrix inside, or an abstract call (whose derivative
    SymPy cannot take: ``ell(o, y)`` of scalars is still differentiated by its own rule)."""
    return isinstance(expr, MatrixExpr) or expr.has(MatrixExpr, ex.Apply, ex.Partial,
                                                   SecondPartial)


def _sum(*terms):
    terms = _nonzero(*terms)
    if not terms:
        return None
    total = ex.add(*terms)
    return None if _is_zero(total) else total


class _Sweep:
    """The tangents of the subexpressions of one expression (memoized)."""

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
            rule = next((RULES[c] for c in type(expr).__mro__ if c in RULES), None)
            if rule is None:
                raise TypeError(f"no tangent rule for {type(expr).__name__}: {expr}")
            result = rule(self, expr)
        result = None if _is_zero(result) else result
        self.memo[expr] = result
        return result


def _scalar(sweep, expr):
    """A scalar free of matrices: SymPy's own derivative in each scalar that moves."""
    terms = []
    for symbol in sorted(expr.free_symbols, key=str):
        t = sweep(symbol)
        if t is not None:
            terms.append(_drop_dirac(sp.diff(expr, symbol)) * t)
    return sp.Add(*terms) if terms else None


def _product(sweep, factors, join):
    """The product rule: one term per factor that moves, the others kept in place."""
    terms = []
    for i, factor in enumerate(factors):
        t = sweep(factor)
        if t is not None:
            terms.append(join(*factors[:i], t, *factors[i + 1:]))
    return _sum(*terms)


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
    return _sum(*(sweep(a) for a in expr.args))


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


def _function(sweep, expr):
    """f(u, ...) of scalars that contain matrices: f's partials times the arguments' tangents."""
    dummies = [sp.Dummy(real=True) for _ in expr.args]
    at = expr.func(*dummies)
    terms = []
    for dummy, arg in zip(dummies, expr.args):
        t = sweep(arg)
        if t is not None:
            local = _drop_dirac(sp.diff(at, dummy)).subs(dict(zip(dummies, expr.args)))
            terms.append(ex.mul(local, t))
    return _sum(*terms)


def _subs(sweep, expr):
    """Subs(f'(t), t, u): the next derivative of f, at u, times the tangent of u."""
    body, variables, points = expr.args
    terms = []
    for variable, point in zip(variables, points):
        t = sweep(point)
        if t is not None:
            terms.append(ex.mul(sp.Subs(_drop_dirac(sp.diff(body, variable)), variables, points),
                                t))
    return _sum(*terms)


def _transpose(sweep, expr):
    t = sweep(expr.arg)
    return None if t is None else ex.transpose(t)


def _derivative_of_output(body, derivative):
    """`derivative` as a function of the output `body` alone, if it is one (1 - h^2 for tanh)."""
    if derivative.has(sp.Derivative, sp.Subs):
        return None
    output = sp.Dummy()
    candidate = derivative.subs(body, output)
    return None if candidate.has(ex.ENTRY) else candidate.subs(output, ex.ENTRY)


def _map(sweep, expr):
    t = sweep(expr.arg)
    if t is None:
        return None
    body = expr.function.expr
    derivative = _drop_dirac(sp.diff(body, ex.ENTRY))
    if derivative == 0:
        return None
    if not derivative.has(ex.ENTRY):
        return ex.mul(derivative, t)
    out = sweep.value(expr)
    if out is expr:  # inside a product: dJ/dh * phi''(z) * R{z}
        return ex.hadamard(ex.entrywise(derivative, expr.arg), t)
    # a forward definition h = phi(z): R{z} * phi'(z), written with the output where
    # the first-order rules write it so (1 - h^2 for tanh)
    of_output = _derivative_of_output(body, derivative)
    if of_output is not None:
        return ex.hadamard(t, ex.entrywise(of_output, out))
    return ex.hadamard(t, ex.entrywise(derivative, expr.arg))


def _axis_shape(expr):
    return matrix(*expr.arg.shape)


def _per_line(p, t, axis, shape):
    """pᵀt along a vector, (p ⊙ t) summed along each row of a matrix."""
    if axis == 0:
        return ex.mul(ex.transpose(p), t)
    return _lines_sum(ex.hadamard(p, t), axis, shape)


def _softmax(sweep, expr):
    t = sweep(expr.arg)
    if t is None:
        return None
    p, shape = sweep.value(expr), _axis_shape(expr)
    return ex.hadamard(p, ex.add(t, ex.neg(_spread(_per_line(p, t, expr.axis, shape),
                                                      expr.axis, shape))))


def _log_softmax(sweep, expr):
    t = sweep(expr.arg)
    if t is None:
        return None
    shape = _axis_shape(expr)
    p = ex.Softmax(expr.arg, expr.axis)
    return ex.add(t, ex.neg(_spread(_per_line(p, t, expr.axis, shape), expr.axis, shape)))


def _log_sum_exp(sweep, expr):
    t = sweep(expr.arg)
    if t is None:
        return None
    return _per_line(ex.Softmax(expr.arg, expr.axis), t, expr.axis, _axis_shape(expr))


def _sum_all(sweep, expr):
    t = sweep(expr.arg)
    return None if t is None else ex.sum_all(t)


def _as_scalar(sweep, expr):
    t = sweep(expr.arg)
    return None if t is None else ex.AsScalar(t)


def _norm(sweep, expr):
    t = sweep(expr.arg)
    return None if t is None else ex.mul(sweep.value(expr) ** -1, ex.inner(expr.arg, t))


def _trace(sweep, expr):
    t = sweep(expr.arg)
    return None if t is None else sp.Trace(t)


def _apply(sweep, expr):
    """ell(o, y): its named partials, as inner products with the arguments' tangents."""
    of = sweep.out.name if sweep.value(expr) is sweep.out and sweep.out is not None else expr.name
    terms = []
    for slot, arg in enumerate(expr.call_args):
        t = sweep(arg)
        if t is None:
            continue
        partial = ex.Partial(expr.name, of, slot, *expr.call_args)
        terms.append(ex.inner(partial, t) if ex.is_matrix(arg) else ex.mul(ex.AsScalar(partial), t))
    return _sum(*terms)


def _partial(sweep, expr):
    terms = []
    for along, arg in enumerate(expr.call_args):
        t = sweep(arg)
        if t is not None:
            terms.append(SecondPartial(expr.name, expr.of, expr.slot, along, t, *expr.call_args))
    return _sum(*terms)


#: One tangent rule per expression class: ``(sweep, expr) -> tangent or None`` (None is 0).
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
    ex.Map: _map,
    ex.Softmax: _softmax,
    ex.LogSoftmax: _log_softmax,
    ex.LogSumExp: _log_sum_exp,
    ex.SumAll: _sum_all,
    ex.AsScalar: _as_scalar,
    ex.Norm: _norm,
    ex.Apply: _apply,
    ex.Partial: _partial,
    sp.Subs: _subs,
    sp.Function: _function,
}


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
    return _symbol(f"V{{{name}}}", model.variables[name].shape)


def tangent_symbol(name, shape):
    """The tangent R{name} of a value (a variable or an adjoint) of this shape."""
    return _symbol(f"R{{{name}}}", shape)


def _symbol(name, shape):
    if shape.is_scalar:
        return sp.Symbol(name, real=True)
    return sp.MatrixSymbol(name, shape.rows, shape.cols)


def _zero(shape):
    return sp.Integer(0) if shape.is_scalar else sp.ZeroMatrix(shape.rows, shape.cols)


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
    """Derive the Hessian-vector products of a derivation, node by node.

    Parameters
    ----------
    derivation : Derivation
    wrt : list of str, optional
        The variables whose H v is derived: the params by default; inputs may
        be added.
    along : list of str, optional
        The variables that move along a direction: `wrt` by default.  With one
        variable B, H v for A is the block d2J/dA dB applied to V_B.

    Returns
    -------
    HVPDerivation

    Examples
    --------
    >>> import symbackprop as sbp
    >>> hvp = derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> print(hvp.pretty(hvp.tangent("o")))
    V_W2 h + W2 R{h}
    >>> print(hvp.pretty(hvp.hvp("W1")))
    R{∂J/∂z} xᵀ + λ V_W1
    """
    model = derivation.model
    wrt = list(derivation.params if wrt is None else wrt)
    along = list(wrt if along is None else along)
    for name in wrt + along:
        v = model.variables.get(name)
        if v is None or v.role not in ("param", "input"):
            raise ValueError(f"'{name}' is not a param or input of the model: only they move "
                             "along a direction")
    symbols = derivation.symbols
    directions = {name: direction_symbol(model, name) for name in along}
    tangents = {symbols[name]: directions[name] for name in along}
    forward = []
    for name, expr in derivation.forward.items():
        t = jvp(expr, tangents, out=symbols[name])
        if t is not None:
            step = TangentStep(name, tangent_symbol(name, model.variables[name].shape), expr,
                               (), t)
            forward.append(step)
            tangents[symbols[name]] = step.symbol
    backward = []
    for step in needed_steps(derivation, [n for n in wrt if n in derivation.order]):
        if step.result.is_number:
            continue  # a constant adjoint (dJ/dL = 1): its tangent is 0 and is written in
        shape = model.variables[step.node].shape
        terms = tuple(Term(t.consumer, _or_zero(jvp(t.value, tangents), shape))
                      for t in step.terms)
        result = jvp(step.result, tangents)
        symbol = tangent_symbol(step.adjoint.name, shape)
        backward.append(TangentStep(step.node, symbol, step.result, terms, _or_zero(result, shape)))
        if result is not None:
            tangents[step.adjoint] = symbol
    return HVPDerivation(derivation, wrt, directions, _read(forward, backward), tuple(backward))


def _or_zero(value, shape):
    return _zero(shape) if value is None else value


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
        return _zero(self.model.variables[name].shape)

    def hvp(self, name):
        """(H v) restricted to `name`: R{dJ/d(name)}, later tangents as named symbols.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> hvp = derive_hvp(sbp.derive(sbp.load("examples/ridge_regression.sbp")))
        >>> print(hvp.pretty(hvp.hvp("w")))
        Xᵀ R{∂J/∂r} + λ v_w
        """
        if name not in self.wrt:
            raise KeyError(f"'{name}' has no direction: H v is derived for "
                           f"{', '.join(self.wrt) or 'nothing'}")
        if name in self._backward:
            return self._backward[name].result
        return _zero(self.model.variables[name].shape)

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
        return tangent_symbol(_adjoint(self.derivation, name).name,
                              self.model.variables[name].shape)

    def pretty(self, expr):
        """An expression of this derivation as Unicode text."""
        from .printing import TextPrinter
        return TextPrinter(self.display_names(latex=False)).doprint(expr)

    def display_names(self, latex, notation=None):
        """How the symbols print: the first-order names, plus directions and tangents."""
        from .printing import Notation, display_names, second_order_names
        notation = notation or Notation()
        names = display_names(self.derivation, latex, notation)
        return second_order_names(self, names, latex, notation)

    def figure(self):
        """The graph of the tangent sweep on the backward graph, as a
        :class:`~symbackprop.figures.Figure` (SVG in a notebook).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> hvp = derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
        >>> hvp.figure()
        <second-order graph of J: 28 nodes>
        """
        from .figures import Figure
        return Figure(self.derivation, second_order=self)

    def text(self, **options):
        """The derivation as Unicode text; options as in :func:`symbackprop.documents.text`."""
        from .documents import hvp_text
        return hvp_text(self, **options)

    def latex(self, standalone=False, **options):
        """The derivation as LaTeX; options as in :func:`symbackprop.documents.latex`."""
        from .documents import hvp_latex
        return hvp_latex(self, standalone=standalone, **options)

    def markdown(self, **options):
        """The derivation as Markdown."""
        from .documents import hvp_markdown
        return hvp_markdown(self, **options)

    def _repr_markdown_(self):
        return self.markdown()

    def bound(self, bind=None):
        """This derivation with abstract functions bound to built-ins; all must be bound."""
        d = self.derivation.bound(bind)
        return self if d is self.derivation else derive_hvp(d, self.wrt, list(self.directions))

    def lambdify(self, bind=None):
        """A NumPy function computing J, its gradients and H v for the `wrt` variables.

        Returns
        -------
        callable
            ``f(v, **arrays) -> (J, grads, hvps)``: `v` holds a direction
            for each of `wrt` by name, in the variable's shape (``v=`` works
            too when no variable is named v); `grads` and `hvps` are dicts
            in the variables' shapes.

        Examples
        --------
        >>> import numpy as np, symbackprop as sbp
        >>> d = sbp.derive(sbp.parse("dim n\\nparam w: vector(n)\\nJ = norm(w)^2\\nobjective J"))
        >>> f = derive_hvp(d).lambdify()
        >>> J, grads, hvps = f(w=np.array([1.0, 2.0]), v={"w": np.array([1.0, 0.0])})
        >>> hvps["w"]
        array([2., 0.])
        """
        return compile_hvp(self.bound(bind))


# --- Hessian blocks ----------------------------------------------------------------------

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
    if _is_zero(value):
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


def _explicit_environment(hvp, sizes):
    """:func:`symbackprop.checks.explicit_environment`, plus the directions and the tangents."""
    from .checks import _entry_symbols, explicit, explicit_environment
    d = hvp.derivation
    env = explicit_environment(d, sizes)
    for name, direction in hvp.directions.items():
        env[direction] = _entry_symbols(f"V_{name}", d.model.variables[name].shape, sizes)
    for step in hvp.forward + hvp.backward:
        env[step.symbol] = explicit(step.result, env, sizes)
    return env


def elementwise_hessian(derivation, dims, wrt=None):
    """The Hessian of the objective entry by entry at small sizes, read off the tangent steps.

    Entry (i, j) is the coefficient of the j-th direction entry in the i-th
    entry of H v, from the derivation's tangent steps evaluated explicitly
    (:func:`symbackprop.checks.explicit`), entries of each variable row by row.

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
    """
    from .checks import default_dims, explicit
    hvp = derive_hvp(derivation, wrt)
    m = hvp.model
    dims = default_dims(m, dims)
    sizes = {m.dims[n]: v for n, v in dims.items()}
    env = _explicit_environment(hvp, sizes)

    def entries(value):
        return list(value) if ex.is_matrix(value) else [value]

    labels = [str(t) for n in hvp.wrt for t in entries(env[derivation.symbols[n]])]
    directions = [v for n in hvp.wrt for v in entries(env[hvp.directions[n]])]
    rows = [sp.expand(e) for n in hvp.wrt for e in entries(explicit(hvp.hvp(n), env, sizes))]
    # at these sizes, a dim in a coefficient (mean's 1/n) is its number too
    return labels, sp.ImmutableMatrix([[sp.diff(r, v).xreplace(sizes) for v in directions]
                                       for r in rows])


# --- proofs: the explicit Hessian ---------------------------------------------------------

def explicit_hvp(hvp, dims=None):
    """H v at small concrete sizes, explicitly: from the derivation, and from SymPy.

    Parameters
    ----------
    hvp : HVPDerivation
    dims : dict of str to int, optional
        Small sizes; distinct ones, 2, 3, 4, ..., by default.

    Returns
    -------
    derived, truth : dict of str to list of sympy.Expr
        For each of `wrt`, the entries (row by row) of H v: `derived` from the
        tangent steps, evaluated entry by entry (:func:`symbackprop.checks.explicit`),
        and `truth` = sum over b of d2J / d(theta_a) d(theta_b) v_b, by
        :func:`sympy.diff` of the explicit objective.  Unknown derivatives are
        spelled alike on both sides.
    """
    from .checks import _canonical, _small_dims, explicit
    d = hvp.derivation
    m = d.model
    dims = _small_dims(m, dims)
    sizes = {m.dims[n]: s for n, s in dims.items()}
    env = _explicit_environment(hvp, sizes)

    def entries(value):
        return list(value) if ex.is_matrix(value) else [value]

    thetas = [(t, v) for name, direction in hvp.directions.items()
              for t, v in zip(entries(env[d.symbols[name]]), entries(env[direction]))]
    objective = env[d.symbols[m.objective]]
    derived, truth = {}, {}
    for name in hvp.wrt:
        value = explicit(hvp.hvp(name), env, sizes)
        derived[name] = [_canonical(e) for e in entries(value)]
        truth[name] = []
        for theta in entries(env[d.symbols[name]]):
            gradient = sp.diff(objective, theta)
            truth[name].append(_canonical(sp.Add(*[sp.diff(gradient, t) * v for t, v in thetas])))
    return derived, truth


def _agree_at_points(mine, truth, rng, points=3):
    """Whether `mine` and `truth` agree to 40 digits at `points` random points (unknown
    functions' values drawn at random, the same on both sides)."""
    from .checks import _at_random_point
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


def verify_hvp(model, dims=None, bind=None, wrt=None, prove=True, timeout=TIMEOUT,
               accept_numeric=False):
    """Prove H v equal, entry by entry, to the Hessian of the explicit objective times v.

    Parameters
    ----------
    model : Model, Derivation or HVPDerivation
    dims : dict of str to int, optional
        Small concrete sizes (distinct ones, 2, 3, 4, ..., by default).
    bind : dict of str to str, optional
        Abstract functions to bind; unbound ones stay abstract (phi'' and the
        second partials of ell are compared as unknown functions).
    wrt : list of str, optional
        As in :func:`derive_hvp`.
    prove : bool
        Prove each entry equal symbolically (random points refute at once;
        otherwise the difference must reach 0 in a canonical form or by
        :func:`sympy.simplify`).  With False, each entry is compared at
        random points to 50 digits only: the same ground truth, without
        :func:`sympy.simplify`, which can take minutes on the second
        derivatives of sigmoids and softmaxes.
    timeout : float or None
        Seconds the proofs may take once the entries are built (None: no
        limit).
    accept_numeric : bool
        Whether entries equal at random points but not proved pass
        (``prove=False`` accepts them).

    Returns
    -------
    symbackprop.VerifyReport

    Examples
    --------
    >>> import symbackprop as sbp
    >>> report = verify_hvp(sbp.load("examples/textbook_mlp.sbp"), dims={"d": 2, "h": 2, "q": 2})
    >>> report.ok, report.entries
    (True, {'W1': 4, 'W2': 4})
    """
    import time
    from .checks import _derivation, _judge, _report, _small_dims
    start = time.monotonic()
    if isinstance(model, HVPDerivation):
        hvp = model if not bind else model.bound(bind)
    else:
        hvp = derive_hvp(_derivation(model, bind), wrt)
    dims = _small_dims(hvp.model, dims)
    derived, truth = explicit_hvp(hvp, dims)
    shapes = {n: hvp.model.variables[n].shape for n in hvp.wrt}

    def cells():
        for name in hvp.wrt:
            cols = 1 if shapes[name].is_scalar else len(derived[name]) // int(
                shapes[name].rows.xreplace({hvp.model.dims[k]: v for k, v in dims.items()}))
            for k, (mine, expected) in enumerate(zip(derived[name], truth[name])):
                index = () if shapes[name].is_scalar else (
                    (k,) if shapes[name].kind == "vector" else divmod(k, cols))
                yield name, index, (lambda mine=mine, expected=expected: (mine, expected))

    # the entries are built above, all at once: the budget is the proofs'
    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
    verdicts = _judge(cells(), deadline, symbolic=prove)
    return _report(verdicts, dims, "matrix-form Hessian-vector products", timeout if prove else 0,
                   accept_numeric or not prove, start)


# --- NumPy code ---------------------------------------------------------------------------

def _code_names(hvp):
    """Python identifiers: the first-order ones, plus v_<name> and r_<name> for the tangents."""
    from .numeric import _RESERVED, _code_names as first_order_names, _identifier
    idents, dims, names = first_order_names(hvp.derivation)
    used = set(names.values()) | _RESERVED
    directions = {name: _identifier("v_" + idents[name], used) for name in hvp.directions}
    for name, ident in directions.items():
        names[hvp.directions[name]] = ident
    for step in hvp.forward:
        names[step.symbol] = _identifier("r_" + idents[step.node], used)
    for step in hvp.backward:
        names[step.symbol] = _identifier("r_grad_" + idents[step.node], used)
    return idents, dims, directions, names, used


def hvp_program(hvp):
    """The straight-line program computing J, its gradients and H v (see
    :mod:`symbackprop.program`): the forward pass, the backward steps, then
    the forward and backward tangents, repeated subexpressions computed once.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> p = hvp_program(derive_hvp(sbp.derive(sbp.load("examples/textbook_mlp.sbp"))))
    >>> [str(s.target) for s in p][-6:]
    ['R{o}', 'R{∂J/∂o}', 'R{∂J/∂W2}', 'R{∂J/∂h}', 'R{∂J/∂z}', 'R{∂J/∂W1}']
    """
    from .printing import TextPrinter
    from .program import Program, Statement, needed_steps, share_subexpressions
    d = hvp.derivation
    model = d.model
    text = TextPrinter(hvp.display_names(latex=False))

    def formula(symbol, value):
        return f"{text.doprint(symbol)} = {text.doprint(value)}"

    statements = [Statement(d.symbols[n], e) for n, e in d.forward.items()]
    first_order = [n for n in hvp.wrt if n in d.order]
    for step in needed_steps(d, first_order):
        if step.node in hvp.wrt or not step.result.is_number:
            statements.append(Statement(step.adjoint, step.result,
                                        formula(step.adjoint, step.result)))
    for step in hvp.forward + hvp.backward:
        statements.append(Statement(step.symbol, step.result, formula(step.symbol, step.result)))
    for name in hvp.wrt:
        zero = _zero(model.variables[name].shape)
        if name not in d.order:  # J does not depend on it
            statements.append(Statement(_adjoint(d, name), zero))
        if name not in hvp._backward:  # its gradient does not move along V
            statements.append(Statement(hvp.output(name), zero))
    outputs = ([d.symbols[model.objective]] + [_adjoint(d, n) for n in hvp.wrt]
               + [hvp.output(n) for n in hvp.wrt])
    return Program(share_subexpressions(statements), outputs)


def generate_hvp_source(hvp):
    """The NumPy module computing J, its gradients and H v, for a derivation with every
    abstract function bound.

    ``hvp(*declared, *directions, *sizes)`` (only the sizes no array has) runs
    :func:`hvp_program`, each step under a comment quoting its formula, and
    returns ``J, (grads...), (hvps...)`` for the `wrt` variables.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp")).bound(
    ...     {"phi": "tanh", "ell": "squared_error"})
    >>> print(generate_hvp_source(derive_hvp(d)).split("def hvp")[1])  # doctest: +ELLIPSIS
    (x, y, W1, W2, lambda_, v_W1, v_W2):
        ...
        # R{z} = V_W1 x
        r_z = v_W1 @ x
        ...
        return J, (grad_W1, grad_W2), (r_grad_W1, r_grad_W2)
    """
    from .numeric import (NumPyPrinter, _body, _described_arguments, _function, _identifier,
                          _module, _returned, _sizes, _temporary_names)
    d = hvp.derivation
    model = d.model
    idents, dims, directions, names, used = _code_names(hvp)
    for name in hvp.wrt:
        if hvp.output(name) not in names:
            names[hvp.output(name)] = _identifier(f"r_grad_{idents[name]}", used)
    program = hvp_program(hvp)
    _temporary_names([program], names, used)
    printer = NumPyPrinter(names)
    declared = [idents[n] for n, v in model.variables.items() if v.declared]
    sizes, unsized = _sizes(model, idents, dims)
    grads = [names[_adjoint(d, n)] for n in hvp.wrt]
    hvps = [names[hvp.output(n)] for n in hvp.wrt]
    function = _function("hvp", declared + list(directions.values()) + unsized,
                         f"{model.objective}, its gradients and the Hessian-vector products H v, "
                         "v given per variable.", _body(program, names, printer),
                         _returned(idents[model.objective], [grads, hvps]), sizes, names)
    arguments = (_described_arguments(model, idents, printer) + ", then a direction for each "
                 "of " + ", ".join(directions) + " (shaped like it)"
                 + (", then the sizes " + ", ".join(unsized) if unsized else ""))
    return _module("Objective, gradients and Hessian-vector products of a model, generated by "
                   "symbackprop.", f"Arguments: {arguments}. A vector is a column, a scalar a "
                   "float.", model, [function])


def _adjoint(derivation, name):
    from .derivation import adjoint_symbol
    return adjoint_symbol(derivation.model, name)


def compile_hvp(hvp):
    """Compile an HVP derivation (every abstract function bound) into a NumPy function.

    Returns
    -------
    callable
        ``f(v, **arrays) -> (J, grads, hvps)``, as :meth:`HVPDerivation.lambdify`
        describes; ``f.source`` is the generated module.
    """
    from .numeric import _Arrays, _passed, _to_user
    model = hvp.model
    source = generate_hvp_source(hvp)
    namespace = {}
    # Safe: `source` is generated from the derivation's expressions, not from user text
    # (see symbackprop.numeric).
    exec(compile(source, f"<symbackprop hvp {model.filename}>", "exec"), namespace)
    convert = _Arrays(model)
    shapes = {n: model.variables[n].shape for n in list(hvp.wrt) + list(hvp.directions)}
    wrt, along = list(hvp.wrt), list(hvp.directions)

    def hvp_function(*directions, **arrays):
        if len(directions) == 1:
            (v,) = directions
        elif not directions and "v" in arrays and "v" not in model.variables:
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
        values = convert(arrays)
        count = len(convert.declared)
        moving = []
        for name in along:
            value = np.asarray(v[name], dtype=np.float64)
            if value.shape != np.shape(arrays[name]):
                raise ValueError(f"the direction of {name} has shape {value.shape}, not "
                                 f"{np.shape(arrays[name])} (the shape of {name})")
            shape = shapes[name]
            moving.append(float(value) if shape.is_scalar else
                          value.reshape(-1, 1) if shape.kind == "vector" else value)
        arrays_and_sizes = _passed(model, values)
        J, grads, hvps = namespace["hvp"](*arrays_and_sizes[:count], *moving,
                                          *arrays_and_sizes[count:])
        return (float(J), {n: _to_user(g, shapes[n]) for n, g in zip(wrt, grads)},
                {n: _to_user(h, shapes[n]) for n, h in zip(wrt, hvps)})

    hvp_function.source = source
    hvp_function.wrt = tuple(wrt)
    return hvp_function
