"""How the symbols of a derivation print: the names of variables, adjoints, directions, tangents.

A :class:`Notation` holds the lecturer's choices (bold style, transpose mark,
dJ/dW or nabla_W J, shapes, the chain-rule line, substituted forms).
:func:`display_names` maps every symbol of a derivation to its printed name;
the printers of :mod:`symbackprop.printing.printers` read that map.
"""

from __future__ import annotations

import re

from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import MatrixSymbol

from ..derivation.graph import variable_latex
from ..derivation.reverse import adjoint_symbol
from ..errors import ModelError
from ..language.spelling import INDEX_STYLES, as_subscript, default_latex, unicode_name
from ..primitives import matrix_functions as mf
from ..primitives.shapes import vector
from ..primitives.pieces import normal_cdf, normal_pdf
from .windows import window_notes
from .words import phrase

__all__ = ["Notation", "display_names", "hvp_display_names", "adjoint_name", "shape_latex",
           "shape_text", "normal_spellings", "notation_notes"]


@dataclass(frozen=True)
class Notation:
    """How a derivation is written.

    Attributes
    ----------
    bold : {"boldsymbol", "mathbf"}
        The LaTeX macro for vectors and matrices.
    transpose : {"top", "T", "mathsf"}
        ``^\\top``, ``^T`` or ``^\\mathsf{T}`` in LaTeX (text always writes ᵀ).
    prod : bool
        Show the generic chain-rule line, ``prod(dJ/dchild, dchild/dnode)``.
    shapes : bool
        Show each value's shape, ``∈ ℝ^{q×h}``.
    substituted : bool
        Add each adjoint's fully substituted form, in forward variables only.
    nabla : bool
        Write ∇_W J instead of ∂J/∂W.
    lang : {"en", "zh"}
        The language of the headings and notes (:mod:`symbackprop.printing.words`):
        English, or Chinese as the Chinese edition of the textbook writes them; the
        formulas are the same in both.
    wrt : tuple of str or None
        The variables whose gradients the backward steps lead to: only the steps
        those gradients read are shown.  None: the params, as the textbook shows them
        (every input, for a model without params).
    inputs : bool
        Show the adjoints of the inputs too (the data and the labels), besides `wrt`.
    index_style : {"layer", "subscript"}
        How a name's trailing number prints: a layer's index, ``W1`` as
        :math:`\\boldsymbol{W}^{(1)}` (the default), or a subscript, ``x1`` as ``x_1``
        and :math:`\\boldsymbol{x}_{1}`, as time steps are written.
    """

    bold: str = "boldsymbol"
    transpose: str = "top"
    prod: bool = True
    shapes: bool = True
    substituted: bool = False
    nabla: bool = False
    lang: str = "en"
    wrt: tuple | None = None
    inputs: bool = False
    index_style: str = "layer"

    def __post_init__(self):
        if self.wrt is not None:
            object.__setattr__(self, "wrt", tuple(self.wrt))
        if self.bold not in BOLD:
            raise ValueError(f"bold must be one of {', '.join(BOLD)}, not {self.bold!r}")
        if self.transpose not in TRANSPOSE:
            raise ValueError(f"transpose must be one of {', '.join(TRANSPOSE)}, "
                             f"not {self.transpose!r}")
        if self.lang not in ("en", "zh"):
            raise ValueError(f"lang must be one of en, zh, not {self.lang!r}")
        if self.index_style not in INDEX_STYLES:
            raise ValueError(f"index_style must be one of {', '.join(INDEX_STYLES)}, "
                             f"not {self.index_style!r}")


BOLD = {"boldsymbol": "\\boldsymbol", "mathbf": "\\mathbf"}


TRANSPOSE = {"top": "^\\top", "T": "^{T}", "mathsf": "^{\\mathsf{T}}"}


def adjoint_name(of, wrt, latex, notation):
    """dJ/dW (or nabla_W J) from the printed names of J and W."""
    if latex:
        if notation.nabla:
            return f"\\nabla_{{{wrt}}} {of}"
        return f"\\frac{{\\partial {of}}}{{\\partial {wrt}}}"
    if notation.nabla:  # ∇_W2 J; ∇_{W_hh} J, ∇_{h_{t+1}} L: a subscript of a subscript braced
        return f"∇_{wrt} {of}" if wrt.isalnum() else f"∇_{{{wrt}}} {of}"
    return f"∂{of}/∂{wrt}"


def display_names(derivation, latex, notation=Notation()):
    """How the symbols of a derivation print, keyed by SymPy object.

    Keys are the variables' and adjoints' symbols (a dimension may share a
    variable's name, so names alone are ambiguous), ``("var", name)`` for
    the names that :class:`~symbackprop.primitives.matrix_functions.Partial` refers to, and
    ``("func", name)`` for abstract functions.
    """
    model = derivation.model
    out = {}
    for name, v in model.variables.items():
        out[derivation.symbols[name]] = out[("var", name)] = variable_name(v, latex, notation)
    if notation.index_style != "layer":
        _printed_apart(model, out, notation)
    j = out[("var", model.objective)]
    for name in model.variables:
        out[adjoint_symbol(model, name)] = adjoint_name(j, out[("var", name)], latex, notation)
    for name, f in model.functions.items():
        out[("func", name)] = (f.latex or default_latex(name)) if latex else unicode_name(name)
    out.update(_short_partials(derivation, out))
    for name, v in model.variables.items():  # X⁻ᵀ of a symmetric X is X⁻¹
        if getattr(v, "domain", None) in ("symmetric", "spd"):
            out[("symmetric", derivation.symbols[name])] = True
    out[("identity", "sized")] = _sized_identity(derivation, out)
    out.update(normal_spellings(out.values(), latex))
    return out


def variable_name(variable, latex, notation, bold=None):
    """How a variable (or a family) prints: the model's ``as "..."``, or its default name
    spelled as the notation's index style says."""
    spelled = as_subscript(variable.name) if notation.index_style == "subscript" else \
        variable.name
    if latex:
        return variable_latex(variable, bold or BOLD[notation.bold], spelled)
    return unicode_name(spelled)


def _printed_apart(model, shown, notation):
    """Refuse two names that the index style prints alike (``x1`` and ``x_1`` as subscripts)."""
    seen = {}
    for name, v in model.variables.items():
        text = shown[("var", name)]
        if text in seen:
            line = model.source.splitlines()[v.line - 1] if v.line else None
            raise ModelError(f"'{name}' and '{seen[text]}' would both print as {text} with "
                             f"the {notation.index_style} index style: rename one, or leave "
                             "the style out", v.line, v.col, model.filename, line)
        seen[text] = name


#: Φ and φ of the normal distribution (gelu's derivative), and what a name printed alike is.
_NORMAL = {"normal_cdf": ("Φ", "\\Phi"), "normal_pdf": ("φϕ", "\\phi\\varphi")}


def normal_spellings(shown, latex):
    """Φ and φ written by their names where a name of the model prints as either.

    A model's ``phi`` prints φ: the standard normal density is then written
    ``normal_pdf(x)``, so that the two can never be read for each other.

    Examples
    --------
    >>> normal_spellings(["φ", "W"], latex=False)
    {('builtin', 'normal_pdf'): 'normal_pdf'}
    >>> normal_spellings(["\\boldsymbol{W}"], latex=True)
    {}
    """
    out = {}
    for name, (letters, macros) in _NORMAL.items():
        marks = [m for m in re.findall(r"\\[A-Za-z]+|.", macros if latex else letters)]
        if any(isinstance(text, str) and any(m in text for m in marks) for text in shown):
            out[("builtin", name)] = ("\\operatorname{" + name.replace("_", "\\_") + "}"
                                      if latex else name)

    return out


_LIKE_I = re.compile(r"I|\\(?:mathbf|boldsymbol|bm|mathrm|mathit)\{I\}")


def _sized_identity(derivation, names):
    """Whether the identity prints with its size, I_n: where a name prints like I, or where
    identities of more than one size appear in the derivation."""
    if any(isinstance(text, str) and _LIKE_I.fullmatch(text) for text in names.values()):
        return True
    exprs = list(derivation.forward.values()) + [s.result for s in derivation.steps]
    sizes = {e.rows for x in exprs if isinstance(x, sp.Basic) for e in x.atoms(sp.Identity)}
    return len(sizes) > 1


def _short_partials(derivation, names):
    """How many (call, slot) pairs each short partial, ∂L/∂o or ∂ℓ/∂o, could name.

    A reader takes ∂L/∂o for the partial of the call that defines L, and ∂ℓ/∂o for
    the partial of any call of ℓ in its argument o; and ∂J/∂o is the adjoint when
    J is the objective.  The short form is printed only where it names one.
    """
    meanings = {}
    objective = names[("var", derivation.model.objective)]
    for name, expr in derivation.forward.items():
        for node in sp.preorder_traversal(expr):
            if not isinstance(node, mf.Apply):
                continue
            shown = {names[("func", node.name)]} | ({names[("var", name)]} if node == expr
                                                    else set())
            for slot, arg in enumerate(node.call_args):
                if isinstance(arg, (sp.Symbol, MatrixSymbol)):
                    for who in shown:
                        meanings.setdefault(("partial", who, arg), set()).add((node, slot))
    return {key: len(pairs) + (key[1] == objective) for key, pairs in meanings.items()}


def second_order_names(hvp, names, latex, notation=Notation()):
    """`names` (from :func:`display_names`) plus the directions and tangents of an HVP derivation.

    A direction is V_W1 (v_w for a vector or a scalar); a tangent is R{z} or R{∂J/∂z}.
    """
    out = dict(names)
    model = hvp.model
    for name, symbol in hvp.directions.items():
        shape = model.variables[name].shape
        letter = "V" if shape.kind == "matrix" else "v"
        wrt = names[("var", name)]
        if latex:
            base = letter if shape.is_scalar else f"{BOLD[notation.bold]}{{{letter}}}"
            out[symbol] = f"{base}_{{{wrt}}}"
        else:
            out[symbol] = f"{letter}_{wrt}"
    adjoints = {s.node: s.adjoint for s in hvp.derivation.steps}
    for step in hvp.forward:
        out[step.symbol] = _tangent_name(names[("var", step.node)], latex)
    for step in hvp.backward:
        out[step.symbol] = _tangent_name(names[adjoints[step.node]], latex)
    return out


def _tangent_name(inner, latex):
    if latex:
        return f"\\mathcal{{R}}\\left\\{{{inner}\\right\\}}"
    return f"R{{{inner}}}"


def is_tangent_name(text):
    """Whether printed `text` is one tangent, R{...}: its braces delimit it like brackets."""
    return text.startswith(("R{", "\\mathcal{R}\\left\\{")) and text.endswith("}") \
        and text.count("R{") + text.count("\\mathcal{R}") == 1


def shape_latex(shape, printed=sp.latex):
    """A shape as a LaTeX set, ``\\mathbb{R}^{q \\times h}``; a sum of dims in brackets beside
    ``\\times``, ``\\mathbb{R}^{(d + h) \\times d}``."""
    if shape.is_scalar:
        return "\\mathbb{R}"
    rows, cols = (_bracketed(s, printed, sp.Add) for s in (shape.rows, shape.cols))
    if shape.kind == "vector":
        return f"\\mathbb{{R}}^{{{printed(shape.rows)}}}"
    if shape.kind == "row":
        return f"\\mathbb{{R}}^{{1 \\times {cols}}}"
    return f"\\mathbb{{R}}^{{{rows} \\times {cols}}}"


def shape_text(shape, printed=str):
    """A shape as Unicode, ℝ^(q×h); a size that is not one dim or number in brackets,
    ℝ^(d + h), ℝ^((d + h)×d)."""
    if shape.is_scalar:
        return "ℝ"
    rows, cols = (_bracketed(s, printed, (sp.Add, sp.Mul)) for s in (shape.rows, shape.cols))
    if shape.kind == "vector":
        return f"ℝ^{rows}"
    return f"ℝ^({rows}×{cols})"


def _bracketed(size, printed, kinds):
    """`size` printed, in brackets when it is a compound expression of `kinds`."""
    text = printed(size)
    return f"({text})" if isinstance(size, kinds) else text


def hvp_display_names(hvp, latex, notation=None):
    """How the symbols of an H v derivation print: the first-order names, plus its
    directions and tangents."""
    notation = notation or Notation()
    return second_order_names(hvp, display_names(hvp.derivation, latex, notation), latex, notation)


def notation_notes(exprs, show, latex, lang="en"):
    """What Φ and φ (gelu's derivative) and an indicator of max are, where `exprs` use them.

    `show` prints an expression as the document does (so Φ written normal_cdf where a
    name of the model prints Φ is explained as such).

    Examples
    --------
    >>> from symbackprop.primitives.pieces import gelu
    >>> x = sp.Symbol("x", real=True)
    >>> notation_notes([sp.diff(gelu(x), x)], str, latex=False)[0][:30]
    'normal_cdf(x) = (1 + erf(x/√2)'
    """
    used = set()
    for e in exprs:
        for node in sp.preorder_traversal(e):
            used.add(type(node).__name__)
    x = sp.Symbol("x", real=True)
    notes = []
    if used & {"normal_cdf", "normal_pdf"}:
        cdf, pdf = (show(f(x)) for f in (normal_cdf, normal_pdf))
        notes.append(phrase("note normal", lang, latex, cdf=cdf, pdf=pdf))
    if "Extremum" in used or used & {"maximum", "minimum"}:
        notes.append(phrase("note tie", lang, latex))
    if "ArgExtreme" in used:
        notes.append(phrase("note extreme", lang, latex))
    return notes + window_notes(used, latex, lang)
#: How a declared domain is stated: its set in text and in LaTeX (None: the reals), and
#: and whether it says more of the entries, of each row of a matrix (one-hot, simplex) or of
#: the matrix (the words in printing/words.py, "domain ...").
_DOMAINS = {
    "positive": (None, None, True),
    "unit": ("(0, 1)", "(0, 1)", False),
    "onehot": ("{0,1}", "\\{0, 1\\}", True),
    "simplex": (None, None, True),
    "symmetric": ("𝕊", "\\mathbb{S}", True),
    "spd": ("𝕊₊₊", "\\mathbb{S}_{++}", True),
}


def domain_statements(model, names, latex, members=(), printed=None, lang="en"):
    """What the declared domains say, one sentence a variable: ``Y ∈ {0,1}^(n×q), each row
    one-hot.``, ``Σ ∈ 𝕊₊₊^d, symmetric positive definite.`` (the set of a square domain is
    of its size: 𝕊^n for n × n matrices), ``c > 0.`` of a positive scalar.

    A model with loops adds `members`: (its printed member, ``x_t``, and the family) for
    each declared family, said of a member at its index; `printed` prints the sizes (the
    widths n_l of its layers)."""
    out = []
    declared = [(names[("var", name)], v) for name, v in model.variables.items()
                if v.declared and getattr(v, "domain", None) is not None]
    for shown, v in declared + [(s, f) for s, f in members if f.declared and f.domain]:
        text_set, latex_set, worded = _DOMAINS[v.domain]
        square = v.domain in ("symmetric", "spd")
        given = (shape_latex if latex else shape_text)(vector(v.shape.rows) if square
                                                       else v.shape,
                                                       printed or (sp.latex if latex else str))
        chosen = latex_set if latex else text_set
        if chosen is not None:  # (0, 1)^n in place of ℝ^n
            given = given.replace("\\mathbb{R}" if latex else "ℝ", chosen, 1)
        said = phrase(f"domain {v.domain}", lang, latex) if worded else ""
        if said and v.shape.kind == "matrix" and v.domain in ("onehot", "simplex"):
            said = phrase("domain each row", lang, latex, said=said)
        member = "\\in" if latex else "∈"
        formula = f"{shown} {member} {given}"
        if v.shape.is_scalar and v.domain == "positive":
            formula, said = f"{shown} > 0", ""
        given = f"${formula}$" if latex else formula
        out.append(phrase("domain sentence", lang, latex, given=given, said=said) if said
                   else phrase("domain bare", lang, latex, given=given))
    return out
