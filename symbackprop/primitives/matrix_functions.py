"""Functions of a whole matrix: normalisations along an axis, reductions, abstract functions.

:mod:`symbackprop.primitives.expressions` has what acts entry by entry and the
algebra of sums, products and transposes; this module has what reads a whole
matrix, or a whole line of it, at once:

* :class:`Softmax`, :class:`LogSoftmax`, :class:`LogSumExp`: along a vector, or
  along each row of a matrix;
* :class:`AsScalar`: the one entry of a 1 x 1 product, ``v.T @ w``;
* :class:`SumAll`: the sum of all entries;
* :class:`Norm`: the Euclidean / Frobenius norm;
* :class:`Apply`: an abstract scalar function of matrices, ``ell(o, y)``;
* :class:`Partial`: its named partial derivative, ``dL/do``, and
  :class:`SecondPartial`, the tangent of that partial, ``d2L/do2 [t]``;

with the constructors that keep them in a lecturer's form (:func:`sum_all`,
:func:`inner`) and the two moves along the last axis that their rules share
(:func:`lines_sum`, :func:`spread`).

A class printed as a call of a named function (``softmax(x)``) is a
:class:`NamedCall`: it carries its own spellings, which one method of each
printer reads.  As in :mod:`~symbackprop.primitives.expressions`, each class
defines its meaning entry by entry in ``explicit`` and carries its own tangent
rule in ``_tangent(sweep)`` (the protocol is described there);
:class:`SecondPartial`, itself a tangent, has none.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr, OneMatrix

from .expressions import (
    _split,
    add,
    hadamard,
    is_matrix,
    mul,
    neg,
    ones,
    tangent_sum,
    transpose,
)
from .shapes import matrix

__all__ = [
    "NamedCall", "Softmax", "LogSoftmax", "LogSumExp", "AsScalar", "SumAll", "Norm", "Apply",
    "Partial", "SecondPartial", "sum_all", "inner", "lines_sum", "spread", "partial_function",
    "second_partial_function",
]


def _explicit_shape(m):
    return m.shape if is_matrix(m) else (1, 1)


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


# --- along the last axis ------------------------------------------------------------------

def lines_sum(m, axis, shape):
    """Sum along the last axis: the column 1^T M (axis 0) or M 1 (axis 1).

    `shape` is the :class:`~symbackprop.primitives.shapes.Shape` of `m`.

    Examples
    --------
    >>> from symbackprop.primitives.shapes import matrix
    >>> lines_sum(sp.MatrixSymbol("M", 2, 3), 1, matrix(2, 3))
    M*1
    """
    if axis == 0:
        return mul(ones(1, shape.rows), m)
    return mul(m, ones(shape.cols, 1))


def spread(v, axis, shape):
    """Copy a per-line value back along the last axis: 1 v (axis 0) or v 1^T (axis 1).

    `shape` is the :class:`~symbackprop.primitives.shapes.Shape` spread to.

    Examples
    --------
    >>> from symbackprop.primitives.shapes import matrix
    >>> spread(sp.MatrixSymbol("v", 2, 1), 1, matrix(2, 3)).shape
    (2, 3)
    """
    if axis == 0:
        return mul(ones(shape.rows, 1), v)
    return mul(v, ones(1, shape.cols))


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

    def _per_line(self, p, t):
        """pᵀt along a vector, (p ⊙ t) summed along each row of a matrix."""
        if self.axis == 0:
            return mul(transpose(p), t)
        return lines_sum(hadamard(p, t), self.axis, matrix(*self.arg.shape))

    def _spread(self, v):
        return spread(v, self.axis, matrix(*self.arg.shape))


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

    def _tangent(self, sweep):
        """R{p} = p ⊙ (R{x} - (pᵀ R{x}) spread along the line), p = softmax(x) by its name."""
        t = sweep(self.arg)
        if t is None:
            return None
        p = sweep.value(self)
        return hadamard(p, add(t, neg(self._spread(self._per_line(p, t)))))


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

    def _tangent(self, sweep):
        """R{x} - (softmax(x)ᵀ R{x}) spread along the line."""
        t = sweep(self.arg)
        if t is None:
            return None
        return add(t, neg(self._spread(self._per_line(Softmax(self.arg, self.axis), t))))


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

    def _tangent(self, sweep):
        """softmax(x)ᵀ R{x}, line by line."""
        t = sweep(self.arg)
        if t is None:
            return None
        return self._per_line(Softmax(self.arg, self.axis), t)


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

    def _tangent(self, sweep):
        t = sweep(self.arg)
        return None if t is None else AsScalar(t)


class SumAll(NamedCall, _ScalarOfMatrix):
    """The sum of all entries of a matrix."""

    call_text, call_latex, call_numpy = "sum", "\\operatorname{sum}", "np.sum"

    def explicit(self, arg):
        return sp.Add(*arg)

    def _tangent(self, sweep):
        t = sweep(self.arg)
        return None if t is None else sum_all(t)


class Norm(_ScalarOfMatrix):
    """The Euclidean norm of a vector, the Frobenius norm of a matrix."""

    def explicit(self, arg):
        return sp.sqrt(sp.Add(*[e**2 for e in arg]))

    def _tangent(self, sweep):
        """<x, R{x}> / ‖x‖, the norm by its name."""
        t = sweep(self.arg)
        return None if t is None else mul(sweep.value(self) ** -1, inner(self.arg, t))


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


# --- abstract functions and their partials -------------------------------------------------

def _str(name):
    """A name as a SymPy argument; SymPy rebuilds objects from their args, so accept both."""
    return name if isinstance(name, Str) else Str(name)


def _flatten(values):
    out = []
    for v in values:
        out.extend(v) if is_matrix(v) else out.append(v)
    return out


class Apply(_ScalarOfMatrix):
    """An abstract scalar function of matrices and scalars, ``ell(o, y)``."""

    def __new__(cls, name, *args):
        return super().__new__(cls, _str(name), *args)

    name = property(lambda self: self.args[0].name)
    call_args = property(lambda self: self.args[1:])
    operands = call_args

    def explicit(self, *args):
        return sp.Function(self.name)(*_flatten(args))

    def _tangent(self, sweep):
        """ell(o, y): its named partials, as inner products with the arguments' tangents."""
        out = sweep.out
        of = out.name if out is not None and sweep.value(self) is out else self.name
        terms = []
        for slot, arg in enumerate(self.call_args):
            t = sweep(arg)
            if t is None:
                continue
            partial = Partial(self.name, of, slot, *self.call_args)
            terms.append(inner(partial, t) if is_matrix(arg) else mul(AsScalar(partial), t))
        return tangent_sum(*terms)


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

    def _tangent(self, sweep):
        """The second partials, each applied to the tangent of the argument that moves."""
        terms = []
        for along, arg in enumerate(self.call_args):
            t = sweep(arg)
            if t is not None:
                terms.append(SecondPartial(self.name, self.of, self.slot, along, t,
                                           *self.call_args))
        return tangent_sum(*terms)


def partial_function(name, slot):
    """The undefined function standing for the derivative of `name` in flat argument `slot`.

    :func:`symbackprop.verify` rewrites SymPy's ``Subs(Derivative(...))`` into
    these, so that both sides of a comparison spell unknown derivatives alike.
    """
    return sp.Function(f"{name}__d{slot}")


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
