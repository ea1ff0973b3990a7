"""The whole-number options of a call: ``conv2d(X, K, stride=2, pad=1)``, ``maxpool2d(X, 2)``.

An operator with options (:attr:`~symbackprop.primitives.entries.Operator.options`)
takes, after its operands, whole numbers by position or by name; each has a default
or is required, and a least value.  They are constants of the model's structure (a
window's size, a stride), not values: written as numbers, they reach the shape rule
and the local rules as the node's ``param``, a tuple in the options' order.
"""

from __future__ import annotations

from ..errors import ModelError
from . import syntax as ast

__all__ = ["takes", "call_options"]


def takes(op, count):
    """Whether `op` takes `count` arguments by position: its operands, then options."""
    if op.many:
        return count >= op.arity
    return op.arity <= count <= op.arity + len(op.options) if op.options else count == op.arity


def call_options(e, op):
    """The values of `op`'s options in the call `e`, in their order; None without options.

    Raises
    ------
    ModelError
        For an option given twice, unknown, missing, not a whole number, or below its
        least value; for an argument by name to an operator without options.

    Examples
    --------
    >>> from symbackprop.primitives.operators import REGISTRY
    >>> (e,) = [s.expr for s in ast.parse_statements("y = conv2d(X, K, 2, pad=1)")]
    >>> call_options(e, REGISTRY["conv2d"])
    (2, 1)
    """
    if not op.options:
        if e.keywords:
            k = e.keywords[0]
            raise ModelError(f"{e.func} takes no argument by name, not '{k.name}='", k.line,
                             k.col)
        return None
    names = [name for name, _, _ in op.options]
    given = dict(zip(names, e.args[op.arity:]))
    for k in e.keywords:
        if k.name not in names:
            raise ModelError(f"{e.func} has no option '{k.name}'; its options are "
                             f"{', '.join(names)}", k.line, k.col)
        if k.name in given:
            raise ModelError(f"the option '{k.name}' of {e.func} is given twice", k.line, k.col)
        given[k.name] = k.value
    values = []
    for name, default, least in op.options:
        if name not in given:
            if default is None:
                raise ModelError(f"{e.func} needs its option {name}, a whole number: "
                                 f"{op.written}", e.line, e.col)
            values.append(default)
            continue
        values.append(_whole(given[name], e.func, name, least))
    return tuple(values)


def _whole(node, func, name, least):
    """The whole number an option is written as, at least `least`."""
    at = (getattr(node, "line", 0), getattr(node, "col", 0))
    if not isinstance(node, ast.Num) or node.value.denominator != 1 or node.value < least:
        raise ModelError(f"the option {name} of {func} is a whole number, at least {least}",
                         *at)
    return int(node.value)
