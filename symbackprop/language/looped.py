"""Models with loops: families of values for a general index, checked.

A model with families (``x[t]``, ``W[l]``) and loops (``for t in 1..T:``) is
checked twice.  Written out at a small length by
:func:`~symbackprop.language.unrolling.unroll`, it goes through the checker of
every model, so each error has its line and column.  Then it is typed once for
a general index, which gives the :class:`LoopModel` the general derivation
reads: each family with its shape as a function of its index (``W[l]`` is
``n[l] x n[l-1]``), and each assignment inside loops as one typed tree whose
members carry their index (``h[t-1]``).  The shapes of the general form are
compared with those of the written-out model at every member, so the two
readings agree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import sympy as sp

from ..errors import ModelError
from ..primitives.operators import REGISTRY, index_sum_operator
from ..primitives.shapes import Shape
from . import syntax as ast
from .model import Literal, Node, Ref, Variable, _Checker, _checked_model, walk
from .unrolling import (index_expression, index_symbol, lengths_of, member_name, unique_errors,
                        unroll)

__all__ = ["LoopModel", "WrittenOutModel", "Family", "IndexRange", "LoopAssignment",
           "check_looped", "CHECK_LENGTH"]

#: The length every range bound is given when a model with loops is checked written out.
CHECK_LENGTH = 3


@dataclass(frozen=True)
class IndexRange:
    """``var`` running over ``lo, ..., hi`` (SymPy expressions in the dimensions)."""

    var: sp.Symbol
    lo: sp.Expr
    hi: sp.Expr


@dataclass(frozen=True)
class Family:
    """A family of values ``name[index]``: a box per member in the computational graph.

    Attributes
    ----------
    name, role, latex, line, col, domain
        As for a :class:`~symbackprop.language.model.Variable`.
    index : sympy.Symbol
        The family's own index, in which `shape` is written.
    shape : Shape
        A member's shape, as a function of `index`.
    ranges : tuple of (sympy.Expr, sympy.Expr)
        The indices of its members: the declared range, or one pair per definition
        (``h[0] = ...`` is (0, 0); a loop's, its range).
    """

    name: str
    role: str
    index: sp.Symbol
    shape: Shape
    ranges: tuple
    latex: str | None
    line: int
    col: int
    domain: str | None = None
    extra: tuple = ()   # of IndexRange: the further indices of a family of two, K[o, c]

    @property
    def declared(self):
        return self.role in ast.DECLARED_ROLES

    @property
    def indices(self):
        """The family's index variables: (l,), or (o, c) for a family of two indices."""
        return (self.index, *(r.var for r in self.extra))

    @property
    def bounds(self):
        """(lo, hi) of each index of a family of two indices (of its one range, else)."""
        return (self.ranges[0], *((r.lo, r.hi) for r in self.extra))

    def shape_at(self, index):
        """The shape of the member at `index` (a tuple or sympy.Tuple for two indices)."""
        if self.extra and isinstance(index, (tuple, sp.Tuple)):
            return _shape_xreplace(self.shape, dict(zip(self.indices, tuple(index))))
        return _shape_xreplace(self.shape, {self.index: index})


def _shape_xreplace(shape, rule):
    return Shape(shape.kind, sp.sympify(shape.rows, strict=True).xreplace(rule),
                 sp.sympify(shape.cols, strict=True).xreplace(rule))


@dataclass(frozen=True)
class LoopAssignment:
    """``target[index] = tree`` inside `loops` (outermost first); index () for a single value."""

    target: str
    index: tuple
    tree: object
    loops: tuple
    line: int
    col: int


class _WritesOut:
    """What every model with loops does: write itself out at concrete lengths."""

    def unrolled(self, lengths=None):
        """This model written out at concrete lengths: a model without loops.

        Parameters
        ----------
        lengths : dict of str to int, optional
            A value for each of :attr:`lengths`; :data:`CHECK_LENGTH` for any not given.

        Returns
        -------
        Model
            The member ``h[2]`` is the variable ``h_2``, the width ``n[1]`` the dimension
            ``n_1``.
        """
        given = dict(lengths or {})
        unknown = sorted(set(given) - set(self.lengths))
        if unknown:
            raise ValueError(f"{', '.join(unknown)} is not a length of this model; its lengths "
                             f"are {', '.join(self.lengths) or 'none'}")
        for name, value in given.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"the length {name} must be a positive whole number, "
                                 f"not {value!r}")
        values = {name: given.get(name, CHECK_LENGTH) for name in self.lengths}
        flat = unroll(self.statements, values)
        return _checked_model(self.source, self.filename, dict(self.bindings), flat)


@dataclass(frozen=True)
class LoopModel(_WritesOut):
    """A checked model with families and loops, for a general index.

    Attributes
    ----------
    source, filename, functions, objective, bindings
        As for a :class:`~symbackprop.language.model.Model`.
    dims : dict of str to sympy.Symbol
        The dimensions, lengths (range bounds) included.
    dim_families : dict of str to sympy.IndexedBase
        Families of dimensions, ``n[l]``.
    lengths : tuple of str
        The dimensions that bound a range: what :meth:`unrolled` needs values for.
    variables : dict of str to Variable
        The values that are not families.
    families : dict of str to Family
    assignments : tuple of LoopAssignment
        In source order, loops' bodies in place.
    statements : list
        The parsed statements, which :meth:`unrolled` writes out.
    """

    source: str
    filename: str
    dims: dict
    dim_families: dict
    lengths: tuple
    variables: dict
    families: dict
    functions: dict
    assignments: tuple
    objective: str
    statements: list = field(repr=False)
    bindings: dict = field(default_factory=dict)


    def bind(self, bindings):
        """This model with abstract functions replaced by built-ins (see ``Model.bind``)."""
        merged = {**self.bindings, **dict(bindings or {})}
        return check_looped(self.source, self.filename, merged, self.statements)

    @property
    def unbound(self):
        """Abstract functions that are called and not bound, in declaration order."""
        called = {node.op.name for a in self.assignments for node in walk(a.tree)
                  if isinstance(node, Node)}
        return [name for name in self.functions if name in called]

    def widths_in(self, flat):
        """Each width ``n[k]`` to its dimension ``n_k`` of the model written out, `flat`."""
        widths = {}
        for name, base in self.dim_families.items():
            for dim_name, symbol in flat.dims.items():
                prefix, _, k = dim_name.rpartition("_")
                if prefix == name and k.isdigit():
                    widths[base[int(k)]] = symbol
        return widths

    @property
    def roles(self):
        """Every value's and family's role, by name."""
        return {**{n: v.role for n, v in self.variables.items()},
                **{n: f.role for n, f in self.families.items()}}


@dataclass(frozen=True)
class WrittenOutModel(_WritesOut):
    """A model with loops that is derived written out at lengths only: a family with two
    indices (``h[l, t]``, layers over time) has no general derivation yet.

    Attributes
    ----------
    source, filename, lengths, statements, bindings
        As for a :class:`LoopModel`.
    why : ModelError
        Why it has no general form, at the first member with two indices.
    """

    source: str
    filename: str
    lengths: tuple
    statements: list = field(repr=False)
    bindings: dict = field(default_factory=dict)
    why: ModelError = None


class _TwoIndices(ModelError):
    """A member with more than one index: the general form takes one."""


def check_looped(text, filename, bindings, statements):
    """The :class:`LoopModel` of parsed `statements`, checked written out and in general.

    Raises
    ------
    ModelError
        Every problem, with file, line and column.
    """
    lengths = lengths_of(statements)
    try:
        flat_statements = unroll(statements, {n: CHECK_LENGTH for n in lengths})
    except ModelError as err:
        raise err.located(filename, text) from None
    try:
        flat = _checked_model(text, filename, bindings, flat_statements)
    except ModelError as err:  # a body's error, once per iteration: once
        raise ModelError.collect(unique_errors([err])) from None
    try:
        model = _General(text, filename, bindings, statements, lengths).model()
        _agree(model, flat)
    except _TwoIndices as err:  # checked written out: derived written out
        return WrittenOutModel(text, filename, tuple(lengths), statements, dict(bindings),
                               err.located(filename, text))
    except ModelError as err:
        raise err.located(filename, text) from None
    return model


class _General(_Checker):
    """The checker of every model, reading families and loops for a general index."""

    def __init__(self, text, filename, bindings, statements, lengths):
        super().__init__(text, filename, bindings, statements)
        self.lengths = tuple(lengths)
        self.dim_families = {}
        self.families = {}
        self.scope = {}              # loop variables (and a sum's) in scope
        self.loops = []
        self.loop_assignments = []

    def model(self):
        self.assigned_later = {}
        for s in self.statements:
            self._general(s)
        name = self.objective
        variables = dict(self.variables)
        v = variables[name]
        variables[name] = Variable(v.name, "objective", v.shape, v.latex, v.line, v.col)
        return LoopModel(self.text, self.filename, dict(self.dims), dict(self.dim_families),
                         self.lengths, variables, dict(self.families), dict(self.functions),
                         tuple(self.loop_assignments), name, self.statements,
                         dict(self.bindings))

    def _general(self, s):
        if isinstance(s, ast.For):
            var = index_symbol(s.var)
            lo, hi = (index_expression(b, {}, self.dims) for b in (s.range.lo, s.range.hi))
            self.scope[s.var] = var
            self.loops.append(IndexRange(var, lo, hi))
            for inner in s.body:
                self._general(inner)
            self.loops.pop()
            del self.scope[s.var]
            return
        getattr(self, "_" + type(s).__name__.lower())(s)

    # statements

    def _dim(self, s):
        if s.index is None:
            return super()._dim(s)
        name = s.names[0][0]
        self.dim_families[name] = sp.IndexedBase(name, integer=True, positive=True)

    def _decl(self, s):
        if s.index is None:
            return super()._decl(s)
        ranges = []
        for var, r in s.family_indices:
            lo, hi = (index_expression(b, {}, self.dims) for b in (r.lo, r.hi))
            ranges.append(IndexRange(index_symbol(var), lo, hi))
            self.scope[var] = ranges[-1].var
        shape = self._shape(s.type)
        for var, _ in s.family_indices:
            del self.scope[var]
        first, *extra = ranges
        if extra and any(shape_size.has(r.var) for r in ranges
                         for shape_size in (sp.sympify(shape.rows, strict=True),
                                            sp.sympify(shape.cols, strict=True))):
            raise _TwoIndices(
                f"the shape of {s.name}[...] depends on its indices: a family of two indices "
                f"of such shapes is derived written out at lengths (--unroll "
                f"{_at_check_length(self.lengths)}), not yet in general form", s.line, s.col)
        self.families[s.name] = Family(s.name, s.role, first.var, shape,
                                       ((first.lo, first.hi),), s.latex, s.line, s.col,
                                       s.domain, tuple(extra))

    def _size(self, size):
        value, line, col = size
        if isinstance(value, ast.Member):
            (i,) = value.indices
            return self.dim_families[value.name][index_expression(i, self.scope, self.dims)]
        return super()._size(size)

    def _assign(self, s):
        if not s.indices and not self.loops:
            super()._assign(s)
            a = self.assignments[-1]
            self.loop_assignments.append(LoopAssignment(a.target, (), a.tree, (), a.line, a.col))
            return
        _one_index(s.target, s.indices, s, self.lengths)
        tree = self._expr(s.expr)
        if not isinstance(tree, Node):
            tree = Node(REGISTRY["copy"], (tree,), tree.shape, tree.line, tree.col)
        index = tuple(index_expression(i, self.scope, self.dims) for i in s.indices)
        self.loop_assignments.append(LoopAssignment(s.target, index, tree, tuple(self.loops),
                                                    s.line, s.col))
        if not s.indices:  # a single value computed in a loop: written once per iteration
            raise ModelError(f"'{s.target}' is assigned inside a loop, once per iteration: "
                             f"make it a family, {s.target}[...]", s.line, s.col)
        self._define_members(s, index[0], tree.shape)

    def _define_members(self, s, index, shape):
        """Record the members ``s`` defines, and the family's shape as a function of its
        index, from the first definition inside a loop."""
        loop = next((lp for lp in self.loops if lp.var in index.free_symbols), None)
        rng = (index, index) if loop is None else (index.xreplace({loop.var: loop.lo}),
                                                  index.xreplace({loop.var: loop.hi}))
        family = self.families.get(s.target)
        if family is None:
            u = index_symbol(f"{s.target}_index")
            general = _shape_xreplace(shape, {loop.var: loop.var + (u - index)}) \
                if loop is not None else _generalized(shape, index, u)
            self.families[s.target] = Family(s.target, "intermediate", u, general, (rng,),
                                             s.latex, s.line, s.col)
            return
        shape_rule = family.shape
        if loop is not None and family.ranges and all(lo == hi for lo, hi in family.ranges):
            # the first definition in a loop fixes the shape as a function of the index
            shape_rule = _shape_xreplace(shape, {loop.var: loop.var + (family.index - index)})
        self.families[s.target] = Family(family.name, family.role, family.index, shape_rule,
                                         family.ranges + (rng,), family.latex, family.line,
                                         family.col)

    # expressions

    def _operands(self, e):
        if isinstance(e, ast.Reduce):
            self.scope[e.var] = index_symbol(e.var)
            lo, hi = (index_expression(b, {}, self.dims) for b in (e.range.lo, e.range.hi))
            self.loops.append(IndexRange(self.scope[e.var], lo, hi))  # until its _type
            return [e.body]
        if isinstance(e, ast.Member):
            return []
        return super()._operands(e)

    def _type(self, e, args):
        if isinstance(e, ast.Reduce):
            var = self.scope.pop(e.var)
            self.loops.pop()
            lo, hi = (index_expression(b, {}, self.dims) for b in (e.range.lo, e.range.hi))
            op = index_sum_operator(var, lo, hi, mean=e.func == "mean")
            return Node(op, tuple(args), args[0].shape, e.line, e.col, (var, lo, hi))
        if isinstance(e, ast.Member):
            return self._member(e)
        return super()._type(e, args)

    def _name(self, e):
        if e.id in self.dims and e.id not in self.variables:  # a length as a value: / T
            return Literal(self.dims[e.id], e.line, e.col)
        return super()._name(e)

    def _member(self, e):
        family = self.families[e.name]
        if not family.extra:
            _one_index(e.name, e.indices, e, self.lengths)
        index = tuple(index_expression(i, self.scope, self.dims) for i in e.indices)
        # a member of data has its family's domain, as the member written out has: the
        # rules that use it (one-hot targets of cross_entropy) are the same in both forms
        domain = family.domain if family.role in ("input", "const") else None
        if family.extra:
            self._whole_ranges(e, family, index)
            return Ref(e.name, family.shape_at(index), e.line, e.col, index, domain)
        return Ref(e.name, family.shape_at(index[0]), e.line, e.col, index, domain)

    def _whole_ranges(self, e, family, index):
        """A member of a family of two indices is read, in general form, with each index a
        loop's (or a sum's) variable that runs over that index's whole range: K[o, c] in the
        loop over o and the sum over c."""
        loops = {r.var: r for r in self.loops}
        for k, ((lo, hi), i) in enumerate(zip(family.bounds, index)):
            var = next(iter(i.free_symbols), None)
            r = loops.get(var)
            if r is not None and sp.sympify(r.hi + (i - var), strict=True).free_symbols != \
                    sp.sympify(hi, strict=True).free_symbols:  # K[c, o]: over C, not O
                reach = f"{r.lo + (i - var)}..{r.hi + (i - var)}"
                raise ModelError(f"{e.name}[...] is read at index {k + 1} over {reach}, "
                                 f"outside the family '{e.name}', whose index {k + 1} runs "
                                 f"over {lo}..{hi}", e.line, e.col)
            if r is None or sp.simplify(r.lo + (i - var) - lo) != 0 or \
                    sp.simplify(r.hi + (i - var) - hi) != 0 or \
                    any(var in j.free_symbols for j in index[:k]):
                raise _TwoIndices(
                    f"{e.name}[...] is read here at other than every index of its range, each "
                    "from its own loop or sum: such a model is derived written out at "
                    f"lengths (--unroll {_at_check_length(self.lengths)}), not yet in general "
                    "form", e.line, e.col)


def _at_check_length(lengths):
    return ",".join(f"{n}={CHECK_LENGTH}" for n in lengths)


def _one_index(name, indices, where, lengths):
    if len(indices) > 1:
        at = _at_check_length(lengths)
        raise _TwoIndices(
            f"{name}[{', '.join('…' for _ in indices)}] has {len(indices)} indices: a family "
            f"over layers and time is derived written out at lengths (--unroll {at}), not "
            "yet in general form, which takes families of one index", where.line, where.col)


def _generalized(shape, index, u):
    """The shape of a member at `index` as a function of the family's index `u`: a width
    ``n[index + k]`` becomes ``n[u + k]`` (``h[0] = x`` of ``vector(n[0])`` gives n[u])."""
    def general(size):
        size = sp.sympify(size, strict=True)
        return size.replace(lambda e: isinstance(e, sp.Indexed),
                            lambda e: e.base[e.indices[0] - index + u])
    return Shape(shape.kind, general(shape.rows), general(shape.cols))


def _agree(model, flat):
    """The general shapes, at every member of the written-out model, are its shapes."""
    values = {model.dims[n]: CHECK_LENGTH for n in model.lengths}
    widths = model.widths_in(flat)
    for family in model.families.values():
        for ks in _members_of(family, values):
            general = _shape_xreplace(family.shape_at(ks if family.extra else ks[0]), values)
            general = _shape_xreplace(general, widths)
            written = flat.variables[member_name(family.name, ks)].shape
            if general != written:
                raise ModelError(f"the shape of {family.name}[{', '.join(map(str, ks))}] is "
                                 f"{written}, and the general form gives {general}: the shape "
                                 "depends on the index in a way the definitions do not say",
                                 family.line, family.col)


def _members_of(family, values):
    """The index tuples of a family's members at the lengths `values`."""
    spans = []
    for lo, hi in (family.bounds if family.extra else family.ranges):
        lo, hi = (int(sp.sympify(b, strict=True).xreplace(values)) for b in (lo, hi))
        spans.append(range(lo, hi + 1))
    if family.extra:
        return list(itertools.product(*spans))
    return [(k,) for span in spans for k in span]
