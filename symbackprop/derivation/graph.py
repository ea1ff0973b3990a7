"""The computational graph: variables (boxes) and operators (circles).

:func:`build_graph` turns a :class:`~symbackprop.language.model.Model` into a
:class:`networkx.DiGraph` with edges operand -> operator -> result, as in the
textbook's figure.  An operator nested inside another feeds it directly; a
numeric literal is an attribute of its operator, not a node.

Node keys are stable: a variable's key is its name; an operator's is
``"<target>#<k>"``, the k-th operator (operands first) in the assignment of
``<target>`` (``#`` never occurs in a name).  Nodes are inserted in source
order, so iteration order is the same on every run.

Node attributes:

``kind`` : {"variable", "operator"}
    Which of the two a node is.
``role`` : {"input", "param", "const", "intermediate", "objective"}
    A variable's role.
``op`` : str
    An operator's registry name, e.g. ``"matmul"``.
``shape`` : Shape
    The value's shape (an operator's: its output's).
``latex`` : str
    The LaTeX name of a variable, or the symbol of an operator.
``line``, ``col`` : int
    Where the model defines it.
``literals`` : tuple
    An operator's numeric operands, e.g. the 2 of ``x / 2``.
``param`` : object
    An operator's constant parameter, the exponent of ``^``; else None.

Edge attributes:

``positions`` : tuple of int
    Which operand slots of the operator the source fills.
"""

from __future__ import annotations

import networkx as nx

from ..language.model import Literal, Node, Ref, walk
from ..language.spelling import default_latex

__all__ = ["build_graph", "variable_latex"]


def variable_latex(variable, bold_macro="\\boldsymbol", spelled=None):
    """The LaTeX name of a variable: the model's ``as "..."`` or the default (of `spelled`,
    the name as the notation spells it, if given: ``x_1`` for ``x1``)."""
    if variable.latex is not None:
        return variable.latex
    return default_latex(spelled or variable.name, bold=not variable.shape.is_scalar,
                         bold_macro=bold_macro)


def _operator_latex(node, model):
    # a registry entry carries its label; an abstract function has the model's name
    if node.op.label_latex is not None:
        return node.op.label_latex
    func = model.functions.get(node.op.name)
    if func is not None and func.latex is not None:
        return func.latex
    return default_latex(node.op.name)


def build_graph(model):
    """Build the computational graph of a model.

    Parameters
    ----------
    model : Model

    Returns
    -------
    networkx.DiGraph

    Examples
    --------
    >>> from symbackprop import parse
    >>> m = parse("dim n\\ninput x: vector(n)\\nparam w: vector(n)\\nJ = w.T @ x\\nobjective J")
    >>> g = build_graph(m)
    >>> list(g.nodes)
    ['x', 'w', 'J#1', 'J#2', 'J']
    >>> g.nodes["J#2"]["op"], list(g.predecessors("J#2")), list(g.successors("J#2"))
    ('matmul', ['J#1', 'x'], ['J'])
    """
    g = nx.DiGraph()
    for v in model.variables.values():
        if v.declared:
            _add_variable(g, v)
    for a in model.assignments:
        keys = {}
        for k, node in enumerate((n for n in walk(a.tree) if isinstance(n, Node)), start=1):
            key = f"{a.target}#{k}"
            keys[id(node)] = key
            g.add_node(key, kind="operator", op=node.op.name, shape=node.shape,
                       latex=_operator_latex(node, model), line=node.line, col=node.col,
                       param=node.param,
                       literals=tuple(arg.value for arg in node.args if isinstance(arg, Literal)))
            for position, arg in enumerate(node.args):
                source = arg.name if isinstance(arg, Ref) else keys.get(id(arg))
                if source is None:
                    continue
                if g.has_edge(source, key):
                    g.edges[source, key]["positions"] += (position,)
                else:
                    g.add_edge(source, key, positions=(position,))
        _add_variable(g, model.variables[a.target])
        g.add_edge(keys[id(a.tree)], a.target, positions=(0,))
    return g


def _add_variable(g, v):
    g.add_node(v.name, kind="variable", role=v.role, shape=v.shape, latex=variable_latex(v),
               line=v.line, col=v.col)
