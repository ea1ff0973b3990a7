"""The matrix-calculus vocabulary: SymPy classes and constructors for it.

SymPy has products, sums, transposes and Hadamard products of matrix
expressions; this module adds what backpropagation through a network needs and
SymPy lacks or gets wrong (see the module notes in :mod:`symbackprop.derivation.reverse`):

* :class:`Map`: a scalar function applied entrywise, ``phi(z)``, ``1 - tanh(z)^2``;
* :class:`AsScalar`: the one entry of a 1 x 1 product, ``v.T @ w``;
* :class:`SumAll`: the sum of all entries;
* :class:`Norm`: the Euclidean / Frobenius norm;
* :class:`Softmax`, :class:`LogSoftmax`, :class:`LogSumExp`: along a vector, or
  along each row of a matrix;
* :class:`Apply`: an abstract scalar function of matrices, ``ell(o, y)``;
* :class:`Partial`: its named partial derivative, ``dL/do``.

A class printed as a call of a named function (``softmax(x)``) is a
:class:`NamedCall`: it carries its own spellings, which one method of each
printer reads.

Each class defines its meaning entry by entry in ``explicit``, which receives
the explicit values (:class:`sympy.ImmutableMatrix` or scalars) of its
``operands``.  That meaning is the ground truth that
:func:`symbackprop.verify` differentiates.

The constructors (:func:`add`, :func:`mul`, :func:`hadamard`, ...) keep
expressions in the form a lecturer writes: scalars in front, no products by
one, terms in the order they were given.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    MatrixExpr,
    OneMatrix,
)

__all__ = [
    "NamedCall", "Map", "AsScalar", "SumAll", "Norm", "Softmax", "LogSoftmax", "LogSumExp", "Apply",
    "Partial", "relu", "sigmoid", "softplus", "ENTRY", "entrywise", "add", "neg", "mul",
    "hadamard",
    "hpow", "transpose", "inner", "sum_all", "ones", "is_matrix", "partial_function",
]

#: The bound variable of every entrywise function body.
ENTRY = sp.Symbol("ξ", real=True)


def is_matrix(expr):
    """Whether `expr` is a matrix expression (as opposed to a scalar)."""
    return isinstance(expr, (MatrixExpr, sp.MatrixBase))


def _explicit_shape(m):
    return m.shape if is_matrix(m) else (1, 1)


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


class NamedCall:
    """A class printed as a call of a named function of its one operand, ``softmax(x)``.

    Its spellings are class attributes, read by one generic ``_print_NamedCall``
    of each printer: ``call_text`` and ``call_latex`` name it in formulas,
    ``call_numpy`` is the function generated code calls, with the operand and
    then ``numpy_options`` (a softmax's axis).  Listed first among the bases, so
    that printers find it before SymPy's own classes.
    """

    call_text = call_latex = call_numpy = None
    numpy_options = ()


# --- matrix-valued classes --------------------------------------------------------

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
        return super().__new__(cls, function, arg)

    function = property(lambda self: self.args[0])
    arg = property(lambda self: self.args[1])
    operands = property(lambda self: (self.args[1],))
    shape = property(lambda self: self.args[1].shape)

    def body_at(self, value):
        """The scalar body with the entry variable replaced by `value`."""
        # subs, not Lambda.__call__: an abstract phi'(t) at a compound value
        # must become Subs(...), which calling the Lambda refuses to build.
        return self.function.expr.subs(ENTRY, value)

    def explicit(self, arg):
        return arg.applyfunc(self.body_at)


class _AlongAxis(NamedCall, MatrixExpr):
    """A row-wise (axis 1) or vector-wise (axis 0) operation on a column layout."""

    def __new__(cls, arg, axis):
        return super().__new__(cls, arg, sp.Integer(axis))

    arg = property(lambda self: self.args[0])
    axis = property(lambda self: int(self.args[1]))
    operands = property(lambda self: (self.args[0],))
    numpy_options = property(lambda self: (self.axis,))

    @staticmethod
    def lines(m, axis):
        """The explicit lines (columns for axis 0, rows for axis 1) of `m`."""
        return [m[:, j] for j in range(m.cols)] if axis == 0 else [m[i, :] for i in range(m.rows)]

    @staticmethod
    def join(lines, axis):
        return sp.ImmutableMatrix(sp.Matrix.hstack(*lines) if axis == 0
                                  else sp.Matrix.vstack(*lines))


class Softmax(_AlongAxis):
    """exp(x) / sum(exp(x)) along a vector, or along each row of a matrix."""

    call_text, call_latex, call_numpy = "softmax", "\\operatorname{softmax}", "_softmax"

    def __new__(cls, arg, axis):
        if isinstance(arg, sp.ZeroMatrix):  # every entry 1/(line length)
            return mul(1 / arg.shape[axis], OneMatrix(*arg.shape))
        return super().__new__(cls, arg, axis)

    shape = property(lambda self: self.arg.shape)

    def explicit(self, arg):
        def one(line):
            total = sum(sp.exp(e) for e in line)
            return line.applyfunc(lambda e: sp.exp(e) / total)
        return self.join([one(v) for v in self.lines(arg, self.axis)], self.axis)


class LogSoftmax(_AlongAxis):
    """x - logsumexp(x) along a vector, or along each row of a matrix."""

    call_text, call_numpy = "log_softmax", "_log_softmax"
    call_latex = "\\log\\operatorname{softmax}"

    def __new__(cls, arg, axis):
        if isinstance(arg, sp.ZeroMatrix):  # every entry -log(line length)
            return mul(-sp.log(arg.shape[axis]), OneMatrix(*arg.shape))
        return super().__new__(cls, arg, axis)

    shape = property(lambda self: self.arg.shape)

    def explicit(self, arg):
        def one(line):
            lse = sp.log(sum(sp.exp(e) for e in line))
            return line.applyfunc(lambda e: e - lse)
        return self.join([one(v) for v in self.lines(arg, self.axis)], self.axis)


class LogSumExp(_AlongAxis):
    """log(sum(exp(x))) of a vector (1 x 1), or of each row of a matrix (a column)."""

    call_text, call_latex, call_numpy = "logsumexp", "\\operatorname{logsumexp}", "_logsumexp"

    @property
    def shape(self):
        rows, cols = self.arg.shape
        return (sp.Integer(1), cols) if self.axis == 0 else (rows, sp.Integer(1))

    def explicit(self, arg):
        values = [sp.log(sum(sp.exp(e) for e in v)) for v in self.lines(arg, self.axis)]
        return sp.ImmutableMatrix([values] if self.axis == 0 else [[v] for v in values])


class Partial(MatrixExpr):
    """The named partial derivative of an abstract function with respect to one argument.

    ``Partial(name, of, slot, *args)`` is dL/do for ``L = ell(o, y)`` when
    ``of`` is ``L`` and ``slot`` is 0.  It has the shape of argument `slot`.
    """

    def __new__(cls, name, of, slot, *args):
        return super().__new__(cls, _str(name), _str(of), sp.Integer(slot), *args)

    name = property(lambda self: self.args[0].name)
    of = property(lambda self: self.args[1].name)
    slot = property(lambda self: int(self.args[2]))
    call_args = property(lambda self: self.args[3:])
    operands = call_args

    @property
    def shape(self):
        operand = self.call_args[self.slot]
        return operand.shape if is_matrix(operand) else (sp.Integer(1), sp.Integer(1))

    def explicit(self, *args):
        flat = _flatten(args)
        offset = sum(len(_flatten([a])) for a in args[:self.slot])
        rows, cols = _explicit_shape(args[self.slot])
        return sp.ImmutableMatrix(rows, cols, [
            partial_function(self.name, offset + k)(*flat) for k in range(rows * cols)])


def _str(name):
    """A name as a SymPy argument; SymPy rebuilds objects from their args, so accept both."""
    return name if isinstance(name, Str) else Str(name)


def partial_function(name, slot):
    """The undefined function standing for the derivative of `name` in flat argument `slot`.

    :func:`symbackprop.verify` rewrites SymPy's ``Subs(Derivative(...))`` into
    these, so that both sides of a comparison spell unknown derivatives alike.
    """
    return sp.Function(f"{name}__d{slot}")


def _flatten(values):
    out = []
    for v in values:
        out.extend(v) if is_matrix(v) else out.append(v)
    return out


# --- scalar-valued classes -------------------------------------------------------------

class _ScalarOfMatrix(sp.Expr):
    is_commutative = True
    is_real = True

    def __new__(cls, *args):
        return super().__new__(cls, *args)

    arg = property(lambda self: self.args[0])
    operands = property(lambda self: (self.args[0],))

    def _eval_derivative(self, s):
        # Matrix-level differentiation is never used (it is unreliable in SymPy);
        # only the explicit forms are differentiated.
        raise TypeError(f"{type(self).__name__} is differentiated by its local rule")


class AsScalar(_ScalarOfMatrix):
    """The one entry of a 1 x 1 matrix expression, such as ``v.T @ w``."""

    @property
    def precedence(self):
        # v^T w prints as a product: SymPy's printers bracket it as a factor or a
        # base, 4 (x^T x) x and (x^T x)^2, not 4 x^T x x and x^T x^2
        from sympy.printing.precedence import PRECEDENCE
        if isinstance(self.arg, sp.MatAdd):  # v^T w + w^T v: a sum
            return PRECEDENCE["Add"]
        return PRECEDENCE["Mul"] - 1 if isinstance(self.arg, sp.MatMul) else PRECEDENCE["Atom"]

    def explicit(self, arg):
        return arg[0, 0]


class SumAll(NamedCall, _ScalarOfMatrix):
    """The sum of all entries of a matrix."""

    call_text, call_latex, call_numpy = "sum", "\\operatorname{sum}", "np.sum"

    def explicit(self, arg):
        return sp.Add(*arg)


class Norm(_ScalarOfMatrix):
    """The Euclidean norm of a vector, the Frobenius norm of a matrix."""

    def explicit(self, arg):
        return sp.sqrt(sp.Add(*[e**2 for e in arg]))


class Apply(_ScalarOfMatrix):
    """An abstract scalar function of matrices and scalars, ``ell(o, y)``."""

    def __new__(cls, name, *args):
        return super().__new__(cls, _str(name), *args)

    name = property(lambda self: self.args[0].name)
    call_args = property(lambda self: self.args[1:])
    operands = call_args

    def explicit(self, *args):
        return sp.Function(self.name)(*_flatten(args))


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


def entrywise(body, arg):
    """`body` (an expression in :data:`ENTRY`) applied to every entry of `arg`.

    A function of a function of the same matrix is one entrywise function:
    ``log(sigmoid(z))`` is the body ``log(sigmoid(ξ))`` at ``z``.  Keeping the
    composition whole lets SymPy cancel what it can (``(1/σ) σ (1 - σ)`` is
    ``1 - σ``), which is both what a lecturer writes and what stays finite.

    Examples
    --------
    >>> z = sp.MatrixSymbol("z", 2, 1)
    >>> entrywise(sp.log(ENTRY), entrywise(sigmoid(ENTRY), z)).function.expr
    log(sigmoid(ξ))
    """
    if isinstance(arg, Map):
        body, arg = body.subs(ENTRY, arg.function.expr), arg.arg
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
        if not combined:
            return sp.ZeroMatrix(*flat[0].shape)
        return combined[0] if len(combined) == 1 else sp.MatAdd(*combined)
    return sp.Add(*terms)


def hadamard(a, b):
    """The entrywise product, coefficients pulled in front; by a scalar it is a product."""
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
    factors = []
    for m in (a, b):
        for f in (m.args if isinstance(m, HadamardProduct) else [m]):
            # f(z) * g(z) entry by entry is the single entrywise function f g
            twin = next((i for i, g in enumerate(factors)
                         if isinstance(f, Map) and isinstance(g, Map) and g.arg == f.arg), None)
            if twin is None:
                factors.append(f)
            else:
                g = factors[twin]
                factors[twin] = entrywise(g.function.expr * f.function.expr, f.arg)
    coeff, kept = ca * cb, []
    for f in factors:  # σ(z) / σ(z) entry by entry is a constant: it goes in front
        c, m = _split(f)
        coeff *= c
        single = mul(*m) if m else None
        if single is not None and not isinstance(single, OneMatrix):
            kept.append(single)
    if not kept:
        return mul(coeff, OneMatrix(*a.shape))
    product = kept[0] if len(kept) == 1 else HadamardProduct(*kept)
    return mul(coeff, product)


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
    if isinstance(expr, (sp.Identity,)) or (isinstance(expr, sp.MatrixSymbol)
                                           and expr.rows == expr.cols == 1):
        return expr
    return sp.Transpose(expr)


def sum_all(expr):
    """The sum of all entries; a scalar is its own sum.

    A ones factor that widens a product, v 𝟏ᵀ, is summed out, k sum(v): the sum
    of ``v 𝟏ᵀ`` printed as such would not say how long 𝟏 is.

    Examples
    --------
    >>> v = sp.MatrixSymbol("v", 3, 1)
    >>> sum_all(mul(v, ones(1, 4)))
    4*SumAll(v)
    """
    if not is_matrix(expr):
        return expr
    coeff, mats = _split(expr)
    if isinstance(expr, OneMatrix):
        return expr.rows * expr.cols
    if len(mats) > 1 and isinstance(mats[-1], OneMatrix) and mats[-1].cols != 1:
        ones_ = [OneMatrix(mats[-1].rows, 1)] if mats[-1].rows != 1 else []
        coeff, mats = coeff * mats[-1].cols, mats[:-1] + ones_
    if len(mats) > 1 and isinstance(mats[0], OneMatrix) and mats[0].rows != 1:
        ones_ = [OneMatrix(1, mats[0].cols)] if mats[0].cols != 1 else []
        coeff, mats = coeff * mats[0].rows, ones_ + mats[1:]
    inner = mul(*mats)
    if isinstance(inner, OneMatrix):
        return coeff * inner.rows * inner.cols
    return coeff * SumAll(inner)


def inner(a, b):
    """The Frobenius inner product sum(a * b), written aᵀb for column vectors."""
    if not is_matrix(a) or not is_matrix(b):
        return mul(a, b) if not (is_matrix(a) or is_matrix(b)) else sum_all(mul(a, b))
    if a.shape[1] == 1 and b.shape[1] == 1:
        coeff, mats = _split(mul(transpose(a), b))  # the scalars in front: c (aᵀ b)
        if not mats:
            return coeff
        product = mul(*mats)
        return coeff * (AsScalar(product) if is_matrix(product) else product)
    return sum_all(hadamard(a, b))


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
        return super().__new__(cls, _str(name), _str(of), sp.Integer(slot),
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
        return operand.shape if is_matrix(operand) else (sp.Integer(1), sp.Integer(1))

    def explicit(self, tangent, *args):
        flat = _flatten(args)
        offsets = [sum(len(_flatten([a])) for a in args[:k]) for k in range(len(args))]
        rows, cols = _explicit_shape(args[self.slot])
        steps = _flatten([tangent])
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
