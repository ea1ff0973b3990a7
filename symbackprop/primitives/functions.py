"""The scalar functions of the language: one row each, read by everything that spells them.

A model applies a scalar function entry by entry, ``tanh(z)``.  Each function is
one :class:`ScalarFunction` row of :data:`TABLE`: its SymPy body in
:data:`~symbackprop.primitives.expressions.ENTRY`, its line of documentation,
and how each output spells it: text, LaTeX, NumPy code, and a NumPy function
for the numeric proofs.  The registry of operators
(:mod:`symbackprop.primitives.operators`) makes each row an entrywise operator,
whose local rule comes from :func:`sympy.diff` of the body; the printers, the
code generator and the readers of printed formulas look the spellings up here.
Adding a function is adding a row.

Some rows have no body: functions SymPy writes by itself in a derivative or a
simplification (the ``sinh`` of ``cosh'``, the ``Abs`` of ``sqrt(x^2)``).  A
model cannot call them, but every output must still spell them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.printing.latex import accepted_latex_functions

from .expressions import ENTRY, relu, sigmoid, softplus
from .pieces import elu, gelu

__all__ = ["ScalarFunction", "TABLE", "add", "called", "spelled", "arity", "text_names",
           "latex_macros",
           "operator_latex"]


def operator_latex(name):
    """``\\operatorname{name}``, an underscore escaped: ``cross_entropy`` is one word.

    Examples
    --------
    >>> print(operator_latex("log_softmax"))
    \\operatorname{log\\_softmax}
    """
    return "\\operatorname{" + name.replace("_", "\\_") + "}"


@dataclass(frozen=True)
class ScalarFunction:
    """A scalar function and its spellings; each left out has the default said.

    Attributes
    ----------
    name : str
        How a model calls it, and the name of its SymPy function.
    body : sympy.Expr or None
        Its value at :data:`ENTRY`; None for a function a model cannot call
        (one SymPy writes by itself).
    doc : str
        One line for the language reference.
    latex : str
        Its name in LaTeX formulas and figures: SymPy's own (``\\tanh``,
        ``\\log``) where SymPy has one, else ``\\operatorname{name}``.  (A function
        SymPy writes otherwise, sqrt as a power, is drawn with it in figures.)
    text : str
        Its name in text formulas and figures: `name`.
    numpy : str
        Its call in generated code, ``{x}`` standing for the argument:
        ``np.<name>({x})``.
    evaluate : callable
        Its NumPy function, for the numeric proofs: ``numpy.<name>``.
    domain : {"real", "positive"}
        Where its argument may lie.
    arity : int
        How many arguments it takes: 1, but leaky_relu's slope, clip's bounds.
        The text, LaTeX and NumPy forms of a function of more are written by the
        printers, ``{1}``, ``{2}`` standing for the arguments after the first.

    Examples
    --------
    >>> TABLE["sigmoid"].text, TABLE["sigmoid"].latex, TABLE["sigmoid"].numpy
    ('σ', '\\\\sigma', '_sigmoid({x})')
    >>> TABLE["tanh"].latex, TABLE["relu"].latex, TABLE["tanh"].numpy
    ('\\\\tanh', '\\\\operatorname{relu}', 'np.tanh({x})')
    >>> float(TABLE["softplus"].evaluate(0.0)) == float(np.log(2.0))
    True
    """

    name: str
    body: object
    doc: str = ""
    latex: str = None
    text: str = None
    numpy: str = None
    evaluate: Callable = field(default=None, compare=False)
    domain: str = "real"
    arity: int = 1

    def __post_init__(self):
        defaults = {
            "latex": f"\\{self.name}" if self.name in accepted_latex_functions
            else operator_latex(self.name),
            "text": self.name,
            "numpy": f"np.{self.name}({{x}})",
            "evaluate": getattr(np, self.name, None),
        }
        for attribute, default in defaults.items():
            if getattr(self, attribute) is None:
                object.__setattr__(self, attribute, default)
        if self.evaluate is None:
            raise ValueError(f"{self.name}: NumPy has no function of that name; give evaluate")
        if self.domain not in ("real", "positive"):
            raise ValueError(f"{self.name}: the domain is 'real' or 'positive', "
                             f"not {self.domain!r}")


#: Every scalar function, by name.
TABLE = {}


def add(row):
    """Put `row` in :data:`TABLE`; a row with a body may replace one without.

    Use :func:`symbackprop.primitives.operators.register_function`, which also
    makes the function an operator a model can call.
    """
    known = TABLE.get(row.name)
    if known is not None and known.body is not None:
        raise ValueError(f"the scalar function {row.name} is already registered")
    if known is not None and row.body is None:
        raise ValueError(f"the function {row.name} is already spelled")
    TABLE[row.name] = row
    return row


def called():
    """The rows a model can call, in table order."""
    return [row for row in TABLE.values() if row.body is not None]


def spelled(name):
    """The row whose name or text is `name` (``σ`` is sigmoid), or None."""
    return TABLE.get(name) or next((row for row in TABLE.values() if row.text == name), None)


def arity(name):
    """How many arguments the function printed `name` takes (1 for a name not in the table)."""
    row = spelled(name)
    return 1 if row is None else row.arity


def text_names():
    """Every name text formulas may call a scalar function by: its name and its text."""
    return {spelling for row in TABLE.values() for spelling in (row.name, row.text)}


def latex_macros():
    """The LaTeX that is one macro, to its row's name: ``\\tanh`` to tanh, ``\\sigma`` to sigmoid.

    The others are ``\\operatorname{name}``, read by the name, or print otherwise
    (``\\sqrt{x}`` is a power).
    """
    return {row.latex: row.name for row in TABLE.values()
            if re.fullmatch(r"\\[A-Za-z]+", row.latex)}


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # 1 / (1 + exp(-x)) without overflow


_CALLED = [
    ScalarFunction("relu", relu(ENTRY), "max(0, x) entrywise; derivative 0 at 0",
                   numpy="np.maximum({x}, 0.0)", evaluate=lambda x: np.maximum(x, 0.0)),
    ScalarFunction("sigmoid", sigmoid(ENTRY), "1 / (1 + exp(-x)) entrywise", latex="\\sigma",
                   text="σ", numpy="_sigmoid({x})", evaluate=_sigmoid),
    ScalarFunction("tanh", sp.tanh(ENTRY), "tanh entrywise"),
    ScalarFunction("exp", sp.exp(ENTRY), "exp entrywise", latex="\\exp"),
    ScalarFunction("log", sp.log(ENTRY), "natural logarithm entrywise", domain="positive"),
    ScalarFunction("softplus", softplus(ENTRY), "log(1 + exp(x)) entrywise",
                   numpy="np.logaddexp(0.0, {x})", evaluate=lambda x: np.logaddexp(0.0, x)),
    # SymPy writes sqrt(x) as x^(1/2), a power: formulas print it so, \sqrt{x}
    ScalarFunction("sqrt", sp.sqrt(ENTRY), "square root entrywise", latex="\\sqrt{\\cdot}",
                   domain="positive"),
    ScalarFunction("sin", sp.sin(ENTRY), "sine entrywise"),
    ScalarFunction("cos", sp.cos(ENTRY), "cosine entrywise"),
    ScalarFunction("sinh", sp.sinh(ENTRY), "hyperbolic sine entrywise"),
    ScalarFunction("cosh", sp.cosh(ENTRY), "hyperbolic cosine entrywise"),
    # |x|' = sign(x), 0 at 0: the subgradient PyTorch's autograd takes too
    ScalarFunction("abs", sp.Abs(ENTRY), "absolute value entrywise; derivative sign(x), 0 at 0",
                   latex="\\operatorname{abs}", numpy="np.abs({x})", evaluate=np.abs),
]

def _normal_cdf(x):
    from math import erf  # NumPy has no erf
    return 0.5 * (1.0 + np.vectorize(erf, otypes=[float])(np.asarray(x) / np.sqrt(2.0)))


def _normal_pdf(x):
    return np.exp(-0.5 * np.square(x)) / np.sqrt(2.0 * np.pi)


def _leaky_relu(x, a):
    return np.where(x > 0, x, a * x)


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def _huber(r, delta):
    magnitude = np.abs(r)
    return np.where(magnitude <= delta, 0.5 * np.square(r), delta * (magnitude - 0.5 * delta))


_CALLED += [
    # elu'(0) = 1 and leaky_relu'(0) = a, as PyTorch's autograd takes them
    ScalarFunction("elu", elu(ENTRY), "x where x > 0, exp(x) - 1 elsewhere, entrywise; "
                   "derivative 𝟙[x > 0] + 𝟙[x ≤ 0] (elu(x) + 1), 1 at 0",
                   numpy="np.where(({x}) > 0, {x}, np.expm1(np.minimum({x}, 0.0)))",
                   evaluate=_elu),
    ScalarFunction("gelu", gelu(ENTRY), "x Φ(x) entrywise, Φ the standard normal distribution "
                   "function; derivative Φ(x) + x φ(x), φ the standard normal density",
                   numpy="({x}) * _normal_cdf({x})", evaluate=lambda x: x * _normal_cdf(x)),
]

_WRITTEN_BY_SYMPY = [
    # the derivative of gelu; printed otherwise where a name of the model prints Φ or φ
    ScalarFunction("normal_cdf", None, latex="\\Phi", text="Φ", numpy="_normal_cdf({x})",
                   evaluate=_normal_cdf),
    ScalarFunction("normal_pdf", None, latex="\\varphi", text="φ",
                   numpy="0.3989422804014327 * np.exp(-0.5 * np.square({x}))",  # 1/√(2π) e^..
                   evaluate=_normal_pdf),
    # functions of more than one argument, the operators of primitives.piecewise
    ScalarFunction("leaky_relu", None, numpy="np.where(({x}) > 0, {x}, ({1}) * ({x}))",
                   evaluate=_leaky_relu, arity=2),
    # max(a, b) entry by entry; read with one argument, max(A) is the largest entry
    ScalarFunction("maximum", None, latex="\\max", text="max", numpy="np.maximum({x}, {1})",
                   evaluate=lambda *a: np.max(a[0]) if len(a) == 1 else np.maximum(*a),
                   arity=2),
    ScalarFunction("minimum", None, latex="\\min", text="min", numpy="np.minimum({x}, {1})",
                   evaluate=lambda *a: np.min(a[0]) if len(a) == 1 else np.minimum(*a),
                   arity=2),
    ScalarFunction("clip", None, numpy="np.clip({x}, {1}, {2})", evaluate=np.clip, arity=3),
    # one entry of the Huber loss, printed sum(huber(r, δ)) (a sum's value either way)
    ScalarFunction("huber_entry", None, latex=operator_latex("huber"), text="huber",
                   numpy="_huber({x}, {1})", evaluate=_huber, arity=2),
    # sqrt(x^2) is |x|; written abs(x) as a model calls it (|W| of a matrix reads as det W)
    ScalarFunction("Abs", None, latex="\\operatorname{abs}", text="abs", numpy="np.abs({x})",
                   evaluate=np.abs),
    ScalarFunction("sign", None),  # |x|' is sign(x)
]

for _row in _WRITTEN_BY_SYMPY + _CALLED:
    add(_row)
