"""The matrix-calculus vocabulary: entrywise functions, and the algebra a lecturer writes.

SymPy has products, sums, transposes and Hadamard products of matrix
expressions; this module adds what backpropagation through a network needs and
SymPy lacks or gets wrong (see the module notes in :mod:`symbackprop.derivation.reverse`):

* :class:`Map`: a scalar function applied entrywise, ``phi(z)``, ``1 - tanh(z)^2``,
  and the scalar functions of the built-ins that SymPy lacks (:class:`relu`,
  :class:`sigmoid`, :class:`softplus`);
* constructors (:func:`add`, :func:`mul`, :func:`hadamard`, :func:`transpose`, ...)
  that keep expressions in the form a lecturer writes: scalars in front, no
  products by one, terms in the order they were given.

What reads a whole matrix or a whole line of it (softmax, the sum of all
entries, the norm, abstract functions ``ell(o, y)`` and their partials) is in
:mod:`symbackprop.primitives.matrix_functions`.

Each class defines its meaning entry by entry in ``explicit``, which receives
the explicit values (:class:`sympy.ImmutableMatrix` or scalars) of its
``operands``.  That meaning is the ground truth that
:func:`symbackprop.verify` differentiates.

Each class also carries its own tangent rule, the directional derivative that
second order takes (:func:`symbackprop.derivation.tangent.jvp`):
``expr._tangent(sweep)`` returns the tangent ``R{expr}``, or None when it is 0.
`sweep` is the sweep over the expression being differentiated, handed in by
:mod:`symbackprop.derivation.tangent`; a rule uses three things of it:

* ``sweep(e)``: the tangent of a subexpression `e` (None when `e` does not move);
* ``sweep.value(e)``: how the rule refers to the value of `e`, the symbol of
  the variable `e` defines if it has one (``p`` for ``p = softmax(o)``), else
  `e` itself;
* ``sweep.out``: the variable the whole expression defines, or None.

Rules build their results with the constructors below, and add up their terms
with :func:`tangent_sum`.  SymPy's own classes (sums, products, powers,
transposes) have their rules in :data:`symbackprop.derivation.tangent.RULES`.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    MatrixExpr,
    OneMatrix,
)

__all__ = [
    "Map", "relu", "sigmoid", "softplus", "ENTRY", "entrywise", "add", "neg", "mul", "hadamard",
    "hpow", "transpose", "ones", "is_matrix", "is_zero", "tangent_sum", "without_dirac",
    "derivative_of_output",
]

#: The bound variable of every entrywise function body.
ENTRY = sp.Symbol("ξ", real=True)


def is_matrix(expr):
    """Whether `expr` is a matrix expression (as opposed to a scalar)."""
    return isinstance(expr, (MatrixExpr, sp.MatrixBase))


# --- scalar functions with their derivatives beside them -----------------------

class relu(sp.Function):
    """max(0, x), with derivative 0 at 0 (the convention of every framework)."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Max(0, x)

    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0], 0)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_nonnegative(self):
        return self.args[0].is_real


class sigmoid(sp.Function):
    """The logistic function 1 / (1 + exp(-x))."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return 1 / (1 + sp.exp(-x))

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))


class softplus(sp.Function):
    """log(1 + exp(x)); its derivative is the sigmoid."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.log(1 + sp.exp(x))

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))


# --- the entrywise map -----------------------------------------------------------

class Map(MatrixExpr):
    """A scalar function applied to every entry of a matrix.

    ``Map(Lambda(ENTRY, body), X)``; the body is an expression in :data:`ENTRY`.

    Examples
    --------
    >>> z = sp.MatrixSymbol("z", 2, 1)
    >>> Map(sp.Lambda(ENTRY, sp.tanh(ENTRY)), z).explicit(sp.ImmutableMatrix([1, 2]))
    Matrix([
    [tanh(1)],
    [tanh(2)]])
    """

    def __new__(cls, function, arg):
        obj = super().__new__(cls, function, arg)
        obj._shape = arg.shape  # held: asked of a chain of maps, each would ask the next
        return obj

    function = property(lambda self: self.args[0])
    arg = property(lambda self: self.args[1])
    operands = property(lambda self: (self.args[1],))
    shape = property(lambda self: self._shape)

    def body_at(self, value):
        """The scalar body with the entry variable replaced by `value`."""
        # subs, not Lambda.__call__: an abstract phi'(t) at a compound value
        # must become Subs(...), which calling the Lambda refuses to build.
        return self.function.expr.subs(ENTRY, value)

    def explicit(self, arg):
        return arg.applyfunc(self.body_at)

    def _tangent(self, sweep):
        """R{z} ⊙ phi'(z) for h = phi(z); inside a product, phi''(z) ⊙ R{z}."""
        t = sweep(self.arg)
        if t is None:
            return None
        body = self.function.expr
        derivative = without_dirac(sp.diff(body, ENTRY))
        if derivative == 0:
            return None
        if not derivative.has(ENTRY):
            return mul(derivative, t)
        out = sweep.value(self)
        if out is self:  # inside a product: dJ/dh * phi''(z) * R{z}
            return hadamard(entrywise(derivative, self.arg), t)
        # a forward definition h = phi(z): R{z} * phi'(z), written with the output where
        # the first-order rules write it so (1 - h^2 for tanh)
        of_output = derivative_of_output(body, derivative)
        if of_output is not None:
            return hadamard(t, entrywise(of_output, out))
        return hadamard(t, entrywise(derivative, self.arg))


def derivative_of_output(body, derivative):
    """`derivative` as a function of the output `body` alone, if it is one (1 - h^2 for tanh).

    Examples
    --------
    >>> derivative_of_output(sp.tanh(ENTRY), sp.diff(sp.tanh(ENTRY), ENTRY))
    1 - ξ**2
    """
    if derivative.has(sp.Derivative, sp.Subs):
        return None
    output = sp.Dummy()
    candidate = derivative.subs(body, output)
    return None if candidate.has(ENTRY) else candidate.subs(output, ENTRY)


# --- constructors that keep the lecturer's form -----------------------------------------

def ones(rows, cols):
    """The all-ones matrix (printed as a bold 1)."""
    return OneMatrix(rows, cols)


def _split(expr):
    """(scalar coefficient, matrix factors) of a product."""
    if not is_matrix(expr):
        return expr, []
    if isinstance(expr, sp.MatMul):
        coeff, mats = sp.Integer(1), []
        for f in expr.args:
            c, m = _split(f)
            coeff, mats = coeff * c, mats + m
        return coeff, mats
    return sp.Integer(1), [expr]


def _calls_a_call(body):
    """Whether a scalar body applies a function to a function of its entry: tanh(tanh(ξ))."""
    return any(a.has(sp.Function) for f in body.atoms(sp.Function) for a in f.args)


def _kept_whole(body):
    """Whether a composition is one function to SymPy and to the code: log(σ(ξ)), which the
    code computes in a form finite for every ξ."""
    return any(isinstance(f, sp.log) and isinstance(f.args[0], sigmoid)
               for f in body.atoms(sp.log))


def entrywise(body, arg):
    """`body` (an expression in :data:`ENTRY`) applied to every entry of `arg`.

    A function of a map is one entrywise function where no call is nested in
    another: ``1 - ξ²`` of ``tanh(z)`` is the body ``1 - tanh²(ξ)`` at ``z``, and
    ``log(exp(z))`` is ``z``.  So is ``log(sigmoid(z))``, which the code computes
    in a form finite for every z.  Any other function of a function stays a chain
    of maps, a level each: it prints the same, and a level costs the same work
    however deep the composition is (fused, each level would rebuild the whole
    composition below it).

    Examples
    --------
    >>> z = sp.MatrixSymbol("z", 2, 1)
    >>> entrywise(1 - ENTRY**2, entrywise(sp.tanh(ENTRY), z)).function.expr
    1 - tanh(ξ)**2
    >>> entrywise(sp.log(ENTRY), entrywise(sigmoid(ENTRY), z)).function.expr
    log(sigmoid(ξ))
    >>> chain = entrywise(sp.tanh(ENTRY), entrywise(sp.tanh(ENTRY), z))
    >>> chain.function.expr, chain.arg.function.expr, chain.arg.arg
    (tanh(ξ), tanh(ξ), z)
    """
    if isinstance(arg, Map):
        inner = arg.function.expr
        # xreplace where it means the same: subs compares the inner body with the entry
        fused = (body.subs(ENTRY, inner) if body.has(sp.Derivative, sp.Subs)
                 else body.xreplace({ENTRY: inner}))
        if _calls_a_call(fused) and not _kept_whole(fused):
            return Map(sp.Lambda(ENTRY, body), arg)
        body, arg = fused, arg.arg
    if body == ENTRY:  # the identity, log(exp(z)) included: SymPy's Lambda(ξ, ξ) has no body
        return arg
    if not body.has(ENTRY):  # a constant function: c 𝟏 𝟏ᵀ, not "c" applied to a matrix
        return mul(body, OneMatrix(*arg.shape))
    if isinstance(arg, sp.ZeroMatrix):  # tanh(0) is 0 𝟏 𝟏ᵀ, not a function of a 0 of no size
        at_zero = body.subs(ENTRY, 0)
        if at_zero.is_number and at_zero.is_finite:
            return mul(at_zero, OneMatrix(*arg.shape))
    return Map(sp.Lambda(ENTRY, body), arg)


def mul(*factors):
    """The product of scalars and matrices, scalars collected in front.

    Examples
    --------
    >>> A, x = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("x", 2, 1)
    >>> lam = sp.Symbol("lambda")
    >>> mul(lam / 2, 2, A, x)
    lambda*A*x
    >>> mul(1, A)
    A
    """
    coeff, mats = sp.Integer(1), []
    for f in factors:
        c, m = _split(f)
        coeff, mats = coeff * c, mats + m
    if len(mats) > 1:
        mats = [m for m in mats if not isinstance(m, sp.Identity)] or mats[:1]
    if not mats:
        return coeff
    if coeff == 1 and len(mats) == 1:
        return mats[0]
    merged = []
    for m in mats:  # 𝟏ᵀ (𝟏 𝟏ᵀ) = k 𝟏ᵀ: a product of ones is ones, times the inner size
        if merged and isinstance(m, OneMatrix) and isinstance(merged[-1], OneMatrix):
            coeff *= m.rows
            merged[-1] = OneMatrix(merged[-1].rows, m.cols)
        else:
            merged.append(m)
    mats = merged
    if coeff == 0 or any(isinstance(m, sp.ZeroMatrix) for m in mats):
        # 0 x^T is the zero matrix, not a product a reader would take for a row
        return sp.ZeroMatrix(mats[0].rows, mats[-1].cols)
    return sp.MatMul(*([] if coeff == 1 else [coeff]), *mats)


def without_zeros(expr):
    """`expr` with products by a zero matrix made zero and zero terms dropped.

    Substituting a zero adjoint into a later step leaves ``0 p^T`` inside it;
    a reader would take that 0 for a scalar and the product for a row.
    """
    if not isinstance(expr, sp.Basic) or not expr.has(sp.ZeroMatrix, sp.S.Zero):
        return expr
    if isinstance(expr, (sp.MatMul, sp.MatAdd, HadamardProduct, sp.Transpose)):
        args = [without_zeros(a) for a in expr.args]
        zero = any(isinstance(a, sp.ZeroMatrix) or a == 0 for a in args)
        if isinstance(expr, sp.MatAdd):
            return add(*args)
        if zero and not isinstance(expr, sp.MatAdd):
            return sp.ZeroMatrix(*expr.shape)
        return expr.func(*args) if isinstance(expr, sp.Transpose) else (
            mul(*args) if isinstance(expr, sp.MatMul) else HadamardProduct(*args))
    return expr


def neg(expr):
    """-expr."""
    return mul(-1, expr)


def add(*terms):
    """The sum of terms, in the order given, zeros dropped.

    Examples
    --------
    >>> D, h = sp.MatrixSymbol("D", 2, 1), sp.MatrixSymbol("h", 3, 1)
    >>> W = sp.MatrixSymbol("W", 2, 3)
    >>> add(mul(D, h.T), mul(sp.Symbol("lambda"), W)).args
    (D*h.T, lambda*W)
    """
    zeros = [t for t in terms if isinstance(t, sp.ZeroMatrix)]
    terms = [t for t in terms if not (t == 0 or isinstance(t, sp.ZeroMatrix))]
    if not terms:
        return zeros[0] if zeros else sp.Integer(0)
    if len(terms) == 1:
        return terms[0]
    if any(is_matrix(t) for t in terms):
        flat = []
        for t in terms:  # flat, so a long sum is not a deep tree
            flat.extend(t.args if isinstance(t, sp.MatAdd) else [t])
        # a A + b A = (a + b) A, in the order the terms first appear
        coefficients = {}
        for t in flat:
            coeff, mats = _split(t)
            key = mul(*mats)
            coefficients[key] = coefficients.get(key, 0) + coeff
        combined = [mul(c, m) for m, c in coefficients.items() if c != 0]
        merge = next((type(t).merged_sum for t in combined if hasattr(t, "merged_sum")), None)
        if merge is not None and len(combined) > 1:  # block matrices, block by block
            combined = merge(combined)
        if not combined:
            return sp.ZeroMatrix(*flat[0].shape)
        return combined[0] if len(combined) == 1 else sp.MatAdd(*combined)
    return sp.Add(*terms)


class _Factors:
    """The factors of an entrywise product as :func:`hadamard` builds it.

    f(z) g(z) entry by entry is the single function f g where the two have a factor in
    common, so that SymPy cancels it ((1/σ) σ (1 - σ) is 1 - σ).  Other factors stay as
    the chain rule gives them, outermost first.  The product built keeps its factors and
    their index, so that a product grown a factor at a time (the adjoint of a deep
    composition) costs a factor a step, not a rebuilt, re-sorted product.
    """

    def __init__(self, factors=(), twins=None):
        self.factors, self.twins = list(factors), dict(twins or {})

    @classmethod
    def of(cls, product):
        """A copy of the factors of `product`, a matrix with no coefficient in front, and
        the coefficient they bring."""
        held = getattr(product, "_factors", None)
        if held is not None:
            return cls(held.factors, held.twins), sp.Integer(1)
        factors = cls()
        return factors, factors.include(product)

    @staticmethod
    def _split(f):
        """(coefficient, factor): the coefficient of a map of a product goes in front too,
        so that a product reads -(a ⊙ b ⊙ c) rather than a ⊙ -(b ⊙ c)."""
        c, parts = _split(f)
        f = mul(*parts) if parts else None
        if isinstance(f, Map):
            number, rest = f.function.expr.as_coeff_Mul()
            if number != 1 and sum(1 for g in sp.Mul.make_args(rest) if g.has(ENTRY)) > 1:
                c, f = c * number, Map(sp.Lambda(ENTRY, rest), f.arg)
        return c, f

    @staticmethod
    def _keys(f):
        """What a map has in common with its twins: its operand and a base of its body."""
        if not isinstance(f, Map):
            return []
        return [(f.arg, factor.as_base_exp()[0])
                for factor in sp.Mul.make_args(f.function.expr)]

    def include(self, m):
        """Multiply by `m`; return the coefficient it brings (σ(z) / σ(z) is 1)."""
        coeff = sp.Integer(1)
        for f in (m.args if isinstance(m, HadamardProduct) else [m]):
            c, f = self._split(f)
            coeff *= c
            keys = self._keys(f)
            twin = next((self.twins[k] for k in keys if k in self.twins), None)
            if twin is not None:
                g = self.factors[twin]
                c, f = self._split(entrywise(g.function.expr * f.function.expr, f.arg))
                coeff *= c
                self.twins = {k: i for k, i in self.twins.items() if i != twin}
                keys = self._keys(f)
            if isinstance(f, OneMatrix):
                f = None  # a factor of ones, or one that cancelled
            if twin is None:
                twin = len(self.factors)
                self.factors.append(f)
            else:
                self.factors[twin] = f
            if f is not None:
                self.twins.update((k, twin) for k in keys)
        return coeff

    def product(self, coeff, shape):
        """coeff times the product of the factors."""
        kept = [f for f in self.factors if f is not None]
        if not kept:
            return mul(coeff, OneMatrix(*shape))
        if len(kept) == 1:
            return mul(coeff, kept[0])
        twins = self.twins
        if len(kept) < len(self.factors):  # the index, of the factors left
            position = {}
            for i, f in enumerate(self.factors):
                if f is not None:
                    position[i] = len(position)
            twins = {k: position[i] for k, i in twins.items()}
        # Basic's constructor: HadamardProduct's would check the shapes of every factor
        # again, each checked when it came in, once a factor for a product grown by one
        product = sp.Basic.__new__(HadamardProduct, *kept)
        product._factors = _Factors(kept, twins)
        return mul(coeff, product)


def hadamard(a, b):
    """The entrywise product, coefficients pulled in front; by a scalar it is a product.

    Examples
    --------
    >>> z = sp.MatrixSymbol("z", 2, 1)
    >>> s = entrywise(sigmoid(ENTRY), z)
    >>> hadamard(entrywise(1 / ENTRY, s), entrywise(ENTRY * (1 - ENTRY), s)).function.expr
    1 - sigmoid(ξ)
    """
    if not is_matrix(a) or not is_matrix(b):
        return mul(a, b)
    if isinstance(a, sp.ZeroMatrix) or isinstance(b, sp.ZeroMatrix):
        return sp.ZeroMatrix(*a.shape)
    (ca, ma), (cb, mb) = _split(a), _split(b)
    a, b = mul(*ma), mul(*mb)
    if isinstance(a, OneMatrix):
        return mul(ca * cb, b)
    if isinstance(b, OneMatrix):
        return mul(ca * cb, a)
    factors, coeff = _Factors.of(a)
    coeff *= ca * cb * factors.include(b)
    return factors.product(coeff, a.shape)


def hpow(base, exponent):
    """The entrywise power of a matrix, or the power of a scalar."""
    if not is_matrix(base):
        return base**exponent
    if exponent == 1:
        return base
    if exponent == 0:
        return ones(*base.shape)
    return HadamardPower(base, exponent)


def transpose(expr):
    """The transpose, distributed as a lecturer does: (A B)ᵀ = Bᵀ Aᵀ, (A + B)ᵀ = Aᵀ + Bᵀ.

    Written here rather than with SymPy's ``.T``, whose canonicalization
    turns ``(A A)ᵀ`` into the matrix power ``(Aᵀ)²``.  A scalar is its own
    transpose.

    Examples
    --------
    >>> A, x = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("x", 2, 1)
    >>> transpose(mul(A, A, x))
    x.T*A.T*A.T
    """
    if not is_matrix(expr):
        return expr
    if isinstance(expr, sp.Transpose):
        return expr.arg
    if isinstance(expr, sp.MatMul):
        coeff, mats = _split(expr)
        return mul(coeff, *[transpose(m) for m in reversed(mats)])
    if isinstance(expr, sp.MatAdd):
        return add(*[transpose(t) for t in expr.args])
    if isinstance(expr, HadamardProduct):
        return HadamardProduct(*[transpose(f) for f in expr.args])
    if isinstance(expr, (OneMatrix, sp.ZeroMatrix)):
        return type(expr)(expr.cols, expr.rows)
    if hasattr(expr, "transposed"):  # a class that knows its transpose (diag(v) is symmetric)
        return expr.transposed()
    if isinstance(expr, (sp.Identity,)) or (isinstance(expr, sp.MatrixSymbol)
                                           and expr.rows == expr.cols == 1):
        return expr
    return sp.Transpose(expr)


# --- the arithmetic of tangents ---------------------------------------------------------

def is_zero(expr):
    """Whether `expr` is a zero: None (a tangent that is 0), the number 0, a zero matrix.

    Examples
    --------
    >>> is_zero(None), is_zero(sp.ZeroMatrix(2, 1)), is_zero(sp.Symbol("x"))
    (True, True, False)
    """
    return expr is None or expr == 0 or isinstance(expr, sp.ZeroMatrix)


def tangent_sum(*terms):
    """The sum of tangents, those that are 0 (None) left out; None when the sum is 0.

    Examples
    --------
    >>> x = sp.MatrixSymbol("x", 2, 1)
    >>> tangent_sum(None, x, sp.ZeroMatrix(2, 1))
    x
    >>> tangent_sum(None, None) is None
    True
    """
    terms = [t for t in terms if not is_zero(t)]
    if not terms:
        return None
    total = add(*terms)
    return None if is_zero(total) else total


def without_dirac(expr):
    """`expr` with every Dirac delta taken as 0.

    The derivative of relu's step is a Dirac delta at 0: 0 everywhere but on a
    set of measure zero, which is also what PyTorch and JAX compute.

    Examples
    --------
    >>> x = sp.Symbol("x", real=True)
    >>> without_dirac(sp.diff(relu(x), x, 2))
    0
    """
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.Integer(0))
