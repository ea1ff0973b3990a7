"""Expressions printed as NumPy, costing what hand-written NumPy would.

:class:`NumPyPrinter` prints the derivation's expressions in the column layout
of the generated code (a vector an n x 1 column, a scalar a float).  What a
lecturer writes with all-ones matrices and 1 x 1 products, it prints as a
hand-writer would:

* a broadcast instead of a product with ones: ``X W + 𝟏 bᵀ`` is ``X @ W + b.T``,
  ``c 𝟏`` added to a vector is ``c``, ``(A ⊙ G) 𝟏 𝟏ᵀ`` inside a sum is the sums of
  the rows, ``np.sum(A * G, axis=1, keepdims=True)``, and ``Gᵀ 𝟏`` is
  ``np.sum(G.T, axis=1, keepdims=True)``.  Each printed form knows which axes it
  has at full length (:meth:`NumPyPrinter.axes`); sums and entrywise products
  broadcast, and where an array of the whole shape is needed (a statement's
  value, a matrix product's factor, a function's operand) a form missing an
  axis is widened with ``np.full``;
* a product of three or more matrices bracketed in the order that costs least
  (:func:`~symbackprop.printing.matrix_chains.chain_order`), or by NumPy at call
  time (``np.linalg.multi_dot``) when that depends on the sizes;
* the entry of a 1 x 1 product ``uᵀ A v`` as ``np.vdot(u, A @ v)``, and
  ``‖x‖²`` of a named array as ``np.vdot(x, x)``.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import HadamardPower, OneMatrix
from sympy.printing.printer import Printer

from ..primitives import expressions as ex
from ..primitives.functions import TABLE
from ..primitives.matrix_functions import Norm
from .blocks import BlockNumPy
from .windows import WindowNumPy
from .matrix_chains import chain_order, trace_split

__all__ = ["NumPyPrinter"]

# Python's binding strengths, weakest first: a term of a sum, a factor of a
# product, a negation, a power's base, an atom (a name, a call, x.T, x[0, 0]).
_SUM, _PRODUCT, _NEGATION, _POWER, _ATOM = range(5)


class NumPyPrinter(BlockNumPy, WindowNumPy, Printer):
    """Print the derivation's expressions as NumPy, in the column layout.

    Parentheses appear only where Python's precedence needs them (and around a
    scalar times a matrix product, which keeps the scaling on the smaller side).

    Parameters
    ----------
    names : dict of str to str
        SymPy symbol names (variables, adjoints, dims) to Python identifiers.

    Examples
    --------
    >>> A, B = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 2)
    >>> NumPyPrinter({A: "A", B: "B"}).doprint(ex.mul(A.T, ex.add(A, -B)))
    'A.T @ (A - B)'
    """

    printmethod = "_symbackprop_numpy"

    def __init__(self, names):
        super().__init__()
        self.names = dict(names)
        self._axes = {}

    def doprint(self, expr):
        """`expr` as Python: a matrix as an array of its whole shape."""
        return self._whole(expr)[0]

    def axes(self, expr):
        """Whether the printed form of `expr` has its rows, and its cols, at full length.

        A form without an axis broadcasts along it (every row, or every column, the
        same): ``b.T`` for 𝟏 bᵀ has no rows, ``c`` for c 𝟏 neither axis.  A scalar has none.
        """
        if not ex.is_matrix(expr):
            return (False, False)
        known = self._axes.get(expr)
        if known is None:
            known = self._axes[expr] = self._own_axes(expr)
        return known

    def _own_axes(self, expr):
        if isinstance(expr, OneMatrix):
            return (False, False)
        if isinstance(expr, sp.MatMul):
            return self._product_axes(ex._split(expr)[1])
        if isinstance(expr, (sp.MatAdd, sp.HadamardProduct)):
            each = [self.axes(a) for a in expr.args]
            return (any(r for r, _ in each), any(c for _, c in each))
        if isinstance(expr, sp.Transpose):
            return self.axes(expr.arg)[::-1]
        if isinstance(expr, ex.Map):
            return self.axes(expr.arg)
        if isinstance(expr, HadamardPower):
            return self.axes(expr.base)
        return (True, True)

    def _product_axes(self, mats):
        if len(mats) == 1:
            return self.axes(mats[0])
        at = _first_ones(mats)
        if at is None:
            return (True, True)
        one = mats[at]
        return (bool(mats[:at]) or one.rows == 1, bool(mats[at + 1:]) or one.cols == 1)

    def _whole(self, expr):
        """`expr` printed as an array of its own shape: a broadcast form widened."""
        printed = self._print(expr)
        rows, cols = self.axes(expr)
        if not ex.is_matrix(expr) or (rows and cols):
            return printed
        shape = f"({self._dims(*expr.shape)})"
        text, strength = printed
        if rows or cols:
            return (f"np.full({shape}, {text})", _ATOM)
        if text == "1":
            return (f"np.ones({shape})", _ATOM)
        factor = text if strength >= _NEGATION else f"({text})"
        return (f"{factor} * np.ones({shape})", _PRODUCT)

    def _factor(self, expr):
        """`expr` whole, as a factor of a matrix product."""
        text, own = self._whole(expr)
        return text if own >= _NEGATION else f"({text})"

    def _print(self, expr, **kwargs):
        printed = super()._print(expr, **kwargs)
        # a bare string comes from an atom's printer: a name, a number, a call
        return printed if isinstance(printed, tuple) else (printed, _ATOM)

    def _operand(self, expr, strength):
        """`expr` printed for a slot binding at least as tightly as `strength`."""
        text, own = self._print(expr)
        return text if own >= strength else f"({text})"

    def emptyPrinter(self, expr):
        raise TypeError(f"no NumPy form for {type(expr).__name__}: {expr}")

    def _print_Symbol(self, expr):
        return self.names[expr]  # a name, or a stand-in's (text, strength)

    _print_MatrixSymbol = _print_Symbol

    def _number(self, text):
        return (text, _NEGATION) if text.startswith("-") else text

    def _print_Integer(self, expr):
        return self._number(str(int(expr)) if abs(expr) < 2**53 else repr(float(expr)))

    def _print_NumberSymbol(self, expr):  # e, pi
        return repr(float(expr))

    def _print_Rational(self, expr):
        return self._number(repr(float(expr)))

    _print_Float = _print_Rational
    _print_Half = _print_Rational

    def _print_NegativeOne(self, expr):
        return ("-1", _NEGATION)

    def _print_One(self, expr):
        return "1"

    def _print_Zero(self, expr):
        return "0"

    def _terms(self, terms):
        """A sum, subtracting negated terms: a - b rather than a + (-1 * b), one temporary less."""
        terms = sorted(terms, key=lambda t: _negated(t) is not None)
        out = self._operand(terms[0], _SUM)
        for term in terms[1:]:
            negated = _negated(term)
            if negated is not None:
                out += f" - {self._operand(negated, _PRODUCT)}"
            else:
                out += f" + {self._operand(term, _PRODUCT)}"
        return (out, _SUM)

    def _print_Add(self, expr):
        terms, stepped = _unit_step_pairs(expr.args)
        for u, above, below in stepped:
            # c 𝟙[u > 0] + d 𝟙[u ≤ 0] (leaky_relu' and elu'): one comparison, not two
            # np.heaviside, ten times a comparison's cost each
            stand_in = sp.Symbol(f"\0where{len(self.names)}")
            self.names[stand_in] = (f"np.where({self._print(u)[0]} > 0, {self._print(above)[0]}, "
                                    f"{self._print(below)[0]})", _ATOM)
            terms.append(stand_in)
        return self._terms(terms) if len(terms) > 1 else self._print(terms[0])

    _print_MatAdd = _print_Add

    def _factors(self, factors, operator):
        # a product as the first factor of another kind of product is bracketed
        # too: (a * b) @ c is what Python does with a * b @ c, but reads ambiguously
        return (f" {operator} ".join(self._operand(f, _NEGATION) for f in factors), _PRODUCT)

    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        if coeff == -1:
            return self._negation(rest)
        return self._factors(expr.args, "*")

    def _negation(self, expr):
        text = self._operand(expr, _NEGATION)
        return (f"-({text})" if text.startswith("-") else f"-{text}", _NEGATION)

    def _power(self, base, exponent):
        if exponent == -1:
            return (f"1.0 / {self._operand(base, _NEGATION)}", _PRODUCT)
        if exponent == sp.Rational(1, 2):
            return f"np.sqrt({self.doprint(base)})"
        if exponent == sp.Rational(-1, 2):
            return (f"1.0 / np.sqrt({self.doprint(base)})", _PRODUCT)
        return (f"{self._operand(base, _ATOM)} ** {self._operand(exponent, _NEGATION)}", _POWER)

    def _print_Pow(self, expr):
        if isinstance(expr.base, Norm) and expr.exp == 2:
            text, own = self._whole(expr.base.arg)
            if own == _ATOM and text.isidentifier():  # ‖x‖² of a named x: its dot with itself
                return f"np.vdot({text}, {text})"
        return self._power(expr.base, expr.exp)

    def _print_HadamardPower(self, expr):
        return self._power(expr.base, expr.exp)

    def _print_log(self, expr):
        (arg,) = expr.args
        if isinstance(arg, ex.sigmoid):
            # log(sigmoid(u)) = -softplus(-u): finite for any u
            return (f"-np.logaddexp(0.0, {self.doprint(-arg.args[0])})", _NEGATION)
        return self._print_Function(expr)

    def _print_Function(self, expr):
        # the call each scalar function's row of the table spells, tanh(x) as np.tanh(x)
        name = type(expr).__name__
        if name not in TABLE or len(expr.args) != TABLE[name].arity:
            raise TypeError(f"no NumPy form for the function {name}")
        args = [self.doprint(a) for a in expr.args]  # {1}, {2}: the arguments after the first
        return TABLE[name].numpy.format(*args, x=args[0])

    def _print_ExtremeLines(self, expr):
        column = ".T" if expr.axis == 0 else ""  # one per column, as a column
        return f"np.{expr.kind}({self.doprint(expr.arg)}, axis={expr.axis}, keepdims=True){column}"

    def _print_ArgExtreme(self, expr):
        # where each extreme is, a tie splitting the adjoint evenly (as torch.amax)
        x, extreme = (self.doprint(o) for o in expr.operands)
        extreme += ".T" if expr.axis == 0 else ""
        axis = "" if expr.axis < 0 else f", axis={expr.axis}, keepdims=True"
        return (f"({x} == {extreme}) / np.sum({x} == {extreme}{axis})", _PRODUCT)

    def _print_Extremum(self, expr):
        row = TABLE[expr.function.__name__]
        args = [self.doprint(a) for a in expr.operands]
        return row.numpy.format(*args, x=args[0])

    def _print_Heaviside(self, expr):
        return f"np.heaviside({self.doprint(expr.args[0])}, {self.doprint(expr.args[1])})"

    def _print_MatMul(self, expr):
        coeff, mats = ex._split(expr)
        if coeff == -1:
            return self._negation(ex.mul(*mats))
        text, own = self._product(mats)
        if coeff == 1:
            return (text, own)
        if text == "1":  # c 𝟏: the scalar, broadcast
            return self._print(coeff)
        # c * (A @ B): scale the product, not the (possibly larger) first factor
        scaled = text if own >= _NEGATION else f"({text})"
        return (f"{self._operand(coeff, _PRODUCT)} * {scaled}", _PRODUCT)

    def _product(self, mats):
        """The product of `mats`: a matrix chain, or sums of lines where a factor is ones."""
        if len(mats) == 1:  # scaled (c ≠ ±1): a scaled step is a float array too
            return self._step(mats[0]) if _is_step(mats[0]) else self._print(mats[0])
        at = _first_ones(mats)
        if at is None:
            return self._chain(mats)
        # A 𝟏 𝟏ᵀ B: (A 𝟏) (𝟏ᵀ B), the sums of A's rows times the sums of B's columns;
        # a side with no factor is left out, to broadcast
        left, one, right = mats[:at], mats[at], mats[at + 1:]
        sides = []
        if left:
            sides.append(self._chain(left + [OneMatrix(one.rows, 1)] if one.rows != 1 else left))
        if right:
            sides.append(self._chain([OneMatrix(1, one.cols)] + right if one.cols != 1
                                     else right))
        if len(sides) == 1:
            return sides[0]
        return self._factors_printed(sides, "*")

    def _factors_printed(self, printed, operator):
        return (f" {operator} ".join(t if own >= _NEGATION else f"({t})" for t, own in printed),
                _PRODUCT)

    def _chain(self, mats):
        """A product of matrices, bracketed in the order its sizes make cheapest."""
        if len(mats) == 1:
            return self._whole(mats[0])
        if len(mats) == 2:
            return self._bracketed((0, 1), mats)
        tree = chain_order([m.shape for m in mats])
        if tree is None and mats[-1].cols == 1:  # ending in a vector: matrix-vector products
            tree = _right_to_left(len(mats))
        elif tree is None and mats[0].rows == 1:
            tree = _left_to_right(len(mats))
        if tree is None:  # the sizes at call time decide the order
            if any(isinstance(m, OneMatrix) for m in mats):
                return self._bracketed(_left_to_right(len(mats)), mats)
            factors = ", ".join(self._whole(m)[0] for m in mats)
            return (f"np.linalg.multi_dot([{factors}])", _ATOM)
        return self._bracketed(tree, mats)

    def _bracketed(self, tree, mats):
        """The product of `mats` as `tree` brackets it; X 𝟏 and 𝟏ᵀ X as sums of lines."""
        if isinstance(tree, int):
            return self._whole(mats[tree])
        a, b = tree
        if isinstance(b, int) and isinstance(mats[b], OneMatrix):  # X 𝟏: the sums of X's rows
            return (f"np.sum({self._bracketed(a, mats)[0]}, axis=1, keepdims=True)", _ATOM)
        if isinstance(a, int) and isinstance(mats[a], OneMatrix):  # 𝟏ᵀ X: of its columns
            return (f"np.sum({self._bracketed(b, mats)[0]}, axis=0, keepdims=True)", _ATOM)
        left = self._bracketed(a, mats)[0] if not isinstance(a, int) else self._factor(mats[a])
        right = self._factor(mats[b]) if isinstance(b, int) else \
            f"({self._bracketed(b, mats)[0]})"
        if mats[_last(a)].cols == 1:
            # a column times a row, u vᵀ: einsum writes each entry once, a fifth to two fifths
            # faster than broadcasting u * vᵀ from 256 x 256 on (NumPy steps the broadcast
            # row by row), and several times faster than a matrix product of inner size 1
            u, v = (self._bracketed(side, mats)[0] for side in (a, b))
            return (f'np.einsum("ik,kj->ij", {u}, {v})', _ATOM)
        return (f"{left} @ {right}", _PRODUCT)

    def _print_Transpose(self, expr):
        return f"{self._operand(expr.arg, _ATOM)}.T"

    def _print_HadamardProduct(self, expr):
        routed = self._masked_upsample(expr)  # max pooling's adjoint: one helper call
        if routed is not None:
            return routed
        printed = [self._step(a) if _is_step(a) else self._print(a) for a in expr.args]
        return self._factors_printed(printed, "*")

    def _step(self, expr):
        # G ⊙ 𝟙[Z > 0] as G * (Z > 0): a comparison costs a tenth of np.heaviside, and the
        # boolean factor becomes 0.0 or 1.0 in the product (a NaN in Z has made J NaN already)
        return (f"({self._print(expr.arg)[0]} > 0)", _ATOM)

    def _dims(self, *sizes):
        return ", ".join(self.doprint(s) for s in sizes)

    def _print_OneMatrix(self, expr):
        return "1"  # broadcast; widened by _whole where the whole shape is needed

    def _print_ZeroMatrix(self, expr):
        return f"np.zeros(({self._dims(*expr.shape)}))"

    def _print_Identity(self, expr):
        return f"np.eye({self.doprint(expr.rows)})"

    def _print_Trace(self, expr):
        coeff, mats = ex._split(expr.arg)
        if len(mats) < 2 or _first_ones(mats) is not None:
            return f"np.trace({self.doprint(expr.arg)})"
        # tr(L R) = the sum of L ⊙ Rᵀ = that of Lᵀ ⊙ R: np.vdot of the two, L R never formed;
        # a transposed side a product of the transposes (a fresh array), and the pair with
        # fewer lone transposed factors, each a copy for np.vdot, which flattens
        cut = trace_split([m.shape for m in mats])
        pairs = [(mats[:cut], _transposed(mats[cut:])), (_transposed(mats[:cut]), mats[cut:])]
        sides = min(pairs, key=_lone_transposes)
        return self._scaled(coeff, f"np.vdot({self._chain(sides[0])[0]}, "
                                   f"{self._chain(sides[1])[0]})")

    def _print_AsScalar(self, expr):
        coeff, mats = ex._split(expr.arg)
        if len(mats) < 2 or _first_ones(mats) is not None:
            return f"{self._operand(expr.arg, _ATOM)}[0, 0]"
        # uᵀ A v: a row times a column, np.vdot of the two, not a 1 x 1 matrix product
        tree = chain_order([m.shape for m in mats]) or _left_to_right(len(mats))
        row, column = (self._dotted(side, mats) for side in tree)
        return self._scaled(coeff, f"np.vdot({row}, {column})")

    def _scaled(self, coeff, dot):
        """`coeff` times the dot product `dot`, with its precedence."""
        if coeff == 1:
            return dot
        if coeff == -1:
            return (f"-{dot}", _NEGATION)
        return (f"{self._operand(coeff, _PRODUCT)} * {dot}", _PRODUCT)

    def _dotted(self, tree, mats):
        """One side of a dot product: a vector's transpose as the vector (np.vdot flattens)."""
        if isinstance(tree, int) and isinstance(mats[tree], sp.Transpose) and \
                self.axes(mats[tree].arg) == (True, True):
            return self._whole(mats[tree].arg)[0]
        return self._bracketed(tree, mats)[0]

    def _print_NamedCall(self, expr):
        options = "".join(f", {option}" for option in expr.numpy_options)
        return f"{expr.call_numpy}({self.doprint(expr.arg)}{options})"

    def _print_SumAll(self, expr):
        arg = expr.arg
        if isinstance(arg, HadamardPower) and arg.exp == 2:
            text, own = self._whole(arg.base)
            if own == _ATOM and text.isidentifier():  # sum(e ⊙ e) of a named e
                return f"np.vdot({text}, {text})"
        if isinstance(arg, sp.HadamardProduct):  # sum(a ⊙ b): no temporary for a ⊙ b
            first, *rest = arg.args
            second = rest[0] if len(rest) == 1 else sp.HadamardProduct(*rest)
            return f"np.vdot({self.doprint(first)}, {self.doprint(second)})"
        return self._print_NamedCall(expr)

    def _print_Norm(self, expr):
        return f"np.linalg.norm({self.doprint(expr.arg)})"

    def _print_Map(self, expr):
        stand_in = sp.Symbol(f"\0entry{len(self.names)}", real=True)
        arg, sign = expr.arg, 1
        coeff, factors = ex._split(arg)
        if coeff == -1:  # f(-a): the body at -stand_in, so that -(-a) prints as a
            arg, sign = ex.mul(*factors), -1
        # the operand's text and binding strength, parenthesized where the body puts it
        self.names[stand_in] = self._print(arg)
        return self._print(_called_once(expr.body_at(sign * stand_in)))

    def _print_Apply(self, expr):
        raise TypeError(f"the abstract function {expr.name} has no NumPy form; bind it")

    _print_Partial = _print_Apply


def _called_once(body):
    """`body` with a function that two of its terms call collected, so that it is called
    once: 2 φ(z) - z² φ(z) as φ(z) (2 - z²)."""
    if not body.is_Add:
        return body
    calls = [f for f in body.atoms(sp.Function)
             if sum(1 for t in body.args if t.has(f)) > 1]
    return sp.collect(body, calls) if calls else body


def _transposed(mats):
    """The factors of the transpose of the product of `mats`."""
    return [m.T for m in reversed(mats)]


def _lone_transposes(sides):
    """How many of `sides` (lists of factors) are one transposed factor."""
    return sum(len(side) == 1 and isinstance(side[0], sp.Transpose) for side in sides)


def _unit_step_pairs(terms):
    """The terms of a sum but for its pairs c 𝟙[u > 0] + d 𝟙[u ≤ 0] (SymPy's Heaviside(u, 0)
    and Heaviside(-u, 1)), and those pairs as (u, c, d)."""
    steps = {}
    for term in terms:
        factors = sp.Mul.make_args(term)
        found = [f for f in factors if isinstance(f, sp.Heaviside)]
        if len(found) == 1 and len(found[0].args) == 2 and found[0].args[1] in (0, 1) and \
                not any(f.has(sp.Heaviside) for f in factors if f is not found[0]):
            u, at_zero = found[0].args
            key = (u, 0) if at_zero == 0 else (-u, 1)
            if key not in steps:
                steps[key] = (term, sp.Mul(*[f for f in factors if f is not found[0]]))
    pairs = [(u, steps[u, 0], steps[u, 1]) for u, side in steps if side == 0 and (u, 1) in steps]
    paired = {t for _, (above, _c), (below, _d) in pairs for t in (above, below)}
    return ([t for t in terms if t not in paired],
            [(u, c, d) for u, (_a, c), (_b, d) in pairs])


def _is_step(expr):
    """Whether `expr` is the unit step 𝟙[x > 0] of a matrix (relu's derivative)."""
    return isinstance(expr, ex.Map) and expr.function.expr == sp.Heaviside(ex.ENTRY, 0)


def _last(tree):
    """The index of the last factor of a bracketing."""
    while not isinstance(tree, int):
        tree = tree[1]
    return tree


def _first_ones(mats):
    """The position of the first all-ones factor of a product, or None."""
    return next((i for i, m in enumerate(mats) if isinstance(m, OneMatrix)), None)


def _left_to_right(count):
    tree = 0
    for i in range(1, count):
        tree = (tree, i)
    return tree


def _right_to_left(count):
    tree = count - 1
    for i in range(count - 2, -1, -1):
        tree = (i, tree)
    return tree


def _negated(term):
    """`t` if `term` is -t, else None."""
    coeff, rest = (ex._split(term) if ex.is_matrix(term) else term.as_coeff_Mul())
    if coeff.could_extract_minus_sign():  # -2, and -s too
        rest = ex.mul(*rest) if isinstance(rest, list) else rest
        return ex.mul(-coeff, rest)
    return None


