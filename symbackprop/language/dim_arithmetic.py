"""Sizes written with arithmetic of dims: ``vector(d + h)``, ``matrix(4*h, d + h)``, ``n - k + 1``.

A size is a polynomial with integer coefficients in the dims' symbols (positive
integers): sums, differences and products of dims and whole numbers, with
brackets.  It is kept expanded, so two sizes are equal exactly when their
polynomials are (``d + h`` is ``h + d``, ``2*(d + h)`` is ``2*d + 2*h``).  A
size that cannot be positive at any sizes of its dims (``d - d``, ``-h``) is an
error where it is written; one that is positive only at some (``n - k + 1``)
is checked where sizes are drawn (:mod:`symbackprop.proofs.sizes`).
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..errors import ModelError
from . import syntax as ast

__all__ = ["is_compound", "size_polynomial", "map_size_leaves", "size_leaves"]

_WHAT = ("a size is a dimension, a positive whole number, or dims and whole numbers joined "
         "by +, - and * (d + h, 4*h, n - k + 1)")


def is_compound(size):
    """Whether a parsed size is an expression (``d + h``) rather than a leaf (``d``, ``3``)."""
    return isinstance(size, (ast.Binary, ast.Unary, ast.Num))


def size_polynomial(e, leaf, positive=True):
    """The expanded SymPy polynomial of a size expression.

    Parameters
    ----------
    e : syntax node
        The size as parsed: :class:`~.syntax.Binary` (``+ - *``), :class:`~.syntax.Unary`,
        :class:`~.syntax.Num`, :class:`~.syntax.Name` or :class:`~.syntax.Member`.
    leaf : callable
        ``(value, line, col) -> sympy.Expr``: a dim's name (or a member of a family of
        dims) to its symbol, raising the model's error for an unknown one.
    positive : bool
        Whether a value that cannot be positive is an error (a size; not a slice's bound,
        which its slice checks).

    Raises
    ------
    ModelError
        For a division, a fraction, a power or a call, and for a size that no sizes of
        its dims make positive.

    Examples
    --------
    >>> d, h = sp.symbols("d h", integer=True, positive=True)
    >>> dims = {"d": d, "h": h}
    >>> e = ast.parse_statements("input x: vector(2*(h + d) - h)")[0].type.sizes[0][0]
    >>> size_polynomial(e, lambda name, line, col: dims[name])
    2*d + h
    """
    value = _polynomial(e, leaf)
    if positive and (value.is_nonpositive or (value.is_number and value < 1)):
        raise ModelError(f"the size {value} is never positive: a size counts entries", e.line,
                         e.col)
    return value


def _polynomial(e, leaf):
    stack, values = [(e, False)], []
    while stack:
        node, done = stack.pop()
        if isinstance(node, ast.Num):
            if node.value.denominator != 1:
                raise ModelError(f"{_WHAT}; not the fraction {node.text}", node.line, node.col)
            values.append(sp.Integer(node.value.numerator))
        elif isinstance(node, ast.Name):
            values.append(leaf(node.id, node.line, node.col))
        elif isinstance(node, ast.Member):
            values.append(leaf(node, node.line, node.col))
        elif isinstance(node, ast.Unary):
            if done:
                values.append(-values.pop())
            else:
                stack += [(node, True), (node.operand, False)]
        elif isinstance(node, ast.Binary) and node.op in "+-*":
            if done:
                right, left = values.pop(), values.pop()
                values.append(sp.expand({"+": left + right, "-": left - right,
                                         "*": left * right}[node.op]))
            else:
                stack += [(node, True), (node.right, False), (node.left, False)]
        else:
            what = f"not '{node.op}'" if isinstance(node, ast.Binary) else "not this expression"
            raise ModelError(f"{_WHAT}; {what}", node.line, node.col)
    return sp.expand(values[0])


def size_leaves(e):
    """The names and members of dims a size expression uses, in the order written."""
    out, stack = [], [e]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Name, ast.Member)):
            out.append(node)
        elif isinstance(node, ast.Unary):
            stack.append(node.operand)
        elif isinstance(node, ast.Binary):
            stack += [node.right, node.left]
    return out


def map_size_leaves(e, f):
    """`e` with every dim's name and member replaced by ``f(node)`` (a syntax node).

    Examples
    --------
    >>> e = ast.parse_statements("input x: vector(T + 1)")[0].type.sizes[0][0]
    >>> three = lambda n: ast.Num(3, "3", n.line, n.col)
    >>> map_size_leaves(e, three).left.text
    '3'
    """
    if isinstance(e, (ast.Name, ast.Member)):
        return f(e)
    if isinstance(e, ast.Unary):
        return replace(e, operand=map_size_leaves(e.operand, f))
    if isinstance(e, ast.Binary):
        return replace(e, left=map_size_leaves(e.left, f), right=map_size_leaves(e.right, f))
    return e
