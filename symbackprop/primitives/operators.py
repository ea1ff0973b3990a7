"""The operator registry: every operator's shape rule, forward form and local rules.

An operator is one :class:`Operator` entry: how it is written, its shape rule,
its forward builder (a SymPy expression of its operands) and one local rule per
operand.  A local rule is a vector-Jacobian product in matrix form: given the
adjoint of the operator's output (``site.adj``), it returns that operand's
share of the adjoint, e.g. for ``z = W @ x``::

    dJ/dW += (dJ/dz) x^T        dJ/dx += W^T (dJ/dz)

Elementwise functions take their scalar derivative from :func:`sympy.diff` of
their scalar body (``tanh`` gives ``1 - tanh^2``, an abstract ``phi`` gives
``phi'``), so the rule is written once for all of them.  The built-in ones are
the rows of :mod:`symbackprop.primitives.functions`, each registered here by
:func:`register_function`.

Assumptions: operands already passed their shape rule (the model checker calls
it first), so builders and rules trust the shapes they are given.
"""

from __future__ import annotations

import sympy as sp

from . import blocks, convolution
from . import expressions as ex
from . import functions
from . import linear_algebra
from . import matrix_functions as mf
from . import members
from . import piecewise, reductions
from .entries import Operator, Site
from .entries import entry as _op, keep as _keep, nonscalar as _nonscalar
from .entries import to_scalar as _to_scalar
from .shapes import SCALAR, ShapeError, matrix, vector

__all__ = ["Operator", "Site", "REGISTRY", "BINARY", "FUNCTIONS", "elementwise_operator",
           "abstract_operator", "index_sum_operator", "register", "register_function",
           "bindable"]


# --- shape rules -------------------------------------------------------------------

def _same_or_broadcast(verb):
    def rule(a, b, param=None):
        if a == b:
            return a
        if a.is_scalar:
            return b
        if b.is_scalar:
            return a
        for m, v in ((a, b), (b, a)):  # a vector(k) or a row vector(k).T: to every row
            length = {"vector": v.rows, "row": v.cols}.get(v.kind)
            if m.kind == "matrix" and length is not None and length == m.cols:
                return m
        hint = ""
        for m, v in ((a, b), (b, a)):
            if m.kind == "matrix" and v.kind == "vector" and v.rows == m.rows:
                hint = f"; to add a vector({v.rows}) to every column, write shift_rows(X, c)"
        raise ShapeError(f"{a} {verb} {b}: the shapes must be equal, one a scalar, or a "
                         f"vector(k) or a row vector(k).T {verb} a matrix(n, k) (added to "
                         f"every row){hint}")
    return rule


def _mul_shape(a, b, param=None):
    if a.is_scalar:
        return b
    if b.is_scalar or a == b:
        return a
    raise ShapeError(f"{a} * {b}: '*' multiplies by a scalar or entry by entry (equal shapes); "
                     "for the matrix product write '@'")


def _div_shape(a, b, param=None):
    if b.is_scalar:
        return a
    if a.is_scalar or a == b:
        return b
    raise ShapeError(f"{a} / {b}: '/' divides by a scalar or entry by entry (equal shapes)")


def _matmul_shape(a, b, param=None):
    if a.is_scalar or b.is_scalar:
        raise ShapeError(f"{a} @ {b}: '@' is the matrix product; multiply by a scalar with '*'")
    if a.cols != b.rows:
        hint = ""
        if a.kind == "vector":
            hint = f" (a vector({a.rows}) is a column, {a.rows} x 1; .T makes it a row)"
        elif b.kind == "row":
            hint = f" (a transposed vector is a row, 1 x {b.cols})"
        raise ShapeError(f"{a} @ {b}: the inner sizes {a.cols} and {b.rows} differ{hint}")
    if b.kind == "vector":
        return SCALAR if a.kind == "row" else vector(a.rows)
    if a.kind == "row":
        return vector(b.cols).T
    return matrix(a.rows, b.cols)


def _transposed(a, param=None):
    return a.T


def _norm_shape(a, param=None):
    _nonscalar("norm")(a)
    return SCALAR


def _trace_shape(a, param=None):
    if a.kind != "matrix" or a.rows != a.cols:
        raise ShapeError(f"trace takes a square matrix, not {a}")
    return SCALAR


def _logsumexp_shape(a, param=None):
    _nonscalar("logsumexp")(a)
    return vector(a.rows) if a.kind == "matrix" else SCALAR


def _pair(what, allow_scalar=True):
    def rule(a, b, param=None):
        if a != b:
            raise ShapeError(f"{what}({a}, {b}): both arguments must have the same shape")
        if a.is_scalar and not allow_scalar:
            raise ShapeError(f"{what} takes vectors or matrices, not scalars")
        return SCALAR
    return rule


# --- builders and rules ------------------------------------------------------------

def _add_forward(sign):
    def forward(s):
        a, b = s.args
        b = b if sign > 0 else ex.neg(b)
        return ex.add(_broadcast(a, s.shapes[0], s.shape), _broadcast(b, s.shapes[1], s.shape))
    return forward


def _broadcast(value, shape, to):
    """`value` spread to shape `to`: a scalar times 1, a vector or a row as 1 v^T."""
    if shape == to:
        return value
    if shape.is_scalar:
        return ex.mul(value, ex.ones(to.rows, to.cols))
    row = value if shape.kind == "row" else ex.transpose(value)
    return ex.mul(ex.ones(to.rows, 1), row)


def _unbroadcast(adj, shape, to):
    """The adjoint share of an operand of shape `shape` broadcast to `to`."""
    if shape == to:
        return adj
    if shape.is_scalar:
        return mf.sum_all(adj)
    if shape.kind == "row":  # the sums of the columns, a row: 𝟏ᵀ (∂J/∂Y)
        return ex.mul(ex.ones(1, to.rows), adj)
    return ex.mul(ex.transpose(adj), ex.ones(to.rows, 1))


def _add_rule(i, sign):
    return lambda s: _unbroadcast(s.adj if sign > 0 else ex.neg(s.adj), s.shapes[i], s.shape)


def _mul_forward(s):
    a, b = s.args
    if s.shapes[0].is_scalar or s.shapes[1].is_scalar:
        return ex.mul(a, b)
    return ex.hadamard(a, b)


def _mul_rule(i):
    def rule(s):
        mine, other = s.shapes[i], s.args[1 - i]
        if mine.is_scalar and not s.shape.is_scalar:
            return mf.inner(s.adj, other)
        return ex.hadamard(s.adj, other)
    return rule


def _div_forward(s):
    a, b = s.args
    if s.shapes[1].is_scalar:
        return ex.mul(a, b**-1)
    if s.shapes[0].is_scalar:
        return ex.mul(a, ex.hpow(b, -1))
    return ex.hadamard(a, ex.hpow(b, -1))


def _div_rule_numerator(s):
    a_shape, b_shape = s.shapes
    b = s.args[1]
    if b_shape.is_scalar:
        return ex.mul(s.adj, b**-1)
    if a_shape.is_scalar:
        return mf.inner(s.adj, ex.hpow(b, -1))
    return ex.hadamard(s.adj, ex.hpow(b, -1))


def _div_rule_denominator(s):
    a_shape, b_shape = s.shapes
    a, b = s.args
    if b_shape.is_scalar:
        share = mf.inner(s.adj, a) if not a_shape.is_scalar else ex.mul(s.adj, a)
        return ex.mul(-1, share, b**-2)
    return ex.neg(ex.hadamard(ex.hadamard(s.adj, a), ex.hpow(b, -2)))


def _matmul_forward(s):
    product = ex.mul(*s.args)
    return mf.AsScalar(product) if s.shape.is_scalar else product


def _pow_rule(s):
    (a,), k = s.args, s.param
    return ex.hadamard(s.adj, ex.mul(k, ex.hpow(a, k - 1)))


def _sum_rule(s):
    return s.adj if s.shapes[0].is_scalar else ex.mul(s.adj, ex.ones(s.shapes[0].rows,
                                                                      s.shapes[0].cols))


def _mean_forward(s):
    return ex.mul(mf.sum_all(s.args[0]), 1 / s.shapes[0].size)


def _mean_rule(s):
    return ex.mul(1 / s.shapes[0].size, _sum_rule(s))


def _norm_rule(s):
    return ex.mul(s.adj, s.out**-1, s.args[0])


def _trace_rule(s):
    return ex.mul(s.adj, sp.Identity(s.shapes[0].rows))


def _softmax_rule(s):
    a_shape = s.shapes[0]
    axis = a_shape.last_axis
    p, d = s.out, s.adj
    if a_shape.kind == "vector":
        per_line = ex.mul(ex.transpose(p), d)
    else:
        per_line = mf.lines_sum(ex.hadamard(p, d), axis, a_shape)
    return ex.hadamard(p, ex.add(d, ex.neg(mf.spread(per_line, axis, a_shape))))


def _log_softmax_rule(s):
    a_shape = s.shapes[0]
    axis = a_shape.last_axis
    per_line = mf.lines_sum(s.adj, axis, a_shape)
    return ex.add(s.adj, ex.neg(ex.hadamard(mf.Softmax(s.args[0], axis),
                                            mf.spread(per_line, axis, a_shape))))


def _logsumexp_forward(s):
    a_shape = s.shapes[0]
    if isinstance(s.args[0], sp.ZeroMatrix):  # log(k) of k zeros, not logsumexp of a 0 of no size
        length = s.args[0].shape[a_shape.last_axis]
        return sp.log(length) if s.shape.is_scalar else ex.mul(sp.log(length),
                                                               ex.ones(*s.args[0].shape[:1], 1))
    value = mf.LogSumExp(s.args[0], a_shape.last_axis)
    return mf.AsScalar(value) if s.shape.is_scalar else value


def _logsumexp_rule(s):
    a_shape = s.shapes[0]
    probabilities = mf.Softmax(s.args[0], a_shape.last_axis)
    if s.shape.is_scalar:
        return ex.mul(s.adj, probabilities)
    return ex.hadamard(mf.spread(s.adj, 1, a_shape), probabilities)


def _difference(s):
    return ex.add(s.args[0], ex.neg(s.args[1]))


def _squared_error_forward(s):
    if s.shapes[0].is_scalar:
        return _difference(s) ** 2 / 2
    return ex.mul(sp.Rational(1, 2), mf.Norm(_difference(s)) ** 2)


def _mse_forward(s):
    return ex.mul(1 / s.shapes[0].size, mf.sum_all(ex.hpow(_difference(s), 2)))


def _rows_averaged(shape):
    """cross_entropy averages over the rows of a matrix, sums along a vector."""
    return 1 / shape.rows if shape.kind == "matrix" else sp.Integer(1)


def _cross_entropy_forward(s):
    o, y = s.args
    shape = s.shapes[0]
    return ex.mul(-_rows_averaged(shape), mf.inner(y, mf.LogSoftmax(o, shape.last_axis)))


def _cross_entropy_rule_logits(s):
    o, y = s.args
    shape = s.shapes[0]
    axis = shape.last_axis
    if s.domains[1:] and s.domains[1] in ("onehot", "simplex"):  # each line of y sums to 1
        return ex.mul(s.adj, _rows_averaged(shape), ex.add(mf.Softmax(o, axis), ex.neg(y)))
    # Exact for any y: the familiar softmax(o) - y holds when each line of y sums to 1.
    mass = mf.sum_all(y) if shape.kind != "matrix" else mf.spread(mf.lines_sum(y, axis, shape),
                                                                 axis, shape)
    weighted = ex.hadamard(mf.Softmax(o, axis), mass)
    return ex.mul(s.adj, _rows_averaged(shape), ex.add(weighted, ex.neg(y)))


def _cross_entropy_rule_targets(s):
    o, _ = s.args
    shape = s.shapes[0]
    return ex.mul(-1, s.adj, _rows_averaged(shape), mf.LogSoftmax(o, shape.last_axis))


def elementwise_operator(name, body, doc="", label_text=None, label_latex=None):
    """An operator applying the scalar function ``body`` (in :data:`ENTRY`) entrywise.

    Its local rule multiplies entry by entry by the derivative that
    :func:`sympy.diff` gives for the body.  Where that derivative is a function
    of the output alone (tanh' = 1 - tanh^2, sigmoid' = sigmoid (1 - sigmoid),
    exp' = exp), it is written with the output, as in hand-written backprop:
    for ``h = tanh(z)``, ``dJ/dz = dJ/dh * (1 - h^2)``, which reuses ``h``
    instead of computing ``tanh(z)`` again.

    Examples
    --------
    >>> op = elementwise_operator("tanh", sp.tanh(ex.ENTRY))
    >>> z, h = sp.MatrixSymbol("z", 3, 1), sp.MatrixSymbol("h", 3, 1)
    >>> d = sp.MatrixSymbol("D", 3, 1)
    >>> rule = op.rules[0](Site((z,), (vector(3),), vector(3), out=h, adj=d))
    >>> rule.args[1].function.expr, rule.args[1].arg
    (1 - ξ**2, h)
    """
    derivative = sp.diff(body, ex.ENTRY)
    of_output = ex.derivative_of_output(body, derivative)

    def forward(s):
        (a,) = s.args
        return body.subs(ex.ENTRY, a) if s.shape.is_scalar else ex.entrywise(body, a)

    def rule(s):
        (a,) = s.args
        local, at = (derivative, a) if of_output is None else (of_output, s.out)
        if s.shape.is_scalar:
            return s.adj * local.subs(ex.ENTRY, at)
        return ex.hadamard(s.adj, ex.entrywise(local, at))

    return Operator(name, f"{name}(x)", 1, _keep, forward, (rule,), elementwise=True,
                    doc=doc, body=body, label_text=label_text, label_latex=label_latex)


def abstract_operator(name, arity):
    """An abstract scalar function of `arity` arguments, such as a loss ``ell(o, y)``.

    Its local rules are named partial derivatives: for ``L = ell(o, y)``, the
    share of ``o`` is ``(dJ/dL) dL/do``.
    """
    def forward(s):
        return mf.Apply(name, *s.args)

    def rule_for(i):
        def rule(s):
            of = s.out.name if isinstance(s.out, (sp.Symbol, sp.MatrixSymbol)) else name
            partial = mf.Partial(name, of, i, *s.args)
            return ex.mul(s.adj, mf.AsScalar(partial) if s.shapes[i].is_scalar else partial)
        return rule

    return Operator(name, f"{name}({', '.join('x' * arity)})", arity, _to_scalar, forward,
                    tuple(rule_for(i) for i in range(arity)),
                    doc="an abstract scalar function of its arguments")


def index_sum_operator(var, lo, hi, mean=False):
    """``sum(x for var in lo..hi)`` (or ``mean``): the operator adding a body's values over an
    index.  Its one operand is the body at a general `var`; each term's adjoint is the sum's
    (divided by the count for a mean)."""
    count = hi - lo + 1
    scale = 1 / count if mean else sp.Integer(1)
    name = "mean" if mean else "sum"
    return Operator(f"index_{name}", f"{name}(x for {var} in {lo}..{hi})", 1, _keep,
                    lambda s: ex.mul(scale, members.index_sum(s.args[0], var, lo, hi)),
                    (lambda s: ex.mul(scale, s.adj),), doc=f"the {name} over an index",
                    label_text="Σ", label_latex="\\Sigma")


_OPERATORS = [
    _op("add", "a + b", 2, _same_or_broadcast("+"), _add_forward(+1),
        _add_rule(0, +1), _add_rule(1, +1),
        doc="sum; a scalar is added to every entry, a vector(k) or a row vector(k).T to every "
            "row of a matrix(n, k)",
        label=("+", "+")),
    _op("sub", "a - b", 2, _same_or_broadcast("-"), _add_forward(-1),
        _add_rule(0, +1), _add_rule(1, -1), doc="difference, broadcast as for +",
        label=("−", "-")),
    _op("neg", "-a", 1, _keep, lambda s: ex.neg(s.args[0]), lambda s: ex.neg(s.adj),
        doc="negation", label=("−", "-")),
    _op("mul", "a * b", 2, _mul_shape, _mul_forward, _mul_rule(0), _mul_rule(1),
        doc="a scalar times anything, or the entrywise (Hadamard) product of equal shapes",
        label=("×", "\\times")),  # figures draw · or ⊙, as its operands say
    _op("div", "a / b", 2, _div_shape, _div_forward, _div_rule_numerator, _div_rule_denominator,
        doc="division by a scalar, or entry by entry", label=("÷", "\\div")),
    _op("matmul", "A @ B", 2, _matmul_shape, _matmul_forward,
        lambda s: ex.mul(s.adj, ex.transpose(s.args[1])),
        lambda s: ex.mul(ex.transpose(s.args[0]), s.adj),
        doc="matrix product; v.T @ w is a scalar, matrix(n, d) @ vector(d) a vector(n)",
        label=("×", "\\times")),
    _op("pow", "a ^ k", 1, _keep, lambda s: ex.hpow(s.args[0], s.param), _pow_rule,
        doc="power by a constant k, entry by entry", label=("(·)^k", "(\\cdot)^k")),
    _op("square", "square(x)", 1, _keep, lambda s: ex.hpow(s.args[0], 2),
        lambda s: _pow_rule(Site(s.args, s.shapes, s.shape, 2, s.out, s.adj)),
        elementwise=True, doc="x ^ 2 entrywise", label=("(·)²", "(\\cdot)^2")),
    _op("transpose", "A.T", 1, _transposed, lambda s: ex.transpose(s.args[0]),
        lambda s: ex.transpose(s.adj), doc="transpose; a vector's is a row vector",
        label=("ᵀ", "\\top")),
    _op("copy", "a", 1, _keep, lambda s: s.args[0], lambda s: s.adj,
        doc="another name for the same value", label=("=", "=")),
    _op("sum", "sum(x)", 1, _to_scalar, lambda s: mf.sum_all(s.args[0]), _sum_rule,
        doc="sum of all entries", label=("Σ", "\\Sigma")),
    _op("mean", "mean(x)", 1, _to_scalar, _mean_forward, _mean_rule,
        doc="mean of all entries", label=("mean", "\\mathrm{mean}")),
    _op("norm", "norm(x)", 1, _norm_shape, lambda s: mf.Norm(s.args[0]), _norm_rule,
        doc="Euclidean norm of a vector, Frobenius norm of a matrix",
        label=("‖·‖", "\\|\\cdot\\|")),
    _op("trace", "trace(A)", 1, _trace_shape, lambda s: sp.Trace(s.args[0]), _trace_rule,
        doc="trace of a square matrix", label=("tr", "\\mathrm{tr}")),
    _op("softmax", "softmax(x)", 1, _nonscalar("softmax"),
        lambda s: mf.Softmax(s.args[0], s.shapes[0].last_axis), _softmax_rule,
        doc="softmax along a vector, or along each row of a matrix"),
    _op("log_softmax", "log_softmax(x)", 1, _nonscalar("log_softmax"),
        lambda s: mf.LogSoftmax(s.args[0], s.shapes[0].last_axis), _log_softmax_rule,
        doc="log of softmax, computed stably",
        label=("log softmax", "\\log\\operatorname{softmax}")),
    _op("logsumexp", "logsumexp(x)", 1, _logsumexp_shape, _logsumexp_forward, _logsumexp_rule,
        doc="log(sum(exp(x))) of a vector (a scalar) or of each row of a matrix (a vector)"),
    _op("squared_error", "squared_error(o, y)", 2, _pair("squared_error"),
        _squared_error_forward,
        lambda s: ex.mul(s.adj, _difference(s)), lambda s: ex.mul(-1, s.adj, _difference(s)),
        doc="1/2 ||o - y||^2"),
    _op("mse", "mse(o, y)", 2, _pair("mse"), _mse_forward,
        lambda s: ex.mul(s.adj, 2 / s.shapes[0].size, _difference(s)),
        lambda s: ex.mul(-1, s.adj, 2 / s.shapes[0].size, _difference(s)),
        doc="mean((o - y)^2)"),
    _op("cross_entropy", "cross_entropy(o, y)", 2, _pair("cross_entropy", allow_scalar=False),
        _cross_entropy_forward, _cross_entropy_rule_logits, _cross_entropy_rule_targets,
        doc="-sum(y * log_softmax(o)), averaged over the rows of a matrix"),
]

#: Every built-in operator, by name.
REGISTRY = {}

#: Operators a model calls by name, like functions.
FUNCTIONS = []

#: The binary operators of the language, by symbol.
BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "^": "pow"}


def register(op):
    """Add `op` to :data:`REGISTRY` (and to :data:`FUNCTIONS` if it is written as a call)."""
    if op.name in REGISTRY:
        raise ValueError(f"the operator {op.name} is already registered")
    REGISTRY[op.name] = op
    if op.written.startswith(op.name + "("):
        FUNCTIONS.append(op.name)
    return op


def register_function(row):
    """Add a scalar function: its row to the table, and its entrywise operator here.

    This is how every built-in scalar function becomes an operator (each row of
    :mod:`symbackprop.primitives.functions`, when this module is imported); a row
    registered later is a built-in like the others.

    Parameters
    ----------
    row : symbackprop.primitives.functions.ScalarFunction

    Returns
    -------
    Operator

    Examples
    --------
    >>> REGISTRY["tanh"].body, REGISTRY["sigmoid"].label_text
    (tanh(ξ), 'σ')
    """
    if row.name in REGISTRY:
        raise ValueError(f"the operator {row.name} is already registered")
    functions.add(row)
    return register(_entrywise(row))


def bindable():
    """The built-ins an abstract function may be bound to, each list sorted by name.

    Returns
    -------
    elementwise : list of str
        For a ``func phi``: the elementwise operators.
    losses : list of str
        For a ``func ell(a, b)``: the operators taking two operands of one shape
        to a scalar.
    """
    n = vector(sp.Symbol("n"))

    def loss(op):
        try:
            return not op.elementwise and op.arity == 2 and \
                op.shape_rule(n, n, param=None).is_scalar
        except ShapeError:
            return False
    return (sorted(name for name, op in REGISTRY.items() if op.elementwise),
            sorted(name for name in FUNCTIONS if loss(REGISTRY[name])))


def _entrywise(row):
    return elementwise_operator(row.name, row.body, row.doc, label_text=row.text,
                                label_latex=row.latex)


for _op_entry in (_OPERATORS + reductions.OPERATORS + piecewise.OPERATORS
                  + linear_algebra.OPERATORS + blocks.OPERATORS
                  + convolution.OPERATORS):
    register(_op_entry)
for _row in functions.called():  # already in the table: only their operators are new
    register(_entrywise(_row))
