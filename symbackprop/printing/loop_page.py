"""A derivation with loops as one web page: the general formulas and the folded graph.

:func:`loop_html` writes the page :mod:`symbackprop.printing.page` writes for a
model without loops, with what a model with loops prints instead: the
recurrences of :mod:`symbackprop.printing.loops` (each loop's equations under its
heading, ``For t = T - 1, …, 1:``), and, for the graph, the folded graph of
:mod:`symbackprop.printing.loop_figures` as Graphviz's SVG: each loop's body
once, inside its plate.  Clicking a node (a family ``h_t``, a value outside the
loops, an operator) lights the equations about the value it computes: its
forward equation, its backward steps (every piece: the boundary and the
recurrence), its gradient and tangents, and the edges it reads, the arrow from
the previous member among them.

The page is the plain page in all else: the same script and style, allowed by
their hashes and nothing else, and the same escaping of text and rebuilding of
formulas and drawings from a list of safe elements.  The backward and
second-order graphs are not drawn folded (as ``symbackprop graph`` does not):
the page has the one graph.
"""

from __future__ import annotations

from ..derivation.folded import folded_graph
from .loop_figures import loop_graph_svg
from .loops import loop_document, loop_hvp_document
from .names import Notation
from .page import figure_html, sections_html, whole_page
from .words import page_words

__all__ = ["loop_html"]


def _named(g, node):
    """The model's name of what a node of the folded graph stands for: a value outside the
    loops, a family (a member of it too), or, for an operator, the node itself."""
    data = g.nodes[node]
    return data.get("family", node) if data["kind"] in ("family", "member") else node


def loop_html(derivation, hvp=None, **options):
    """The derivation with loops as one self-contained, interactive HTML page.

    Parameters
    ----------
    derivation : LoopDerivation
    hvp : LoopHVP, optional
        Its Hessian-vector products: the page then has their directions and tangents.
    **options
        Fields of :class:`~symbackprop.printing.names.Notation`, as for LaTeX.

    Returns
    -------
    str

    Examples
    --------
    >>> import symbackprop as sbp
    >>> page = loop_html(sbp.derive(sbp.load("examples/loops/bptt.sbp")))
    >>> page.count("<script>"), page.count('<div class="loop">') > 2
    (1, True)
    """
    notation = Notation(**options)
    first = loop_document(derivation, True, notation)
    model = derivation.model
    key = {name: f"k{k}" for k, name in enumerate([*model.variables, *model.families])}
    g = folded_graph(model)
    ids = {node: f"f-n{k}" for k, node in enumerate(g)}
    words = page_words(notation.lang)
    figure = figure_html("forward", g, ids, lambda owner: key.get(_named(g, owner), ""),
                         lambda named: loop_graph_svg(derivation, g, named), words)
    parts = [f'<section data-document="backprop">{sections_html(first, key)}</section>']
    if hvp is not None:
        second = loop_hvp_document(hvp, True, notation)
        parts.append(f'<section data-document="hvp"><h2>{words["second order"]}</h2>'
                     f"{sections_html(second, key)}</section>")
    return whole_page(first, notation.lang, {"forward": figure}, parts)
