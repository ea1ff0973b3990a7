"""Figures of models with loops: the folded graph, each loop's body once inside its plate.

The graph is :func:`~symbackprop.derivation.folded.folded_graph`'s: a box per
family with the member it stands for in its label (``h_t``, ``W^{(l)}``, as the
derivation prints them), values outside loops outside every plate, and an
arrow from a family's box back into the step that reads the previous member,
labelled ``t−1 → t``.  A plate is drawn as graphical-model figures draw it: a
rectangle around the body, its range in a corner, ``t = 1, …, T``.

* DOT (and Graphviz's SVG and PNG) draws a plate as a cluster subgraph.  The
  recurrence arrow does not take part in Graphviz's ranking
  (``constraint=false``): it runs against the flow, and ranked it would pull
  the body apart.
* TikZ is laid out by :mod:`symbackprop.printing.plate_layout`, and a plate is
  a rectangle fitted around its nodes with TikZ's ``fit`` library, which the
  fragment loads itself (a standalone document, in its preamble).

Every label is escaped for the format it goes into: a name from a model file is
an identifier, and a model's LaTeX name (``as "..."``) goes into TikZ only if
it is made of letters, digits, braces, sub- and superscripts and math commands
known to be harmless; otherwise the default spelling of the name is drawn.  So
opening a figure (compiling the TikZ, viewing the SVG) reads no file and runs
nothing a model file wrote.
"""

from __future__ import annotations

import sympy as sp

from ..derivation.folded import folded_graph
from ..language.spelling import default_latex, safe_latex
from .figures import Figure, _graphviz, _operator_label, _quote, checked_format, in_format
from .loops import LoopLatexPrinter, LoopTextPrinter, loop_names
from .names import Notation
from .plate_layout import plate_layout

__all__ = ["loop_figure", "LoopFigure", "loop_graph_svg", "safe_latex"]

_SUPERSCRIPTS = dict(zip("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
_SUBSCRIPTS = dict(zip("0123456789aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))

class _Labels:
    """The labels of a folded graph in one format: text for DOT, LaTeX for TikZ."""

    def __init__(self, derivation, g, latex):
        self.d, self.g, self.latex = derivation, g, latex
        names = loop_names(derivation, latex, Notation())
        if latex:
            _safe_names(names, derivation)
        printer = LoopLatexPrinter if latex else LoopTextPrinter
        self.printer = printer(names, Notation(), derivation.model.objective)
        self.names = names

    def node(self, node):
        data = self.g.nodes[node]
        if data["kind"] == "variable":
            return self.names[("var", node)]
        if data["kind"] in ("family", "member"):
            return self.printer.doprint(self.d.symbol(data["family"], data["index"]))
        if data["op"].startswith("index_"):
            var = self.index(self.g.graph["plates"][data["over"]]["var"])
            if self.latex:
                return f"\\Sigma_{{{var}}}"
            if all(c in _SUBSCRIPTS for c in var):
                return "Σ" + "".join(_SUBSCRIPTS[c] for c in var)
            return f"Σ_{var}"
        label = _operator_label(self.g, node, self.latex)
        if data["op"] == "pow" and not self.latex and str(data["param"]).isdigit():
            label = "(·)" + "".join(_SUPERSCRIPTS[c] for c in str(data["param"]))
        if self.latex and not safe_latex(label):  # a function's LaTeX name from the model
            label = default_latex(data["op"])
        return label

    def index(self, expr):
        if self.latex:
            return self.printer.doprint(sp.sympify(expr, strict=True))
        return str(sp.sympify(expr, strict=True)).replace(" ", "").replace("-", "−")

    def edge(self, u, v):
        """The label of an arrow that joins other iterations: ``t−1 → t``, ``t = 1``."""
        parts = []
        for read in self.g.edges[u, v]["reads"]:
            if "at" in read:
                var, value = read["at"]
                parts.append(f"{self.index(var)} = {self.index(value)}")
            else:
                arrow = " \\to " if self.latex else " → "
                parts.append(f"{self.index(read['frm'])}{arrow}{self.index(read['to'])}")
        return "; ".join(parts)

    def plate(self, key):
        p = self.g.graph["plates"][key]
        var, lo, hi = (self.index(p[k]) for k in ("var", "lo", "hi"))
        if self.latex:
            return f"{var} = {lo}, \\dots, {hi}"
        return f"{var} = {lo}, …, {hi}"


def _safe_names(names, derivation):
    """Replace a model's LaTeX name that is not :func:`safe_latex` by the default one."""
    model = derivation.model
    for name, v in {**model.variables, **model.families}.items():
        if v.latex is None or safe_latex(v.latex):
            continue
        shown = default_latex(name, bold=not v.shape.is_scalar)
        names[("var", name)] = shown
        if name in model.families:
            names[("family", name)] = shown
        else:
            names[derivation.symbol(name)] = shown
    for name, f in model.functions.items():
        if f.latex is not None and not safe_latex(f.latex):
            names[("func", name)] = default_latex(name)


# --- DOT -------------------------------------------------------------------------------------

def _node_attributes(data):
    if data["kind"] == "operator":
        return "shape=circle, width=0.35, fixedsize=false, margin=0.02"
    attrs = "shape=box"
    if data.get("role") == "objective":
        attrs += ", peripheries=2"
    elif data.get("role") == "param":
        attrs += ', style=filled, fillcolor="#eeeeee"'
    return attrs


def _dot(derivation, g, ids=None):
    """The DOT text of the folded graph `g`; `ids` (node or (tail, head) to an id) names the
    SVG elements drawn, for the web page."""
    labels = _Labels(derivation, g, latex=False)

    def named(key):
        return f", id={_quote(ids[key])}" if ids else ""

    lines = [f"digraph {_quote(derivation.model.objective)} {{",
             '  rankdir=LR; fontname="Helvetica";',
             '  node [fontname="Helvetica", fontsize=12];',
             '  edge [arrowsize=0.7, fontname="Times-Italic", fontsize=11];']
    plates = g.graph["plates"]
    children = {key: [k for k, p in plates.items() if p["parent"] == key]
                for key in (None, *plates)}
    # Graphviz orders each rank from the order nodes are written in: the values outside the
    # plates written top to bottom as the TikZ layout places them cross the body less
    pos = plate_layout(g).pos
    inside = {key: [n for n in g if g.nodes[n]["plate"] == key] for key in plates}
    inside[None] = sorted((n for n in g if g.nodes[n]["plate"] is None),
                          key=lambda n: (-pos[n][1], pos[n][0]))
    number = {key: i for i, key in enumerate(plates)}

    def write(key, indent):
        for node in inside[key]:
            lines.append(f"{indent}{_quote(node)} [label={_quote(labels.node(node))}, "
                         f"{_node_attributes(g.nodes[node])}{named(node)}];")
        for child in children[key]:
            lines.append(f"{indent}subgraph {_quote(f'cluster_{number[child]}')} {{")
            lines.append(f"{indent}  label={_quote(labels.plate(child))}; labeljust=r; "
                         'labelloc=b; style=rounded; color="#555555"; '
                         'fontname="Times-Italic"; fontsize=12;')
            write(child, indent + "  ")
            lines.append(f"{indent}}}")

    write(None, "  ")
    for u, v, data in g.edges(data=True):
        attrs = []
        if data["reads"]:
            attrs.append(f"label={_quote(labels.edge(u, v))}")
        if data["kind"] == "recurrence":
            attrs += ["constraint=false", "style=bold"]
        if ids:
            attrs.append(named((u, v))[2:])
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_quote(u)} -> {_quote(v)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- TikZ ------------------------------------------------------------------------------------

_TIKZ_STYLE = {"variable": "draw, rectangle, minimum size=6mm",
               "family": "draw, rectangle, minimum size=6mm",
               "member": "draw, rectangle, minimum size=6mm",
               "operator": "draw, circle, inner sep=1pt, minimum size=5mm"}


def _tikz(derivation, g, standalone):
    # Written here, as the figure of a model without loops is: plates are rectangles
    # fitted around their nodes, and a recurrence arrow runs in a lane under the body.
    labels = _Labels(derivation, g, latex=True)
    text = {n: labels.node(n) for n in g}
    layout = plate_layout(g, text, {key: labels.plate(key) for key in g.graph["plates"]})
    safe = {node: f"n{i}" for i, node in enumerate(g)}  # TikZ node names: no '#' or '['
    lines = ["\\begin{tikzpicture}[>=stealth, font=\\small]"]
    for node, data in g.nodes(data=True):
        options = _TIKZ_STYLE[data["kind"]]
        if data.get("role") == "objective":
            options += ", double"
        elif data.get("role") == "param":
            options += ", fill=black!8"
        x, y = layout.pos[node]
        lines.append(f"  \\node[{options}] ({safe[node]}) at ({x}, {y}) {{${text[node]}$}};")
    for u, v, data in g.edges(data=True):
        label = labels.edge(u, v) if data["reads"] else ""
        lines.append(_tikz_edge(label, data["kind"] == "recurrence", layout, safe, u, v))
    plates = list(g.graph["plates"])
    for i, key in reversed(list(enumerate(plates))):  # inner plates first: outer ones fit them
        fit = [f"({safe[n]})" for n in g if g.nodes[n]["plate"] == key]
        fit += [f"(p{plates.index(k)})" for k, p in g.graph["plates"].items()
                if p["parent"] == key]
        fit += [f"({x}, {y})" for x, y in layout.extent[key]]
        lines.append(f"  \\node[draw, rounded corners=3pt, inner sep=5pt, "
                     f"fit={{{' '.join(fit)}}}] (p{i}) {{}};")
        lines.append(f"  \\node[anchor=south east, inner sep=3pt, font=\\footnotesize] "
                     f"at (p{i}.south east) {{${labels.plate(key)}$}};")
    lines.append("\\end{tikzpicture}")
    picture = "\n".join(lines)
    if not standalone:  # the library a plate is fitted with: loading it twice is harmless
        return "\\usetikzlibrary{fit}\n" + picture
    points = [*layout.pos.values(), *(p for ps in layout.extent.values() for p in ps)]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    width, height = max(xs) - min(xs) + 3.5, max(ys) - min(ys) + 3.5
    return ("\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{amssymb}\n"
            "\\usepackage{tikz}\n\\usetikzlibrary{fit}\n"
            f"\\usepackage[paperwidth={width:.1f}cm, paperheight={height:.1f}cm, "
            "margin=1cm]{geometry}\n"
            "\\pagestyle{empty}\n\\begin{document}\n\\noindent\n"
            + picture + "\n\\end{document}\n")


def _tikz_edge(label, recurrence, layout, safe, u, v):
    """An arrow: straight, or through its route's points; a recurrence's label under its
    lane, any other on the arrow (outside the plate where it crosses a plate's edge)."""
    route = layout.routes.get((u, v), [])
    targets = [f"({x}, {y})" for x, y in route] + [f"({safe[v]})"]
    notes = [""] * len(targets)
    if label:
        segment, at = layout.label_at.get((u, v), (0, 0.5))
        notes[segment] = (f" node[midway, below, font=\\scriptsize] {{${label}$}}" if recurrence
                          else f" node[pos={at}, fill=white, inner sep=1pt, "
                               f"font=\\scriptsize] {{${label}$}}")
    path = "".join(f" --{note} {target}" for note, target in zip(notes, targets))
    options = "->, rounded corners=4pt" if route else "->"
    return f"  \\draw[{options}] ({safe[u]}){path};"


# --- the figure --------------------------------------------------------------------------------


def loop_figure(derivation, format="tikz", standalone=False):
    """The folded graph of a derivation with loops, in a format.

    Parameters
    ----------
    derivation : LoopDerivation
    format : {"tikz", "dot", "svg", "png"}
    standalone : bool
        With ``tikz``: a whole document that compiles with ``pdflatex``.

    Returns
    -------
    str or bytes
        Text for tikz, dot and svg; bytes for png.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/loops/bptt.sbp"))
    >>> dot = loop_figure(d, "dot")
    >>> [line.strip() for line in dot.splitlines() if "cluster" in line or "->" in line][:2]
    ['subgraph "cluster_0" {', '"x" -> "h[t]#1";']
    >>> '"h" -> "h[t]#2" [label="t−1 → t", constraint=false, style=bold];' in dot
    True
    """
    checked_format(format)
    g = folded_graph(derivation.model)
    return in_format(format, lambda: _tikz(derivation, g, standalone),
                     lambda: _dot(derivation, g))


def loop_graph_svg(derivation, g, ids):
    """Graphviz's SVG of the folded graph `g` (:func:`folded_graph` of the model), each node
    and edge drawn as an element with the id `ids` gives it."""
    return _graphviz(_dot(derivation, g, ids), "svg").decode("utf-8")


class LoopFigure(Figure):
    """The folded graph of a derivation with loops, for notebooks: Jupyter shows it as SVG.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> LoopFigure(sbp.derive(sbp.load("examples/loops/bptt.sbp")))
    <folded graph of L: 18 nodes, 1 plate>
    """

    def source(self, format="tikz", standalone=False):
        """The figure in `format`, as :func:`loop_figure` gives it."""
        return loop_figure(self.derivation, format, standalone)

    def __repr__(self):
        g = folded_graph(self.derivation.model)
        plates = len(g.graph["plates"])
        return (f"<folded graph of {self.derivation.model.objective}: {len(g)} nodes, "
                f"{plates} plate{'s' if plates != 1 else ''}>")
