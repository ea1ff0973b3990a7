"""NumPy code for a derivation: written out as Python source, then compiled.

:func:`generate_source` writes a self-contained module (it imports NumPy only)
with straight-line functions: ``objective``, the forward pass;
``value_and_grad``, the forward pass followed by the backward steps of the
derivation, each under a comment quoting its formula; and ``trace``, which
returns every value and adjoint by name.  Forward values are
computed once and read by the backward steps, as in hand-written backprop.

:func:`compile_derivation` compiles that source and wraps it in a function
taking keyword arrays named as in the model.

Why compiling is safe: the source is generated from the derivation's
expressions by :class:`NumPyPrinter`, never from the model's text.  Model
names are identifiers by the language's grammar, and are further mapped to
names that are not Python keywords and cannot collide (``lambda`` becomes
``lambda_``); numbers are printed from exact rationals.  Nothing the user
wrote is evaluated.

Layout: a vector is computed as an n x 1 column and a scalar as a float; the
wrapper converts 1-D arrays in and out.  Softmax, log-softmax, log-sum-exp,
sigmoid and softplus use their numerically stable forms.
"""

from __future__ import annotations

import keyword
from collections import Counter
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr
from sympy.printing.printer import Printer

from . import expressions as ex
from .derivation import adjoint_symbol
from .printing import TextPrinter, display_names

__all__ = ["NumPyPrinter", "generate_source", "compile_derivation"]

HELPERS = '''\
def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _logsumexp(x, axis):
    top = np.max(x, axis=axis, keepdims=True)
    return top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))


def _sigmoid(x):
    # 1 / (1 + exp(-x)) without overflow for large |x|
    return 0.5 * (1.0 + np.tanh(0.5 * x))
'''

_RESERVED = {"np", "_softmax", "_log_softmax", "_logsumexp", "_sigmoid", "objective",
             "value_and_grad"}

# SymPy may also produce Abs and sign on its own: sqrt(x**2) is |x|, its derivative sign(x).
_FUNCTIONS = {"tanh": "np.tanh", "exp": "np.exp", "log": "np.log", "sigmoid": "_sigmoid",
              "Abs": "np.abs", "sign": "np.sign", "cosh": "np.cosh", "sinh": "np.sinh"}


class NumPyPrinter(Printer):
    """Print the derivation's expressions as NumPy, in the column layout.

    Parameters
    ----------
    names : dict of str to str
        SymPy symbol names (variables, adjoints, dims) to Python identifiers.
    """

    printmethod = "_symbackprop_numpy"

    def __init__(self, names):
        super().__init__()
        self.names = dict(names)

    def emptyPrinter(self, expr):
        raise TypeError(f"no NumPy form for {type(expr).__name__}: {expr}")

    def _print_Symbol(self, expr):
        return self.names[expr]

    _print_MatrixSymbol = _print_Symbol

    def _print_Integer(self, expr):
        return str(int(expr)) if abs(expr) < 2**53 else repr(float(expr))

    def _print_NumberSymbol(self, expr):  # e, pi
        return repr(float(expr))

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Float(self, expr):
        return repr(float(expr))

    _print_Half = _print_Rational

    def _print_NegativeOne(self, expr):
        return "-1"

    def _print_One(self, expr):
        return "1"

    def _print_Zero(self, expr):
        return "0"

    def _terms(self, terms):
        """A sum, subtracting negated terms: a - b rather than a + (-1 * b), one temporary less."""
        out = ""
        for i, term in enumerate(terms):
            negated = _negated(term)
            if negated is not None and i:
                out += f" - {self._print(negated)}"
            else:
                out += (" + " if i else "") + self._print(term)
        return f"({out})"

    def _print_Add(self, expr):
        return self._terms(sorted(expr.args, key=lambda t: _negated(t) is not None))

    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        if coeff == -1:
            return f"(-{self._print(rest)})"
        return "(" + " * ".join(self._print(a) for a in expr.args) + ")"

    def _print_Pow(self, expr):
        base = self._print(expr.base)
        if expr.exp == -1:
            return f"(1.0 / {base})"
        if expr.exp == sp.Rational(1, 2):
            return f"np.sqrt({base})"
        if expr.exp == sp.Rational(-1, 2):
            return f"(1.0 / np.sqrt({base}))"
        return f"({base} ** {self._print(expr.exp)})"

    def _print_log(self, expr):
        (arg,) = expr.args
        if isinstance(arg, ex.sigmoid):
            # log(sigmoid(u)) = -softplus(-u): finite for any u
            return f"(-np.logaddexp(0.0, -{self._print(arg.args[0])}))"
        return f"np.log({self._print(arg)})"

    def _print_Function(self, expr):
        name = type(expr).__name__
        if name not in _FUNCTIONS:
            raise TypeError(f"no NumPy form for the function {name}")
        return f"{_FUNCTIONS[name]}({self._print(expr.args[0])})"

    def _print_relu(self, expr):
        return f"np.maximum({self._print(expr.args[0])}, 0.0)"

    def _print_softplus(self, expr):
        return f"np.logaddexp(0.0, {self._print(expr.args[0])})"

    def _print_Heaviside(self, expr):
        return f"np.heaviside({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_MatAdd(self, expr):
        return self._terms(sorted(expr.args, key=lambda t: _negated(t) is not None))

    def _print_MatMul(self, expr):
        coeff, mats = ex._split(expr)
        product = " @ ".join(self._print(m) for m in mats)
        if coeff == 1:
            return f"({product})"
        if coeff == -1:
            return f"(-({product}))"
        return f"({self._print(coeff)} * ({product}))"

    def _print_Transpose(self, expr):
        return f"{self._print(expr.arg)}.T"

    def _print_HadamardProduct(self, expr):
        return "(" + " * ".join(self._print(a) for a in expr.args) + ")"

    def _print_HadamardPower(self, expr):
        return f"({self._print(expr.base)} ** {self._print(expr.exp)})"

    def _dims(self, *sizes):
        return ", ".join(self._print(s) for s in sizes)

    def _print_OneMatrix(self, expr):
        return f"np.ones(({self._dims(*expr.shape)}))"

    def _print_ZeroMatrix(self, expr):
        return f"np.zeros(({self._dims(*expr.shape)}))"

    def _print_Identity(self, expr):
        return f"np.eye({self._print(expr.rows)})"

    def _print_Trace(self, expr):
        return f"np.trace({self._print(expr.arg)})"

    def _print_AsScalar(self, expr):
        return f"{self._print(expr.arg)}[0, 0]"

    def _print_SumAll(self, expr):
        return f"np.sum({self._print(expr.arg)})"

    def _print_Norm(self, expr):
        return f"np.linalg.norm({self._print(expr.arg)})"

    def _print_Softmax(self, expr):
        return f"_softmax({self._print(expr.arg)}, {expr.axis})"

    def _print_LogSoftmax(self, expr):
        return f"_log_softmax({self._print(expr.arg)}, {expr.axis})"

    def _print_LogSumExp(self, expr):
        return f"_logsumexp({self._print(expr.arg)}, {expr.axis})"

    def _print_Map(self, expr):
        stand_in = sp.Symbol(f"\0entry{len(self.names)}", real=True)
        self.names[stand_in] = self._print(expr.arg)
        return self._print(expr.body_at(stand_in))

    def _print_Apply(self, expr):
        raise TypeError(f"the abstract function {expr.name} has no NumPy form; bind it")

    _print_Partial = _print_Apply


def _negated(term):
    """`t` if `term` is -t, else None."""
    coeff, rest = (ex._split(term) if ex.is_matrix(term) else term.as_coeff_Mul())
    if coeff.is_Number and coeff < 0:
        rest = ex.mul(*rest) if isinstance(rest, list) else rest
        return ex.mul(-coeff, rest)
    return None


def _identifier(name, used):
    candidate = name if name.isidentifier() and not keyword.iskeyword(name) else name + "_"
    while candidate in used or keyword.iskeyword(candidate):
        candidate += "_"
    used.add(candidate)
    return candidate


def _code_names(derivation):
    """Python identifiers for the variables, adjoints and dims of a derivation."""
    model = derivation.model
    used = set(_RESERVED)
    idents = {name: _identifier(name, used) for name in model.variables}
    names = {derivation.symbols[name]: ident for name, ident in idents.items()}
    for name, ident in idents.items():
        names[adjoint_symbol(model, name)] = _identifier("grad_" + ident, used)
    dims = {name: _identifier("n_" + name, used) for name in model.dims}
    for name, ident in dims.items():
        names[model.dims[name]] = ident
    return idents, dims, names


def _needed_steps(derivation, wrt):
    """The steps whose adjoints the gradients of `wrt` read, in backward order."""
    needed = set(wrt)
    for step in reversed(derivation.steps):
        if step.node in needed:
            needed.update(t.consumer for t in step.terms)
    return [s for s in derivation.steps if s.node in needed]


def _comment(text):
    return "# " + " ".join(text.split())


def generate_source(derivation, wrt=None):
    """The NumPy module for a derivation with every abstract function bound.

    Parameters
    ----------
    derivation : Derivation
    wrt : list of str, optional
        The variables whose gradients ``value_and_grad`` returns; the params by
        default.

    Returns
    -------
    str
        Python source defining ``objective(...)``, ``value_and_grad(...)`` and
        ``trace(...)``; all take the declared variables, then the dims, in
        model order.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp")).bound(
    ...     {"phi": "tanh", "ell": "squared_error"})
    >>> print(generate_source(d).split("def value_and_grad")[1])  # doctest: +ELLIPSIS
    (x, y, W1, W2, lambda_, n_d, n_h, n_q):
        z = (W1 @ x)
        h = np.tanh(z)
        ...
        # ∂J/∂W1 = (∂J/∂z) xᵀ + λ W1
        grad_W1 = ((grad_z @ x.T) + (lambda_ * (W1)))
        return J, (grad_W1, grad_W2)
    ...
    """
    model = derivation.model
    wrt = list(derivation.params if wrt is None else wrt)
    idents, dims, names = _code_names(derivation)
    text = TextPrinter(display_names(derivation, latex=False))
    declared = [idents[n] for n, v in model.variables.items() if v.declared]
    signature = ", ".join(declared + list(dims.values()))
    forward = [_Line(derivation.symbols[n], e) for n, e in derivation.forward.items()]
    # Adjoints that are plain numbers (dJ/dL = 1) are written into the steps
    # that read them, so they need no line of their own.
    steps = [s for s in _needed_steps(derivation, wrt) if s.node in wrt or not s.result.is_number]
    backward = [_Line(s.adjoint, s.result, f"{text.doprint(s.adjoint)} = {text.doprint(s.result)}")
                for s in steps]
    for name in wrt:
        if name not in derivation.order:  # J does not depend on it
            shape = model.variables[name].shape
            zero = sp.Integer(0) if shape.is_scalar else sp.ZeroMatrix(shape.rows, shape.cols)
            backward.append(_Line(adjoint_symbol(model, name), zero))
    grads = ", ".join(names[adjoint_symbol(model, n)] for n in wrt)
    objective = idents[model.objective]
    traced = [f"        {n!r}: {idents[n]}," for n in derivation.forward]
    traced += [f"        {s.adjoint.name!r}: {names[s.adjoint]}," for s in steps]
    used = set(names.values()) | _RESERVED
    forward_code = _straight_line(forward, names, used)
    all_code = _straight_line(forward + backward, names, used)
    return "\n".join([
        '"""Objective and gradients of a model, generated by symbackprop."""',
        # repr: a file name is user text; escaped, it cannot leave the comment
        f"# model: {model.filename!r}",
        "",
        "import numpy as np",
        "",
        "",
        HELPERS,
        "",
        f"def objective({signature}):",
        *forward_code,
        f"    return {objective}",
        "",
        "",
        f"def value_and_grad({signature}):",
        *all_code,
        f"    return {objective}, ({grads}{',' if len(wrt) == 1 else ''})",
        "",
        "",
        f"def trace({signature}):",
        '    """Every forward value and adjoint, by name, to find where a NaN first appears."""',
        *all_code,
        "    return {",
        *traced,
        "    }",
        "",
    ])


@dataclass(frozen=True)
class _Line:
    """``target = value`` in the generated code, under an optional comment."""

    target: object
    value: object
    comment: str = ""


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


def _straight_line(lines, names, used):
    """Code for `lines`, each repeated subexpression computed once, just before its first use.

    Names for the temporaries are added to `names` (and `used`).
    """
    counts = Counter(e for line in lines for e in _subexpressions(line.value) if _worth_sharing(e))
    size = {e: sum(1 for _ in _subexpressions(e)) for e, n in counts.items() if n > 1}
    temps = {}
    # Largest first: once its copies are one temporary, what it contains occurs
    # that many times fewer, so a part used only inside it gets no temporary.
    for expr in sorted(size, key=size.get, reverse=True):  # stable: first occurrence breaks ties
        copies = counts[expr]
        if copies < 2:
            continue
        symbol = (sp.MatrixSymbol if ex.is_matrix(expr) else sp.Symbol)(
            f"\0temp{len(temps)}", *(expr.shape if ex.is_matrix(expr) else ()))
        names[symbol] = _identifier(f"t{len(temps)}", used)
        temps[expr] = symbol
        inner = Counter(e for e in _subexpressions(expr) if e in size)
        inner[expr] -= 1
        for e, k in inner.items():
            counts[e] -= (copies - 1) * k
    values = [line.value.xreplace(temps) for line in lines]
    definitions = {symbol: expr.xreplace({k: v for k, v in temps.items() if k != expr})
                   for expr, symbol in temps.items()}
    printer = NumPyPrinter(names)
    code, defined = [], set()

    def define(value):
        for symbol in sorted(value.atoms(sp.Symbol, sp.MatrixSymbol), key=lambda t: t.name):
            if symbol in definitions and symbol not in defined:
                defined.add(symbol)
                body = definitions[symbol]
                define(body)
                code.append(f"    {names[symbol]} = {printer.doprint(body)}")

    for line, value in zip(lines, values):
        define(value)
        if line.comment:
            code.append("    " + _comment(line.comment))
        code.append(f"    {names[line.target]} = {printer.doprint(value)}")
    return code


class _Arrays:
    """Convert keyword arrays to the column layout, resolving and checking dims."""

    def __init__(self, model):
        self.model = model
        self.declared = [v for v in model.variables.values() if v.declared]

    def __call__(self, arrays):
        model = self.model
        names = [v.name for v in self.declared]
        missing = [n for n in names if n not in arrays]
        extra = [n for n in arrays if n not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(missing))
            if extra:
                parts.append("unknown " + ", ".join(extra))
            raise TypeError(f"arrays: {'; '.join(parts)} (the model declares {', '.join(names)})")
        sizes = {}
        values = []
        for v in self.declared:
            value = np.asarray(arrays[v.name], dtype=np.float64)
            shape = v.shape
            if shape.is_scalar:
                if value.size != 1:
                    raise ValueError(f"{v.name} is a scalar; got an array of shape {value.shape}")
                values.append(np.float64(value.reshape(())))  # a NaN, not a complex, from (-1)**0.5
                continue
            expected = 1 if shape.kind == "vector" else 2
            if value.ndim != expected:
                raise ValueError(f"{v.name} is a {shape}: expected a {expected}-D array, got "
                                 f"shape {value.shape}")
            if shape.kind == "vector":
                value = value.reshape(-1, 1)
            for size, actual in zip((shape.rows, shape.cols), value.shape):
                known = int(size) if size.is_Integer else sizes.setdefault(size, actual)
                if known != actual:
                    raise ValueError(f"{v.name} is a {shape}: got shape {np.shape(arrays[v.name])}"
                                     f", but {size} = {known} from the arrays before it")
            values.append(value)
        values.extend(sizes.get(symbol, 0) for symbol in model.dims.values())
        return values


def _to_user(value, shape):
    if shape.is_scalar:
        return float(value)
    return np.asarray(value).reshape(-1) if shape.kind == "vector" else np.asarray(value)


def compile_derivation(derivation, wrt=None):
    """Compile a derivation into a NumPy function.

    Parameters
    ----------
    derivation : Derivation
        With every abstract function bound (see :meth:`Derivation.bound`).
    wrt : list of str, optional
        The variables to differentiate with respect to; the params by default.

    Returns
    -------
    callable
        ``f(**arrays) -> (J, grads)``: `arrays` holds every input, param and
        const by name (a vector as a 1-D array, a matrix 2-D, a scalar a
        float); `J` is a float and `grads` a dict of the gradients, each in its
        variable's shape.  ``f.objective(**arrays)`` computes `J` alone and
        ``f.source`` is the generated module.

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> d = sbp.derive(sbp.parse("dim n\\nparam w: vector(n)\\nJ = w.T @ w\\nobjective J"))
    >>> f = compile_derivation(d)
    >>> J, grads = f(w=np.array([1.0, 2.0]))
    >>> J, grads["w"]
    (5.0, array([2., 4.]))
    """
    model = derivation.model
    wrt = list(derivation.params if wrt is None else wrt)
    source = generate_source(derivation, wrt)
    namespace = {}
    # Safe: `source` is generated text (see the module docstring), not user text.
    exec(compile(source, f"<symbackprop {model.filename}>", "exec"), namespace)
    convert = _Arrays(model)
    shapes = {n: model.variables[n].shape for n in wrt}

    def value_and_grad(**arrays):
        J, grads = namespace["value_and_grad"](*convert(arrays))
        return float(J), {n: _to_user(g, shapes[n]) for n, g in zip(wrt, grads)}

    def objective(**arrays):
        return float(namespace["objective"](*convert(arrays)))

    def trace(**arrays):
        return namespace["trace"](*convert(arrays))

    value_and_grad.objective = objective
    value_and_grad.trace = trace
    value_and_grad.source = source
    value_and_grad.wrt = tuple(wrt)
    return value_and_grad
