"""Random well-typed models, written as .sbp text, and what every one must satisfy.

The strategy :func:`models` writes a random model in the language itself (never
Python objects): a few dims, declared params, inputs and consts of random types,
then assignments forming a random DAG.  Each assignment applies a random operator
to earlier values (fan-out allowed: a value may be read by many later
assignments, and twice in one expression), sometimes nested inside a second
operator, and is type-correct by construction: the strategy tracks every value's
shape and only picks an operator whose shape rule accepts its operands.  It covers
every built-in: + - * / @ ^ (exponents 1, 2, 3, -1, -2), unary -, .T (of scalars,
vectors, matrices), the entrywise functions (sin, cos, sinh, cosh, abs, elu, gelu and
leaky_relu with a literal slope too), max and min of two values and of all entries,
sum mean norm trace, softmax
log_softmax logsumexp (vectors, row vectors, matrix rows), the row-wise sum_rows
mean_rows center_rows scale_rows shift_rows max_rows min_rows, the column-wise sum_cols
mean_cols center_cols scale_cols max_cols min_cols, diag and diag_part, and the four losses
(huber with a literal threshold); inv of square inputs declared ``spd``, logdet of them,
and det and logdet of ``p.T @ p / s + eye(n)`` of a declared matrix p (eigenvalues in
[1, 2]); scalar, vector-to-rows and row-vector-to-rows broadcasting; literals (0
included); `as "..."` names.

It also tracks a bound on every value's magnitude and, where known, a positive
lower bound on its entries, so that ``log``, ``sqrt``, division and negative
powers only see entries bounded away from 0, ``exp`` never overflows, and no
value grows past :data:`MAX_BOUND`.  What is computed by inv, det or logdet is given
to rational operators only (:data:`RATIONAL`), which keep it cheap to prove.

The objective weighs the last values and every value no one reads, each with its
own random input (``sum(C1 * v3) + c2 * v5 + ...``), and adds anchors: ``sum(x)``
(or ``x``) for every declared param and input that is read, ``sum(C1 * C1)`` for
every weight.  The anchors keep every gradient of order one, and no generated
term can cancel them (the rest of a param's gradient is linear in the random
weights, a weight's gradient does not depend on the weight), so a gradient that
is zero or tiny in exact arithmetic (``softmax`` is blind to a scalar shift,
``(x + p) - x`` cancels) cannot turn rounding noise into a relative error of 1.
A declared value no one reads gets no anchor: its gradient is exactly zero.
The verify and determinism properties use models without anchors: exact
arithmetic needs no protection, and zero gradients are worth proving too.

Models with ``linalg`` (a property of their own, so that the others keep their examples)
also take inv, det and logdet, each proved every way.

Properties: every text parses; the gradients pass the finite-difference check,
the entry-by-entry SymPy proof and PyTorch autograd; deriving is deterministic;
every aligned LaTeX row closes the groups it opens, the LaTeX documents compile and
the Markdown renders in KaTeX, first and second order.
Each property replays its fixed set of examples, ``examples(n)`` of them; with
``SYMBACKPROP_FUZZ=1`` it explores ten times as many new ones (tests/profiles.py).
"""

import functools
import math
import tempfile
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.proofs.check import random_arrays
from symbackprop import derive_hvp
from profiles import examples
from reference import relative_error, torch_value_and_grad
from typeset import (assert_katex_renders, compile_together, formulas, katex, pdflatex,
                     unbalanced_rows)

# --- shapes: (kind, rows, cols), sizes are dim names or "1" ---------------------------

UNIT = "1"
MAX_SIZE = 4          # the largest size a dim gets in these tests
MAX_BOUND = 500.0     # no value may exceed this bound on its entries
DIM_NAMES = ("m", "n", "k")


def scalar():
    return ("scalar", UNIT, UNIT)


def vector(d):
    return ("vector", d, UNIT)


def matrix(r, c):
    return ("matrix", r, c)


def transposed(shape):
    kind = {"vector": "row", "row": "vector"}.get(shape[0], shape[0])
    return (kind, shape[2], shape[1])


def is_scalar(shape):
    return shape[0] == "scalar"


def entries(shape):
    """An upper bound on the number of entries."""
    return (1 if shape[1] == UNIT else MAX_SIZE) * (1 if shape[2] == UNIT else MAX_SIZE)


def declared_type(shape):
    """The type to declare for a value of this shape (a row is a transposed vector)."""
    kind, rows, cols = shape
    if kind == "scalar":
        return "scalar"
    if kind == "vector":
        return f"vector({rows})"
    if kind == "row":
        return f"vector({cols})"
    return f"matrix({rows}, {cols})"


# --- terms: a piece of model text with what the strategy knows about its value -------

# precedence of a term's outermost construct, loosest first, as the parser has them
SUM, PRODUCT, NEGATION, POWER, ATOM = range(5)


@dataclass(frozen=True)
class Term:
    """Model text, its shape, and what is known of its value.

    `key` names the value itself (variables replaced by their definitions), so that
    two assignments with the same right-hand side are known to be equal.
    `nonzero`: the value cannot be exactly zero by construction (``norm`` needs it;
    ``relu(x)``, ``log_softmax`` of one entry, a difference can be).
    """

    text: str
    shape: tuple
    bound: float            # |every entry| <= bound
    low: object = None      # every entry >= low (a float >= 0), None: sign unknown
    prec: int = ATOM
    names: frozenset = frozenset()  # the variables it reads
    key: object = None
    nonzero: bool = True
    spd: bool = False       # a declared input of the domain spd
    # computed by inv, det or logdet: only rational operators follow (RATIONAL)
    only_rational: bool = False

    @property
    def positive(self):
        return self.low is not None and self.low > 0

    def named(self, name):
        """The variable `name` assigned this value."""
        return Term(name, self.shape, self.bound, self.low, ATOM, frozenset({name}),
                    self.key, self.nonzero, only_rational=self.only_rational)


def declared_term(name, shape, bound=4.0, low=None, spd=False):
    return Term(name, shape, bound, low, ATOM, frozenset({name}), name, True, spd)


def at(term, prec):
    """The term's text, parenthesized unless it binds at least as tightly as `prec`."""
    return term.text if term.prec >= prec else f"({term.text})"


#: The operators that keep a value a polynomial in its entries: the only ones applied to
#: a value computed by inv, det or logdet, which verify proves quickly so, and not tanh
#: or exp of it, or a quotient by a determinant (tens of seconds each).
RATIONAL = {"neg", "T", "+", "-", "*", "@", "^1", "^2", "^3", "square",
            "sum", "mean", "trace", "sum_rows", "mean_rows", "center_rows", "sum_cols",
            "mean_cols", "center_cols", "scale_rows", "scale_cols", "shift_rows", "diag",
            "diag_part", "squared_error", "mse"}


def made(op, text, shape, bound, low, prec, operands, nonzero=False, only_rational=False):
    if not (math.isfinite(bound) and bound <= MAX_BOUND):
        return None
    only_rational = only_rational or any(o.only_rational for o in operands)
    if only_rational and op not in RATIONAL | {"inv", "det", "logdet"}:
        return None
    names = frozenset().union(*(o.names for o in operands))
    key = (op,) + tuple(o.key for o in operands)
    return Term(text, shape, float(bound), low, prec, names, key, nonzero,
                only_rational=only_rational)


def nonneg(low):
    return low is not None


@functools.lru_cache(maxsize=None)
def sources(key):
    """The declared variables a value is computed from (through any assignments)."""
    if isinstance(key, str):
        return frozenset() if key[0].isdigit() else frozenset({key})
    return frozenset().union(*(sources(k) for k in key[1:]))


# --- unary operators: term -> term or None (not applicable) ------------------------

def _call(f, t, bound, low, shape=None, nonzero=False):
    return made(f, f"{f}({t.text})", t.shape if shape is None else shape, bound, low, ATOM,
                (t,), nonzero)


def u_neg(t):
    return made("neg", f"-{at(t, NEGATION)}", t.shape, t.bound, None, NEGATION, (t,),
                t.nonzero)


def u_transpose(t):
    return made("T", f"{at(t, ATOM)}.T", transposed(t.shape), t.bound, t.low, ATOM, (t,),
                t.nonzero)


def u_relu(t):
    return _call("relu", t, t.bound, 0.0)


def u_sigmoid(t):
    return _call("sigmoid", t, 1.0, 1 / (1 + math.exp(min(t.bound, 700))), nonzero=True)


def u_tanh(t):
    return _call("tanh", t, 1.0, 0.0 if nonneg(t.low) else None, nonzero=t.nonzero)


def u_exp(t):
    if t.bound > 4:
        return None
    return _call("exp", t, math.exp(t.bound), math.exp(-t.bound), nonzero=True)


def u_log(t):
    if not nonneg(t.low) or t.low < 0.05:
        return None
    return _call("log", t, max(-math.log(t.low), math.log(t.bound)),
                 math.log(t.low) if t.low > 1 else None)


def u_softplus(t):
    return _call("softplus", t, t.bound + 1, math.log1p(math.exp(-min(t.bound, 700))),
                 nonzero=True)


def u_sqrt(t):
    if not nonneg(t.low) or t.low < 0.05:
        return None
    return _call("sqrt", t, math.sqrt(t.bound), math.sqrt(t.low), nonzero=True)


def u_sin(t):
    return _call("sin", t, 1.0, None)


def u_cos(t):
    return _call("cos", t, 1.0, None)


def u_sinh(t):
    if t.bound > 4:
        return None
    return _call("sinh", t, math.sinh(t.bound), math.sinh(t.low) if nonneg(t.low) else None,
                 nonzero=t.nonzero)


def u_cosh(t):
    if t.bound > 4:
        return None
    return _call("cosh", t, math.cosh(t.bound), 1.0, nonzero=True)


def u_abs(t):
    return _call("abs", t, t.bound, t.low if nonneg(t.low) else 0.0, nonzero=t.nonzero)


def u_square(t):
    return _call("square", t, t.bound**2, (t.low or 0.0) ** 2, nonzero=t.nonzero)


def u_pow(k):
    def rule(t):
        text = f"{at(t, ATOM)}^{k}"
        if k > 0:
            low = ((t.low or 0.0) ** k if (k % 2 == 0 or nonneg(t.low)) else None)
            return made(f"^{k}", text, t.shape, t.bound**k, low, POWER, (t,), t.nonzero)
        if not nonneg(t.low) or t.low < 0.25:
            return None
        return made(f"^{k}", text, t.shape, t.low**k, t.bound**k, POWER, (t,), True)
    rule.__name__ = f"u_pow{k}"
    return rule


def u_sum(t):
    return _call("sum", t, t.bound * entries(t.shape), t.low, scalar(), t.nonzero)


def u_mean(t):
    return _call("mean", t, t.bound, t.low, scalar(), t.nonzero)


def u_norm(t):
    # norm is not differentiable at 0: only of values that cannot be exactly 0
    if is_scalar(t.shape) or not (t.nonzero or t.positive):
        return None
    return _call("norm", t, t.bound * math.sqrt(entries(t.shape)), 0.0, scalar(), True)


def u_trace(t):
    kind, rows, cols = t.shape
    if kind != "matrix" or rows != cols:
        return None
    return _call("trace", t, t.bound * MAX_SIZE, t.low, scalar(), t.nonzero)


def u_softmax(t):
    if is_scalar(t.shape):
        return None
    return _call("softmax", t, 1.0, math.exp(-2 * t.bound) / MAX_SIZE, nonzero=True)


def u_log_softmax(t):
    # not nonzero: the log_softmax of a single entry is 0
    if is_scalar(t.shape):
        return None
    return _call("log_softmax", t, 2 * t.bound + math.log(MAX_SIZE), None)


def u_logsumexp(t):
    kind, rows, _ = t.shape
    if kind == "scalar":
        return None
    shape = vector(rows) if kind == "matrix" else scalar()
    return _call("logsumexp", t, t.bound + math.log(MAX_SIZE), None, shape, t.nonzero)


def _rows(t):
    return t.shape[0] == "matrix"


def u_sum_rows(t):
    if not _rows(t):
        return None
    return _call("sum_rows", t, t.bound * MAX_SIZE, t.low, vector(t.shape[1]))


def u_mean_rows(t):
    if not _rows(t):
        return None
    return _call("mean_rows", t, t.bound, t.low, vector(t.shape[1]))


def u_center_rows(t):
    # not nonzero: a matrix(n, 1) centered is 0
    if not _rows(t):
        return None
    return _call("center_rows", t, 2 * t.bound, None)


def u_sum_cols(t):
    if not _rows(t):
        return None
    return _call("sum_cols", t, t.bound * MAX_SIZE, t.low, vector(t.shape[2]))


def u_mean_cols(t):
    if not _rows(t):
        return None
    return _call("mean_cols", t, t.bound, t.low, vector(t.shape[2]))


def u_center_cols(t):
    # not nonzero: a matrix(1, k) centered is 0
    if not _rows(t):
        return None
    return _call("center_cols", t, 2 * t.bound, None)


def u_leaky_relu(t):
    return made("leaky_relu", f"leaky_relu({t.text}, 0.1)", t.shape, t.bound, t.low, ATOM, (t,),
                t.nonzero)


def u_elu(t):
    return _call("elu", t, max(t.bound, 1.0), t.low if nonneg(t.low) else None,
                 nonzero=t.nonzero)


def u_gelu(t):
    return _call("gelu", t, t.bound, 0.0 if nonneg(t.low) else None, nonzero=t.nonzero)


def u_extreme(kind):
    """max(A) and min(A) of a vector or a matrix: one of its entries."""
    def u(t):
        if is_scalar(t.shape):
            return None
        return _call(kind, t, t.bound, t.low, scalar(), t.nonzero)
    u.__name__ = f"u_{kind}"
    return u


def u_lines(name):
    """max_rows(X), min_cols(X), ...: one entry of each line of a matrix."""
    def u(t):
        if not _rows(t):
            return None
        shape = vector(t.shape[1] if name.endswith("rows") else t.shape[2])
        return _call(name, t, t.bound, t.low, shape, t.nonzero)
    u.__name__ = f"u_{name}"
    return u


def u_diag(t):
    if t.shape[0] != "vector" or t.shape[1] == UNIT:
        return None
    return _call("diag", t, t.bound, None, matrix(t.shape[1], t.shape[1]))


def u_diag_part(t):
    kind, rows, cols = t.shape
    if kind != "matrix" or rows != cols:
        return None
    return _call("diag_part", t, t.bound, t.low, vector(rows), t.nonzero)


def _gram(t):
    """``t.T @ t / s + eye(n)`` of a declared matrix `t` with n columns (a dim), not spd
    (an spd one is taken as it is): its
    eigenvalues in [1, 2] (s bounds those of tᵀ t), so that det and logdet are defined
    and bounded, and cheap to prove (polynomials of the entries); None for another term."""
    kind, _, cols = t.shape
    if kind != "matrix" or cols == UNIT or t.key != t.text or t.spd:
        return None
    scale = max(1, math.ceil(entries(t.shape) * t.bound ** 2))
    return f"{t.text}.T @ {t.text} / {scale} + eye({cols})"


def u_inv(t):
    # of an spd input only (eigenvalues at least 1, so entries of the inverse at most 1):
    # the inverse of a sum of products of params is slow to prove entry by entry
    if not t.spd:
        return None
    return made("inv", f"inv({t.text})", t.shape, 1.0, None, ATOM, (t,), True, True)


def u_det(t):
    gram = _gram(t)
    if gram is None:
        return None
    return made("det", f"det({gram})", scalar(), 2.0 ** MAX_SIZE, 1.0, ATOM, (t,), True, True)


def u_logdet(t):
    if t.spd:  # eigenvalues from the size n (at least 1) to MAX_SIZE times the largest entry
        bound = MAX_SIZE * math.log(MAX_SIZE * t.bound)
        return made("logdet", f"logdet({t.text})", scalar(), bound, 0.0, ATOM, (t,),
                    only_rational=True)
    gram = _gram(t)
    if gram is None:
        return None
    return made("logdet", f"logdet({gram})", scalar(), MAX_SIZE * math.log(2.0), 0.0, ATOM,
                (t,), only_rational=True)


UNARY = [u_neg, u_transpose, u_relu, u_sigmoid, u_tanh, u_exp, u_log, u_softplus, u_sqrt,
         u_sin, u_cos, u_sinh, u_cosh, u_abs, u_square, u_pow(1), u_pow(2), u_pow(3),
         u_pow(-1), u_pow(-2), u_sum, u_mean, u_norm, u_trace, u_softmax, u_log_softmax,
         u_logsumexp, u_sum_rows, u_mean_rows, u_center_rows, u_sum_cols, u_mean_cols,
         u_center_cols, u_leaky_relu, u_elu, u_gelu, u_extreme("max"), u_extreme("min"),
         *[u_lines(f"{k}_{lines}") for k in ("max", "min") for lines in ("rows", "cols")],
         u_diag, u_diag_part]
#: Drawn by models(linalg=True) only, besides the rest: the draws of the other properties
#: stay the examples they are.
LINALG = [u_inv, u_det, u_logdet]


# --- binary operators: (term, term) -> term or None --------------------------------

def broadcast_shape(a, b):
    """The shape rule of + and -: equal, a scalar, or a vector(k) or a row vector(k).T with
    a matrix(n, k)."""
    if a == b or is_scalar(b):
        return a
    if is_scalar(a):
        return b
    for m, v in ((a, b), (b, a)):
        if m[0] == "matrix" and ((v[0] == "vector" and v[1] == m[2])
                                 or (v[0] == "row" and v[2] == m[2])):
            return m
    return None


def _infix(a, op, b, shape, bound, low, prec, nonzero=False):
    # the left operand may bind as loosely as the operator, the right must bind tighter;
    # a right operand of '*', '/', '@' may be a negation (`a * -b` parses)
    right = NEGATION if prec == PRODUCT else prec + 1
    return made(op, f"{at(a, prec)} {op} {at(b, right)}", shape, bound, low, prec, (a, b),
                nonzero)


def b_add(a, b):
    shape = broadcast_shape(a.shape, b.shape)
    if shape is None:
        return None
    low = a.low + b.low if nonneg(a.low) and nonneg(b.low) else None
    # p + (-p) is 0, and so is v + w when w was defined as -v
    independent = not (sources(a.key) & sources(b.key))
    return _infix(a, "+", b, shape, a.bound + b.bound, low, SUM,
                  a.nonzero and b.nonzero and independent)


def b_sub(a, b):
    shape = broadcast_shape(a.shape, b.shape)
    if shape is None:
        return None
    return _infix(a, "-", b, shape, a.bound + b.bound, None, SUM)


def b_mul(a, b):
    if is_scalar(a.shape):
        shape = b.shape
    elif is_scalar(b.shape) or a.shape == b.shape:
        shape = a.shape
    else:
        return None
    low = a.low * b.low if nonneg(a.low) and nonneg(b.low) else None
    return _infix(a, "*", b, shape, a.bound * b.bound, low, PRODUCT, a.nonzero and b.nonzero)


def b_div(a, b):
    if not nonneg(b.low) or b.low < 0.2:
        return None
    if is_scalar(b.shape):
        shape = a.shape
    elif is_scalar(a.shape) or a.shape == b.shape:
        shape = b.shape
    else:
        return None
    low = a.low / b.bound if nonneg(a.low) else None
    return _infix(a, "/", b, shape, a.bound / b.low, low, PRODUCT, a.nonzero)


def b_matmul(a, b):
    (ka, ra, ca), (kb, rb, cb) = a.shape, b.shape
    if ka == "scalar" or kb == "scalar" or ca != rb:
        return None
    if kb == "vector":
        shape = scalar() if ka == "row" else vector(ra)
    elif ka == "row":
        shape = transposed(vector(cb))
    else:
        shape = matrix(ra, cb)
    inner = 1 if ca == UNIT else MAX_SIZE
    low = a.low * b.low if nonneg(a.low) and nonneg(b.low) else None
    return _infix(a, "@", b, shape, a.bound * b.bound * inner, low, PRODUCT,
                  a.nonzero and b.nonzero)


def _loss(name, a, b, bound, low=0.0):
    return made(name, f"{name}({a.text}, {b.text})", scalar(), bound, low, ATOM, (a, b))


def b_squared_error(a, b):
    if a.shape != b.shape:
        return None
    return _loss("squared_error", a, b, entries(a.shape) * (a.bound + b.bound) ** 2 / 2)


def b_mse(a, b):
    if a.shape != b.shape:
        return None
    return _loss("mse", a, b, (a.bound + b.bound) ** 2)


def b_cross_entropy(a, b):
    if a.shape != b.shape or is_scalar(a.shape):
        return None
    bound = entries(a.shape) * b.bound * (2 * a.bound + math.log(MAX_SIZE))
    return _loss("cross_entropy", a, b, bound, None)


def b_scale_rows(a, b):
    if a.shape[0] != "matrix" or b.shape != vector(a.shape[1]):
        return None
    low = a.low * b.low if nonneg(a.low) and nonneg(b.low) else None
    return made("scale_rows", f"scale_rows({a.text}, {b.text})", a.shape, a.bound * b.bound,
                low, ATOM, (a, b), a.nonzero and b.nonzero)


def b_scale_cols(a, b):
    if a.shape[0] != "matrix" or b.shape != vector(a.shape[2]):
        return None
    low = a.low * b.low if nonneg(a.low) and nonneg(b.low) else None
    return made("scale_cols", f"scale_cols({a.text}, {b.text})", a.shape, a.bound * b.bound,
                low, ATOM, (a, b), a.nonzero and b.nonzero)


def b_shift_rows(a, b):
    if a.shape[0] != "matrix" or b.shape != vector(a.shape[1]):
        return None
    low = a.low + b.low if nonneg(a.low) and nonneg(b.low) else None
    return made("shift_rows", f"shift_rows({a.text}, {b.text})", a.shape, a.bound + b.bound,
                low, ATOM, (a, b))


BINARY = [b_add, b_sub, b_mul, b_div, b_matmul, b_squared_error, b_mse, b_cross_entropy,
          b_scale_rows, b_scale_cols, b_shift_rows]
def b_extremum(kind):
    """max(a, b), min(a, b): equal shapes, or a scalar with anything."""
    def b(x, y):
        if x.shape != y.shape and not (is_scalar(x.shape) or is_scalar(y.shape)):
            return None
        shape = y.shape if is_scalar(x.shape) else x.shape
        lows = [t.low for t in (x, y) if nonneg(t.low)]
        low = (max(lows) if lows else None) if kind == "max" else (
            min(lows) if len(lows) == 2 else None)
        return made(kind, f"{kind}({x.text}, {y.text})", shape, max(x.bound, y.bound), low,
                    ATOM, (x, y), x.nonzero and y.nonzero)
    b.__name__ = f"b_{kind}"
    return b


def b_huber(a, b):
    # the threshold: a positive constant, of literals and consts (k1, ...) only
    if is_scalar(a.shape) or not is_scalar(b.shape) or not b.positive \
            or any(not n.startswith("k") for n in b.names):
        return None
    return _loss("huber", a, b, entries(a.shape) * a.bound ** 2 / 2)


BINARY = [b_add, b_sub, b_mul, b_div, b_matmul, b_squared_error, b_mse, b_cross_entropy,
          b_scale_rows, b_extremum("max"), b_extremum("min"), b_huber]

# Scalar literals, operands of the binary operators ("2 * v", "v + 1", "3 / (...)");
# "0" makes adjoints that are exactly zero (`0 * p`), as do `p - p` and `v - (p + v)`.
LITERALS = [Term(text, scalar(), float(text), float(text), ATOM, frozenset(), text,
                 text != "0")
            for text in ("1", "2", "3", "0.5", "0")]


# --- positive operands: what log, sqrt, '/' and negative powers are given ------------

def positive(t):
    """Terms built from `t` whose entries are bounded away from 0."""
    one = LITERALS[0]

    def plus_one(inner, first=False):
        if inner is None:
            return None
        return b_add(one, inner) if first else b_add(inner, one)

    out = [plus_one(u_square(t)), u_exp(t), plus_one(u_softplus(t)),
           plus_one(u_sigmoid(t), first=True), plus_one(u_norm(t))]
    return [p for p in out if p is not None]


# --- the strategy -------------------------------------------------------------------

# How often each operator is drawn, relative to the others (among those applicable):
# reductions and losses end a value's life as a scalar, so they come less often.
WEIGHTS = {"b_add": 3, "b_sub": 3, "b_mul": 4, "b_div": 3, "b_matmul": 6, "u_transpose": 2,
           "u_relu": 2, "u_tanh": 2, "u_exp": 2, "u_log": 3, "u_sqrt": 2,
           # applicable to few values (spd inputs, declared matrices): drawn when they are
           "u_inv": 4, "u_det": 8, "u_logdet": 4}
# (1 for every other operator)


def applications(cands, must=None, unary=UNARY, binary=BINARY):
    """{operator: [results]} for every operator applicable to the candidates.

    An application reads at least one variable (not literals only); with `must`,
    it reads the term `must`.
    """
    options = {}
    for rule in unary:
        found = [r for a in cands if a.names and (must is None or a is must)
                 for r in [rule(a)] if r is not None]
        if found:
            options[rule.__name__] = found
    for rule in binary:
        found = [r for a in cands for b in cands
                 if (a.names or b.names) and (must is None or a is must or b is must)
                 for r in [rule(a, b)] if r is not None]
        if found:
            options[rule.__name__] = found
    return options


def draw_application(draw, cands, must=None, unary=UNARY, binary=BINARY):
    options = applications(cands, must, unary, binary)
    if not options:
        return None
    names = [n for n in sorted(options) for _ in range(WEIGHTS.get(n, 1))]
    found = options[draw(st.sampled_from(names))]
    # scalars fit everywhere and would crowd out the rest: prefer other results 3:1
    wide = [r for r in found if not is_scalar(r.shape)]
    if wide and len(wide) < len(found) and draw(st.integers(0, 3)) == 0:
        found = [r for r in found if is_scalar(r.shape)]
    elif wide:
        found = wide
    return draw(st.sampled_from(found))


def draw_expression(draw, pool, unary=UNARY):
    """One assignment's right-hand side: an operator on earlier values, maybe nested."""
    # at most one literal a time, so that they do not crowd out the variables
    literals = [draw(st.sampled_from(LITERALS))] if draw(st.integers(0, 2)) == 0 else []
    extras = []
    for _ in range(draw(st.integers(0, 2))):
        base = draw(st.sampled_from(pool))
        if draw(st.integers(0, 2)) == 0:
            extras += [draw(st.sampled_from(positive(base)))] if positive(base) else []
        else:
            inner = draw_application(draw, pool + literals, unary=unary)
            extras += [inner] if inner is not None else []
    term = draw_application(draw, pool + literals + extras, unary=unary)
    if draw(st.integers(0, 2)) == 0:  # wrap it in one more operator, a third of the time
        outer = draw_application(draw, pool + literals + [term], must=term, unary=unary)
        term = outer if outer is not None else term
    return term


def shapes(dims):
    d = st.sampled_from(dims)
    return st.one_of(st.just(scalar()), d.map(vector),
                     st.tuples(d, d).map(lambda rc: matrix(*rc)))


@st.composite
def models(draw, max_dims=3, max_declared=4, max_assignments=8, anchored=True, linalg=False):
    """The text of a random well-typed model.

    Without anchors (`anchored` false) a gradient may be zero or tiny, which only
    exact arithmetic (``verify``) can judge.  With `linalg`, the second declared value
    is an spd input, inv, det and logdet (:data:`LINALG`) are drawn with the rest, and
    the first assignment is one of them.
    """
    unary = UNARY + LINALG if linalg else UNARY
    dims = list(DIM_NAMES[:draw(st.integers(1, max_dims))])
    lines = [f"dim {', '.join(dims)}"]
    declared, pool = [], []
    for i in range(draw(st.integers(2 if linalg else 1, max_declared))):
        role = "param" if i == 0 else "input" if linalg and i == 1 else \
            draw(st.sampled_from(["param", "input", "input", "const"]))
        name = {"param": "p", "input": "x", "const": "k"}[role] + str(i)
        # an input may be an spd matrix, A Aᵀ + n I: its entries at most n (16 + 1)
        spd = linalg and role == "input" and (i == 1 or draw(st.integers(0, 3)) == 0)
        shape = draw(st.sampled_from(dims).map(lambda d: matrix(d, d))) if spd \
            else draw(shapes(dims))
        declared.append((name, role, shape))
        # standard normal values (|x| < 4 for all practical purposes); consts in [0.5, 1.5]
        pool.append(declared_term(name, shape, 1.5, 0.5) if role == "const"
                    else declared_term(name, shape, MAX_SIZE * 17.0, spd=True) if spd
                    else declared_term(name, shape))
        latex = f' as "{name[0]}_{{{name[1:]}}}"' if draw(st.integers(0, 3)) == 0 else ""
        domain = " spd" if spd else ""
        lines.append(f"{role} {name}: {declared_type(shape)}{domain}{latex}")
    assignments = []
    for i in range(1, draw(st.integers(2, max_assignments)) + 1):
        term = (draw_application(draw, pool, unary=LINALG, binary=[]) if linalg and i == 1
                else draw_expression(draw, pool, unary))
        name = f"v{i}"
        assignments.append((name, term))
        pool.append(term.named(name))

    # the objective: the last two values and every value no one reads, each weighed by
    # its own random input; then the anchors
    read = frozenset().union(*(t.names for _, t in assignments))
    weighed = [(n, t) for i, (n, t) in enumerate(assignments)
               if n not in read or i >= len(assignments) - 2]
    terms, weights, anchors = [], [], []
    for i, (name, term) in enumerate(weighed, start=1):
        kind = term.shape[0]
        weight = f"c{i}" if kind == "scalar" else f"C{i}"
        weights.append(f"input {weight}: {declared_type(term.shape)}")
        anchors.append(f"{weight} * {weight}" if kind == "scalar"
                       else f"sum({weight} * {weight})")
        form = draw(st.sampled_from(["sum", "inner", "trace"]))
        if kind == "scalar":
            terms.append(f"{weight} * {name}" if form == "sum" else f"{name} * {weight}")
        elif form == "inner" and kind == "vector":
            terms.append(f"{weight}.T @ {name}")
        elif form == "trace" and kind == "matrix":
            terms.append(f"trace({weight}.T @ {name})")
        else:
            terms.append(f"sum({weight}{'.T' if kind == 'row' else ''} * {name})")
    anchors += [name if is_scalar(shape) else f"sum({name})" for name, role, shape in declared
                if role != "const" and name in read]
    if anchored:
        terms += anchors
    lines[1 + len(declared):1 + len(declared)] = weights
    lines += [f"{name} = {term.text}" for name, term in assignments]
    lines += [f"J = {' + '.join(terms)}", "objective J"]
    return "\n".join(lines) + "\n"


# --- helpers --------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def derived(text):
    return sbp.derive(sbp.parse(text, filename="<random>"))


def sizes_for(text):
    """Sizes 1..4 for the dims a text declares."""
    dims = text.splitlines()[0].removeprefix("dim ").split(", ")
    return st.fixed_dictionaries({d: st.integers(1, MAX_SIZE) for d in dims})


def differentiable(model):
    return [n for n, v in model.variables.items() if v.role in ("param", "input")]


# --- properties -----------------------------------------------------------------------

@settings(max_examples=examples(200))
@given(text=models())
def test_every_generated_text_parses(text):
    note(text)
    model = sbp.parse(text, filename="<random>")
    assert model.objective == "J"


@settings(max_examples=examples(120))
@given(data=st.data(), text=models())
def test_gradients_agree_with_finite_differences(data, text):
    note(text)
    dims = data.draw(sizes_for(text), label="dims")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    report = sbp.check(derived(text), dims=dims, seed=seed)
    assert report.ok, str(report)


@settings(max_examples=examples(100))
@given(text=models(max_dims=2, max_declared=3, max_assignments=4, anchored=False))
def test_gradients_are_proved_entry_by_entry(text):
    note(text)
    d = derived(text)
    report = sbp.verify(d, dims={name: 2 for name in d.model.dims})
    assert report.ok, str(report)


@settings(max_examples=examples(120))
@given(data=st.data(), text=models())
def test_lambdified_gradients_agree_with_pytorch(data, text):
    pytest.importorskip("torch", reason="PyTorch is not installed")
    note(text)
    dims = data.draw(sizes_for(text), label="dims")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    d = derived(text)
    wrt = differentiable(d.model)
    _agrees_with_pytorch(d, random_arrays(d.model, dims, seed), wrt)


def _agrees_with_pytorch(d, arrays, wrt):
    """The lambdified J and gradients of `wrt`, shaped as their arrays, are PyTorch's."""
    J, grads = d.lambdify(wrt=wrt)(**arrays)
    J_torch, grads_torch = torch_value_and_grad(d.model, arrays, wrt)
    assert relative_error(J, J_torch) <= 1e-9, (J, J_torch)
    for name in wrt:
        assert np.shape(grads[name]) == np.shape(arrays[name]), name
        error = relative_error(grads[name], grads_torch[name])
        assert error <= 1e-9, f"{name}: relative error {error:.2e}"


@settings(max_examples=examples(100))
@given(text=models(anchored=False))
def test_deriving_is_deterministic(text):
    note(text)
    first = sbp.derive(sbp.parse(text))
    second = sbp.derive(sbp.parse(text))
    assert first.steps == second.steps
    assert first.text() == second.text()


@settings(max_examples=examples(60))
@given(text=models())
def test_printed_formulas_read_back(text):
    # what a lecturer copies is proved, not only the tree behind it: every formula of the
    # text, LaTeX and Markdown documents, substituted forms included, under every reading
    note(text)
    report = sbp.prove_printed(derived(text), notation=sbp.Notation(substituted=True))
    assert report.ok, str(report)
    assert report.total > 0


@settings(max_examples=examples(60))
@given(text=models())
def test_printed_adjoints_of_the_inputs_read_back(text):
    # the steps shown on request (--inputs) are proved as the default ones are
    note(text)
    report = sbp.prove_printed(derived(text), notation=sbp.Notation(inputs=True))
    assert report.ok, str(report)


@settings(max_examples=examples(30))
@given(text=models())
def test_printed_hessian_vector_products_read_back(text):
    note(text)
    report = sbp.prove_printed(derive_hvp(derived(text)))
    assert report.ok, str(report)


@settings(max_examples=examples(16))
@given(data=st.data(), text=models(max_dims=2, max_declared=3, max_assignments=4, linalg=True))
def test_inverses_and_determinants_are_proved_every_way(data, text):
    # models that take inv, det or logdet, proved as the properties above prove the rest:
    # finite differences, entry by entry (at sizes 2, which keep the inverses cheap),
    # PyTorch, and the printed formulas read back, first and second order
    note(text)
    d = derived(text)
    assert any(op in ("inv", "det", "logdet") for _, op in d.graph.nodes(data="op"))
    dims = data.draw(sizes_for(text), label="dims")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    report = sbp.check(d, dims=dims, seed=seed)
    assert report.ok, str(report)
    proof = sbp.verify(d, dims={name: 2 for name in d.model.dims})
    assert proof.ok, str(proof)
    wrt = differentiable(d.model)
    _agrees_with_pytorch(d, random_arrays(d.model, dims, seed), wrt)
    for derivation in (d, derive_hvp(d)):
        printed = sbp.prove_printed(derivation)
        assert printed.ok, str(printed)


def documents(texts, kind):
    """{title: document} of the random models, first and second order, in LaTeX or Markdown."""
    out = {}
    for i, text in enumerate(texts, start=1):
        note(text)
        d = derived(text)
        hvp = derive_hvp(d)
        first, second = (d.latex(), hvp.latex()) if kind == "tex" else (d.markdown(),
                                                                          hvp.markdown())
        out.update({f"model {i}": first, f"model {i}, H v": second})
        for title, document in out.items():
            assert unbalanced_rows(document) == [], title  # a line break inside a group
    return out


@settings(max_examples=examples(100))
@given(text=models())
def test_latex_rows_close_their_groups(text):
    # without TeX, and on many more models than are compiled: about one random model in
    # twenty has a long row whose only sums are inside \frac{}{}, \sqrt{} or \left\| \right\|
    documents([text], "tex")


# three models a document: pdflatex takes about 0.3 s a run, most of it starting up
@settings(max_examples=examples(4))
@given(texts=st.lists(models(), min_size=3, max_size=3))
def test_latex_documents_compile(texts):
    pdflatex()
    with tempfile.TemporaryDirectory() as directory:
        compile_together(directory, documents(texts, "tex"))


@settings(max_examples=examples(4))
@given(texts=st.lists(models(), min_size=3, max_size=3))
def test_markdown_documents_render_in_katex(texts):
    katex()
    found = {}
    for title, document in documents(texts, "md").items():
        found.update(formulas(document, "md", title))
    assert_katex_renders(found)
