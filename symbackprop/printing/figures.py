"""Figures of the computational graph: TikZ, DOT, SVG and PNG.

Boxes are variables and circles (or, for a long name, rounded boxes) operators, as in
the textbook's figure; the inputs sit on the left and the objective on the right.  With
``backward=True`` the figure is the backward graph: one box per adjoint, an
arrow from each consumer's adjoint to the adjoints it feeds, and a dashed arrow
from each forward value that a backward step reads (what training must keep).

Choices, and why:

* TikZ is placed by Graphviz (:mod:`.graph_placement` says why): every
  shape sized to its label, no two overlapping, every arrow a spline around
  the nodes it does not join, the picture scaled to a page's width when it
  is wider; written out as plain TikZ coordinates a lecturer can edit.
  Without Graphviz (or for a graph too big for it) the picture is laid out
  here (:func:`_layout`): layered columns climbing one step per column give
  the textbook's diagonal, long arrows bend through waypoints, and long
  models wrap into several rows.  LaTeX labels come from the model's names.
* DOT is written here, not with ``nx.nx_pydot``: that needs pydot, whose label
  quoting mangles Unicode and backslashes, for what is a dozen lines of text.
* SVG and PNG are Graphviz's ``dot`` layout of that DOT text: for pictures
  that no one edits, Graphviz's crossing minimisation beats any fixed layout.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import networkx as nx

from ..language.spelling import unicode_name
from ..primitives.operators import REGISTRY
from .graph_placement import PAGE_HEIGHT, PAGE_WIDTH, node_size, placement
from .names import Notation, adjoint_name, display_names, second_order_names

__all__ = ["graph_figure", "graph_svg", "backward_graph", "Figure", "FORMATS", "checked_format",
           "in_format"]

FORMATS = ("tikz", "dot", "svg", "png")
_COLUMNS_PER_ROW = 16
_DX, _DY, _RISE, _ROW_GAP = 1.4, 1.1, 0.25, 1.6


def _operator_label(g, node, latex):
    data = g.nodes[node]
    op = data["op"]
    scalar_operand = data["literals"] or any(g.nodes[p]["shape"].is_scalar
                                              for p in g.predecessors(node))
    if op == "mul":
        return ("\\cdot" if scalar_operand else "\\odot") if latex else (
            "·" if scalar_operand else "⊙")
    if op == "pow":
        k = data["param"]
        return f"(\\cdot)^{{{k}}}" if latex else f"(·)^{k}"
    if latex:
        return data["latex"]
    # a registry entry carries its label; an abstract function is named as in the model
    entry = REGISTRY.get(op)
    return unicode_name(op) if entry is None or entry.label_text is None else entry.label_text


def _reading_graph(g, forward, steps, source, order):
    """`g` with a node per step and an arrow into it from each thing it reads.

    `steps` are ``(key, attributes, fed_by, expression)``, each after the steps it
    reads (a sweep's order): arrows come from the ``(key, kind)`` pairs `fed_by`, then
    from each symbol of `expression` that `source` maps to a ``(key, kind)``, in
    `order`.  A key not in `g` yet is a value of the `forward` graph, with its attributes.
    """
    for key, attributes, fed_by, expression in steps:
        g.add_node(key, **attributes)
        read = sorted((s for s in expression.free_symbols if s in source), key=order)
        for origin, kind in [*fed_by, *(source[s] for s in read)]:
            if origin not in g:
                g.add_node(origin, **forward.nodes[origin])
            g.add_edge(origin, key, kind=kind)
    return g


def backward_graph(derivation):
    """The backward graph: adjoints, and the forward values each backward step reads.

    Returns
    -------
    networkx.DiGraph
        Adjoint nodes are keyed ``"∂J/∂<name>"`` with ``kind="adjoint"``; the
        forward values read are variable nodes keyed by name, as in
        :attr:`Derivation.graph`.  Edges run from a consumer's adjoint to the
        adjoint it feeds (``kind="chain"``) and from each value read to the
        adjoint that reads it (``kind="reads"``).
    """
    forward = derivation.graph
    values = {symbol: (name, "reads") for name, symbol in derivation.symbols.items()}
    order = list(derivation.model.variables).index
    steps = [(s.adjoint.name, {"kind": "adjoint", "of": s.node,
                               "shape": forward.nodes[s.node]["shape"]},
              [(derivation.step(t.consumer).adjoint.name, "chain") for t in s.terms], s.result)
             for s in derivation.steps]
    return _reading_graph(nx.DiGraph(), forward, steps, values, lambda s: order(values[s][0]))


def second_order_graph(hvp, notation=None):
    """The graph of a Hessian-vector product: the backward graph, and the tangent sweep on it.

    The textbook's question, what happens to the graph when second derivatives
    are wanted, answered as a picture: forward-over-reverse adds a tangent
    R{v} for every forward value and every adjoint, each reading tangents,
    the directions V_W, and the forward values and adjoints that the first
    two sweeps computed, so all of them are kept.

    Parameters
    ----------
    hvp : HVPDerivation
        From :func:`symbackprop.derivation.tangent.derive_hvp`.

    Returns
    -------
    networkx.DiGraph
        The nodes of :func:`backward_graph`, plus ``kind="tangent"`` nodes
        keyed by their symbol's name and ``kind="direction"`` nodes; edges
        from what each tangent step reads (``kind="chain"`` between tangents
        and from directions, ``kind="reads"`` from values and adjoints).
    """
    derivation = hvp.derivation
    forward, g = derivation.graph, backward_graph(derivation)
    notation = notation or Notation()
    names = {latex: second_order_names(hvp, display_names(derivation, latex, notation), latex)
             for latex in (False, True)}
    j = names[True][("var", derivation.model.objective)]

    def adjoint(node):  # dJ/dz inline: a graph of fractions is too tall to read
        return f"\\partial {j}/\\partial {names[True][derivation.symbols[node]]}"

    for step in derivation.steps:
        g.nodes[step.adjoint.name].update(label_text=names[False][step.adjoint],
                                          label_latex=adjoint(step.node))
    # what a tangent step reads: its node and the arrow's kind (a tangent's own symbol first)
    source = {symbol: (name, "reads") for name, symbol in derivation.symbols.items()}
    source.update({s.adjoint: (s.adjoint.name, "reads") for s in derivation.steps})
    source.update({symbol: (symbol.name, "chain") for symbol in hvp.directions.values()})
    source.update({s.symbol: (s.symbol.name, "chain") for s in (*hvp.forward, *hvp.backward)})
    for name, symbol in hvp.directions.items():
        g.add_node(symbol.name, kind="direction", of=name, shape=forward.nodes[name]["shape"],
                   label_text=names[False][symbol], label_latex=names[True][symbol])
    inside = [names[True][derivation.symbols[s.node]] for s in hvp.forward]
    inside += [adjoint(s.node) for s in hvp.backward]
    steps = [(s.symbol.name, dict(kind="tangent", of=s.node, label_text=names[False][s.symbol],
                                  label_latex=f"\\mathcal{{R}}\\{{{inner}\\}}"), [], s.result)
             for s, inner in zip((*hvp.forward, *hvp.backward), inside)]
    return _reading_graph(g, forward, steps, source, str)


def _in_order(g, nodes):
    """The subgraph of `nodes` as a graph of its own, in `g`'s order.

    Not a subgraph view: a view that keeps few nodes iterates a set of their
    names, and a layout must not depend on string hashing.
    """
    kept = nx.DiGraph()
    kept.add_nodes_from(nodes)
    kept.add_edges_from((u, v) for u, v in g.edges if u in kept and v in kept)
    return kept


def _layout(g, dx=_DX):
    """Positions for a layered drawing, as the textbook draws its graph.

    A node's column is its longest distance from an input; an input or param
    sits just before its first reader.  An arrow that spans several columns
    passes through a waypoint in each, so it bends around the nodes instead
    of crossing them.  Within a column, nodes and waypoints are ordered by the
    mean position of their neighbours (a few sweeps of the barycentre
    heuristic), and each column sits a little higher than the last: inputs at
    the lower left, the objective at the upper right.  Long models wrap into
    rows of columns, read like lines of text.  In a backward graph the forward values read
    are drawn in a row below the chain of adjoints, each near its first reader.

    Returns
    -------
    pos : dict
        Node to (x, y) in centimetres.
    waypoints : dict
        Edge to the list of (x, y) points its arrow passes through.
    """
    has_adjoints = any(kind == "adjoint" for _, kind in g.nodes(data="kind"))
    kept = [n for n, kind in g.nodes(data="kind") if has_adjoints and kind == "variable"]
    chain = _in_order(g, [n for n in g if n not in kept])
    column = {}
    for node in nx.topological_sort(chain):
        column[node] = max((column[p] + 1 for p in chain.predecessors(node)), default=0)
    for node in chain:
        if chain.in_degree(node) == 0 and chain.out_degree(node):
            column[node] = min(column[s] for s in chain.successors(node)) - 1
    layered = nx.DiGraph()
    layered.add_nodes_from(chain)
    routes = {}
    for u, v in chain.edges:
        path = [u] + [("via", u, v, c) for c in range(column[u] + 1, column[v])] + [v]
        for a, b in zip(path, path[1:]):
            layered.add_edge(a, b)
        for waypoint in path[1:-1]:
            column[waypoint] = waypoint[3]
        routes[u, v] = path[1:-1]
    columns = {}
    for node in layered:  # insertion order (source order) breaks ties: deterministic
        columns.setdefault(column[node], []).append(node)
    order = sorted(columns)
    rank = {node: i for nodes in columns.values() for i, node in enumerate(nodes)}

    def sweep(cols, neighbours):
        for c in cols:
            def centre(node):
                near = [rank[n] for n in neighbours(node)]
                return sum(near) / len(near) if near else rank[node]
            columns[c].sort(key=lambda n: (centre(n), rank[n]))
            rank.update({n: i for i, n in enumerate(columns[c])})

    for _ in range(4):
        sweep(order[1:], layered.predecessors)
        sweep(order[-2::-1], layered.successors)
    first = order[0]
    wrapped = len(order) > _COLUMNS_PER_ROW
    rise = 0.0 if wrapped else _RISE  # the diagonal only where the picture is one row
    rows = {}
    for c, nodes in columns.items():
        rows.setdefault((c - first) // _COLUMNS_PER_ROW, []).append(len(nodes))
    top = {0: 0.0}
    for row in range(1, max(rows) + 1):  # each row as tall as its tallest column
        top[row] = top[row - 1] - (max(rows.get(row - 1, [1])) - 1) * _DY - _ROW_GAP
    pos = {}
    for c, nodes in columns.items():
        row, col = divmod(c - first, _COLUMNS_PER_ROW)
        for slot, node in enumerate(nodes):
            pos[node] = (round(col * dx, 3), round(top[row] + col * rise - slot * _DY, 3))
    if kept:  # one row under the whole chain, each value near its first reader
        bottom = min(y for _, y in pos.values()) - 1.6 * _DY
        readers = {n: min(g.successors(n), key=lambda r: (column[r], rank[r])) for n in kept}
        x = None
        for node in sorted(kept, key=lambda n: (pos[readers[n]][0], kept.index(n))):
            x = pos[readers[node]][0] if x is None else max(pos[readers[node]][0], x + dx - 0.4)
            pos[node] = (round(x, 3), round(bottom, 3))
    waypoints = {edge: [pos[w] for w in path] for edge, path in routes.items()}
    return {n: pos[n] for n in g}, waypoints


def _names(derivation, latex, notation):
    names = display_names(derivation, latex, notation)
    return {n: names[("var", n)] for n in derivation.model.variables}


def _labels(derivation, g, latex, notation=None):
    """Each node's label: a value's name as the notation prints it (the default names if
    None), an adjoint's ∂J/∂x, an operator's symbol."""
    notation = notation or Notation()
    names = _names(derivation, latex, notation)
    j = names[derivation.model.objective]
    labels = {}
    for node, data in g.nodes(data=True):
        if "label_latex" in data:  # the graph carries its own labels (second_order_graph)
            labels[node] = data["label_latex" if latex else "label_text"]
        elif data["kind"] == "variable":
            labels[node] = names[node]
        elif data["kind"] == "adjoint":
            labels[node] = adjoint_name(j, names[data["of"]], latex, notation)
        else:
            labels[node] = _operator_label(g, node, latex)
    return labels


_STYLE = {"variable": "draw, rectangle", "adjoint": "draw, rectangle, rounded corners",
          "operator": "draw, circle", "tangent": "draw, rectangle, rounded corners, fill=black!4",
          "direction": "draw, rectangle, fill=black!8"}


def _options(data):
    options = _STYLE[data["kind"]]
    if data.get("role") == "objective":
        options += ", double, double distance=1pt"
    elif data.get("role") == "param":
        options += ", fill=black!8"
    return options


def _placement(derivation, g, labels=None):
    """Graphviz's placement of `g`'s nodes, sized to their labels (RuntimeError without it)."""
    labels = labels or _labels(derivation, g, latex=True)
    index = {node: i for i, node in enumerate(g)}
    sizes = [node_size(data["kind"], labels[node]) for node, data in g.nodes(data=True)]
    edges = [(index[u], index[v]) for u, v in g.edges]
    return placement(sizes, edges, lambda source: _graphviz(source, "json"))


def figure_placement(derivation, backward=False, second_order=None):
    """The shapes and arrows the TikZ figure draws, as :func:`graph_figure` lays them out.

    Returns
    -------
    Placement
        From Graphviz (a RuntimeError without it); shapes and arrows in the
        order of the graph's nodes and edges.
    """
    return _placement(derivation, _graph(derivation, backward, second_order))


def _placed_tikz(g, labels, placed):
    """The picture at Graphviz's positions: sized shapes, arrows along its splines."""
    safe = {node: f"n{i}" for i, node in enumerate(g)}  # TikZ node names: no '#' or '∂'
    scale = placed.scale
    if scale < 1:  # nodes and their text scaled with the coordinates (transform shape)
        lines = [f"\\begin{{tikzpicture}}[>=stealth, font=\\small, scale={scale}, "
                 "transform shape]", f"  % scaled to {scale} to fit a page of {PAGE_WIDTH:g} cm "
                 f"by {PAGE_HEIGHT:g} cm"]
    else:
        lines = ["\\begin{tikzpicture}[>=stealth, font=\\small]"]
    lines.append(f"  \\useasboundingbox (0, 0) rectangle ({placed.width}, {placed.height});")
    for (node, data), shape in zip(g.nodes(data=True), placed.shapes):
        if shape.round:
            size = f"minimum size={shape.width}cm, inner sep=0pt"
        else:
            size = (f"minimum width={shape.width}cm, minimum height={shape.height}cm, "
                    "inner sep=1pt")
            if data["kind"] == "operator":  # a long name: a rounded box, not a big circle
                size = f"rounded corners={round(2.5 * scale, 2)}mm, " + size
        options = _options(data).replace("circle", "rectangle") if not shape.round and \
            data["kind"] == "operator" else _options(data)
        lines.append(f"  \\node[{options}, {size}] ({safe[node]}) at ({shape.x}, {shape.y}) "
                     f"{{${labels[node]}$}};")
    for (u, v, data), arrow in zip(g.edges(data=True), placed.arrows):
        options = "->, dashed" if data.get("kind") == "reads" else "->"
        start, *rest = arrow.spline
        curve = "".join(f" .. controls {_xy(a)} and {_xy(b)} .. {_xy(c)}"
                        for a, b, c in zip(rest[::3], rest[1::3], rest[2::3]))
        lines.append(f"  \\draw[{options}] {_xy(start)}{curve} -- {_xy(arrow.tip)};")
    lines.append("\\end{tikzpicture}")
    return "\n".join(lines)


def _xy(point):
    return f"({point[0]:g}, {point[1]:g})"


def _layered_tikz(derivation, g, labels):
    # Without Graphviz.  Written here rather than with nx.to_latex_raw: arrows that span
    # columns are drawn through waypoints, which to_latex_raw cannot express.
    places = _layout_places(list(g.edges))
    if places > MAX_DRAWN_PLACES:
        raise RuntimeError(f"the graph's edges pass {places:,} places on its columns, more "
                           f"than the {MAX_DRAWN_PLACES:,} a TikZ figure is drawn with: write "
                           "--format dot and lay it out yourself, or draw a smaller model")
    dx = _DX
    if any(kind == "tangent" for _, kind in g.nodes(data="kind")):
        # columns as wide as the widest label: R{dJ/dW} is wider than a variable's box
        dx = max(_DX, 0.2 * max(_visible_width(label) for label in labels.values()) + 0.6)
    pos, waypoints = _layout(g, dx)
    safe = {node: f"n{i}" for i, node in enumerate(g)}  # TikZ node names: no '#' or '∂'
    size = {"variable": "minimum size=6mm", "adjoint": "minimum size=6mm",
            "operator": "inner sep=1pt, minimum size=5mm", "tangent": "minimum size=6mm",
            "direction": "minimum size=6mm"}
    lines = ["\\begin{tikzpicture}[>=stealth, font=\\small]"]
    for node, data in g.nodes(data=True):
        x, y = pos[node]
        lines.append(f"  \\node[{_options(data)}, {size[data['kind']]}] ({safe[node]}) "
                     f"at ({x}, {y}) {{${labels[node]}$}};")
    for u, v, data in g.edges(data=True):
        options = "->, dashed" if data.get("kind") == "reads" else "->"
        via = "".join(f" -- ({x}, {y})" for x, y in waypoints.get((u, v), []))
        if via:
            options += ", rounded corners=4pt"
        lines.append(f"  \\draw[{options}] ({safe[u]}){via} -- ({safe[v]});")
    lines.append("\\end{tikzpicture}")
    return "\n".join(lines)


def _tikz(derivation, g, standalone, notation=None):
    labels = _labels(derivation, g, True, notation)
    try:
        picture = _placed_tikz(g, labels, _placement(derivation, g, labels))
    except RuntimeError:  # no Graphviz, or a graph too big for it: the layered layout
        picture = _layered_tikz(derivation, g, labels)
    if not standalone:
        return picture
    # The page is cut to the picture (standalone), so a large model is one legible page.
    return ("\\documentclass[border=2mm]{standalone}\n\\usepackage{amsmath}\n"
            "\\usepackage{amssymb}\n\\usepackage{tikz}\n\\begin{document}\n"
            + picture + "\n\\end{document}\n")


def _visible_width(latex):
    """About how many characters wide a LaTeX label renders."""
    text = re.sub(r"\\(left|right|boldsymbol|mathbf|mathcal|frac|operatorname)\b", "", latex)
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    return sum(c not in "{}^_ " for c in text)


def _quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(derivation, g, ids=None, notation=None):
    """The DOT text of `g`; `ids` (node or edge to an id) names the SVG elements drawn."""
    labels = _labels(derivation, g, False, notation)

    def named(key):
        return f", id={_quote(ids[key])}" if ids else ""

    lines = [f"digraph {_quote(derivation.model.objective)} {{",
             "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=12];',
             "  edge [arrowsize=0.7];"]
    for node, data in g.nodes(data=True):
        if data["kind"] == "operator":
            attrs = "shape=circle, width=0.35, fixedsize=false, margin=0.02"
        elif data["kind"] == "tangent":
            attrs = 'shape=box, style="rounded,filled", fillcolor="#f4f4f4"'
        elif data["kind"] == "direction":
            attrs = 'shape=box, style=filled, fillcolor="#eeeeee"'
        else:
            attrs = "shape=box" + (", style=rounded" if data["kind"] == "adjoint" else "")
            if data.get("role") == "objective":
                attrs += ", peripheries=2"
            elif data.get("role") == "param":
                attrs += ', style=filled, fillcolor="#eeeeee"'
        lines.append(f"  {_quote(node)} [label={_quote(labels[node])}, {attrs}{named(node)}];")
    for u, v, data in g.edges(data=True):
        style = "style=dashed" if data.get("kind") == "reads" else ""
        style = ", ".join(filter(None, [style, named((u, v))[2:]]))
        lines.append(f"  {_quote(u)} -> {_quote(v)}{f' [{style}]' if style else ''};")
    lines.append("}")
    return "\n".join(lines) + "\n"


#: The most edges a figure Graphviz lays out may have, the most places on its ranks that
#: those edges pass through (:func:`_layout_places`), and the seconds it may take: dot's
#: layout grows much faster than the graph, and a graph of thousands of edges, or one value
#: read by each of a chain of 200 operators (20,000 places), would take minutes to draw a
#: figure nobody can read.
MAX_LAYOUT_EDGES, MAX_LAYOUT_PLACES, GRAPHVIZ_TIMEOUT = 500, 10_000, 60

#: The most places (:func:`_layout_places`) the TikZ figure drawn without Graphviz may have:
#: a product of 2,000 factors, 2 million waypoints, took a minute to write a picture no
#: LaTeX would typeset.
MAX_DRAWN_PLACES = 50_000

#: Past this many edges, dot's network simplex stops after as many iterations as the graph
#: has nodes (nslimit, mclimit): a value read by each of a chain of 100 operators took dot
#: ten times longer placed in full.  Every example's figure (63 edges at most) is placed
#: in full.
BOUNDED_LAYOUT_EDGES = 100


def _layout_places(edges):
    """How many places dot lays out for a graph: a node a rank, and an edge a place on every
    rank it passes (dot's virtual nodes), the nodes ranked as tightly as their edges allow.

    Examples
    --------
    >>> _layout_places([("x", "a"), ("a", "b"), ("x", "b")])  # x -> b passes a's rank
    4
    """
    g = nx.DiGraph(edges)
    if not nx.is_directed_acyclic_graph(g):
        return len(edges) + g.number_of_nodes()
    order = list(nx.topological_sort(g))
    rank = {}
    for v in order:  # each node on the rank after its latest operand
        rank[v] = max((rank[u] + 1 for u in g.predecessors(v)), default=0)
    for v in reversed(order):  # an operand as late as its first reader allows
        if g.out_degree(v):
            rank[v] = min(rank[w] for w in g.successors(v)) - 1
    return g.number_of_nodes() + sum(rank[v] - rank[u] - 1 for u, v in edges)


def _graphviz(dot_source, fmt):
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(f"a {fmt} figure needs Graphviz's 'dot' program "
                           "(Debian: apt-get install graphviz); tikz and dot need nothing")
    edges = re.findall(r'^\s+("[^"]*"|[^\s"]+) -> ("[^"]*"|[^\s";\[]+)', dot_source,
                       re.MULTILINE)
    if len(edges) > MAX_LAYOUT_EDGES:
        raise RuntimeError(f"the graph has {len(edges):,} edges, more than the "
                           f"{MAX_LAYOUT_EDGES:,} the {fmt} figure is laid out for: write "
                           "--format dot and lay it out yourself, or draw a smaller model")
    places = _layout_places(edges)
    if places > MAX_LAYOUT_PLACES:
        raise RuntimeError(f"the graph's edges pass {places:,} places on its ranks, more "
                           f"than the {MAX_LAYOUT_PLACES:,} the {fmt} figure is laid out for "
                           "(a value read far down a long chain): write --format dot and lay "
                           "it out yourself, or name the chain's steps in the model")
    bounded = ["-Gnslimit=1", "-Gnslimit1=1", "-Gmclimit=0.1"] \
        if len(edges) > BOUNDED_LAYOUT_EDGES else []
    try:
        result = subprocess.run([dot, f"-T{fmt}", *bounded], input=dot_source.encode("utf-8"),
                                capture_output=True, timeout=GRAPHVIZ_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"Graphviz did not lay out the {fmt} figure within "
                           f"{GRAPHVIZ_TIMEOUT} s: write --format dot instead") from None
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def graph_svg(derivation, g, ids, notation=None):
    """Graphviz's SVG of the graph `g` of `derivation`, each node and edge drawn as an element
    with the id that `ids` (node, or (tail, head) pair, to a string) gives it."""
    return _graphviz(_dot(derivation, g, ids, notation), "svg").decode("utf-8")


def _graph(derivation, backward, second_order, notation=None):
    if second_order is not None:
        return second_order_graph(second_order, notation)
    return backward_graph(derivation) if backward else derivation.graph


def graph_figure(derivation, format="tikz", standalone=False, backward=False, second_order=None,
                 notation=None):
    """A figure of the computational graph (or of the backward graph).

    Parameters
    ----------
    derivation : Derivation
    format : {"tikz", "dot", "svg", "png"}
    standalone : bool
        With ``tikz``: a whole document that compiles with ``pdflatex``.
    backward : bool
        Draw the backward graph (:func:`backward_graph`) instead.
    second_order : HVPDerivation, optional
        Draw the graph of its Hessian-vector products (:func:`second_order_graph`)
        instead; `derivation` is its first-order derivation.
    notation : Notation, optional
        How the values' names print (its ``index_style`` and ``bold``); the defaults if
        None.

    Returns
    -------
    str or bytes
        Text for tikz, dot and svg; bytes for png.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    >>> print(graph_figure(d, "dot").splitlines()[4])
      "x" [label="x", shape=box];
    >>> "\\\\begin{tikzpicture}" in graph_figure(d, "tikz")
    True
    """
    checked_format(format)
    g = _graph(derivation, backward, second_order, notation)
    if not g:  # nothing to draw, and nothing to place: said, not an empty picture
        raise RuntimeError(f"{derivation.model.objective} depends on no param: its backward "
                           "graph is empty (derive shows every gradient 0)")
    return in_format(format, lambda: _tikz(derivation, g, standalone, notation),
                     lambda: _dot(derivation, g, notation=notation))


def checked_format(format):
    """`format`, one of :data:`FORMATS`, or a ValueError naming them."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    return format


def in_format(format, tikz, dot):
    """A figure in `format` from its TikZ or its DOT source (``tikz()``, ``dot()``): SVG and
    PNG are the DOT rendered by Graphviz."""
    if format == "tikz":
        return tikz()
    source = dot()
    if format == "dot":
        return source
    out = _graphviz(source, format)
    return out.decode("utf-8") if format == "svg" else out


class Figure:
    """The graph of a derivation, for notebooks: Jupyter shows it as SVG.

    Parameters
    ----------
    derivation : Derivation
    backward : bool
        Show the backward graph.
    second_order : HVPDerivation, optional
        Show the graph of its Hessian-vector products instead.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> figure = Figure(sbp.derive(sbp.load("examples/textbook_mlp.sbp")))
    >>> figure.source("dot").startswith('digraph "J"')
    True
    """

    def __init__(self, derivation, backward=False, second_order=None):
        self.derivation = derivation
        self.backward = backward
        self.second_order = second_order

    def source(self, format="tikz", standalone=False):
        """The figure in `format`, as :func:`graph_figure` gives it."""
        return graph_figure(self.derivation, format, standalone, self.backward, self.second_order)

    def _repr_svg_(self):
        try:
            return self.source("svg")
        except RuntimeError:  # no Graphviz: Jupyter falls back to the text form
            return None

    def __repr__(self):
        if self.second_order is not None:
            kind, nodes = "second-order graph", len(second_order_graph(self.second_order))
        elif self.backward:
            kind, nodes = "backward graph", len(backward_graph(self.derivation))
        else:
            kind, nodes = "graph", len(self.derivation.graph)
        return f"<{kind} of {self.derivation.model.objective}: {nodes} nodes>"
