"""NumPy code for a derivation with loops, where loops stay loops.

:func:`generate_loop_source` writes a self-contained module (it imports NumPy
only) with ``objective``, the forward pass, and ``value_and_grad``, the forward
pass followed by the backward steps, from the
:class:`~symbackprop.derivation.loop_program.LoopProgram` of a
:class:`~symbackprop.derivation.recurrences.LoopDerivation`.  The forward pass
runs as Python ``for`` loops over the index, the backward pass as loops in
reverse index order, and a sum over an index (the gradient of a param every
iteration reads) as an accumulation inside those loops; the source is the same
for every length.

Layout of the arguments: a single value as in
:mod:`~symbackprop.printing.numpy_code` (a vector an n x 1 column, a scalar a
float).  A family whose members all have one shape (``x[t]`` for t in 1..T) is
one array, index first, its first member at position 0 (``x[t]`` is
``x[t - 1]``; a vector member a column, so ``x`` is T x d x 1); a family whose
shape varies with the index (``W[l]`` is n[l] x n[l-1]) is a list.  The gradient
of a family is returned as the family is passed: one stacked array, or a list.
Lengths (T, L) and sizes are read off the arrays; a length no array has is an
argument after the arrays.

Forward values of a family are kept in a list per family, the adjoints of a
family likewise: the list holds the members, as hand-written backpropagation
through time keeps them, and no member is copied into a stacked array.

Why compiling is safe: as for :mod:`~symbackprop.printing.numpy_code`, the
source is printed from the derivation's expressions, model names are
identifiers, and nothing the user wrote is evaluated.
"""

from __future__ import annotations

import re

import sympy as sp

from ..derivation.loop_program import checked_loop_wrt, dead_members, is_stacked, loop_program
from ..derivation.loop_statements import ForLoop, is_view, released
from ..derivation.program import is_temporary, temporary_name
from ..errors import ModelError
from ..primitives import expressions as ex
from ..primitives.members import IndexSum, Member, ScalarMember
from .loops import LoopTextPrinter, loop_names
from .names import Notation
from .numpy_code import (_RESERVED, CONVENTION, NumPyPrinter, _assignment, _comment,
                         _docstring, _identifier, _module, _signature, as_columns, layout,
                         returned_by_name)

__all__ = ["LoopNumPyPrinter", "generate_loop_source", "loop_bound", "loop_arguments"]


class LoopNumPyPrinter(NumPyPrinter):
    """NumPy for expressions with members and sums over an index.

    A member is its family's array or list at the member's position, ``h[t]`` of
    a family whose first member is h[0] as ``h[t]``, ``x[t]`` of one from x[1] as
    ``x[t - 1]``; a sum over an index the generator expression Python sums.

    Parameters
    ----------
    names : dict
        As for :class:`~symbackprop.printing.numpy_code.NumPyPrinter`, plus each
        family's name (and each adjoint family's label) to its identifier.
    offsets : dict of str to sympy.Expr
        The index of each family's member at position 0.

    Examples
    --------
    >>> t, T = sp.Symbol("t", integer=True), sp.Symbol("T", integer=True)
    >>> W = sp.MatrixSymbol("W", 2, 2)
    >>> x = Member("x", t, 2, 1)
    >>> p = LoopNumPyPrinter({W: "W", t: "t", T: "T", "x": "x"}, {"x": 1})
    >>> p.doprint(ex.mul(W, x))
    'W @ x[t - 1]'
    >>> p.doprint(IndexSum(ex.mul(W, x), (t, 1, T)))
    'sum(W @ x[t - 1] for t in range(1, T + 1))'
    """

    def __init__(self, names, offsets):
        super().__init__(names)
        self.offsets = dict(offsets)

    def _print_Member(self, expr):
        if isinstance(expr.index, sp.Tuple):  # K[o, c] of a stacked (O, C, ...) array
            positions = (i - k for i, k in zip(expr.index, self.offsets[expr.family]))
            return f"{self.names[expr.family]}[{', '.join(map(self.doprint, positions))}]"
        position = sp.sympify(expr.index, strict=True) - self.offsets[expr.family]
        return f"{self.names[expr.family]}[{self.doprint(position)}]"

    _print_ScalarMember = _print_Member

    def _print_Add(self, expr):
        if expr.is_integer:  # an index or a bound: t + 1, T - 1, the number last
            return self._terms(sorted(expr.args, key=lambda a: a.is_Number))
        return super()._print_Add(expr)

    def _print_Indexed(self, expr):  # a width n[l], from the list of a family of dims
        return f"{self.names[expr.base]}[{self.doprint(expr.indices[0])}]"

    def _summed(self, body, var, lo, hi):
        # Python's sum, starting from 0, adds arrays as NumPy does
        return (f"sum({self.doprint(body)} for {self.doprint(var)} in "
                f"range({self.doprint(lo)}, {self.doprint(sp.sympify(hi, strict=True) + 1)}))")

    def _print_IndexSum(self, expr):
        return self._summed(expr.body, *expr.limits)

    def _print_Sum(self, expr):
        var, lo, hi = expr.limits[-1]
        body = expr.function if len(expr.limits) == 1 else sp.Sum(expr.function,
                                                                  *expr.limits[:-1])
        return self._summed(body, var, lo, hi)


def loop_bound(derivation, bind=None):
    """`derivation` with abstract functions bound to built-ins; all must be bound.

    Raises
    ------
    ModelError
        Naming the functions left without numbers, with an example binding.
    """
    model = derivation.model
    if bind:
        derivation = type(derivation).of(model.bind(bind))
        model = derivation.model
    unbound = [model.functions[name] for name in model.unbound]
    if unbound:
        examples = ",".join(f"{f.name}={'tanh' if f.elementwise else 'squared_error'}"
                            for f in unbound)
        listed = " and ".join(f"'{f.name}'" for f in unbound)
        what, verb = ("function", "has") if len(unbound) == 1 else ("functions", "have")
        raise ModelError(f"the abstract {what} {listed} {verb} no numbers: bind to built-ins "
                         f"(for instance {examples})", unbound[0].line,
                         unbound[0].col).located(model.filename, model.source)
    return derivation


# --- names -------------------------------------------------------------------------------------

def _declared(model):
    """The declared single values and families, in the order the model declares them."""
    items = [(v.line, v.col, n) for n, v in model.variables.items() if v.declared]
    items += [(f.line, f.col, n) for n, f in model.families.items() if f.declared]
    return [n for _, _, n in sorted(items)]


def _identifiers(derivation, program):
    """A Python identifier for every name the program's code uses."""
    model = derivation.model
    used = set(_RESERVED)
    idents = {n: _identifier(n, used) for n in (*model.variables, *model.families)}
    names = {}
    for n in model.variables:
        names[derivation.symbol(n)] = idents[n]
        names[derivation.adjoint_symbol(n)] = _identifier("grad_" + idents[n], used)
    for n, f in model.families.items():
        names[n] = idents[n]
        names[derivation.adjoint_symbol(n, f.index).family] = _identifier("grad_" + idents[n],
                                                                          used)
    for n, symbol in model.dims.items():
        names[symbol] = _identifier(n if n in model.lengths else "n_" + n, used)
    for n, base in model.dim_families.items():
        names[base] = _identifier("n_" + n, used)
    for n in program.storage:  # the lists of kept forward subexpressions: saved0, ...
        if n not in names:
            names[n] = _identifier(n.lstrip("\0"), used)
    for symbol in sorted(_symbols(program), key=str):
        if symbol not in names:
            text = temporary_name(symbol) if is_temporary(symbol) else \
                str(symbol).lstrip("\0").split("\0")[0]  # t\0k, a sum's own t, prints t_
            names[symbol] = _identifier(text, used)
    return idents, names


def _symbols(program):
    """The index variables, temporaries and carried values of a program."""
    out = set()
    stack = list(program.forward + program.backward)
    while stack:
        item = stack.pop()
        if isinstance(item, ForLoop):
            out.add(item.var)
            stack.extend(item.body)
            continue
        for expr in (item.target, item.value):
            for e in sp.preorder_traversal(expr):
                if isinstance(e, (IndexSum, sp.Sum)):
                    out.update(limit[0] for limit in ([e.limits] if isinstance(e, IndexSum)
                                                      else e.limits))
                elif isinstance(e, (sp.Symbol, sp.MatrixSymbol)) and str(e).startswith("\0"):
                    out.add(e)
    return out


# --- the arguments, and the sizes read off them ----------------------------------------------

class _Arguments:
    """What the generated functions take, and how each length and size is read off it.

    Attributes
    ----------
    arrays : list of str
        The declared values and families, in model order.
    passed : list of str
        The lengths and dims no array has, in model order: arguments after the arrays.
    stacked : dict of str to bool
        For each declared family, whether it is one stacked array (else a list).
    """

    def __init__(self, derivation):
        model = derivation.model
        self.model = model
        self.arrays = _declared(model)
        self.stacked = {n: is_stacked(model.families[n]) for n in self.arrays
                        if n in model.families}
        self.count = sp.Symbol("\0count", integer=True)
        self.lengths, self.dims, self.widths = {}, {}, []
        self.axes = {}  # a length read off another axis than the first: C of K[o, c]
        for name in self.arrays:
            if name in model.families:
                self._family(name, model.families[name])
            else:
                self._sizes(model.variables[name].shape, lambda axis, n=name: (n, None, axis))
        sourced = set(self.lengths) | set(self.dims)
        self.passed = [n for n, s in model.dims.items() if s not in sourced]

    def _family(self, name, family):
        bounds = family.bounds if family.extra else family.ranges[:1]
        for index_axis, (lo, hi) in enumerate(bounds):
            count = sp.simplify(sp.sympify(hi, strict=True) - lo + 1)
            free = [s for s in sp.sympify(count, strict=True).free_symbols
                    if s not in self.lengths]
            if len(free) == 1:
                (length,) = free
                solved = sp.solve(sp.Eq(count, self.count), length)
                if len(solved) == 1:
                    self.lengths[length] = (name, solved[0])
                    self.axes[length] = index_axis
        if self.stacked[name]:
            self._sizes(family.shape, lambda axis: (name, None, axis + len(bounds)))
        else:
            first = family.shape_at(lo)
            self._sizes(first, lambda axis: (name, 0, axis), family, lo, hi)

    def _sizes(self, shape, source, family=None, lo=None, hi=None):
        if shape.is_scalar:
            return
        sizes = (shape.rows,) if shape.kind == "vector" else (shape.rows, shape.cols)
        general = None if family is None else (family.shape.rows, family.shape.cols)
        for axis, size in enumerate(sizes):
            size = sp.sympify(size, strict=True)
            if size in self.model.dims.values():
                self.dims.setdefault(size, source(axis))
            elif isinstance(size, sp.Indexed):
                if general is None:
                    self.widths.append((size.base, size.indices[0], source(axis), None))
                else:  # a width for every member: n[l + c] of W[l]
                    g = sp.sympify(general[axis], strict=True)
                    self.widths.append((g.base, g.indices[0], source(axis),
                                        (family.index, lo, hi)))


def loop_arguments(derivation):
    """The arguments of the generated functions (:class:`_Arguments`)."""
    return _Arguments(derivation)


def _read(source, idents, printer, position=None):
    """The Python expression reading a size: ``x.shape[1]``, ``W[l - 1].shape[0]``."""
    name, member, axis = source
    if member is None:
        return f"{idents[name]}.shape[{axis}]"
    at = member if position is None else printer.doprint(position)
    return f"{idents[name]}[{at}].shape[{axis}]"


def _preamble(arguments, idents, names, printer, text, valid_from):
    """The lines reading the lengths and sizes `text` uses, then checking the lengths."""
    model = arguments.model
    check = []
    if valid_from > 1 and model.lengths:
        lengths = [names[model.dims[n]] for n in model.lengths]
        least = f"min({', '.join(lengths)})" if len(lengths) > 1 else lengths[0]
        check = [f"    if {least} < {valid_from}:",
                 f"        raise ValueError(\"these steps hold for {', '.join(model.lengths)} "
                 f">= {valid_from}\")"]
    needed = text + "\n".join(check)
    widths = _widths(arguments, idents, names, printer)
    if not any(re.search(rf"\b{names[base]}\[", needed)
               for base in model.dim_families.values()):
        widths = []
    needed += "\n".join(widths)
    sizes = [f"    {names[s]} = {_read(source, idents, printer)}"
             for s, source in arguments.dims.items() if re.search(rf"\b{names[s]}\b", needed)]
    needed += "\n".join(sizes)
    lengths = []
    for length, (name, solved) in arguments.lengths.items():
        if re.search(rf"\b{names[length]}\b", needed):
            reader = f"{idents[name]}.shape[{arguments.axes.get(length, 0)}]" \
                if arguments.stacked[name] else f"len({idents[name]})"
            stand_in = sp.Symbol("\0reader", integer=True)
            printer.names[stand_in] = reader
            lengths.append(f"    {names[length]} = "
                           f"{printer.doprint(solved.xreplace({arguments.count: stand_in}))}")
    return lengths + sizes + widths + check


def _widths(arguments, idents, names, printer):
    """The lines filling the dict of each family of dims: ``n_n[l] = W[l - 1].shape[0]``."""
    lines = []
    for base in arguments.model.dim_families.values():
        sources = [w for w in arguments.widths if w[0] == base]
        if sources:
            lines.append(f"    {names[base]} = {{}}")
        for _, index, source, over in sources:
            if over is None:
                lines.append(f"    {names[base]}[{printer.doprint(index)}] = "
                             f"{_read(source, idents, printer)}")
                continue
            var, lo, hi = over
            if var not in printer.names:  # the family's own index, named for the loop
                printer.names[var] = _identifier(str(var), set(printer.names.values()) |
                                                 _RESERVED)
            names[var] = printer.names[var]
            position = var - arguments.model.families[source[0]].ranges[0][0]
            lines += [f"    for {names[var]} in range({printer.doprint(lo)}, "
                      f"{printer.doprint(sp.sympify(hi, strict=True) + 1)}):",
                      f"        {names[base]}[{printer.doprint(index)}] = "
                      f"{_read(source, idents, printer, position)}"]
    return lines


# --- the code ------------------------------------------------------------------------------------

class _Code:
    """The functions of one generated module: names, the printer, the arguments."""

    def __init__(self, derivation, program, text):
        self.d, self.program, self.model, self.text = derivation, program, derivation.model, text
        self.idents, self.names = _identifiers(derivation, program)
        self.storage = program.storage
        self.printer = LoopNumPyPrinter(self.names, {n: s.offset for n, s in
                                                     self.storage.items()})
        self.arguments = _Arguments(derivation)
        self._result_of = {derivation.adjoint_symbol(n, f.index).family: n
                           for n, f in self.model.families.items()}

    def _print(self, expr):
        return self.printer.doprint(sp.sympify(expr, strict=True))

    def _slot(self, target):
        return isinstance(target, (Member, ScalarMember)) and self.storage[target.family].stacked

    def item(self, item, indent):
        return self.loop(item, indent) if isinstance(item, ForLoop) else \
            self.statement(item, indent)

    def statement(self, s, indent):
        lines = _comment(s.comment, indent) if s.comment else []
        value = s.value
        text = repr(float(value)) if value.is_number and not ex.is_matrix(value) else \
            self._print(value)
        if s.fresh and ex.is_matrix(value) and is_view(value) and not self._slot(s.target):
            text = f"np.copy({text})"  # a result, or a sum added to in place, of its own
        target = self._print(s.target)
        if not s.accumulate:
            return lines + _assignment(target, text, indent)
        out = _assignment(target + " +", text, indent)
        return lines + [out[0].replace(f"{target} + = ", f"{target} += ", 1), *out[1:]]

    def loop(self, loop, indent, dead=()):
        var = self._print(loop.var)
        if loop.descending:
            header = f"for {var} in range({self._print(loop.hi)}, " \
                     f"{self._print(sp.sympify(loop.lo, strict=True) - 1)}, -1):"
        else:
            header = f"for {var} in range({self._print(loop.lo)}, " \
                     f"{self._print(sp.sympify(loop.hi, strict=True) + 1)}):"
        lines = []
        for symbol, held in loop.carried:
            lines += _comment(f"{self.names[symbol]} is {self.text(held)}, as the iteration "
                              "before computed it", indent)
        lines.append(indent + header)
        for inner in loop.body:
            lines += self.item(inner, indent + "    ")
        if dead:  # freed as soon as no later iteration reads them, as memory is reused
            names = [self._print(Member(f, i, 1, 1)) for f, i in dead]
            line = f"{indent}    " + " = ".join(names + ["None"])
            if len(line) > 99:  # one member a line, within the lint's width
                lines += [f"{indent}    {name} = None" for name in names]
            else:
                lines.append(line)
        return lines

    def _count(self, count):
        text = self._print(count)
        return text if re.fullmatch(r"\w+", text) else f"({text})"

    def allocations(self, text):
        """The lists (and the stacked gradients) that `text` uses, made ready."""
        lines = []
        for name, s in self.storage.items():
            ident = self.names[name]
            used = rf"\b{ident}\b" if s.declared else rf"\b{ident}\["  # a result: returned
            if not re.search(used, text) or (s.declared and name in self.model.families):
                continue
            given = self.idents.get(self._result_of.get(name))
            if s.declared and s.stacked:
                value = f"np.{'zeros' if s.zeros else 'empty'}_like({given})"
            elif s.declared and s.zeros:
                value = f"[np.zeros_like(member) for member in {given}]"
            else:
                value = f"[None] * {self._count(s.count)}"
            lines.append(f"    {ident} = {value}")
        return lines

    def _owned(self, items):
        """What a function may release: lists it makes and values its top level assigns."""
        owned = {n for n, s in self.storage.items() if not s.declared}
        owned |= {i.target for i in items if not isinstance(i, ForLoop)
                  and not isinstance(i.target, (Member, ScalarMember))}
        return owned - set(self.program.results) - {self.program.objective}

    def function(self, name, items, docstring, returned):
        owned, body = self._owned(items), []
        dead = dead_members(items, self.storage, self.model)
        for item, gone, freed in zip(items, released(items, ()), dead):
            body += self.loop(item, "    ", freed) if freed else self.item(item, "    ")
            gone = [self.names[h] for h in gone if h in owned]
            if gone:
                body.append("    del " + ", ".join(gone))
        allocations = self.allocations("\n".join(body + returned))
        preamble = _preamble(self.arguments, self.idents, self.names, self.printer,
                             "\n".join(allocations + body + returned), self.d.valid_from)
        parameters = [self.idents[n] for n in self.arguments.arrays] + \
            [self.names[self.model.dims[n]] for n in self.arguments.passed]
        columns = as_columns({self.idents[n]: self.layout(n) for n in self.arguments.arrays},
                             "\n".join(body))
        return [*_signature(name, parameters), *_docstring(docstring), *columns, *preamble,
                *allocations, *body, *returned]

    def layout(self, name):
        """How a declared value or family is passed and returned (see :func:`as_columns`)."""
        if name in self.model.variables:
            return layout(self.model.variables[name].shape)
        kind = layout(self.model.families[name].shape)
        if kind != "vector":  # scalars and matrices: as they are, stacked or listed
            return "family"
        return "stacked vectors" if self.arguments.stacked[name] else "listed vectors"

    def described(self):
        """The arguments with their layouts, for the module's docstring."""
        parts = []
        for name in self.arguments.arrays:
            ident = self.idents[name]
            if name in self.model.variables:
                parts.append(f"{ident} {self._shape(self.model.variables[name].shape)}")
                continue
            f, s = self.model.families[name], self.storage[name]
            if f.extra:
                parts.append(self._described_pair(name, ident, f, s))
                continue
            lo, hi, position = (str(e).replace(" ", "") for e in (*f.ranges[0],
                                                                   f.index - s.offset))
            at = f"{name}[{f.index}] for {f.index} = {lo}..{hi} at {ident}[{position}]"
            if s.stacked:
                inner = "" if f.shape.is_scalar else ", " + self._sizes(f.shape)
                parts.append(f"{ident} ({self._print(s.count)}{inner}), {at}")
            else:
                parts.append(f"{ident} a list of {self._print(s.count)} arrays, {at}, "
                             f"{name}[{f.index}] of shape {self._shape(f.shape)}")
        if self.arguments.passed:
            parts.append("then " + ", ".join(self.names[self.model.dims[n]]
                                             for n in self.arguments.passed))
        return "; ".join(parts)

    def _described_pair(self, name, ident, f, s):
        """``K (O, C, p, m), K[o, c] for o = 1..O, c = 1..C at K[o - 1, c - 1]``."""
        def text(e):
            return str(e).replace(" ", "")
        ranges = ", ".join(f"{v} = {text(lo)}..{text(hi)}" for v, (lo, hi) in
                           zip(f.indices, f.bounds))
        position = ", ".join(text(v - k) for v, k in zip(f.indices, s.offset))
        counts = ", ".join(self._print(c) for c in s.count)
        inner = "" if f.shape.is_scalar else ", " + self._sizes(f.shape)
        return (f"{ident} ({counts}{inner}), {name}[{', '.join(map(str, f.indices))}] for "
                f"{ranges} at {ident}[{position}]")

    def _sizes(self, shape):
        """A member's sizes as the caller passes it: ``n_d`` of a vector, ``n_h, n_d``."""
        if shape.kind == "vector":
            return self._print(shape.rows)
        return f"{self._print(shape.rows)}, {self._print(shape.cols)}"

    def _shape(self, shape):
        if shape.is_scalar:
            return "a float"
        return f"({self._sizes(shape)},)" if shape.kind == "vector" else f"({self._sizes(shape)})"


def _formula(derivation):
    """``comment(target, value)``: the step as text, ``∂L/∂h_t = W_hhᵀ (∂L/∂h_{t+1}) + …``,
    and the text printer."""
    printer = LoopTextPrinter(loop_names(derivation, latex=False), Notation(),
                              derivation.model.objective)

    def text(expr):
        # a sum's own index (t\0k, see loop_program._Apart) reads as the index it stands for
        expr = sp.sympify(expr, strict=True)
        own = {s: sp.Symbol(s.name.split("\0")[0], integer=True)
               for s in expr.atoms(sp.Symbol) if "\0" in s.name[1:]}
        return printer.doprint(expr.xreplace(own) if own else expr)

    text.names = printer.names  # the lists the program adds (saved0) are named there too
    return (lambda target, value: f"{text(target)} = {text(value)}"), text


def generate_loop_source(derivation, wrt=None):
    """The NumPy module of a derivation with loops, every abstract function bound.

    Parameters
    ----------
    derivation : LoopDerivation
    wrt : list of str, optional
        The params and inputs (single values or families) whose gradients
        ``value_and_grad`` returns; the params by default.

    Returns
    -------
    str
        Python source defining ``objective(...)`` and ``value_and_grad(...)``,
        which take the declared values and families in model order (then any
        length or size no array has), laid out as :meth:`LoopDerivation.lambdify`'s
        function takes them, and return J, and J with the gradients by name.
        The forward and backward passes are loops; the source does not depend
        on the lengths.  It imports NumPy only.

    Raises
    ------
    ModelError
        If an abstract function is left unbound.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp", bind={"ell": "squared_error"}))
    >>> print(generate_loop_source(d).split("def value_and_grad")[1])  # doctest: +ELLIPSIS
    (x, y, h0, W_hx, W_hh, W_qh):
        ...
        for t in range(1, T + 1):
            h[t] = W_hx @ x[t - 1] + W_hh @ h[t - 1]
            o[t - 1] = W_qh @ h[t]
        ...
        for t in range(T - 1, 0, -1):
            # ∂L/∂h_t = W_qhᵀ (∂L/∂o_t) + W_hhᵀ (∂L/∂h_{t+1})
            grad_h[t] = W_qh.T @ grad_o[t - 1] + W_hh.T @ grad_h[t + 1]
            grad_W_hx += np.einsum("ik,kj->ij", grad_h[t], x[t - 1].T)
            grad_W_hh += np.einsum("ik,kj->ij", grad_h[t], h[t - 1].T)
            h[t - 1] = grad_o[t - 1] = grad_h[t + 1] = None
        del h, grad_o, grad_h
        return float(L), {'W_hx': grad_W_hx, 'W_hh': grad_W_hh, 'W_qh': grad_W_qh}
    <BLANKLINE>
    """
    derivation = loop_bound(derivation)
    wrt = checked_loop_wrt(derivation, wrt)
    comment, text = _formula(derivation)
    program = loop_program(derivation, wrt, comment)
    for name in program.storage.keys() - set(derivation.model.families) - set(
            derivation.adjoint_symbol(n, f.index).family for n, f in
            derivation.model.families.items()):
        text.names[("family", name)], text.names[("layered", name)] = name.lstrip("\0"), False
    code = _Code(derivation, program, text)
    objective = code.names[program.objective]
    grads = [(n, code.names[r], code.layout(n)) for n, r in zip(wrt, program.results)]
    model = derivation.model
    wrt_text = ", ".join(wrt) if wrt else "nothing"
    functions = [
        code.function("objective", list(program.forward), f"The objective {model.objective}: "
                      "the forward pass alone.", [f"    return float({objective})"]),
        code.function("value_and_grad", list(program.forward + program.backward),
                      f"{model.objective} and its gradients with respect to {wrt_text}: the "
                      "forward pass, then the backward, loops in reverse.",
                      returned_by_name(objective, [grads])),
    ]
    description = (f"Arguments: {code.described()}. {CONVENTION} A family of vectors is one "
                   "array, a member a row (or a list of 1-D arrays where the members' sizes "
                   f"differ). value_and_grad returns {model.objective} and the gradients by name, "
                   "each laid out as its value or family is passed.")
    return _module("Objective and gradients of a model with loops, generated by symbackprop.",
                   description, model, functions)
