"""The operator reference: each registry entry's written form, shape and local rules.

Each operator is shown on one-line models, ``z = op(A, ...)`` with ``J = f(z)`` and
``f`` abstract, so that ``∂J/∂z`` stays a named adjoint and each operand's backward
step is exactly the operator's local rule (its vector-Jacobian product), and the
forward step ``z = ... ∈ ℝ^(m×n)`` shows its shape rule.  The rules are derived by
symbackprop itself, never written by hand: ``symbackprop ops`` prints them as text,
and the documentation's operator reference (docs/_ext/symbackprop_docs.py, and
docs/operators.md) as LaTeX, from the same cases.
"""

from __future__ import annotations

import difflib
import re

from ..derivation.reverse import derive
from ..language.loading import parse
from ..primitives.operators import REGISTRY
from .names import display_names, shape_latex, shape_text
from .printers import MatrixLatexPrinter, TextPrinter

__all__ = ["OPERATOR_CASES", "GROUPS", "groups", "cases", "rule_model", "rule_rows",
           "operator_text", "find_operators", "reference_markdown",
           "escape_markdown", "math_block", "anchor"]


#: Operands for each operator's one-line model, as in the language: the cases
#: shown in the reference.  An operator missing here gets matrix(m, n) operands.
#: A case may end with its own assignment ("z = x.T @ y").
OPERATOR_CASES = {
    "add": [("A: matrix(m, n)", "B: matrix(m, n)"), ("A: matrix(m, n)", "b: vector(n)"),
            ("A: matrix(m, n)", "b: vector(n)", "z = A + b.T"), ("A: matrix(m, n)", "c: scalar")],
    "sub": [("A: matrix(m, n)", "B: matrix(m, n)"), ("A: matrix(m, n)", "b: vector(n)"),
            ("A: matrix(m, n)", "b: vector(n)", "z = A - b.T")],
    "neg": [("A: matrix(m, n)",)],
    "mul": [("c: scalar", "A: matrix(m, n)"), ("A: matrix(m, n)", "B: matrix(m, n)")],
    "div": [("A: matrix(m, n)", "c: scalar"), ("A: matrix(m, n)", "B: matrix(m, n)")],
    "matmul": [("A: matrix(m, n)", "B: matrix(n, k)"), ("A: matrix(m, n)", "x: vector(n)"),
               ("x: vector(n)", "y: vector(n)", "z = x.T @ y")],
    "pow": [("A: matrix(m, n)",)],
    "transpose": [("A: matrix(m, n)",), ("x: vector(n)",)],
    "copy": [("A: matrix(m, n)",)],
    "sum": [("A: matrix(m, n)",)],
    "mean": [("A: matrix(m, n)",)],
    "norm": [("x: vector(n)",), ("A: matrix(m, n)",)],
    "trace": [("A: matrix(n, n)",)],
    "softmax": [("x: vector(n)",), ("X: matrix(m, n)",)],
    "log_softmax": [("x: vector(n)",), ("X: matrix(m, n)",)],
    "logsumexp": [("x: vector(n)",), ("X: matrix(m, n)",)],
    "sum_rows": [("X: matrix(m, n)",)],
    "mean_rows": [("X: matrix(m, n)",)],
    "center_rows": [("X: matrix(m, n)",)],
    "scale_rows": [("X: matrix(m, n)", "v: vector(m)")],
    "shift_rows": [("X: matrix(m, n)", "c: vector(m)")],
    "sum_cols": [("X: matrix(m, n)",)],
    "mean_cols": [("X: matrix(m, n)",)],
    "center_cols": [("X: matrix(m, n)",)],
    "scale_cols": [("X: matrix(m, n)", "v: vector(n)")],
    "squared_error": [("o: vector(n)", "y: vector(n)")],
    "mse": [("o: vector(n)", "y: vector(n)")],
    "cross_entropy": [("o: vector(n)", "y: vector(n)"), ("O: matrix(m, n)", "Y: matrix(m, n)"),
                      ("O: matrix(m, n)", "Y: matrix(m, n) onehot", "z = cross_entropy(O, Y)")],
    "leaky_relu": [("A: matrix(m, n)", "z = leaky_relu(A, 0.01)")],
    "max": [("A: matrix(m, n)", "B: matrix(m, n)"), ("A: matrix(m, n)", "z = max(0, A)")],
    "min": [("A: matrix(m, n)", "B: matrix(m, n)"), ("c: scalar", "A: matrix(m, n)")],
    "max_all": [("A: matrix(m, n)", "z = max(A)")],
    "min_all": [("x: vector(n)", "z = min(x)")],
    "huber": [("r: vector(n)", "z = huber(r, 1)"), ("R: matrix(m, n)", "z = huber(R, 0.5)")],
    "eye": [("A: matrix(n, n)", "z = A + eye(n)")],
    "diag": [("v: vector(n)",)],
    "diag_part": [("A: matrix(n, n)",)],
    "inv": [("X: matrix(n, n)",), ("A: matrix(k, n)", "X: matrix(n, n)", "B: matrix(n, k)",
                                   "z = trace(A @ inv(X) @ B)")],
    "det": [("X: matrix(n, n)",)],
    "logdet": [("X: matrix(n, n)",), ("S: matrix(n, n) spd", "z = logdet(S)")],
    "vcat": [("a: vector(m)", "b: vector(n)"), ("A: matrix(m, n)", "B: matrix(k, n)"),
             ("a: vector(m)", "b: vector(n)", "c: vector(k)")],
    "hcat": [("A: matrix(m, n)", "B: matrix(m, k)"),
             ("A: matrix(m, n)", "B: matrix(m, k)", "C: matrix(m, m)")],
    "conv1d": [("x: vector(n)", "w: vector(k)")],
    "conv2d": [("X: matrix(m, n)", "K: matrix(k, k)"),
               ("X: matrix(2*m + 1, 2*n + 1)", "K: matrix(3, 3)",
                "z = conv2d(X, K, stride=2, pad=1)")],
    "maxpool2d": [("X: matrix(2*m, 2*n)", "z = maxpool2d(X, 2)")],
    "avgpool2d": [("X: matrix(2*m, 2*n)", "z = avgpool2d(X, 2)")],
    "slice": [("x: vector(m + n)", "z = x[m+1..m+n]"), ("A: matrix(m + k, n)", "z = A[1..m, :]"),
              ("A: matrix(m, n + k)", "z = A[:, n+1..n+k]")],
}

#: How each operator is written in its one-line model (the registry's form, with
#: the operands named as in OPERATOR_CASES).
WRITTEN = {"add": "{0} + {1}", "sub": "{0} - {1}", "neg": "-{0}", "mul": "{0} * {1}",
            "div": "{0} / {1}", "matmul": "{0} @ {1}", "pow": "{0} ^ 3", "transpose": "{0}.T",
            "copy": "{0}"}

#: The sections of the operator reference; "Entrywise functions" is every elementwise
#: entry of the registry (a scalar function's row included), and "Other" the rest.
GROUPS = [
    ("Arithmetic", ["add", "sub", "neg", "mul", "div", "matmul", "pow", "transpose", "copy"]),
    ("Entrywise functions", None),
    ("Reductions", ["sum", "mean", "norm", "trace", "max_all", "min_all"]),
    ("Along each row", ["softmax", "log_softmax", "logsumexp", "sum_rows", "mean_rows",
                        "center_rows", "scale_rows", "shift_rows", "max_rows", "min_rows"]),
    ("Along each column", ["sum_cols", "mean_cols", "center_cols", "scale_cols", "max_cols",
                           "min_cols"]),
    ("Entrywise, of two arguments", ["leaky_relu", "max", "min"]),
    ("Losses", ["squared_error", "mse", "cross_entropy", "huber"]),
    ("Linear algebra", ["eye", "diag", "diag_part", "inv", "det", "logdet"]),
    ("Blocks", ["vcat", "hcat", "slice"]),
    ("Convolution and pooling", ["conv1d", "conv2d", "maxpool2d", "avgpool2d"]),
]


def rule_model(expression, operands, extra="", target="z"):
    """The one-line model ``z = expression`` with ``J = f(z)``, ``f`` abstract.

    ``dJ/dz`` then stays a named adjoint, and each operand's backward step is
    exactly the operator's local rule: its vector-Jacobian product.
    """
    lines = ["dim m, n, k"] + [f"input {o}" for o in operands]
    lines += [extra, "func f(u)", f"{target} = {expression}", f"J = f({target})", "objective J"]
    return "\n".join(line for line in lines if line) + "\n"


def groups():
    """The sections of the reference: (title, operator names), every registry entry once."""
    entrywise = [n for n, op in REGISTRY.items() if op.elementwise]  # read now: rows added late
    found = [(title, entrywise if names is None else names) for title, names in GROUPS]
    grouped = {name for _, names in found for name in names}
    found.append(("Other", [n for n in REGISTRY if n not in grouped]))
    return [(title, names) for title, names in found if names]


def cases(name):
    """The one-line models of operator `name`: (operand declarations, expression) pairs."""
    op = REGISTRY[name]
    out = []
    for operands in OPERATOR_CASES.get(name) or [tuple(f"{chr(65 + i)}: matrix(m, n)"
                                                       for i in range(op.arity))]:
        expression = None
        if operands[-1].startswith("z = "):
            operands, expression = operands[:-1], operands[-1].removeprefix("z = ")
        names = [o.split(":")[0].strip() for o in operands]
        if expression is None:
            form = WRITTEN.get(name, name + "(" + ", ".join(
                "{%d}" % i for i in range(len(names))) + ")")
            expression = form.format(*names)
        out.append((tuple(operands), expression))
    return out


def rule_rows(source, operands, target="z", latex=True):
    """Rows ``z = ... ∈ shape`` and ``∂J/∂(operand) = ...`` of a one-line model, as LaTeX
    (``&=`` aligned) or as Unicode text."""
    d = derive(parse(source, "<operator reference>"))
    names = display_names(d, latex=latex)
    printed = (MatrixLatexPrinter if latex else TextPrinter)(names).doprint
    z = d.model.variables[target]
    equals, member = (" &= ", " \\in ") if latex else (" = ", " ∈ ")
    shape = shape_latex(z.shape) if latex else shape_text(z.shape)
    rows = [f"{names[('var', target)]}{equals}{printed(d.forward[target])}{member}{shape}"]
    for name in operands:
        if name in d.order:
            step = d.step(name)
            rows.append(f"{printed(step.adjoint)}{equals}{printed(step.result)}")
    return rows


def operator_text(name):
    """Operator `name` as ``symbackprop ops NAME`` prints it: its written form, what it
    computes, and each one-line model's shape and local rules."""
    op = REGISTRY[name]
    lines = [f"{op.written}    {name}: {op.doc}"]
    for operands, expression in cases(name):
        names = [o.split(":")[0].strip() for o in operands]
        lines.append(f"  z = {expression}  with {', '.join(operands)}")
        lines += [f"    {row}" for row in rule_rows(rule_model(expression, operands), names,
                                                     latex=False)]
    return "\n".join(lines)


def find_operators(names):
    """`names`, each checked to be an operator of the registry: a ValueError naming close
    matches for one that is not."""
    found = []
    for name in names:
        if name in REGISTRY:
            found.append(name)
            continue
        close = difflib.get_close_matches(name, list(REGISTRY), n=4, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"{name!r} is not an operator{hint} (symbackprop ops lists all "
                         f"{len(REGISTRY)})")
    return found


def escape_markdown(text):
    """Plain text for Markdown: every ASCII punctuation mark escaped."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)


def math_block(rows):
    """LaTeX rows as one displayed ``aligned`` block of Markdown."""
    return "$$\n\\begin{aligned}\n" + " \\\\[3pt]\n".join(rows) + "\n\\end{aligned}\n$$\n"


def anchor(name):
    """The link target of an operator's section (docutils ids have no underscores)."""
    return "op-" + name.replace("_", "-")


def reference_markdown(targets="myst"):
    """The operator reference in Markdown: per group a table, then per operator each
    one-line model's forward row and local rules as LaTeX.  `targets` is how a section is
    marked for the tables' links: "myst" (``(op-tanh)=``, for Sphinx) or "html" (an
    ``<a id>``, for a Markdown file read on a forge)."""
    out = []
    for title, names in groups():
        out += [f"# {title}", ""]
        out += ["| written | name | what it computes |", "|---|---|---|"]
        out += [f"| `{REGISTRY[n].written}` | [{n}](#{anchor(n)}) | "
                f"{escape_markdown(REGISTRY[n].doc)} |" for n in names]
        out.append("")
        for name in names:
            op = REGISTRY[name]
            target = f"({anchor(name)})=" if targets == "myst" else f'<a id="{anchor(name)}"></a>'
            out += [target, f"## `{op.written}`", "", f"`{name}`: {escape_markdown(op.doc)}.", ""]
            for operands, expression in cases(name):
                names_ = [o.split(":")[0].strip() for o in operands]
                rows = rule_rows(rule_model(expression, operands), names_)
                declared = ", ".join(f"`{o}`" for o in operands)
                out += [f"`z = {expression}` with {declared}:", "", math_block(rows)]
    return "\n".join(out) + "\n"
