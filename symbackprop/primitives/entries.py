"""What an operator entry is: one application of it (:class:`Site`) and the entry itself.

The registry (:mod:`symbackprop.primitives.operators`) holds the entries; the
modules of operator families (linear algebra, reductions, ...) build theirs with
:func:`entry` and the shape rules here, and the registry registers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .functions import operator_latex
from .shapes import SCALAR, Shape, ShapeError

__all__ = ["Site", "Operator", "entry", "keep", "to_scalar", "nonscalar", "takes_count"]


@dataclass(frozen=True)
class Site:
    """One application of an operator, as its builder and rules see it.

    Attributes
    ----------
    args : tuple of sympy.Expr
        The operands' expressions (variables' symbols, or inner expressions).
    shapes : tuple of Shape
        The operands' shapes.
    shape : Shape
        The output's shape.
    param : object
        The operator's constant parameter (the exponent of ``^``), else None.
    out : sympy.Expr
        The output: its variable's symbol, or its expression.  Rules only.
    adj : sympy.Expr
        The adjoint of the output, dJ/d(out).  Rules only.
    domains : tuple
        The declared domain of each operand that is data (an input or a const used as
        it is), else None: ``"onehot"`` targets of cross_entropy sum to 1 on each row.
    """

    args: tuple
    shapes: tuple
    shape: Shape
    param: object = None
    out: object = None
    adj: object = None
    domains: tuple = ()


@dataclass(frozen=True)
class Operator:
    """A registry entry.

    Attributes
    ----------
    name : str
        The registry key, also the name used in graphs (``"matmul"``, ``"tanh"``).
    written : str
        How the language writes it (``"A @ B"``, ``"tanh(x)"``).
    arity : int
        The number of operands; for an operator of `many`, the least number.
    shape_rule : callable
        ``(*shapes, param) -> Shape``; raises :class:`ShapeError`.
    forward : callable
        ``Site -> sympy.Expr``.
    rules : tuple of callable
        One per operand: ``Site -> sympy.Expr``, that operand's adjoint share.  For an
        operator of `many`, one function of the operand's position that makes its rule
        (:meth:`rule` asks for them).
    elementwise : bool
        Whether it applies a scalar function entry by entry.
    doc : str
        One line for the language reference.
    body : sympy.Expr or None
        An elementwise operator's scalar body, in :data:`~.expressions.ENTRY`.
    label_text, label_latex : str or None
        How figures label its circle, in text and in LaTeX (a word such as
        ``cross_entropy`` is ``\\operatorname{cross\\_entropy}``).  None for an
        abstract function: figures label it with the model's name for it.
    constants : tuple of int
        The operands that must be constants, consts and numbers (leaky_relu's
        slope): the model checker refuses others, and their rules are never asked.
    many : bool
        Whether it takes any number of operands from `arity` on, as ``vcat(a, b, c)``
        stacks three blocks: one entry, whatever the count, with one rule for each position.
    options : tuple of (str, int or None, int)
        Whole numbers written in the call after the operands, in this order or by name
        (``conv2d(X, K, stride=2, pad=1)``, ``maxpool2d(X, 2)``): each its name, its
        default (None: required) and its least value.  Their values, in this order, are
        the site's ``param``.
    """

    name: str
    written: str
    arity: int
    shape_rule: Callable
    forward: Callable
    rules: tuple
    elementwise: bool = False
    doc: str = ""
    body: object = field(default=None, compare=False)
    label_text: str = None
    label_latex: str = None
    constants: tuple = ()
    options: tuple = ()
    many: bool = False

    def rule(self, i):
        """The local rule of operand `i`: ``Site -> sympy.Expr``.

        Examples
        --------
        >>> op = entry("join", "join(a, b, ...)", 2, keep, lambda s: None,
        ...            lambda i: (lambda s: f"the share of operand {i}"), many=True)
        >>> op.rule(2)(None)
        'the share of operand 2'
        """
        return self.rules[0](i) if self.many else self.rules[i]


def takes_count(op, count):
    """Whether `op` takes `count` operands: exactly its arity, or at least it for `many`.

    Examples
    --------
    >>> op = entry("join", "join(a, b, ...)", 2, keep, lambda s: None, lambda i: None,
    ...            many=True)
    >>> takes_count(op, 3), takes_count(op, 1)
    (True, False)
    """
    return count >= op.arity if op.many else count == op.arity


def entry(name, written, arity, shape_rule, forward, *rules, doc="", label=None,
          elementwise=False, constants=(), options=(), many=False):
    r"""An entry; its figure label, (text, LaTeX), is its name as a word unless given.

    Examples
    --------
    >>> op = entry("trace", "trace(A)", 1, to_scalar, lambda s: None, lambda s: None,
    ...            doc="trace of a square matrix", label=("tr", "\\\\mathrm{tr}"))
    >>> op.label_text, op.label_latex, op.arity
    ('tr', '\\\\mathrm{tr}', 1)
    """
    text, latex = label or (name, operator_latex(name))
    return Operator(name, written, arity, shape_rule, forward, tuple(rules), elementwise,
                    doc=doc, label_text=text, label_latex=latex, constants=tuple(constants),
                    options=tuple(options), many=many)


# --- shape rules that several families use -------------------------------------------

def keep(a, param=None):
    """The operand's shape: entrywise operators, transposes of nothing."""
    return a


def to_scalar(*shapes, param=None):
    """A scalar, whatever the operands: reductions to one number."""
    return SCALAR


def nonscalar(what):
    """The operand's shape, which must not be a scalar (softmax, norm, ...)."""
    def rule(a, param=None):
        if a.is_scalar:
            raise ShapeError(f"{what} takes a vector or a matrix, not a scalar")
        return a
    return rule
