"""Loops unrolled: a model with families and loops, written out at given lengths.

A model may index values by integers (``x[t]``, ``W[l]``), define them in loops
(``for t in 1..T:``) and add them over an index (``sum(... for t in 1..T)``).
:func:`unroll` writes such a model out at concrete lengths (``T = 3``) as the
statements of a model without loops, which the checker of
:mod:`symbackprop.language.model` reads like any other: the member ``h[2]``
becomes the variable ``h_2``, the width ``n[1]`` the dimension ``n_1``, a sum
over an index the sum of its terms, and a length used as a value (``/ T``) its
number.  Every statement keeps the line and column it was written at, so an
error inside a loop's body points into the body.

What only loops can get wrong is checked here, with the place: an index that is
not a loop variable plus or minus an integer (``h[2*t]``), a member read before
it is defined or outside its family's range (``x[0]`` when ``x`` runs over
``1..T``), a member defined twice.

Indices and bounds are read into SymPy expressions (:func:`index_expression`)
by walking the syntax tree; no text reaches a parser of SymPy's.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from fractions import Fraction

import sympy as sp

from ..errors import ModelError
from . import syntax as ast
from .dim_arithmetic import is_compound, map_size_leaves, size_leaves

__all__ = ["unroll", "is_looped", "unique_errors", "index_expression", "range_bounds",
           "lengths_of",
           "member_name", "index_symbol"]

#: The most members one family may have when unrolled: a bound on the work of a check.
MAX_MEMBERS = 10_000


def is_looped(statements):
    """Whether parsed statements use families or loops (and so need unrolling to be checked).

    Examples
    --------
    >>> is_looped(ast.parse_statements("dim T\\ninput x[t]: vector(2) for t in 1..T"))
    True
    """
    return any(isinstance(s, ast.For) or getattr(s, "index", None) is not None
               or getattr(s, "indices", ()) for s in statements)


def index_symbol(name):
    """The integer symbol of a loop's or a family's index."""
    return sp.Symbol(name, integer=True)


def member_name(name, values):
    """The unrolled variable of a member: ``h[2]`` is ``h_2``, ``h[1, 3]`` is ``h_1_3``.

    Examples
    --------
    >>> member_name("h", (2,)), member_name("W", (1, 3))
    ('h_2', 'W_1_3')
    """
    return "_".join([name, *(str(v) for v in values)])


def index_expression(e, variables, dims):
    """The SymPy value of an index written in the model: a loop variable plus or minus an
    integer, a dimension plus or minus an integer, or an integer.

    Parameters
    ----------
    e : syntax node
    variables : dict of str to sympy.Symbol
        The loop variables in scope.
    dims : dict of str to sympy.Symbol
        The declared dimensions.

    Raises
    ------
    ModelError
        For anything else (``2*t``, ``t + T``, a name that is neither).

    Examples
    --------
    >>> t, T = index_symbol("t"), sp.Symbol("T", integer=True, positive=True)
    >>> e = ast.parse_statements("h[t-1] = x")[0].indices[0]
    >>> index_expression(e, {"t": t}, {"T": T})
    t - 1
    """
    value = _affine(e, variables, dims)
    free = value.free_symbols
    if len(free) > 1 or not (value - sum(free)).is_Integer:  # one symbol, coefficient 1
        raise ModelError(_NOT_AN_INDEX, e.line, e.col)
    return value


_NOT_AN_INDEX = ("an index is a loop variable plus or minus an integer (t-1), a range bound "
                 "(T, L-1), or an integer")


def _affine(e, variables, dims):
    if isinstance(e, ast.Num):
        if e.value.denominator != 1:
            raise ModelError(f"an index is a whole number, not {e.text}", e.line, e.col)
        return sp.Integer(e.value.numerator)
    if isinstance(e, ast.Name):
        if e.id in variables:
            return variables[e.id]
        if e.id in dims:
            return dims[e.id]
        raise ModelError(f"'{e.id}' is neither a loop variable nor a dimension: "
                         f"{_NOT_AN_INDEX}", e.line, e.col)
    if isinstance(e, ast.Binary) and e.op in "+-":
        left, right = _affine(e.left, variables, dims), _affine(e.right, variables, dims)
        if e.op == "-" and right.free_symbols:
            raise ModelError(_NOT_AN_INDEX, e.line, e.col)
        return left + right if e.op == "+" else left - right
    raise ModelError(f"{_NOT_AN_INDEX}; not a product or any other expression (not h[2*t])",
                     e.line, e.col)


def range_bounds(r, dims):
    """A range's bounds, each an integer or a dimension plus or minus an integer."""
    return index_expression(r.lo, {}, dims), index_expression(r.hi, {}, dims)


def _statements_in(statements):
    """Every statement, loops' bodies included, in source order."""
    stack = list(reversed(statements))
    while stack:
        s = stack.pop()
        yield s
        if isinstance(s, ast.For):
            stack.extend(reversed(s.body))


def lengths_of(statements):
    """The dimensions that bound a range or index a member: what unrolling must be given.

    Examples
    --------
    >>> lengths_of(ast.parse_statements("dim d, T\\ninput x[t]: vector(d) for t in 1..T"))
    ['T']
    """
    dims = [n for s in statements if isinstance(s, ast.Dim) for n, _, _ in s.names]
    used = set()
    for s in _statements_in(statements):
        ranges = [s.range] if isinstance(s, ast.For) else []
        index = getattr(s, "index", None)
        if index is not None:
            ranges.append(index[1])
        ranges.extend(r for _, r in getattr(s, "more", ()))
        for r in ranges:
            used.update(_names(r.lo) | _names(r.hi))
        for e in _expressions(s):
            for node in _nodes(e):
                if isinstance(node, ast.Reduce):
                    used.update(_names(node.range.lo) | _names(node.range.hi))
                if isinstance(node, ast.Member):
                    for i in node.indices:
                        used.update(_names(i))
        for i in getattr(s, "indices", ()):
            used.update(_names(i))
    return [d for d in dims if d in used]


def _names(e):
    return {n.id for n in _nodes(e) if isinstance(n, ast.Name)}


def _children(e):
    if isinstance(e, ast.Call):
        return list(e.args)
    if isinstance(e, ast.Binary):
        return [e.left, e.right]
    if isinstance(e, (ast.Unary, ast.Transpose)) or isinstance(e, ast.Slice) and e.operand:
        return [e.operand]
    if isinstance(e, ast.Member):
        return list(e.indices)
    if isinstance(e, ast.Reduce):
        return [e.body]
    return []


def _nodes(e):
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(_children(node))


def _expressions(s):
    """The expressions a statement holds (sizes of its type included)."""
    if isinstance(s, ast.Assign):
        return [s.expr]
    if isinstance(s, ast.Decl):
        return [leaf for size, _, _ in s.type.sizes
                for leaf in (size_leaves(size) if is_compound(size) else [size])
                if isinstance(leaf, ast.Member)]
    return []


def unroll(statements, lengths):
    """The statements of `statements` with every loop, family and sum over an index written
    out at the given lengths.

    Parameters
    ----------
    statements : list
        As :func:`symbackprop.language.syntax.parse_statements` gives them.
    lengths : dict of str to int
        A value for every dimension that bounds a range (:func:`lengths_of`).

    Returns
    -------
    list
        Statements without loops, families or indices.

    Raises
    ------
    ModelError
        Every problem found, with its line and column.

    Examples
    --------
    >>> src = "dim T\\ninput x[t]: scalar for t in 1..T\\nJ = sum(x[t] for t in 1..T)"
    >>> flat = unroll(ast.parse_statements(src), {"T": 2})
    >>> [s.name for s in flat if isinstance(s, ast.Decl)]
    ['x_1', 'x_2']
    """
    return _Unroller(statements, lengths).run()


class _Unroller:
    def __init__(self, statements, lengths):
        self.statements = statements
        self.lengths = {name: int(value) for name, value in lengths.items()}
        self.dims = {n: sp.Symbol(n, integer=True, positive=True)
                     for s in statements if isinstance(s, ast.Dim) for n, _, _ in s.names}
        self.families = {}   # name -> "declared" | "assigned"
        self.ranges = {}     # declared family -> (lo, hi) integers
        self.plain = {}      # name -> line, of values without an index
        self.defined = {}    # (name, values) -> line, of assigned members
        self.errors = []
        self.poisoned = set()  # names whose definition failed

    def run(self):
        self._survey()
        out = []
        for s in self.statements:
            self._statement(s, {}, out)
        if self.errors:
            raise ModelError.collect(unique_errors(self.errors))
        return out

    def _survey(self):
        """Which names are families and which single values, before any statement."""
        for s in _statements_in(self.statements):
            if isinstance(s, ast.Decl):
                (self.families if s.index else self.plain)[s.name] = (
                    "declared" if s.index else s.line)
            elif isinstance(s, ast.Dim) and s.index:
                self.families[s.names[0][0]] = "dim"
            elif isinstance(s, ast.Assign):
                if s.indices:
                    self.families.setdefault(s.target, "assigned")
                else:
                    self.plain.setdefault(s.target, s.line)
        for s in _statements_in(self.statements):
            name = getattr(s, "target", None) or getattr(s, "name", None)
            if isinstance(s, (ast.Decl, ast.Assign)) and name in self.families \
                    and name in self.plain:
                raise ModelError(f"'{name}' is both a family (indexed, {name}[...]) and a "
                                 f"single value (line {self.plain[name]}): rename one",
                                 s.line, s.col)

    # statements

    def _statement(self, s, env, out):
        try:
            if isinstance(s, ast.For):
                self._loop(s, env, out)
            elif isinstance(s, ast.Dim):
                dim = self._dim(s, env)
                if dim is not None:
                    out.append(dim)
            elif isinstance(s, ast.Decl):
                out.extend(self._decl(s, env))
            elif isinstance(s, ast.Assign):
                out.append(self._assign(s, env))
            else:
                out.append(s)
        except ModelError as err:
            self.errors.append(err)
            if isinstance(s, ast.Assign):
                self.poisoned.add(s.target) if not s.indices else None
        except _Poisoned:
            if isinstance(s, ast.Assign):
                self.poisoned.add(s.target)

    def _values(self, r, env, what):
        lo, hi = (self._integer(b, env) for b in (r.lo, r.hi))
        if hi - lo + 1 > MAX_MEMBERS:
            raise ModelError(f"{what} has {hi - lo + 1:,} members at these lengths (the limit "
                             f"is {MAX_MEMBERS:,})", r.line, r.col)
        return range(lo, hi + 1)

    def _loop(self, s, env, out):
        try:
            self._fresh_variable(s.var, env, s)
            values = self._values(s.range, env, "the loop")
        except ModelError:  # what the body defines is unknown: reads of it say nothing more
            self.poisoned.update(inner.target for inner in _statements_in(s.body)
                                 if isinstance(inner, ast.Assign))
            raise
        for value in values:
            for inner in s.body:
                self._statement(inner, {**env, s.var: value}, out)

    def _fresh_variable(self, var, env, s):
        if var in env or var in self.dims or var in self.plain or var in self.families:
            raise ModelError(f"the index '{var}' already names a loop variable, dimension or "
                             "value: choose another letter", s.line, s.col)

    def _dim(self, s, env):
        if s.index is None:  # a length is a number once written out
            names = tuple(n for n in s.names if n[0] not in self.lengths)
            return replace(s, names=names) if names else None
        (name, line, col), (_, r) = s.names[0], s.index
        names = tuple((member_name(name, (k,)), line, col)
                      for k in self._values(r, env, f"the family of dimensions '{name}'"))
        return ast.Dim(names, s.line, s.col)

    def _decl(self, s, env):
        if s.index is None:
            return [replace(s, type=self._type(s.type, env))]
        envs = [()]
        bounds = []
        for var, r in s.family_indices:
            self._fresh_variable(var, env, s)
            if any(var == v for v, _ in bounds):
                raise ModelError(f"the family '{s.name}' names the index '{var}' twice: give "
                                 "each index its own letter", s.line, s.col)
            values = self._values(r, env, f"the family '{s.name}'")
            bounds.append((var, (values.start, values.stop - 1)))
            envs = [e + ((var, k),) for e in envs for k in values]
        if len(envs) > MAX_MEMBERS:
            raise ModelError(f"the family '{s.name}' has {len(envs):,} members at these lengths "
                             f"(the limit is {MAX_MEMBERS:,})", s.line, s.col)
        self.ranges[s.name] = tuple(b for _, b in bounds)
        out = []
        for pairs in envs:
            ks = tuple(k for _, k in pairs)
            latex = None if s.latex is None else f"{{{s.latex}}}_{{{','.join(map(str, ks))}}}"
            out.append(replace(s, name=self._mangled(s.name, ks, s), latex=latex, index=None,
                               more=(), type=self._type(s.type, {**env, **dict(pairs)})))
        return out

    def _type(self, t, env):
        sizes = []
        for size, line, col in t.sizes:
            if is_compound(size):
                size = map_size_leaves(size, lambda leaf: self._size_leaf(leaf, env))
            elif isinstance(size, ast.Member):
                size = self._member_of_dims(size, env)
            elif size in self.lengths:
                size = self.lengths[size]
            sizes.append((size, line, col))
        return replace(t, sizes=tuple(sizes))

    def _size_leaf(self, leaf, env):
        """A dim's name or member inside a size expression, written out (a syntax node)."""
        if isinstance(leaf, ast.Member):
            return ast.Name(self._member_of_dims(leaf, env), leaf.line, leaf.col)
        if leaf.id in self.lengths:
            k = self.lengths[leaf.id]
            return ast.Num(Fraction(k), str(k), leaf.line, leaf.col)
        return leaf

    def _member_of_dims(self, m, env):
        if self.families.get(m.name) != "dim":
            raise ModelError(f"'{m.name}' is not a family of dimensions (dim {m.name}[l] for "
                             "l in 0..L)", m.line, m.col)
        return self._mangled(m.name, self._indices(m.indices, env), m)

    def _assign(self, s, env):
        if not s.indices:
            return replace(s, expr=self._expr(s.expr, env))
        values = self._indices(s.indices, env)
        key = (s.target, values)
        if key in self.defined:
            raise ModelError(f"{_member(s.target, values)} is already defined at line "
                             f"{self.defined[key]}; every member is defined once", s.line, s.col)
        try:
            expr = self._expr(s.expr, env)
        finally:  # defined even if its expression fails: one mistake, one error
            self.defined[key] = s.line
        return replace(s, target=self._mangled(s.target, values, s), expr=expr, indices=())

    def _mangled(self, name, values, where):
        mangled = member_name(name, values)
        if mangled in self.plain:
            raise ModelError(f"{_member(name, values)} is written out as '{mangled}', which "
                             f"the model already defines at line {self.plain[mangled]}: rename "
                             "one", where.line, where.col)
        return mangled

    # expressions

    def _integer(self, e, env):
        variables = {name: index_symbol(name) for name in env}
        value = index_expression(e, variables, self.dims)
        value = value.xreplace({**{variables[n]: sp.Integer(v) for n, v in env.items()},
                                **{self.dims[n]: sp.Integer(v)
                                   for n, v in self.lengths.items()}})
        if not value.is_Integer:
            raise ModelError(f"this index or bound depends on the dimension "
                             f"{', '.join(sorted(map(str, value.free_symbols)))}, which is not a "
                             "length: only a dimension that bounds a range may", e.line, e.col)
        return int(value)

    def _indices(self, indices, env):
        return tuple(self._integer(i, env) for i in indices)

    def _expr(self, e, env):
        if isinstance(e, ast.Member):
            return self._read(e, env)
        if isinstance(e, ast.Name):
            if e.id in self.families:
                raise ModelError(f"'{e.id}' is a family: name one member, {e.id}[...]",
                                 e.line, e.col)
            if e.id in env:
                raise ModelError(f"the loop variable '{e.id}' is an index, not a value",
                                 e.line, e.col)
            if e.id in self.lengths and e.id not in self.plain:  # a length as a value: / T
                value = self.lengths[e.id]
                return ast.Num(sp.Rational(value), str(value), e.line, e.col)
            return e
        if isinstance(e, ast.Reduce):
            return self._reduce(e, env)
        if isinstance(e, ast.Call):
            return replace(e, args=tuple(self._expr(a, env) for a in e.args))
        if isinstance(e, ast.Binary):
            return replace(e, left=self._expr(e.left, env), right=self._expr(e.right, env))
        if isinstance(e, (ast.Unary, ast.Transpose)) or isinstance(e, ast.Slice) and e.operand:
            return replace(e, operand=self._expr(e.operand, env))
        return e

    def _reduce(self, e, env):
        if e.var in env or e.var in self.dims or e.var in self.plain or e.var in self.families:
            raise ModelError(f"the index '{e.var}' already names a loop variable, dimension or "
                             "value: choose another letter", e.line, e.col)
        values = self._values(e.range, env, "the sum")
        if not values:
            raise ModelError(f"the {e.func} over {e.var} has no terms at these lengths",
                             e.range.line, e.range.col)
        total = None
        for k in values:
            term = self._expr(e.body, {**env, e.var: k})
            total = term if total is None else ast.Binary("+", total, term, e.line, e.col)
        if e.func == "mean":
            count = len(values)
            total = ast.Binary("/", total, ast.Num(sp.Rational(count), str(count), e.line,
                                                   e.col), e.line, e.col)
        return total

    def _read(self, m, env):
        if m.name in self.poisoned:
            raise _Poisoned
        kind = self.families.get(m.name)
        if kind is None and m.name not in self.plain:
            close = difflib.get_close_matches(m.name, list(self.families), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ModelError(f"unknown family '{m.name}'{hint}", m.line, m.col)
        if kind is None or kind == "dim":
            what = "a dimension" if kind else "not a family"
            raise ModelError(f"'{m.name}' is {what}: only a family's members have an index",
                             m.line, m.col)
        values = self._indices(m.indices, env)
        if kind == "declared" and m.name in self.ranges:
            self._within(m, values, self.ranges[m.name])
        elif (m.name, values) not in self.defined:
            later = _defined_later(self.statements, m.name)
            verb = "is read before it is defined" if later else "is never defined"
            at = ", ".join(f"{k} = {v}" for k, v in env.items())
            raise ModelError(f"{_member(m.name, values)} {verb}" + (f" (at {at})" if at else ""),
                             m.line, m.col)
        return ast.Name(self._mangled(m.name, values, m), m.line, m.col)


    def _within(self, m, values, ranges):
        """A declared family's member: as many indices as the family has, each in its range."""
        if len(values) != len(ranges):
            wanted = "one index" if len(ranges) == 1 else f"{len(ranges)} indices"
            given = "one" if len(values) == 1 else str(len(values))
            raise ModelError(f"the family '{m.name}' has {wanted}, and {m.name}[...] gives "
                             f"{given}", m.line, m.col)
        for value, (lo, hi) in zip(values, ranges):
            if not lo <= value <= hi:
                over = " × ".join(f"{a}..{b}" for a, b in ranges)
                raise ModelError(f"{_member(m.name, values)} is outside the family '{m.name}', "
                                 f"which runs over {over} here", m.line, m.col)


class _Poisoned(Exception):
    """A statement reads a value whose definition already failed: nothing new to report."""


def _member(name, values):
    return f"{name}[{', '.join(map(str, values))}]"


def _defined_later(statements, name):
    return any(isinstance(s, ast.Assign) and s.target == name for s in _statements_in(statements))


def unique_errors(errors):
    """One error per place, the first: a loop's body is checked once per iteration."""
    seen, out = set(), []
    for err in errors:
        for one in err.errors:
            key = (one.line, one.col)
            if key not in seen:
                seen.add(key)
                out.append(one)
    return out
