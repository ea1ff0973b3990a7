"""What backward keeps: a liveness analysis of the generated program, and its peak memory.

Backward reads forward values (dJ/dW2 reads h; dJ/dz reads z through
phi'(z); dJ/dW1 reads x), so training keeps intermediates that inference frees
as soon as the next layer has read them.  :func:`memory_report` answers "how
much, and why" for a model: for every value, where it is computed, which
backward steps read it and after which statement each program frees it; and
the peak of what training and inference hold, as a formula in the dims and as
a number of bytes for given sizes.

The analysis reads the very :class:`~symbackprop.derivation.program.Program` that the
generated NumPy code runs (common subexpressions shared, each value released
after its last use), so the formula is the code's own: a test runs the code
and counts the bytes it holds.  Any program is analysed alike, so
:func:`hvp_memory_report` describes the program of the Hessian-vector
products too (the first-order program, then its tangents), beside training's
and inference's.

What is counted: every value held between two statements (the caller's
inputs, params and consts throughout, plus the named values computed so far
and still needed), in elements of the dtype.  The temporaries that NumPy
allocates inside one statement come on top, briefly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from ..derivation.program import forward_program, is_temporary, training_program
from ..derivation.reverse import adjoint_symbol
from .names import Notation, display_names, hvp_display_names
from .numpy_code import code_names, hvp_code_names
from .printers import MatrixLatexPrinter, TextPrinter

__all__ = ["memory_report", "hvp_memory_report", "MemoryReport", "HVPMemoryReport", "Value",
           "DTYPES"]

#: Bytes per element of the dtypes a report can be priced in.
DTYPES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}

#: How a report names each program it compares.
_LABELS = {"inference": "inference", "training": "training", "hvp": "H v"}


@dataclass(frozen=True)
class Value:
    """One value of the programs and its lifetime.

    Attributes
    ----------
    name : str
        As the derivation prints it: a variable (``z``), an adjoint (``∂J/∂z``)
        or a shared subexpression (``t0``).
    role : str
        ``"input"``, ``"param"``, ``"const"``, ``"direction"`` (held by the caller),
        ``"forward"``, ``"adjoint"``, ``"gradient"`` (a returned adjoint),
        ``"tangent"`` (R{z} or R{∂J/∂z}), ``"H v"`` (a returned tangent of a
        gradient), ``"forward (shared)"`` or ``"backward (shared)"`` (a common
        subexpression the code computes once).
    elements : sympy.Expr
        Its number of entries, in the dims (1 for a scalar).
    read_by_backward : tuple of str
        The backward statements that read it, in order (for the H v program,
        its tangents' statements too: every statement after the forward pass).
    inference_freed_after : str or None
        The statement after which inference frees it (None: held by the caller,
        returned, or not computed by inference).
    training_freed_after : str or None
        The same for training (the forward pass then the backward pass).
    forward : bool
        Whether it is the caller's or computed by the forward pass (what the
        objective needs), rather than by the backward pass.
    hvp_freed_after : str or None
        The same for the H v program (:class:`HVPMemoryReport` only).
    """

    name: str
    role: str
    elements: object
    read_by_backward: tuple
    inference_freed_after: object
    training_freed_after: object
    forward: bool = True
    hvp_freed_after: object = None

    @property
    def kept_for_backward(self):
        """Whether backward reads it: training must keep it past the forward pass."""
        return self.forward and bool(self.read_by_backward)

    def freed_after(self, which):
        """The statement after which program `which` frees it (``"inference"``,
        ``"training"`` or ``"hvp"``)."""
        return {"inference": self.inference_freed_after, "training": self.training_freed_after,
                "hvp": self.hvp_freed_after}[which]


class MemoryReport:
    """The values of a model's programs, their lifetimes, and the peaks.

    Attributes
    ----------
    values : tuple of Value
        Inputs, params and consts, then the training program's values in order.
    held_by_caller : sympy.Expr
        The elements of the inputs, params and consts, which both programs
        hold from start to end.
    inference_peak, training_peak : sympy.Expr
        The most elements held at once by the forward pass alone and by the
        forward-then-backward pass, the caller's included: ``held_by_caller``
        plus a polynomial in the dims, or plus ``Max`` of several where which
        one is larger depends on the sizes.
    gradients : dict of str to tuple of int
        For each param, (the backward statement completing its gradient, the
        number of backward statements), counted from 1.
    abstract : tuple of str
        The abstract functions left unbound: the report is then about the
        derivation as written, not the code that runs with built-ins bound.
    programs : tuple of str
        The programs compared, as `which` names them: ``("inference",
        "training")``; the last is the one :attr:`values` follows.
    """

    #: The title of the text report, before the model's file name.
    title = "What backward keeps"
    #: What the caller holds, in the summary.
    caller_kinds = "inputs, params, consts"
    #: Who reads the values the table lists as read, and the summary as kept.
    readers = "backward"
    #: The statements the gradients' completion is counted in.
    counted = "backward statement"
    #: (a, b): "a holds r times what b holds", in the summary at given sizes.
    ratios = (("training", "inference"),)

    def __init__(self, derivation, values, held_by_caller, inference_peaks, training_peaks,
                 gradients, latex=False, abstract=()):
        self.derivation = derivation
        self.latex = latex
        self.abstract = tuple(abstract)
        self.values = tuple(values)
        self.gradients = gradients
        self.programs = ()
        self._caller, self._own = {}, {}
        self._add("inference", held_by_caller, inference_peaks)
        self._add("training", held_by_caller, training_peaks)

    def _add(self, which, held_by_caller, peaks):
        """Program `which`: what its caller holds, and its own peak's candidates."""
        self.programs += (which,)
        self._caller[which], self._own[which] = held_by_caller, list(peaks)
        self.held_by_caller = held_by_caller  # the last program's, which the rows follow

    inference_peak = property(lambda self: self.peak("inference"))
    training_peak = property(lambda self: self.peak("training"))

    def peak(self, which):
        """The peak of program `which`, the caller's share included, as a formula."""
        own = self._own[which]
        most = own[0] if len(own) == 1 else sp.Max(*own, evaluate=False)
        return sp.Add(self._caller[which], most)

    def show(self, expr):
        """A formula in elements as text (``d*h + 2*q``) or LaTeX (``d h + 2 q``)."""
        return sp.latex(expr) if self.latex else _text(expr)

    def own_peaks(self, which):
        """The candidates for the peak of `which` beyond the caller's: the peak is their max."""
        return list(self._own[which])

    def formula(self, which):
        """The peak of `which` as printed: the caller's share, plus the program's own."""
        caller, own = self.formula_parts(which)
        return f"{caller} + {own}" if own else caller

    def formula_parts(self, which):
        """(the caller's share, the program's own peak or "") of `which`, as printed."""
        own, caller = self._own[which], self.show(self._caller[which])
        if own == [0]:
            return caller, ""
        if len(own) == 1:
            most = self.show(own[0])
        elif self.latex:
            most = f"\\max\\left({', '.join(map(self.show, own))}\\right)"
        else:
            most = f"max({', '.join(map(self.show, own))})"
        return caller, most

    @property
    def kept(self):
        """The names of the values kept for backward (and the tangents), in order."""
        return tuple(v.name for v in self.values if v.kept_for_backward)

    def elements(self, which, dims):
        """The peak of `which` (one of :attr:`programs`) in elements, for `dims`.

        Parameters
        ----------
        which : {"inference", "training", "hvp"}
        dims : dict of str to int
            A size for every dim of the model.
        """
        sizes = _dim_substitution(self.derivation.model, dims)
        return int(self._caller[which].subs(sizes)) + max(int(p.subs(sizes))
                                                          for p in self._own[which])

    def bytes(self, which, dims, dtype="float64"):
        """The peak of `which` in bytes, for `dims` and `dtype` (see :data:`DTYPES`)."""
        return self.elements(which, dims) * _itemsize(dtype)

    def bytes_of(self, dims, dtype="float64"):
        """Each value's size in bytes for `dims`, as text (``"3.1 KiB"``), by name."""
        sizes = _dim_substitution(self.derivation.model, dims)
        return {v.name: _human(int(v.elements.subs(sizes)) * _itemsize(dtype))
                for v in self.values}

    def rows(self, dims=None, dtype="float64"):
        """The table as rows of strings: a header, then one row per value."""
        sizes = _dim_substitution(self.derivation.model, dims) if dims else None
        header = ["value", "role", "elements"] + (["bytes"] if sizes else []) + [
            f"read by {self.readers}"] + [f"{_LABELS[w]} frees it after"
                                          for w in self.programs]
        rows = [header]
        for v in self.values:
            row = [v.name, v.role, self.show(v.elements)]
            if sizes:
                row.append(_human(int(v.elements.subs(sizes)) * _itemsize(dtype)))
            row.append(", ".join(v.read_by_backward) or "-")
            row += [_lifetime(v.freed_after(w), v.role) for w in self.programs]
            rows.append(row)
        return rows

    def summary(self, dims=None, dtype="float64"):
        """The conclusions as lines of text: the peaks, what is kept, when gradients are done."""
        caller = self.show(self.held_by_caller)
        lines = [f"held by the caller ({self.caller_kinds}): {caller} elements"]
        for which in self.programs:
            line = f"peak, {_LABELS[which]}: {self.formula(which)} elements"
            if dims:
                line += f" = {_human(self.bytes(which, dims, dtype))} in {dtype}"
            lines.append(line)
        for a, b in self.ratios if dims else ():
            ratio = self.elements(a, dims) / self.elements(b, dims)
            lines.append(f"{_LABELS[a]} holds {ratio:.2f}x what {_LABELS[b]} holds at "
                         "these sizes")
        lines.append(f"kept for {self.readers}: " + (", ".join(self.kept) or "nothing"))
        lines.append("(named values held between statements of the generated code; NumPy's "
                     "temporaries within one statement come on top)")
        if self.abstract:
            lines.append(f"for abstract {', '.join(self.abstract)}: bound to built-ins (--bind),"
                         " a derivative may read other values (tanh' reads h = tanh(z), not z)")
        for what, done in self._completed():
            for name, (at, total) in done.items():
                lines.append(f"{what} of {name} complete after {self.counted} {at} of {total}")
        return lines

    def _completed(self):
        """(what, {name: (statement, of how many)}) for the results the summary dates."""
        return [("gradient", self.gradients)]

    def text(self, dims=None, dtype="float64"):
        """The report as a table for a terminal.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> report = memory_report(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
        >>> print(report.text())  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
        What backward keeps: examples/textbook_mlp.sbp
        value   role      elements  read by backward  inference frees it after  training ...
        x       input     d         ∂J/∂W1            (caller)                  (caller)
        ...
        z       forward   h         ∂J/∂z             h                         ∂J/∂z
        h       forward   h         ∂J/∂W2            o                         ∂J/∂W2
        ...
        peak, inference: d*h + d + h*q + q + 1 + max(2*h, h + q, 3) elements
        ...
        kept for backward: x, y, W1, W2, λ, z, h, o
        ...
        """
        title = f"{self.title}: {self.derivation.model.filename}"
        if dims:
            title += f" ({dtype}; " + ", ".join(f"{k}={v}" for k, v in dims.items()) + ")"
        rows = self.rows(dims, dtype)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        table = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join([title, *table, "", *self.summary(dims, dtype)]) + "\n"

    def __str__(self):
        return self.text()


class HVPMemoryReport(MemoryReport):
    """The memory report of the program computing J, its gradients and H v, beside
    training's and inference's (:func:`hvp_memory_report`).

    Attributes
    ----------
    hvp : HVPDerivation
        The derivation whose program is described.
    hvp_peak : sympy.Expr
        The most elements the H v program holds at once, the caller's included.
    held_by_caller : sympy.Expr
        The elements of the inputs, params, consts and directions, which the H v
        program holds from start to end (training and inference hold all but
        the directions).
    hvps : dict of str to tuple of int
        For each of `wrt`, (the statement after the forward pass completing its
        H v, the number of such statements), counted from 1; :attr:`gradients`
        counts the same statements.
    values, inference_peak, training_peak, gradients, abstract, programs
        As in :class:`MemoryReport`; the values follow the H v program, and
        ``programs`` is ``("inference", "training", "hvp")``.
    """

    title = "What backward and the tangents keep"
    caller_kinds = "inputs, params, consts, directions"
    readers = "backward or tangents"
    counted = "backward or tangent statement"
    ratios = (("training", "inference"), ("hvp", "training"))

    def __init__(self, hvp, values, held_by_caller, peaks, gradients, hvps, latex=False,
                 abstract=()):
        super().__init__(hvp.derivation, values, held_by_caller["training"],
                         peaks["inference"], peaks["training"], gradients, latex, abstract)
        self._add("hvp", held_by_caller["hvp"], peaks["hvp"])
        self.hvp = hvp
        self.hvps = hvps

    hvp_peak = property(lambda self: self.peak("hvp"))

    def _completed(self):
        return [("gradient", self.gradients), ("H v", self.hvps)]


def _itemsize(dtype):
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}") from None


def _dim_substitution(model, dims):
    """``{dim symbol: size}`` for `dims` (sizes by dim name), checked against the model's dims."""
    missing = [n for n in model.dims if n not in dims]
    unknown = [n for n in dims if n not in model.dims]
    if missing or unknown:
        raise ValueError("dims: " + "; ".join(
            part for part in (missing and "missing " + ", ".join(missing),
                              unknown and "unknown " + ", ".join(unknown)) if part)
            + f" (the model's dims are {', '.join(model.dims) or 'none'})")
    for n, size in dims.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"dims: {n} must be a positive whole number, not {size!r}")
    return {model.dims[n]: size for n, size in dims.items()}


def _text(expr):
    return str(expr).replace("Max(", "max(").replace("**", "^")


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def _lifetime(freed_after, role):
    if role in ("input", "param", "const", "direction"):
        return "(caller)"
    if role in ("gradient",) or freed_after == "(returned)":
        return "(returned)"
    return freed_after or "-"


def _elements(symbol):
    return sp.Integer(1) if isinstance(symbol, sp.Symbol) else symbol.shape[0] * symbol.shape[1]


def _peaks(program, held_by_caller, dims):
    """What `program` holds beyond the caller's arrays, after each statement and before its dels.

    Returned as the polynomials (in the dims) that no other candidate bounds
    for all sizes >= 1; the peak is their maximum.  Sizes are added up as
    polynomials with integer coefficients, {exponents: coefficient}, so that
    a deep model costs a pass over its statements, not SymPy algebra at each.
    """
    polynomial = {}  # symbol -> its elements as a polynomial

    def elements(symbol):
        if symbol not in polynomial:
            polynomial[symbol] = sp.Poly(_elements(symbol), *dims).as_dict() if dims else \
                {(): int(_elements(symbol))}
        return polynomial[symbol]

    buffer_of = {}   # an alias shares its source's buffer
    holders = {}     # buffer -> names holding it
    held = {}        # the program's own buffers' total, {exponents: coefficient}
    kept = _Frontier()
    kept.add(tuple(held.items()))
    for statement, released in zip(program.statements, program.releases):
        target = statement.target
        if statement.is_alias:  # a name or a transpose of one: the same array
            source = statement.value
            source = source.arg if isinstance(source, sp.Transpose) else source
            buffer = buffer_of.get(source, source)
        else:
            buffer = target
            _accumulate(held, elements(target), 1)
        buffer_of[target] = buffer
        holders.setdefault(buffer, set()).add(target)
        kept.add(tuple(sorted(held.items())))
        for symbol in released:
            buffer = buffer_of[symbol]
            holders[buffer].discard(symbol)
            if not holders[buffer] and buffer not in held_by_caller:
                _accumulate(held, elements(buffer), -1)
    def expression(p):
        return sp.Add(*(c * sp.Mul(*(d**e for d, e in zip(dims, exps))) for exps, c in p))

    # highest degree first, then the largest at all dims 1, then by text: a stable order
    return [expr for _, _, _, expr in sorted(
        (-max((sum(exps) for exps, _ in p), default=0), -sum(c for _, c in p), str(e), e)
        for p, e in ((p, expression(p)) for p in kept.kept))]


def _accumulate(total, polynomial, sign):
    for exps, c in polynomial.items():
        total[exps] = total.get(exps, 0) + sign * int(c)
        if total[exps] == 0:
            del total[exps]


def _shifted(polynomial):
    """The polynomial in u = dim - 1, {exponents: coefficient}: dims >= 1 means u >= 0."""
    out = {}
    for exps, c in polynomial:
        terms = {(): c}
        for e in exps:  # (u + 1)^e = sum over k of C(e, k) u^k, one variable at a time
            terms = {t + (k,): v * math.comb(e, k) for t, v in terms.items()
                     for k in range(e + 1)}
        for t, v in terms.items():
            out[t] = out.get(t, 0) + v
    return out


class _Frontier:
    """The candidates that no other bounds for all dims >= 1.

    q bounds p for every size >= 1 when q - p, written in u = dim - 1 >= 0,
    has no negative coefficient; the shift is linear, so each candidate is
    shifted once and compared coefficient by coefficient.
    """

    def __init__(self):
        self.kept = {}  # candidate -> its shifted form

    @staticmethod
    def _bounds(q, p):
        return all(q.get(m, 0) >= c for m, c in p.items())

    def add(self, candidate):
        if candidate in self.kept:
            return
        shifted = _shifted(candidate)
        if any(self._bounds(q, shifted) for q in self.kept.values()):
            return
        self.kept = {c: q for c, q in self.kept.items() if not self._bounds(shifted, q)}
        self.kept[candidate] = shifted


def memory_report(derivation, wrt=None, latex=False, notation=None, name=None):
    """The liveness analysis and peak memory of a derivation's training and inference code.

    Parameters
    ----------
    derivation : Derivation
        Abstract functions may stay abstract: what a step reads does not
        depend on which function is bound (but a bound derivative may read the
        output instead of the input: tanh' = 1 - h^2 reads h, not z).
    wrt : list of str, optional
        The variables whose gradients training computes; the params by default.
    latex : bool
        Name the values and print the formulas in LaTeX (for documents).
    notation : Notation, optional
        The LaTeX notation (bold macro, transpose, nabla).
    name : callable, optional
        ``name(symbol)`` names a value instead of the derivation's printer,
        or returns None to leave it to the printer.

    Returns
    -------
    MemoryReport

    Examples
    --------
    >>> import symbackprop as sbp
    >>> report = memory_report(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> report.kept
    ('x', 'y', 'W1', 'W2', 'λ', 'z', 'h', 'o')
    >>> report.inference_peak
    d*h + d + h*q + q + Max(3, 2*h, h + q) + 1
    >>> report.bytes("training", {"d": 784, "h": 256, "q": 10}, "float32")
    1630320
    """
    wrt = list(derivation.params if wrt is None else wrt)
    programs = {"inference": forward_program(derivation),
                "training": training_program(derivation, wrt)}
    notation = notation or Notation()
    names = display_names(derivation, latex, notation)
    code = code_names(derivation, programs.values())
    caller = _caller(derivation)
    values, peaks, done, _ = _analysis(derivation, programs, caller, wrt,
                                       _value_namer(names, code, latex, notation, name))
    held = sp.Add(*(size for _, size in caller.values()))
    return MemoryReport(derivation, values, held, peaks["inference"], peaks["training"], done,
                        latex, _abstract(derivation, names))


def hvp_memory_report(hvp, latex=False, notation=None, name=None):
    """The liveness analysis and peak memory of the program computing H v, beside training's
    and inference's.

    The program is :meth:`HVPDerivation.program
    <symbackprop.derivation.tangent.HVPDerivation.program>`, which the generated
    ``hvp`` function runs: the first-order program, then the tangents.  Training
    and inference are the first-order programs for the same `wrt`.

    Parameters
    ----------
    hvp : HVPDerivation
    latex, notation, name
        As in :func:`memory_report`.

    Returns
    -------
    HVPMemoryReport

    Examples
    --------
    >>> import symbackprop as sbp
    >>> report = hvp_memory_report(sbp.derive_hvp(sbp.derive(
    ...     sbp.load("examples/textbook_mlp.sbp"))))
    >>> report.programs
    ('inference', 'training', 'hvp')
    >>> report.kept
    ('x', 'y', 'W1', 'W2', 'λ', 'V_W1', 'V_W2', 'z', 'h', 'o')
    >>> sizes = {"d": 784, "h": 256, "q": 10}
    >>> report.bytes("hvp", sizes, "float32") - report.bytes("training", sizes, "float32")
    1626112
    """
    d = hvp.derivation
    program = hvp.program()
    programs = {"inference": forward_program(d), "training": training_program(d, hvp.wrt),
                "hvp": program}
    notation = notation or Notation()
    names = hvp_display_names(hvp, latex, notation)
    # the H v program's temporaries first: named as in its module, which has no other program
    code = hvp_code_names(hvp, [program, programs["inference"], programs["training"]])
    caller = _caller(d)
    held = {which: sp.Add(*(size for _, size in caller.values())) for which in programs}
    caller.update({symbol: ("direction", d.model.variables[n].shape.size)
                   for n, symbol in hvp.directions.items()})
    held["hvp"] = sp.Add(*(size for _, size in caller.values()))
    tangents = {s.symbol for s in hvp.forward + hvp.backward}
    outputs = {hvp.output(n): "H v" for n in hvp.wrt}
    values, peaks, done, order = _analysis(
        d, programs, caller, hvp.wrt, _value_namer(names, code, latex, notation, name),
        {**dict.fromkeys(tangents, "tangent"), **outputs})
    hvps = {n: (order.get(hvp.output(n), 0), len(order)) for n in hvp.wrt}
    return HVPMemoryReport(hvp, values, held, peaks, done, hvps, latex, _abstract(d, names))


def _caller(derivation):
    """The caller's values: ``{symbol: (role, elements)}`` of the declared variables."""
    return {derivation.symbols[v.name]: (v.role, v.shape.size)
            for v in derivation.model.variables.values() if v.declared}


def _abstract(derivation, names):
    return [names[("func", f)] for f in derivation.model.unbound]


def _analysis(derivation, programs, caller, wrt, name, roles=None):
    """What a report says of `programs` (by name; the last is the one its rows follow).

    Parameters
    ----------
    caller : dict
        ``{symbol: (role, elements)}``: what the caller holds throughout; the
        last program holds all of it, the others the declared variables.
    roles : dict, optional
        Roles of values beyond those of the first order (``"tangent"``).

    Returns
    -------
    values : list of Value
    peaks : dict of str to list
        Each program's candidates for its own peak.
    done : dict of str to tuple of int
        When each gradient of `wrt` is complete, counted in the statements
        after the forward pass.
    order : dict
        Those statements' targets to their number, from 1.
    """
    described = list(programs.values())[-1]
    dims = list(derivation.model.dims.values())
    declared = {s: size for s, (role, size) in caller.items() if role != "direction"}
    peaks = {which: _peaks(p, caller if p is described else declared, dims)
             for which, p in programs.items()}
    forward = _needed_by_objective(derivation, described)
    values = _report_values(derivation, caller, programs, forward, wrt, name, roles or {})
    backward = [s for s in described if s.target not in forward and not is_temporary(s.target)]
    order = {s.target: k for k, s in enumerate(backward, start=1)}
    done = {n: (order.get(adjoint_symbol(derivation.model, n), 0), len(backward)) for n in wrt}
    return values, peaks, done, order


def _value_namer(names, code, latex, notation, chosen):
    """``name(symbol)``: `chosen`'s name if it gives one, else as the code or the printer says."""
    printer = MatrixLatexPrinter(names, notation) if latex else TextPrinter(names)

    def name(symbol):
        given = chosen(symbol) if chosen else None
        if given:
            return given
        if is_temporary(symbol):  # named as in the generated code
            return f"\\mathtt{{{code[symbol]}}}".replace("_", "\\_") if latex else code[symbol]
        return printer.doprint(symbol)
    return name


def _needed_by_objective(derivation, program):
    """The symbols of `program` the objective reads, itself included: the forward part.

    The rest is backward: the adjoints, and the subexpressions only they share.
    """
    defined = {s.target: s for s in program}
    forward, pending = set(), [derivation.symbols[derivation.model.objective]]
    while pending:
        symbol = pending.pop()
        if symbol not in forward:
            forward.add(symbol)
            pending.extend(defined[symbol].reads if symbol in defined else ())
    return forward


def _report_values(derivation, caller, programs, forward, wrt, name, roles):
    """The report's rows: the caller's values, then each value the last program computes."""
    described = list(programs.values())[-1]
    readers = {}
    for statement in described:
        if statement.target not in forward:
            for symbol in statement.reads:
                readers.setdefault(symbol, []).append(name(statement.target))
    freed = {which: {symbol: name(s.target) for s, released in zip(p, p.releases)
                     for symbol in released if p is described or not is_temporary(symbol)}
             for which, p in programs.items()}
    values = []
    for symbol, (role, elements) in caller.items():
        values.append(Value(name(symbol), role, elements, tuple(readers.get(symbol, ())),
                            None, None, True))
    gradients = {adjoint_symbol(derivation.model, n) for n in wrt}
    for statement in described:
        symbol = statement.target
        if symbol in gradients:
            role = "gradient"
        elif is_temporary(symbol):
            role = "forward (shared)" if symbol in forward else "backward (shared)"
        else:
            role = roles.get(symbol, "forward" if symbol in forward else "adjoint")
        inference, training, hvp = (_freed_after(symbol, programs.get(which), described,
                                                 freed.get(which))
                                    for which in ("inference", "training", "hvp"))
        values.append(Value(name(symbol), role, _elements(symbol),
                            tuple(readers.get(symbol, ())), inference, training,
                            symbol in forward, hvp))
    return values


def _freed_after(symbol, program, described, freed):
    """The statement after which `program` frees `symbol`, by `freed` (symbol to statement);
    "(returned)" for an output, None if the program does not compute it (or is absent)."""
    if program is None:
        return None
    if program is described:
        return freed.get(symbol, "(returned)")
    # (temporaries are numbered per program: only the variables' lifetimes compare)
    return None if is_temporary(symbol) else freed.get(
        symbol, "(returned)" if symbol in program.outputs else None)
