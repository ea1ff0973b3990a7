"""NumPy code for a derivation, written out as Python source.

:func:`generate_source` writes a self-contained module (it imports NumPy only)
with straight-line functions: ``objective``, the forward pass;
``value_and_grad``, the forward pass followed by the backward steps of the
derivation, each under a comment quoting its formula; and ``trace``, which
returns every value and adjoint by name.  Forward values are
computed once and read by the backward steps, as in hand-written backprop.

:func:`generate_hvp_source` writes the same for the Hessian-vector products, from
the H v program (the first-order program and its tangent).  Both print a
:class:`~symbackprop.derivation.program.Program` through one :class:`_Source`;
:mod:`symbackprop.printing.numpy_function` compiles them.

Why compiling is safe: the source is generated from the derivation's
expressions by :class:`NumPyPrinter`, never from the model's text.  Model
names are identifiers by the language's grammar, and are further mapped to
names that are not Python keywords and cannot collide (``lambda`` becomes
``lambda_``); numbers are printed from exact rationals.  Nothing the user
wrote is evaluated.

Layout: the functions take and return what :meth:`Derivation.lambdify`'s function does,
a vector as a 1-D array, a matrix 2-D and a scalar a float, the gradients in a dict by
name; inside, a vector is computed as the n x 1 column the formulas multiply, so each
function turns its vectors into columns first and its vector results back.  Softmax,
log-softmax, log-sum-exp, sigmoid and softplus use their numerically stable forms.  Products with
all-ones matrices are printed as broadcasts and sums over an axis, and chains
of products in the order their sizes make cheapest
(:mod:`symbackprop.printing.numpy_printer`).
"""

from __future__ import annotations

import keyword
import re
import textwrap

import sympy as sp

from ..derivation.program import (
    Program,
    forward_program,
    is_temporary,
    temporary_name,
    training_program,
)
from ..derivation.reverse import adjoint_symbol
from ..primitives import expressions as ex
from ..primitives.shapes import solved_sizes
from .names import display_names, hvp_display_names
from .numpy_printer import NumPyPrinter
from .printers import TextPrinter
from .windows import HELPERS as _WINDOW_HELPERS

__all__ = ["NumPyPrinter", "generate_source", "generate_hvp_source", "code_names",
           "hvp_code_names"]

HELPERS = [
    """\
def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
    """\
def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
""",
    """\
def _logsumexp(x, axis):
    top = np.max(x, axis=axis, keepdims=True)
    return top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))
""",
    """\
def _sigmoid(x):
    # 1 / (1 + exp(-x)) without overflow for large |x|
    return 0.5 * (1.0 + np.tanh(0.5 * x))
""",
    """\
def _huber(r, delta):
    # the Huber loss of each entry, r²/2 where |r| <= δ, δ (|r| - δ/2) elsewhere: c (r - c/2)
    # with c = r clipped to [-δ, δ]
    c = np.clip(r, -delta, delta)
    return c * (r - 0.5 * c)
""",
    """\
def _normal_cdf(x):
    # the standard normal distribution function Φ(x) = (1 + erf(z))/2, z = x/√2 (NumPy has no
    # erf), by the rational approximations of Cephes' ndtr (S. L. Moshier), their coefficients
    # halved (exact) to give halves: erf(z)/2 = z T(z²)/U(z²) for |z| < 1; beyond, erfc(|z|)/2
    # = exp(-z²) P(|z|)/Q(|z|) (R/S from |z| = 8 on), exact in the far tail where 1 - erf
    # would cancel, and exp(-z²) = exp(-m²) exp(-(2m + f) f) with z = m + f, m a multiple of
    # 1/128 (m² exact), as Cephes' expx2: exp(-z²) loses z² ulps to the rounding of z² else.
    # The tail only on the entries |z| >= 1: for most entries of a layer the near form alone
    x = np.asarray(x, dtype=np.float64)
    z = x.reshape(-1) * 0.7071067811865476
    near = np.clip(z, -1.0, 1.0)
    s = near * near
    t = 4.80248686993525819e0 * s + 4.50130098601921345e1
    u = s + 3.35617141647503100e1
    for a, b in ((1.11600267297342160e3, 5.21357949780152680e2),
                 (3.50166257056402538e3, 4.59432382970980128e3),
                 (2.77961506505197481e4, 2.26290000613890934e4)):
        t, u = t * s + a, u * s + b
    out = 0.5 + near * t / (u * s + 4.92673942608635921e4)  # NaN stays NaN
    at = np.abs(z) >= 1.0
    if at.any():
        z = z[at]
        far = np.minimum(np.abs(z), 40.0)  # erfc(40)/2 underflows to 0: 40 as well as inf
        p = 1.23098490736765256e-10 * far + 2.82094782415534411e-1
        q = far + 1.32281951154744993e1
        for a, b in ((3.73160528221134956e0, 8.67072140885989742e1),
                     (2.43185985492840683e1, 3.54937778887819891e2),
                     (9.82604164780385491e1, 9.75708501743205490e2),
                     (2.63222597497738679e2, 1.82390916687909736e3),
                     (4.67264263585978804e2, 2.24633760818710982e3),
                     (5.13775943447578551e2, 1.65666309194161350e3),
                     (2.78767667684699664e2, 5.57535340817727676e2)):
            p, q = p * far + a, q * far + b
        ratio = p / q
        if np.any(far > 8.0):
            r, v = 2.82094791773877537e-1 * far + 6.37683353799890522e-1, far + 2.26052863220117277
            for a, b in ((2.50952521125590239e0, 9.39603524938001435e0),
                         (3.08010548996526793e0, 1.20489539808096657e1),
                         (3.70487134975224470e0, 1.70814450747565897e1),
                         (1.48943332686050120e0, 9.60896809063285878e0)):
                r, v = r * far + a, v * far + b
            ratio = np.where(far > 8.0, r / (v * far + 3.36907645100081516e0), ratio)
        m = np.rint(far * 128.0) / 128.0
        f = far - m
        tail = np.exp(-(m * m)) * np.exp(-((m + m + f) * f)) * ratio  # erfc(|z|)/2
        out[at] = np.where(z < 0, tail, 1.0 - tail)
    return out.reshape(x.shape)
""",
]

HELPERS += _WINDOW_HELPERS

_RESERVED = {"np", "_softmax", "_log_softmax", "_logsumexp", "_sigmoid", "_normal_cdf",
             "_huber", "objective", "value_and_grad", "trace", "hvp", "_correlate", "_pad",
             "_dilate", "_maxpool", "_avgpool", "_upsample", "_maxpool_mask", "_masked_upsample",
             "float"}


# l, O and I read as 1 and 0 in many fonts (pycodestyle's E741): written l_, O_, I_ in code
_AMBIGUOUS = {"l", "O", "I"}


def _identifier(name, used):
    candidate = name if name.isidentifier() and not keyword.iskeyword(name) \
        and name not in _AMBIGUOUS else name + "_"
    while candidate in used or keyword.iskeyword(candidate):
        candidate += "_"
    used.add(candidate)
    return candidate


def _identifiers(derivation):
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


LINE_LENGTH = 99


def _comment(text, indent):
    """`text` as comment lines of at most LINE_LENGTH characters."""
    lines = textwrap.wrap(" ".join(text.split()), LINE_LENGTH - len(indent) - 2,
                          subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
    return [f"{indent}# {line}" for line in lines]


def _top_level_splits(text, operators):
    """Where `text` can be broken before a binary operator outside all brackets."""
    depth, splits = 0, []
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and i and text[i - 1] == " " and char in operators and \
                text[i + 1:i + 2] == " ":
            splits.append(i)
    return splits


def _assignment(target, value, indent="    "):
    """``target = value``, broken inside brackets where longer than LINE_LENGTH.

    As Black lays out code: a long value is put in brackets and broken before
    its top-level operators, one operand a line; a long operand that is a call
    or is bracketed is broken the same way inside its own brackets.
    """
    line = f"{indent}{target} = {value}"
    if len(line) <= LINE_LENGTH:
        return [line]
    if _top_level_splits(value, "+-*@"):
        return [f"{indent}{target} = ("] + _lines(value, indent + "    ") + [f"{indent})"]
    return _opened(f"{indent}{target} = ", value, indent) or [line]


def _lines(text, indent):
    """`text`, inside brackets already, as lines at `indent`."""
    if len(indent + text) <= LINE_LENGTH:
        return [indent + text]
    for operators in ("+-", "*@"):
        splits = _top_level_splits(text, operators)
        if splits:
            pieces = [text[a:b].strip() for a, b in zip([0] + splits, splits + [len(text)])]
            return [line for piece in pieces for line in _lines(piece, indent)]
    return _opened(indent, text, indent) or [indent + text]


_SUFFIX = re.compile(r"(\[0, 0\]|\.T| \*\* -?[0-9.]+)$")


def _opened(head, text, indent):
    """`text` ending in a bracketed group, broken inside it; None if it does not."""
    # (A @ B)[0, 0], (A @ B).T, (a + b) ** 2: break inside the brackets
    ending = _SUFFIX.search(text)
    suffix = ending.group(0) if ending else ""
    text = text[:len(text) - len(suffix)]
    opening = text.find("(")
    if not text.endswith(")") or opening < 0 or _matching_bracket(text, opening) != len(text) - 1:
        return None
    return [head + text[:opening + 1], *_lines(text[opening + 1:-1], indent + "    "),
            f"{indent}){suffix}"]


def _matching_bracket(text, opening):
    """The index of the bracket closing the one at `opening`."""
    depth = 0
    for i in range(opening, len(text)):
        depth += text[i] in "([{"
        depth -= text[i] in ")]}"
        if depth == 0:
            return i
    return -1


def _body(program, names, printer, comments=True, release=True):
    """The lines of a function body running `program`."""
    lines = []
    for statement, released in zip(program.statements, program.releases):
        if comments and statement.comment:
            lines += _comment(statement.comment, "    ")
        value = statement.value
        if value.is_number and not ex.is_matrix(value):
            text = repr(float(value))  # a float, as every other scalar result
        else:
            text = printer.doprint(value)
        if statement.copy:
            text = f"np.copy({text})"
        lines += _assignment(names[statement.target], text)
        if release and released:
            # free each value after its last use, as hand-written backprop does
            lines.append("    del " + ", ".join(names[s] for s in released))
    return lines


def code_names(derivation, programs):
    """The Python identifier of every symbol in `programs`: variables, adjoints, dims, temporaries.

    Temporaries are named t0, t1, ... by creation, with a trailing ``_`` where
    a model's own name (or another program's temporary of another shape) has
    the name already.
    """
    _, _, names = _identifiers(derivation)
    _temporary_names(programs, names, set(names.values()) | _RESERVED)
    return names


def hvp_code_names(hvp, programs):
    """As :func:`code_names`, for programs of an H v derivation: the directions and tangents
    named as in :func:`generate_hvp_source` (``v_W1``, ``r_z``, ``r_grad_W1``) too."""
    *_, names = _hvp_identifiers(hvp)
    _temporary_names(programs, names, set(names.values()) | _RESERVED)
    return names


def _temporary_names(programs, names, used):
    for program in programs:
        for statement in program:
            if is_temporary(statement.target) and statement.target not in names:
                names[statement.target] = _identifier(temporary_name(statement.target), used)


def _formula(display):
    """``comment(target, value)`` for a program: the step as text, ``∂J/∂W1 = (∂J/∂z) xᵀ``."""
    text = TextPrinter(display)
    return lambda target, value: f"{text.doprint(target)} = {text.doprint(value)}"


class _Source:
    """What the functions of one generated module share: an identifier for every symbol of
    its programs, the printer, and how each function learns the sizes (:func:`_sizes`)."""

    def __init__(self, model, idents, dims, names, programs):
        self.model, self.idents, self.names = model, idents, names
        _temporary_names(programs, names, set(names.values()) | _RESERVED)
        self.printer = NumPyPrinter(names)
        self.sizes, self.unsized = _sizes(model, idents, dims)
        self.declared = [idents[n] for n, v in model.variables.items() if v.declared]
        self.layouts = {idents[n]: layout(v.shape) for n, v in model.variables.items()
                        if v.declared}

    def function(self, name, program, docstring, returned, after_declared=(), **options):
        """A function running `program`: the declared arrays, `after_declared` (a dict of
        identifier to layout), the sizes no array has; `options` as in :func:`_body`."""
        body = _body(program, self.names, self.printer, **options)
        after_declared = dict(after_declared)
        parameters = self.declared + list(after_declared) + self.unsized
        columns = as_columns({**self.layouts, **after_declared}, "\n".join(body))
        return _generated_function(name, parameters, docstring, body, returned, self.sizes,
                                   self.names, columns)

    def module(self, title, functions, after_declared="", returned=""):
        """The module of `functions`, its docstring describing their arguments."""
        arguments = (_described_arguments(self.model, self.idents, self.printer) + after_declared
                     + (", then the sizes " + ", ".join(self.unsized) if self.unsized else ""))
        return _module(title, f"Arguments: {arguments}. {CONVENTION}{returned}", self.model,
                       functions)


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
        ``trace(...)``; all take the declared variables, then the dims no array
        has, in model order (vectors 1-D, as :meth:`Derivation.lambdify`'s
        function takes them); ``value_and_grad`` returns ``(J, grads)``, the
        gradients by name.  It imports NumPy only.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp")).bound(
    ...     {"phi": "tanh", "ell": "squared_error"})
    >>> print(generate_source(d).split("def value_and_grad")[1])  # doctest: +ELLIPSIS
    (x, y, W1, W2, lambda_):
        ...
        x = np.reshape(x, (-1, 1))
        y = np.reshape(y, (-1, 1))
        z = W1 @ x
        h = np.tanh(z)
        ...
        # ∂J/∂W1 = (∂J/∂z) xᵀ + λ W1
        grad_W1 = np.einsum("ik,kj->ij", grad_z, x.T) + lambda_ * W1
        del grad_z
        return float(J), {'W1': grad_W1, 'W2': grad_W2}
    ...
    """
    model = derivation.model
    wrt = list(derivation.params if wrt is None else wrt)
    idents, dims, names = _identifiers(derivation)
    inference = forward_program(derivation)
    training = training_program(derivation, wrt, _formula(display_names(derivation, latex=False)))
    everything = Program(training.statements, [s.target for s in training])
    source = _Source(model, idents, dims, names, [inference, training])
    objective = idents[model.objective]
    grads = [(n, names[adjoint_symbol(model, n)], layout(model.variables[n].shape))
             for n in wrt]
    traced = [f"        {str(s.target)!r}: {names[s.target]},"
              for s in training if not is_temporary(s.target)]
    wrt_text = ", ".join(wrt) if wrt else "nothing"
    functions = [
        source.function("objective", inference, f"The objective {model.objective}: the forward "
                        "pass alone, each value freed after its last use.",
                        [f"    return float({objective})"]),
        source.function("value_and_grad", training, f"{model.objective} and its gradients with "
                        f"respect to {wrt_text}: the forward pass, then the backward.",
                        returned_by_name(objective, [grads])),
        source.function("trace", everything, "Every forward value and adjoint, by name, to find "
                        "where a NaN first appears (a vector as the column the code holds).",
                        ["    return {", *traced, "    }"], comments=False, release=False),
    ]
    return source.module("Objective and gradients of a model, generated by symbackprop.",
                         functions, returned=" value_and_grad returns J and the gradients "
                         "by name, each shaped as its variable.")


def _sizes(model, idents, dims):
    """How the generated functions know each dim: read off an array, or passed.

    Each size is read off the first array that has it (``n_d = x.shape[0]``), so a
    caller cannot pass a wrong one; only a dim no array has is a parameter.

    Returns
    -------
    sizes : dict
        Dim symbol to the Python expression reading it.
    unsized : list of str
        The parameters' names of the other dims, in model order.
    """
    sources = _dim_sources(model)
    printed = {symbol: dims[n] for n, symbol in model.dims.items()}
    sizes = {}
    for symbol, (name, axis, rest, coefficient) in sources.items():
        # the dim is (length - rest) / coefficient: k of n - k + 1 is n + 1 - W.shape[0]
        length = f"{idents[name]}.shape[{axis}]"
        text = str(rest.xreplace({s: sp.Symbol(printed[s]) for s in rest.free_symbols}))
        if rest == 0:
            text = length
        elif coefficient < 0:
            text = f"{text} - {length}"
        else:
            bracket = isinstance(rest, sp.Add) or rest.could_extract_minus_sign()
            text = f"{length} - ({text})" if bracket else f"{length} - {text}"
        sizes[symbol] = text if abs(coefficient) == 1 else f"({text}) // {abs(coefficient)}"
    return sizes, [dims[n] for n, symbol in model.dims.items() if symbol not in sources]


def _generated_function(name, parameters, docstring, body, returned, sizes, names,
                        columns=()):
    """The lines of a generated function: signature, docstring, its vectors made `columns`,
    the sizes it reads, body."""
    needed = "\n".join(body)
    for symbol in reversed(list(sizes)):  # a size read through others needs them too
        if re.search(rf"\b{names[symbol]}\b", needed):
            needed += "\n" + sizes[symbol]
    used = [f"    {names[symbol]} = {source}" for symbol, source in sizes.items()
            if re.search(rf"\b{names[symbol]}\b", needed)]
    return [*_signature(name, parameters), *_docstring(docstring), *columns, *used, *body,
            *returned]


def _described_arguments(model, idents, printer):
    """The declared variables with their shapes, for a module's docstring: ``x (n_d,)``."""
    shapes = []
    for n, v in model.variables.items():
        if v.declared:
            shape = "a float" if v.shape.is_scalar else f"({printer.doprint(v.shape.rows)},)" \
                if v.shape.kind == "vector" else \
                f"({printer.doprint(v.shape.rows)}, {printer.doprint(v.shape.cols)})"
            shapes.append(f"{idents[n]} {shape}")
    return ", ".join(shapes)


def _module(title, description, model, functions):
    """A generated module: docstring, NumPy if used, the helpers used, then `functions`."""
    code = "\n".join(line for f in functions for line in f)
    helpers = _helpers_called(code)
    imports = [["import numpy as np"]] if "np." in code + "".join(helpers) else []
    blocks = imports + [h.splitlines() for h in helpers] + functions
    lines = [f'"""{title}', "", *textwrap.wrap(description, LINE_LENGTH), '"""',
             # repr: a file name is user text; escaped, it cannot leave the comment
             f"# model: {model.filename!r}",
             ""]
    for block in blocks:
        lines += ["", *block, ""] if block is not blocks[0] or not imports else [*block, ""]
    return "\n".join(lines[:-1]) + "\n"


def _helpers_called(code):
    """The helpers `code` calls and those they call (``_maxpool_mask`` calls ``_maxpool``), in
    the order of HELPERS."""
    called, text = set(), code
    while True:
        more = {h for h in HELPERS if h not in called and f"{h.split('(')[0][4:]}(" in text}
        if not more:
            return [h for h in HELPERS if h in called]
        called |= more
        text += "".join(more)


def _dim_sources(model):
    """For each dim the declared arrays' shapes determine, how: (the array's name, its axis,
    rest, coefficient), the dim being (that axis's length - rest) / coefficient, with `rest`
    in the dims before it (:func:`~symbackprop.primitives.shapes.solved_sizes`)."""
    observed = []
    for name, v in model.variables.items():
        if not v.declared or v.shape.is_scalar:
            continue
        for axis, size in enumerate((v.shape.rows, v.shape.cols)):
            if size.free_symbols:
                observed.append((size, (name, axis)))
    solved = solved_sizes(observed)
    order = list(model.dims.values())
    read = sorted((s for s in solved if solved[s][1] == 0), key=order.index)
    return {symbol: (*solved[symbol][0], *solved[symbol][1:])
            for symbol in read + [s for s in solved if s not in read]}


def _signature(name, parameters):
    line = f"def {name}({', '.join(parameters)}):"
    if len(line) <= LINE_LENGTH:
        return [line]
    wrapped = textwrap.wrap(", ".join(parameters), LINE_LENGTH - 5)
    return [f"def {name}(", *(f"    {part}" for part in wrapped[:-1]), f"    {wrapped[-1]},",
            "):"]


def _docstring(text):
    lines = textwrap.wrap(text, LINE_LENGTH - 7)
    if len(lines) == 1:
        return [f'    """{lines[0]}"""']
    return [f'    """{lines[0]}', *(f"    {line}" for line in lines[1:]), '    """']


CONVENTION = "A vector is a 1-D array (or a column), a matrix 2-D, a scalar a float."


def layout(shape):
    """How a value is passed and returned: "scalar", "vector" or "matrix"."""
    return "scalar" if shape.is_scalar else shape.kind


def as_columns(layouts, body):
    """The lines that turn the vector arguments `body` reads into the columns it computes with.

    `layouts` maps each argument's identifier to its layout: "vector", "stacked vectors" (a
    family in one array, a member a row) or "listed vectors" (a family as a list); the caller
    passes a vector 1-D, as :meth:`Derivation.lambdify`'s function takes it.

    Examples
    --------
    >>> as_columns({"x": "vector", "W": "matrix", "h": "stacked vectors"}, "W @ x + h[t]")
    ['    x = np.reshape(x, (-1, 1))', '    h = np.reshape(h, np.shape(h) + (1,))']
    """
    lines = {"vector": "{0} = np.reshape({0}, (-1, 1))",
             "stacked vectors": "{0} = np.reshape({0}, np.shape({0}) + (1,))",
             "listed vectors": "{0} = [np.reshape(m, (-1, 1)) for m in {0}]"}
    return [f"    {lines[kind].format(ident)}" for ident, kind in layouts.items()
            if kind in lines and re.search(rf"\b{ident}\b", body)]


def as_given(ident, kind):
    """A result in the layout its variable is passed in: a vector 1-D, a scalar a float."""
    return {"scalar": f"float({ident})", "vector": f"np.reshape({ident}, -1)",
            "stacked vectors": f"{ident}[..., 0]",
            "listed vectors": f"[np.reshape(m, -1) for m in {ident}]"}.get(kind, ident)


def returned_by_name(objective, groups):
    """``return float(J), {'a': ..., 'b': ...}, ...``: the objective, then each group of
    (name, identifier, layout) as a dict by name, each result in its variable's layout."""
    dicts = [[f"{name!r}: {as_given(ident, kind)}" for name, ident, kind in g] for g in groups]
    line = f"    return float({objective}), " + ", ".join("{" + ", ".join(d) + "}" for d in dicts)
    if len(line) <= LINE_LENGTH:
        return [line]
    lines = [f"    return float({objective}), {{"]
    for k, entries in enumerate(dicts):
        lines += [f"        {entry}," for entry in entries]
        lines.append("    }" if k == len(dicts) - 1 else "    }, {")
    return lines


def _hvp_identifiers(hvp):
    """The first-order identifiers, plus v_<name> for the directions and r_<name> for the
    tangents (r_grad_<name> for those of the gradients)."""
    idents, dims, names = _identifiers(hvp.derivation)
    used = set(names.values()) | _RESERVED
    directions = {name: _identifier("v_" + idents[name], used) for name in hvp.directions}
    for name, ident in directions.items():
        names[hvp.directions[name]] = ident
    for step in hvp.forward:
        names[step.symbol] = _identifier("r_" + idents[step.node], used)
    for step in hvp.backward:
        names[step.symbol] = _identifier("r_grad_" + idents[step.node], used)
    for name in hvp.wrt:
        if hvp.output(name) not in names:
            names[hvp.output(name)] = _identifier(f"r_grad_{idents[name]}", used)
    return idents, dims, directions, names


def generate_hvp_source(hvp):
    """The NumPy module computing J, its gradients and H v, for a derivation with every
    abstract function bound.

    ``hvp(*declared, *directions, *sizes)`` (only the sizes no array has) runs
    :meth:`~symbackprop.derivation.tangent.HVPDerivation.program`, each step under a
    comment quoting its formula, and
    returns ``(J, grads, hvps)``, the gradients and H v by name for the `wrt` variables.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp")).bound(
    ...     {"phi": "tanh", "ell": "squared_error"})
    >>> print(generate_hvp_source(sbp.derive_hvp(d)).split("def hvp")[1])  # doctest: +ELLIPSIS
    (x, y, W1, W2, lambda_, v_W1, v_W2):
        ...
        # R{z} = V_W1 x
        r_z = v_W1 @ x
        ...
        return float(J), {'W1': grad_W1, 'W2': grad_W2}, {'W1': r_grad_W1, 'W2': r_grad_W2}
    """
    model = hvp.model
    idents, dims, directions, names = _hvp_identifiers(hvp)
    program = hvp.program(_formula(hvp_display_names(hvp, latex=False)))
    source = _Source(model, idents, dims, names, [program])
    shapes = {n: layout(model.variables[n].shape) for n in hvp.wrt}
    grads = [(n, names[adjoint_symbol(model, n)], shapes[n]) for n in hvp.wrt]
    hvps = [(n, names[hvp.output(n)], shapes[n]) for n in hvp.wrt]
    function = source.function("hvp", program, f"{model.objective}, its gradients and the "
                               "Hessian-vector products H v, v given per variable.",
                               returned_by_name(idents[model.objective], [grads, hvps]),
                               {ident: layout(model.variables[n].shape)
                                for n, ident in directions.items()})
    return source.module("Objective, gradients and Hessian-vector products of a model, generated "
                         "by symbackprop.", [function], ", then a direction for each of "
                         + ", ".join(directions) + " (shaped like it)", " hvp returns J, the "
                         "gradients and the products H v, both by name, each shaped as its "
                         "variable.")
