"""The straight-line program of a derivation: what is computed, in which order, and when freed.

A :class:`Program` is the list of assignments that the generated NumPy code
runs, as SymPy expressions: the forward definitions, then the backward steps,
with every repeated subexpression computed once into a temporary just before
its first use.  It also knows, for each statement, which values are read for
the last time there and can be released.

Both the code generator (:mod:`symbackprop.printing.numpy_code`), which prints the program
and a ``del`` after each last use, and the memory analysis
(:mod:`symbackprop.printing.memory`), which adds up what is held between statements,
read this one object: the memory report describes exactly the code that runs.

Nothing here prints, and nothing recurses on the depth of a model.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from functools import cached_property

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from ..primitives import expressions as ex
from ..primitives.matrix_functions import LogSoftmax, Softmax
from .reverse import adjoint_symbol

__all__ = ["Statement", "Program", "forward_program", "training_program", "gradient_statements",
           "decompose_compositions", "finished", "is_temporary", "needed_steps", "reuse_entrywise",
           "softmax_from_log_softmax", "split_shared_calls", "temporary_name", "zero"]

_TEMPORARY = "\0temp"
_STAND_IN = sp.Dummy("s", real=True)  # real, as ENTRY: else nested calls query assumptions
# exponentially when rebuilt


@dataclass(frozen=True)
class Statement:
    """``target = value``, under an optional comment quoting the step's formula.

    Attributes
    ----------
    target : sympy.Symbol or sympy.MatrixSymbol
        A variable's symbol, an adjoint's symbol, or a temporary.
    value : sympy.Expr
        In the symbols of the arguments and of earlier statements.
    comment : str
        The step's formula as text, or empty.
    copy : bool
        Whether the value is copied into a new array: a returned gradient
        must not share memory with an argument or another result.
    forward : bool
        Whether it defines a forward value (a variable of the model), which
        rules that read their output may name (``R{p}`` of ``p = softmax(o)``
        uses ``p``).
    """

    target: object
    value: object
    comment: str = ""
    copy: bool = False
    forward: bool = False

    @cached_property
    def reads(self):
        """The symbols the value reads (entrywise bodies' own variables excluded)."""
        return frozenset(e for e in _subexpressions(self.value)
                         if isinstance(e, (sp.Symbol, sp.MatrixSymbol)))

    @property
    def is_alias(self):
        """Whether the value names or views an existing array (``g = t0``, ``x.T``)."""
        return not self.copy and _is_view(self.value)


def _is_view(value):
    """Whether NumPy computes `value` without a new array: a name, or a transpose of one."""
    if isinstance(value, sp.Transpose):
        value = value.arg
    return isinstance(value, (sp.Symbol, sp.MatrixSymbol))


def is_temporary(symbol):
    """Whether `symbol` is a temporary introduced for a common subexpression."""
    return symbol.name.startswith(_TEMPORARY)


def temporary_name(symbol):
    """A temporary's readable name: ``t0``, ``t1``, ... in order of creation."""
    return "t" + symbol.name[len(_TEMPORARY):]


class Program:
    """Statements in execution order, with the values each one releases.

    Parameters
    ----------
    statements : list of Statement
    outputs : list of sympy.Expr
        The symbols returned at the end; they are never released.

    Attributes
    ----------
    statements : tuple of Statement
        Only those that the outputs need, in order.
    outputs : tuple
    arguments : tuple
        The symbols read but never assigned (inputs, params, consts, dims), in
        order of first use.  The caller owns them: they are never released.
    releases : tuple of tuple
        For each statement, the symbols it reads (or defines) for the last
        time, so that the code can ``del`` them just after it.
    """

    def __init__(self, statements, outputs):
        self.outputs = tuple(outputs)
        needed = set(self.outputs)
        kept = []
        for statement in reversed(statements):  # drop what no output needs
            if statement.target in needed:
                kept.append(statement)
                needed |= statement.reads
        self.statements = tuple(reversed(kept))
        assigned = {s.target for s in self.statements}
        arguments = {}
        for statement in self.statements:
            for symbol in sorted(statement.reads - assigned, key=str):
                arguments.setdefault(symbol, None)
        self.arguments = tuple(arguments)
        self.releases = self._releases(assigned)

    def _releases(self, assigned):
        last = {}
        for i, statement in enumerate(self.statements):
            last[statement.target] = i
            for symbol in statement.reads & assigned:
                last[symbol] = i
        releases = [[] for _ in self.statements]
        for symbol, i in last.items():
            if symbol not in self.outputs:
                releases[i].append(symbol)
        order = {s.target: i for i, s in enumerate(self.statements)}
        return tuple(tuple(sorted(r, key=order.get)) for r in releases)

    def __len__(self):
        return len(self.statements)

    def __iter__(self):
        return iter(self.statements)


def _worth_sharing(expr):
    """Whether a repeated subexpression should be computed once into a temporary."""
    if isinstance(expr, (sp.Symbol, sp.MatrixSymbol, sp.Number, sp.Lambda, sp.OneMatrix,
                         sp.ZeroMatrix, sp.Identity)):
        return False
    if isinstance(expr, sp.Transpose) and isinstance(expr.arg, sp.MatrixSymbol):
        return False  # a view: free
    if isinstance(expr, sp.MatMul):
        _, mats = ex._split(expr)
        if len(mats) == 1 and isinstance(mats[0], (sp.MatrixSymbol, sp.Transpose)):
            return False  # c * A: cheaper than a temporary's memory
    return ex.is_matrix(expr) or expr.has(MatrixExpr)


def _subexpressions(expr):
    """Every subexpression occurrence, outside entrywise bodies (which are per-entry code)."""
    stack = [expr]
    while stack:
        e = stack.pop()
        yield e
        if not isinstance(e, sp.Lambda):
            stack.extend(e.args)


def reuse_entrywise(statements):
    """`statements` with an entrywise function written in terms of another of the same operand.

    A derivative's body often contains the function itself: σ(a) ⊙ (1 - σ(a)) beside
    σ(a), 1 - tanh²(c) beside tanh(c).  When another entrywise function of the same
    operand occurs in the program and the body is a function of it alone, the body
    is applied to that value instead (σ'(a) as ``t ⊙ (1 - t)`` of ``t = σ(a)``), so
    that :func:`share_subexpressions` computes the function once, as a hand-writer
    would, or reads the forward variable it defines.

    Examples
    --------
    >>> a = sp.MatrixSymbol("a", 2, 1)
    >>> s, ds = ex.entrywise(ex.sigmoid(ex.ENTRY), a), ex.entrywise(sp.diff(ex.sigmoid(
    ...     ex.ENTRY), ex.ENTRY), a)
    >>> g = sp.MatrixSymbol("g", 2, 1)
    >>> out = reuse_entrywise([Statement(g, s, forward=True), Statement(a, ex.hadamard(g, ds))])
    >>> out[1].value.args[1].function.expr, out[1].value.args[1].arg
    (ξ*(1 - ξ), g)
    """
    maps = {}
    for i, statement in enumerate(statements):
        for e in _subexpressions(statement.value):
            if isinstance(e, ex.Map):
                maps.setdefault(e.arg, {}).setdefault(e, i)
    named = {s.value: (s.target, i) for i, s in enumerate(statements)
             if s.forward and isinstance(s.value, ex.Map)}
    bodies = {}
    for same in maps.values():
        for m in same:
            found = _held_inside(m, same)
            if found is not None:
                bodies[m] = found
    if not bodies:
        return statements
    out = []
    for i, statement in enumerate(statements):
        rewrite = {}
        for m, (body, held) in bodies.items():
            target, at = named.get(held, (held, -1))
            rewrite[m] = ex.Map(sp.Lambda(ex.ENTRY, body), target if at < i else held)
        out.append(replace(statement, value=statement.value.xreplace(rewrite)))
    return out


def split_shared_calls(statements):
    """`statements` with a function that two entrywise bodies of one operand call taken out of
    them, so that :func:`share_subexpressions` computes it once.

    gelu' and gelu'' both call φ: Φ(z) + z ⊙ φ(z) and (2 - z²) ⊙ φ(z) are written with
    the one φ(z), as a hand-writer would (what :func:`reuse_entrywise` leaves: bodies that
    are not a function of the other alone).

    Examples
    --------
    >>> from symbackprop.primitives.pieces import normal_cdf, normal_pdf
    >>> z, g, h = (sp.MatrixSymbol(n, 2, 1) for n in "zgh")
    >>> x = ex.ENTRY
    >>> out = split_shared_calls([Statement(g, ex.entrywise(normal_cdf(x) + x * normal_pdf(x),
    ...                           z)), Statement(h, ex.entrywise(-x * normal_pdf(x), z))])
    >>> ex.entrywise(normal_pdf(x), z) in out[0].value.atoms(ex.Map)
    True
    """
    calls = {}
    for statement in statements:
        for e in _subexpressions(statement.value):
            if isinstance(e, ex.Map):
                for f in _unfolded(e.function.expr).atoms(sp.Function):
                    if f.args == (ex.ENTRY,) and f != e.function.expr:
                        calls.setdefault((e.arg, f), set()).add(e)
    shared = {key for key, maps in calls.items() if len(maps) > 1}
    if not shared:
        return statements
    rewrite = {}
    for (arg, f), maps in calls.items():
        for m in maps:
            body = _unfolded(m.function.expr)
            taken = {g for (a, g) in shared if a == arg and body.has(g)}
            if taken:
                rewrite[m] = _as_matrix(body, arg, taken)
    return [replace(s, value=s.value.xreplace(rewrite)) for s in statements]


def _unfolded(body):
    """`body` with a function defined by others written with them: gelu(x) as x Φ(x)."""
    return body.replace(lambda e: hasattr(type(e), "unfolded"), lambda e: e.unfolded())


def _as_matrix(body, arg, taken):
    """The entrywise `body` at `arg` as matrix algebra, each call of `taken` its own map."""
    if body in taken or not any(body.has(f) for f in taken):
        return ex.entrywise(body, arg)
    if body.is_Add:
        return ex.add(*(_as_matrix(t, arg, taken) for t in body.args))
    if body.is_Mul:
        coeff, factors = body.as_coeff_mul()
        rest = sp.Mul(*(f for f in factors if not any(f.has(g) for g in taken)))
        parts = [_as_matrix(f, arg, taken) for f in factors if any(f.has(g) for g in taken)]
        if rest != 1:
            parts.insert(0, ex.entrywise(rest, arg))
        # HadamardProduct itself: ex.hadamard would merge the maps of one operand again
        return ex.mul(coeff, parts[0] if len(parts) == 1 else sp.HadamardProduct(*parts))
    return ex.entrywise(body, arg)


def softmax_from_log_softmax(statements):
    """`statements` with softmax(x) as exp(log_softmax(x)) where log_softmax(x) is computed too.

    Cross-entropy's value reads log_softmax(O) and its gradient softmax(O); a
    hand-writer exponentiates the log-probabilities (finite: they are at most 0)
    rather than normalising the exponentials again.

    Examples
    --------
    >>> from symbackprop.primitives.matrix_functions import LogSoftmax, Softmax
    >>> O, J, G = (sp.MatrixSymbol(n, 3, 2) for n in ("O", "J", "G"))
    >>> out = softmax_from_log_softmax([Statement(J, LogSoftmax(O, 1)),
    ...                                 Statement(G, Softmax(O, 1))])
    >>> out[1].value.function.expr, out[1].value.arg == LogSoftmax(O, 1)
    (exp(ξ), True)
    """
    found = {e for s in statements for e in _subexpressions(s.value)
             if isinstance(e, (Softmax, LogSoftmax))}
    rewrite = {e: ex.Map(sp.Lambda(ex.ENTRY, sp.exp(ex.ENTRY)), LogSoftmax(e.arg, e.axis))
               for e in found if isinstance(e, Softmax) and LogSoftmax(e.arg, e.axis) in found}
    if not rewrite:
        return statements
    return [replace(s, value=s.value.xreplace(rewrite)) for s in statements]


def _held_inside(m, others):
    """(the body of `m` as a function of another map of its operand, that map), or None."""
    body, best = m.function.expr, None
    stand_in = sp.Dummy()
    for other in others:
        inner = other.function.expr
        if other == m or inner == ex.ENTRY or not body.has(inner):
            continue
        if any(log.has(inner) for log in body.atoms(sp.log)):
            continue  # log(σ(ξ)) is printed in a form finite for every ξ, not as log of σ
        reduced = body.xreplace({inner: stand_in})
        if reduced.has(ex.ENTRY):
            continue
        if best is None or sp.count_ops(inner) > sp.count_ops(best[1].function.expr):
            best = (reduced.xreplace({stand_in: ex.ENTRY}), other)
    return best


def _outer_call(body):
    """The outermost call through which alone `body` reads ξ, or None.

    Walks down while one argument alone holds ξ: ``1 - tanh²(tanh(ξ))`` gives
    ``tanh(tanh(ξ))``, ``tanh(ξ) + ξ`` gives None.  Nothing is rebuilt, so a chain of
    n calls costs a walk of n nodes.
    """
    e = body
    while not isinstance(e, sp.Function):
        holding = [a for a in e.args if a.has(ex.ENTRY)]
        if len(holding) != 1:
            return None
        e = holding[0]
    return e


def _composed(call):
    """Whether `call` is a function of a function of ξ that the code may compute in two
    steps: not ``log(σ(x))``, which the code prints in a form finite for every x."""
    if len(call.args) != 1 or not call.args[0].has(sp.Function):
        return False
    return not (isinstance(call, sp.log) and isinstance(call.args[0], ex.sigmoid))


def _decomposed(body, arg):
    """`body` at `arg` as maps without compositions where it can be: a product as the Hadamard
    product of its factors, ``1 - tanh²(tanh(ξ))`` at w as ``1 - t²`` of t = tanh(tanh(w)),
    t itself as tanh of tanh(w)."""
    outers = []  # the functions applied, innermost last, around what `body` becomes
    while True:
        if body.is_Mul and any(_composed(c) for c in body.atoms(sp.Function)):
            coeff, factors = body.as_coeff_mul()
            composed = [f for f in factors if any(_composed(c) for c in f.atoms(sp.Function))]
            plain = sp.Mul(*(f for f in factors if f not in composed))
            # recursion on the factors only: as deep as the model's brackets, which are bounded
            parts = [_decomposed(f, arg) for f in composed]
            if plain.has(ex.ENTRY):
                parts.insert(0, ex.Map(sp.Lambda(ex.ENTRY, plain), arg))
            else:
                coeff *= plain
            # HadamardProduct itself: ex.hadamard would merge the maps of one operand again
            value = ex.mul(coeff, parts[0] if len(parts) == 1 else sp.HadamardProduct(*parts))
            break
        call = _outer_call(body)
        if call is None or not _composed(call):
            value = ex.Map(sp.Lambda(ex.ENTRY, body), arg)
            break
        if call == body:
            outers.append(call.func(ex.ENTRY))
            body = call.args[0]
        else:
            outers.append(body.xreplace({call: _STAND_IN}).xreplace({_STAND_IN: ex.ENTRY}))
            body = call
    for outer in reversed(outers):
        value = ex.Map(sp.Lambda(ex.ENTRY, outer), value)
    return value


def decompose_compositions(statements):
    """`statements` with each entrywise composition written as a chain of maps.

    The derivative of n nested functions is a product of n factors, the k-th of
    which contains the k innermost functions: printed as one body each, the code
    would compute n²/2 calls.  As chains, :func:`share_subexpressions` computes each
    inner value once (and :func:`reuse_entrywise` reads it), n calls in all, as a
    hand-writer naming the intermediate values would.

    Examples
    --------
    >>> w = sp.MatrixSymbol("w", 2, 1)
    >>> m = ex.entrywise(sp.tanh(sp.tanh(ex.ENTRY)), w)
    >>> out = decompose_compositions([Statement(sp.MatrixSymbol("z", 2, 1), m)])
    >>> out[0].value.function.expr, out[0].value.arg.function.expr, out[0].value.arg.arg
    (tanh(ξ), tanh(ξ), w)
    """
    done = {}
    for statement in statements:
        pending = [e for e in _subexpressions(statement.value) if isinstance(e, ex.Map)]
        # innermost first, so that an outer map is rebuilt on its arguments' chains
        for m in reversed(pending):
            if m not in done:
                done[m] = _decomposed(m.function.expr, m.arg.xreplace(done))
    rewrite = {m: d for m, d in done.items() if d != m}
    if not rewrite:
        return statements
    return [replace(s, value=s.value.xreplace(rewrite)) for s in statements]


def share_subexpressions(statements):
    """`statements` with each repeated subexpression computed once, just before its first use.

    Parameters
    ----------
    statements : list of Statement

    Returns
    -------
    list of Statement
        The temporaries' targets are symbols for which :func:`is_temporary` holds.
    """
    statements = split_shared_calls(reuse_entrywise(softmax_from_log_softmax(
        decompose_compositions(statements))))
    counts = Counter(e for s in statements for e in _subexpressions(s.value) if _worth_sharing(e))
    size = {e: sum(1 for _ in _subexpressions(e)) for e, n in counts.items() if n > 1}
    temps = {}
    # Largest first: once its copies are one temporary, what it contains occurs
    # that many times fewer, so a part used only inside it gets no temporary.
    for expr in sorted(size, key=size.get, reverse=True):  # stable: first occurrence breaks ties
        copies = counts[expr]
        if copies < 2:
            continue
        name = f"{_TEMPORARY}{len(temps)}"
        temps[expr] = (sp.MatrixSymbol(name, *expr.shape) if ex.is_matrix(expr)
                       else sp.Symbol(name, real=True))
        inner = Counter(e for e in _subexpressions(expr) if e in size)
        inner[expr] -= 1
        for e, k in inner.items():
            counts[e] -= (copies - 1) * k
    definitions = {symbol: expr.xreplace({k: v for k, v in temps.items() if k != expr})
                   for expr, symbol in temps.items()}
    out, defined = [], set()

    def define(value):
        # explicit stack: a temporary's definition may use other temporaries
        pending = [(value, False)]
        while pending:
            expr, ready = pending.pop()
            if ready:
                if expr in defined:
                    continue
                defined.add(expr)
                out.append(Statement(expr, definitions[expr]))
                continue
            inner = sorted((t for t in expr.atoms(sp.Symbol, sp.MatrixSymbol)
                            if t in definitions and t not in defined), key=lambda t: t.name)
            for t in reversed(inner):
                if t not in defined:
                    pending.append((t, True))
                    pending.append((definitions[t], False))

    for statement in statements:
        value = statement.value.xreplace(temps)
        define(value)
        out.append(Statement(statement.target, value, statement.comment,
                             forward=statement.forward))
    return out


def needed_steps(derivation, wrt):
    """The steps whose adjoints the gradients of `wrt` read, in backward order."""
    needed = set(wrt)
    for step in reversed(derivation.steps):
        if step.node in needed:
            needed.update(t.consumer for t in step.terms)
    return [s for s in derivation.steps if s.node in needed]


def _forward_statements(derivation):
    return [Statement(derivation.symbols[n], e, forward=True)
            for n, e in derivation.forward.items()]


def forward_program(derivation):
    """The program computing the objective alone (inference), freeing values after last use.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> p = forward_program(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> [str(s.target) for s in p], [[str(v) for v in r] for r in p.releases]
    (['z', 'h', 'o', 'L', 's', 'J'], [[], ['z'], ['h'], ['o'], [], ['L', 's']])
    """
    objective = derivation.symbols[derivation.model.objective]
    return Program(share_subexpressions(_forward_statements(derivation)), [objective])


def checked_wrt(derivation, wrt=None):
    """The variables to differentiate with respect to: `wrt`, or the params; never a const."""
    model = derivation.model
    wrt = list(derivation.params if wrt is None else wrt)
    for name in wrt:
        variable = model.variables.get(name)
        if variable is None:
            raise ValueError(f"'{name}' is not a variable of the model")
        if variable.role == "const":
            raise ValueError(f"'{name}' is a const, which the derivation holds fixed: declare "
                             "it a param (or an input) to differentiate with respect to it")
    return wrt


def gradient_statements(derivation, wrt, comment=None):
    """The straight-line program of a derivation: the forward definitions, then the backward
    steps that the gradients of `wrt` read, then a 0 for each of `wrt` the objective does not
    depend on.  Nothing is shared yet (:func:`finished` does that).

    ``comment(target, value)`` gives the text quoted above a backward step.  Adjoints that are
    plain numbers (dJ/dL = 1) are written into the steps that read them, so they need
    no statement of their own unless they are asked for.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    >>> [str(s.target) for s in gradient_statements(d, ["W2"])]
    ['z', 'h', 'o', 'L', 's', 'J', '∂J/∂o', '∂J/∂W2']
    """
    model = derivation.model
    steps = [s for s in needed_steps(derivation, wrt) if s.node in wrt or not s.result.is_number]
    backward = [Statement(s.adjoint, s.result, comment(s.adjoint, s.result) if comment else "")
                for s in steps]
    backward += [Statement(adjoint_symbol(model, name), zero(model.variables[name].shape))
                 for name in wrt if name not in derivation.order]  # J does not depend on it
    return _forward_statements(derivation) + backward


def finished(statements, outputs):
    """The :class:`Program` of `statements` computing `outputs`: repeated subexpressions
    computed once, and every output but the first (the objective) a new array.

    A returned gradient that is another array's name or view (dJ/da = b for
    J = sum(a * b)) is copied: an optimizer updating params in place must not
    change inputs or other results.
    """
    statements = share_subexpressions(statements)
    copied = set(outputs[1:])
    statements = [Statement(s.target, s.value, s.comment, copy=True, forward=s.forward)
                  if s.target in copied and ex.is_matrix(s.value) and _is_view(s.value) else s
                  for s in statements]
    return Program(statements, outputs)


def training_program(derivation, wrt=None, comment=None):
    """The program computing the objective and the gradients of `wrt` (the params by default).

    Parameters
    ----------
    derivation : Derivation
    wrt : list of str, optional
    comment : callable, optional
        ``comment(target, value)`` gives the text quoted above a backward step.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> p = training_program(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> [str(s.target) for s in p][6:]
    ['∂J/∂o', '∂J/∂W2', '∂J/∂h', '∂J/∂z', '∂J/∂W1']
    >>> [str(v) for v in p.releases[8]]   # ∂J/∂h computed: W2ᵀ(∂J/∂o) was o's adjoint's last use
    ['∂J/∂o']
    """
    wrt = checked_wrt(derivation, wrt)
    gradients = [adjoint_symbol(derivation.model, n) for n in wrt]
    objective = derivation.symbols[derivation.model.objective]
    return finished(gradient_statements(derivation, wrt, comment), [objective] + gradients)


def zero(shape):
    """The 0 of a shape: a number for a scalar, a zero matrix otherwise."""
    return sp.Integer(0) if shape.is_scalar else sp.ZeroMatrix(shape.rows, shape.cols)
