"""The reverse sweep: the backward derivation, node by node, as data.

:func:`derive` walks the variables in reverse topological order from the
objective, starting from dJ/dJ = 1.  A variable's adjoint is the sum, over the
assignments that read it, of their local vector-Jacobian products in matrix
form (one :class:`Term` per consuming assignment).  Each assignment's share is
found by sweeping its own expression tree backwards with the registry's local
rules, so nested operators (``lambda/2 * (norm(W1)^2 + norm(W2)^2)``) fold into
one readable term (``lambda W1``).

Every adjoint is written with the adjoints of later nodes as named symbols
(dJ/do, dJ/dh), as a lecturer writes it; an adjoint that is a plain number
(dJ/dL = 1) is written in.  That keeps each step a handful of operations
however deep the model.  :meth:`Derivation.gradient` substitutes all named
adjoints for the form in forward variables only.

Why not SymPy's ``MatrixExpr.diff``: on SymPy 1.14 it silently returns 0 for
sums that mix traces or norms with other terms (the textbook objective is one),
and it mishandles entrywise functions.  Local rules avoid it entirely; SymPy
does the algebra, the printing and the scalar derivatives of entrywise bodies.

Each assignment's tree is walked once and its forward expressions built once:
the finiteness check, the sweep and :attr:`Derivation.forward` share them.
Nothing here prints, and nothing recurses on the depth of a model.
"""

from __future__ import annotations

import heapq
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp
from sympy.core.traversal import iterargs

from ..errors import ModelError, ModelWarning
from ..language.model import Literal, Ref, walk
from ..primitives import expressions as ex
from ..primitives.operators import Site
from .graph import build_graph

__all__ = ["derive", "Derivation", "Step", "Term", "variable_symbols", "adjoint_symbol",
           "shaped_symbol"]


@dataclass(frozen=True)
class Term:
    """One consuming assignment's share of an adjoint.

    Attributes
    ----------
    consumer : str
        The variable whose assignment reads the node (the ``child`` of
        ``prod(dJ/dchild, dchild/dnode)``).
    value : sympy.Expr
        The share in matrix form, e.g. ``(dJ/do) h^T`` for ``W2`` through ``o``.
    local : sympy.Expr or None
        Where the consumer is a scalar other than the objective, its own gradient
        d(consumer)/d(node), shaped like the node (``lambda W2`` for ``W2`` through
        the regularizer ``s``): the textbook shows it as a step of its own.  Else None
        (a Jacobian, which no step shows).
    """

    consumer: str
    value: object
    local: object = None


@dataclass(frozen=True)
class Step:
    """One backward step: dJ/d(node) = sum of its terms.

    Attributes
    ----------
    node : str
        The variable.
    adjoint : sympy.Expr
        The symbol standing for dJ/d(node) in later steps.
    terms : tuple of Term
        One per consuming assignment, in source order (empty for the objective).
    result : sympy.Expr
        dJ/d(node), the sum of the terms (1 for the objective).
    """

    node: str
    adjoint: object
    terms: tuple
    result: object


def variable_symbols(model):
    """SymPy symbols for the model's variables: a Symbol per scalar, a MatrixSymbol otherwise.

    A scalar declared ``positive`` or ``unit`` is a positive Symbol, so that SymPy
    may use it (``sqrt(c^2)`` is ``c``); a MatrixSymbol cannot carry assumptions.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> m = sbp.parse("input c: scalar positive\\nparam w: scalar\\nJ = c * w\\nobjective J")
    >>> symbols = variable_symbols(m)
    >>> symbols["c"].is_positive, symbols["w"].is_positive, symbols["w"].is_real
    (True, None, True)
    """
    return {v.name: shaped_symbol(v.name, v.shape, v.domain) for v in model.variables.values()}


def adjoint_symbol(model, name):
    """The symbol dJ/d(name), shaped like the variable."""
    return shaped_symbol(f"∂{model.objective}/∂{name}", model.variables[name].shape)


def shaped_symbol(name, shape, domain=None):
    """A symbol called `name` of this shape: a Symbol for a scalar (positive for a positive
    or unit `domain`), a MatrixSymbol otherwise."""
    if shape.is_scalar:
        # (0, 1) has no SymPy assumption: a unit scalar is positive, the part SymPy can use
        if domain in ("positive", "unit"):
            return sp.Symbol(name, positive=True)
        return sp.Symbol(name, real=True)
    return sp.MatrixSymbol(name, shape.rows, shape.cols)


@dataclass(frozen=True)
class _Walked:
    """One assignment's tree, walked once: what the sweep, the checks and `forward` read.

    Attributes
    ----------
    assignment : Assignment
    nodes : list
        The tree's nodes, operands before operators.
    values : dict
        Each node's forward expression, by ``id`` of the node.
    reads : tuple of str
        The variables the tree reads, each once, in the order the walk meets them.
    """

    assignment: object
    nodes: list
    values: dict
    reads: tuple

    @property
    def value(self):
        """The assignment's forward expression."""
        return self.values[id(self.assignment.tree)]


def _walked(assignment, symbols, symbol_of=None):
    """Walk `assignment`'s tree: every node's forward expression, operands first.

    A variable's value is its symbol in `symbols`, or ``symbol_of(ref)`` when given (a
    family's member, whose symbol carries its index)."""
    nodes = walk(assignment.tree)
    values = {}
    for node in nodes:
        if isinstance(node, Ref):
            values[id(node)] = symbols[node.name] if symbol_of is None else symbol_of(node)
        elif isinstance(node, Literal):
            values[id(node)] = node.value
        else:
            site = Site(tuple(values[id(a)] for a in node.args),
                        tuple(a.shape for a in node.args), node.shape, node.param)
            values[id(node)] = node.op.forward(site)
    reads = tuple(dict.fromkeys(n.name for n in nodes if isinstance(n, Ref)))
    return _Walked(assignment, nodes, values, reads)


def _shares(walked, symbols, adjoint, wanted, target=None, key=None):
    """Backward sweep through one assignment: each wanted operand's share of `adjoint`.

    Shares are keyed by variable name, or by ``key(ref)`` when given (a family's member,
    told apart by its index); `target` is the assignment's own symbol when it is not in
    `symbols`."""
    assignment, nodes, values = walked.assignment, walked.nodes, walked.values
    key = key or _name
    needs = {}
    for node in nodes:
        if isinstance(node, Ref):
            needs[id(node)] = key(node) in wanted
        elif isinstance(node, Literal):
            needs[id(node)] = False
        else:
            needs[id(node)] = any(needs[id(a)] for a in node.args)
    root = assignment.tree
    pending = {id(root): [adjoint]}
    shares = {}
    for node in reversed(nodes):
        if not needs[id(node)]:
            continue
        adj = ex.add(*pending.pop(id(node)))
        if isinstance(node, Ref):
            shares.setdefault(key(node), []).append(adj)
            continue
        if node is root:
            out = symbols[assignment.target] if target is None else target
        else:
            out = values[id(node)]
        site = Site(tuple(values[id(a)] for a in node.args), tuple(a.shape for a in node.args),
                    node.shape, node.param, out, adj,
                    tuple(getattr(a, "domain", None) for a in node.args))
        for i, arg in enumerate(node.args):
            if needs[id(arg)]:
                pending.setdefault(id(arg), []).append(node.op.rule(i)(site))
    return {name: ex.add(*parts) for name, parts in shares.items()}


def _name(ref):
    return ref.name


def _consumers(model, walked):
    """For each variable, the assignments that read it, in source order.

    These are the variables the computational graph
    (:func:`~symbackprop.derivation.graph.build_graph`) reaches from it
    through one operator chain, without building the graph's labels.
    """
    consumers = {name: [] for name in model.variables}
    for target, w in walked.items():
        for name in w.reads:
            consumers[name].append(target)
    return consumers


def _active(model, consumers, walked):
    """The variables whose adjoint is derived: they reach the objective and vary with data or
    params."""
    influences = {model.objective}
    for name in reversed(list(model.variables)):
        if any(c in influences for c in consumers[name]):
            influences.add(name)
    varies = set()
    for name, v in model.variables.items():
        if v.role in ("input", "param") or (
                name in walked and any(r in varies for r in walked[name].reads)):
            varies.add(name)
    return {n for n in model.variables if n in influences and n in varies}


def _sweep(model, symbols, walked):
    """The backward steps, objective first; `walked` holds each assignment's tree walked once."""
    consumers = _consumers(model, walked)
    active = _active(model, consumers, walked)
    remaining = {n: sum(c in active for c in consumers[n]) for n in active}
    # Kahn's algorithm on the reversed graph: a node is ready once every reader
    # is done.  Ties go first-ready-first (the textbook's order); data inputs,
    # whose adjoints nobody reads, go last.
    counter = 0
    ready = []
    received = {n: {} for n in active}
    values = {}
    steps = []
    objective = model.objective
    if objective in active:
        ready.append((False, 0, objective))
    while ready:
        _, _, name = heapq.heappop(ready)
        symbol = adjoint_symbol(model, name)
        if name == objective:
            terms, result = (), sp.Integer(1)
        else:
            terms = tuple(Term(c, *received[name][c]) for c in consumers[name] if c in active)
            result = ex.add(*(t.value for t in terms))
        steps.append(Step(name, symbol, terms, result))
        values[name] = result if result.is_number else symbol
        if name not in walked:
            continue
        wanted = {r for r in walked[name].reads if r in active}
        shares = _shares(walked[name], symbols, values[name], wanted)
        local = None
        if name != objective and model.variables[name].shape.is_scalar:
            # a scalar's own gradient: its share with the adjoint 1 (the rules are linear in it)
            local = shares if values[name] == 1 else _shares(walked[name], symbols,
                                                             sp.Integer(1), wanted)
        for operand in (r for r in walked[name].reads if r in wanted):
            received[operand][name] = (shares[operand], None if local is None else local[operand])
            remaining[operand] -= 1
            if remaining[operand] == 0:
                counter += 1
                heapq.heappush(ready, (model.variables[operand].role == "input", counter, operand))
    return tuple(steps)


def derive(model):
    """The backward derivation of a model, as data (:class:`Derivation`).

    Users call :func:`symbackprop.derive`, whose derivation also prints and
    compiles itself; this one is what the layers below it need.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> derive(sbp.load("examples/textbook_mlp.sbp")).order
    ('J', 'L', 's', 'o', 'W2', 'h', 'z', 'W1', 'y', 'x')
    """
    return Derivation.of(model)


def _check_finite(model, assignment, value):
    """Constants folded by SymPy must be finite reals: 1/0, (-1)^0.5 and 10^400 are errors."""
    bad = False
    # iterargs walks breadth first: a recursive walk of a chain of maps costs its depth
    # for every node it passes up (quadratic in a deep composition)
    for part in (value, *iterargs(value)):
        if part is sp.zoo or part is sp.I:
            bad = True
        elif isinstance(part, sp.Number):  # oo and nan among them
            try:
                bad = bad or not np.isfinite(float(part))
            except (OverflowError, TypeError):
                bad = True
    if bad:
        raise ModelError(f"'{assignment.target}' is not a finite real number here (a division "
                         "by zero, a root of a negative constant, or a constant beyond float64?)",
                         assignment.line, assignment.col).located(model.filename, model.source)


class Derivation:
    """The backward derivation of a model, as data for printers and code generators.

    Parameters
    ----------
    model, symbols, steps
        As the attributes below.
    forward : dict of str to sympy.Expr, optional
        Each assigned variable's defining expression (:attr:`forward`), when
        already built with the steps as :meth:`of` builds them; else built from
        the model when first read.

    Attributes
    ----------
    model : Model
    symbols : dict of str to sympy.Expr
        Each variable's symbol.
    steps : tuple of Step
        In backward order, the objective first.
    """

    def __init__(self, model, symbols, steps, forward=None):
        self.model = model
        self.symbols = symbols
        self.steps = steps
        self._by_node = {s.node: s for s in steps}
        if forward is not None:  # built with the steps: each expression is built once
            self.forward = forward

    @classmethod
    def of(cls, model):
        """The derivation of `model`, as this class (:func:`derive` for the base class)."""
        symbols = variable_symbols(model)
        walked = {a.target: _walked(a, symbols) for a in model.assignments}
        for w in walked.values():
            _check_finite(model, w.assignment, w.value)
        forward = {target: w.value for target, w in walked.items()}
        derivation = cls(model, symbols, _sweep(model, symbols, walked), forward)
        for name in derivation.params:
            if name not in derivation._by_node:
                v, J = model.variables[name], model.objective
                warnings.warn(ModelWarning(f"∂{J}/∂{name} = 0: {name} does not reach {J}",
                                           v.line, v.col, model.filename), stacklevel=3)
        return derivation

    def __repr__(self):
        return f"<Derivation of {self.model.objective} from {self.model.filename}: " \
               f"{len(self.steps)} steps>"

    @cached_property
    def graph(self):
        """The computational graph (:func:`symbackprop.derivation.graph.build_graph`)."""
        return build_graph(self.model)

    @cached_property
    def order(self):
        """The variables in backward order, the objective first."""
        return tuple(s.node for s in self.steps)

    @cached_property
    def forward(self):
        """Each assigned variable's defining expression, in forward order."""
        return {a.target: _walked(a, self.symbols).value for a in self.model.assignments}

    @property
    def params(self):
        """The names of the trainable parameters, in declaration order."""
        return [n for n, v in self.model.variables.items() if v.role == "param"]

    def step(self, name):
        """The :class:`Step` for `name`."""
        self._known(name)
        return self._by_node[name]

    def adjoint(self, name):
        """dJ/d(name) in the textbook's form: later adjoints as named symbols.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
        >>> print(d.pretty(d.adjoint("W2")))
        (∂J/∂o) hᵀ + λ W2
        """
        return self.step(name).result

    def gradient(self, name):
        """dJ/d(name) in forward variables only, every adjoint substituted.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
        >>> print(d.pretty(d.gradient("W1")))
        ((W2ᵀ (∂L/∂o)) ⊙ φ'(z)) xᵀ + λ W1
        """
        self._known(name)
        try:
            return self._substituted[name]
        except RecursionError:
            # The substituted form nests every later step: as deep as the model.
            raise ValueError(f"the fully substituted gradient of '{name}' is too deep to build; "
                             "the named form (adjoint) has every step") from None

    @cached_property
    def _substituted(self):
        full = {}
        for step in self.steps:
            rule = {self._by_node[t.consumer].adjoint: full[t.consumer] for t in step.terms}
            if not rule:
                full[step.node] = step.result
                continue
            full[step.node] = step.result.xreplace(rule)
            if any(isinstance(v, sp.ZeroMatrix) or v == 0 for v in rule.values()):
                full[step.node] = ex.without_zeros(full[step.node])
        return full

    def _known(self, name):
        if name not in self._by_node:
            if name in self.model.variables:
                raise KeyError(f"'{name}' has no adjoint: it does not vary with an input or "
                               "param, or does not reach the objective")
            raise KeyError(f"'{name}' is not a variable of the model")

    def bound(self, bind=None):
        """This derivation with abstract functions bound to built-ins; all must be bound."""
        derivation = self if not bind else type(self).of(self.model.bind(bind))
        unbound = derivation.model.unbound
        if unbound:
            functions = [derivation.model.functions[name] for name in unbound]
            examples = ",".join(f"{f.name}={'tanh' if f.elementwise else 'squared_error'}"
                                for f in functions)
            listed = " and ".join(f"'{f.name}'" for f in functions)
            what = "function" if len(functions) == 1 else "functions"
            first = functions[0]
            verb = "has" if len(functions) == 1 else "have"
            raise ModelError(f"the abstract {what} {listed} {verb} no numbers: bind to "
                             f"built-ins (for instance {examples})",
                             first.line, first.col).located(self.model.filename,
                                                            self.model.source)
        return derivation
