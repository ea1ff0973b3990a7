"""A derivation as one web page: the equations, the graphs, and which belongs to which.

:func:`html` writes a single self-contained HTML file that works offline, opened
from disk: the forward equations, the backward steps and the gradients (and, given
the Hessian-vector products, their tangents), each formula as MathML that the
browser renders itself; the computational graph, the backward graph and the
second-order graph as Graphviz's SVG, with buttons to show one or another.
Clicking a node (or pressing Enter on it) highlights the equations about it (its
forward equation, its backward step, its tangent) and the edges it reads.

Choices, and why:

* MathML, converted from the LaTeX printer's strings by latex2mathml, which
  carry each formula as its TeX annotation: the page shows the formulas the
  LaTeX document prints, and the read-back proves them (no second printer to
  prove, no script or font to fetch).
* Nothing from the model is ever markup: text is escaped, and formulas and
  drawings are rebuilt from a list of the elements they may have
  (:mod:`symbackprop.printing.markup`).  A Content-Security-Policy allows no
  source at all but the page's own script and style, by their hashes.
* The script is a constant of this module: the page's data are attributes
  (``data-keys``: the equations a node is about; ``data-reads``: the edges
  into it), never code.
"""

from __future__ import annotations

import base64
import hashlib

from ..errors import visible
from . import documents
from .figures import backward_graph, graph_svg, second_order_graph
from .markup import clean, escape, math_in_text, mathml, svg_tree
from .names import Notation
from .words import page_words, phrase

__all__ = ["html", "SCRIPT", "STYLE", "policy", "sections_html", "whole_page",
           "figure_html"]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1a1a1a; line-height: 1.4; }
header, main { padding: 0 1.2em; }
h1 { font-size: 1.3em; margin: 0.6em 0 0.2em; }
h2 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
.loop > h3 { font-size: 1em; font-weight: normal; margin: 0.5em 0 0.1em; }
.loop > h3 ~ .eq { margin-left: 1.2em; }
#graphs { position: sticky; top: 0; z-index: 1; background: #fff;
          border-bottom: 1px solid #bbb; padding: 0.4em 1.2em; }
#graphs button { font: inherit; padding: 0.2em 0.7em; margin-right: 0.3em; cursor: pointer;
                 border: 1px solid #888; border-radius: 4px; background: #f4f4f4; }
#graphs button[aria-pressed="true"] { background: #1f4e8c; color: #fff; border-color: #1f4e8c; }
figure { margin: 0.4em 0 0; max-height: 42vh; overflow: auto; }
figure p { color: #933; }
g.node { cursor: pointer; }
g.node:focus { outline: none; }
g.node.lit polygon, g.node.lit ellipse { stroke: #d0312d; stroke-width: 3; }
g.edge.lit path { stroke: #d0312d; stroke-width: 2.5; }
g.edge.lit polygon { stroke: #d0312d; fill: #d0312d; }
.eq { display: grid; grid-template-columns: max-content max-content auto; gap: 0.15em 0.4em;
      align-items: center; padding: 0.35em 0.5em; margin: 0.2em 0;
      border-left: 4px solid transparent; overflow-x: auto; }
.eq.lit { background: #fff4c2; border-left-color: #d0312d; }
.eq > span { white-space: nowrap; }
.eq.boxed { border: 1px solid #555; border-left-width: 4px; width: fit-content;
            max-width: calc(100% - 1.5em); }
.eq .shape { color: #555; margin-left: 1em; }
.note { max-width: 48em; }
math { font-size: 1.15em;
       font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", math; }
.eq math { math-style: normal; }
"""

SCRIPT = """
"use strict";
(function () {
  var figures = document.querySelectorAll("figure[data-graph]");
  var buttons = document.querySelectorAll("button[data-show]");
  function words(text) { return (text || "").split(" ").filter(Boolean); }
  function clear() {
    document.querySelectorAll(".lit").forEach(function (e) { e.classList.remove("lit"); });
  }
  function show(which) {
    figures.forEach(function (f) { f.hidden = f.getAttribute("data-graph") !== which; });
    buttons.forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-show") === which));
    });
    clear();
  }
  function select(node) {
    clear();
    node.classList.add("lit");
    words(node.getAttribute("data-reads")).forEach(function (id) {
      var edge = document.getElementById(id);
      if (edge) { edge.classList.add("lit"); }
    });
    var first = null;
    words(node.getAttribute("data-keys")).forEach(function (key) {
      document.querySelectorAll(".eq").forEach(function (row) {
        if (words(row.getAttribute("data-keys")).indexOf(key) >= 0) {
          row.classList.add("lit");
          first = first || row;
        }
      });
    });
    if (first) { first.scrollIntoView({block: "nearest"}); }
  }
  document.querySelectorAll("g.node[data-keys]").forEach(function (node) {
    node.setAttribute("tabindex", "0");
    node.addEventListener("click", function () { select(node); });
    node.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(node); }
    });
  });
  buttons.forEach(function (b) {
    b.addEventListener("click", function () { show(b.getAttribute("data-show")); });
  });
  show("forward");
})();
"""


def _hash(source):
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()) \
        .decode("ascii") + "'"


def policy():
    """The page's Content-Security-Policy: nothing at all but its own script and style."""
    return (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
            "base-uri 'none'; form-action 'none'")


# --- the graphs ----------------------------------------------------------------------------

def _owner(g, node):
    """The variable an operator node computes (following its arrows), or the node itself."""
    while g.nodes[node]["kind"] == "operator":
        node = next(iter(g.successors(node)))
    return node


def _figure(derivation, which, g, key, words, notation):
    """One graph as a figure: its SVG, each node knowing its equations and the edges it reads."""
    ids = {node: f"{which[0]}-{key[node]}" for node in g}
    return figure_html(which, g, ids, key.__getitem__,
                       lambda named: graph_svg(derivation, g, named, notation), words)


def figure_html(which, g, ids, key, draw, words):
    """The graph `g` as the page's figure `which`: `draw(ids)` gives its SVG, each node and
    edge with its id (`ids` names the nodes); each node knows the key of what it is about,
    `key` of the variable it computes, and the edges it reads."""
    ids = dict(ids)
    ids.update({edge: f"{which[0]}-e{k}" for k, edge in enumerate(g.edges)})
    extra = {}
    for node in g:
        owner = _owner(g, node)
        if which == "forward" and node == owner:  # a variable reads what its operators read
            read = [e for e in g.edges if _owner(g, e[1]) == node]
        else:
            read = list(g.in_edges(node))
        extra[ids[node]] = {"data-keys": key(owner),
                            "data-reads": " ".join(ids[e] for e in read)}
    try:
        if not g:
            raise RuntimeError("an empty graph: the objective depends on no param")
        body = clean(svg_tree(draw(ids)), "svg", extra)
    except RuntimeError as e:  # no Graphviz, or too large a graph to lay out: said so
        body = f"<p>{words['not drawn']}: {escape(e)}.</p>"
    return f'<figure data-graph="{which}" hidden>{body}</figure>'


# --- the documents ---------------------------------------------------------------------------

def _equation(e, boxed, key):
    keys = " ".join(key[k] for k in e.keys if k in key)
    sides = [" + ".join(e.chain)] if e.chain else []
    sides += [e.result] + ([e.substituted] if e.substituted else [])
    cells = []
    for k, side in enumerate(sides):
        cells.append(mathml(e.lhs, role="lhs") if k == 0 else "")
        cells.append("=")
        shape = (mathml(e.shape.strip(), role="shape") if e.shape and k == len(sides) - 1
                 else "")
        cells.append(mathml(side, role="side") + (f'<span class="shape">{shape}</span>'
                                                   if shape else ""))
    row = "".join(f"<span>{c}</span>" for c in cells)
    return f'<div class="eq{" boxed" if boxed else ""}" data-keys="{keys}">{row}</div>'


def _first_order_part(second, first):
    """How many sections the H v document `second` begins with that the page already shows
    from `first`: its domains and forward pass (the same sections), then its backward pass
    (the same steps, without the chain-rule lines)."""
    k = 0
    while k < len(second.sections) and second.sections[k] in first.sections:
        k += 1
    return k + 1


def sections_html(document, key, skip=0):
    """The sections of `document` (from the `skip`-th) as the page shows them; `key` maps
    what an equation is about (:attr:`Equation.keys`) to the page's keys of graph nodes.

    A loop's part of a section (a subheading) is a ``div`` of class ``loop``, its heading
    (``For t = T - 1, …, 1:``) first: what its equations hold for is in it."""
    out = []
    for section in document.sections[skip:]:
        level = "h3" if section.subheading else "h2"
        part = []
        if section.heading:
            part.append(f"<{level}>{math_in_text(section.heading)}</{level}>")
        part += [f'<p class="note">{math_in_text(note)}</p>' for note in section.notes]
        part += [_equation(e, section.boxed, key) for e in section.equations]
        if section.subheading:
            part = ['<div class="loop">', *part, "</div>"]
        out += part
    return "\n".join(out)


def html(derivation, hvp=None, **options):
    """The derivation as one self-contained, interactive HTML page.

    Parameters
    ----------
    derivation : Derivation
    hvp : HVPDerivation, optional
        Its Hessian-vector products: the page then has their tangents and the
        second-order graph too.
    **options
        Fields of :class:`~symbackprop.printing.names.Notation`, as for LaTeX.

    Returns
    -------
    str

    Examples
    --------
    >>> import symbackprop as sbp
    >>> page = html(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> page.startswith("<!DOCTYPE html>"), page.count("<script>")
    (True, 1)
    """
    notation = Notation(**options)
    first = documents.backprop_document(documents.Writer(derivation, True, notation))
    graphs = {"forward": derivation.graph, "backward": backward_graph(derivation)}
    if hvp is not None:
        second = documents.hvp_document(documents.Writer(derivation, True, notation, hvp))
        graphs["second-order"] = second_order_graph(hvp, notation)
    nodes = dict.fromkeys(n for g in graphs.values() for n in g)
    key = {node: f"k{k}" for k, node in enumerate(nodes)}
    parts = [f'<section data-document="backprop">{sections_html(first, key)}</section>']
    words = page_words(notation.lang)
    if hvp is not None:  # after its forward and backward passes, the first document's
        later = sections_html(second, key, skip=_first_order_part(second, first))
        parts.append(f'<section data-document="hvp"><h2>{words["second order"]}</h2>'
                     f"{later}</section>")
    figures = {w: _figure(derivation, w, g, key, words, notation) for w, g in graphs.items()}
    return whole_page(first, notation.lang, figures, parts)


def whole_page(document, lang, figures, parts):
    """The page around its figures (graph name to a ``figure`` element) and its `parts`
    (``section`` elements), titled as the standalone `document` is."""
    words = page_words(lang)
    buttons = "".join(f'<button type="button" data-show="{w}" aria-pressed="false">'
                      f"{words[w]}</button>" for w in figures)
    figures = "".join(figures.values())
    name = document.filename.replace("\\", "/").split("/")[-1]
    name = visible(name.replace("\n", "\\n").replace("\r", "\\r"))  # a line break shown
    title = escape(phrase("standalone title", lang, False, title=document.title) + name)
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{policy()}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<header><h1>{title}</h1></header>\n"
            f'<div id="graphs"><div role="group">{buttons}</div>{figures}</div>\n'
            f"<main>\n{''.join(parts)}\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n")
