"""Where the nodes and arrows of a TikZ graph figure go: Graphviz's layout, read back.

Choice, and why: Graphviz's ``dot`` ranks the nodes in layers, orders each
layer to keep crossings few, packs the layers tight and routes every arrow
as a spline that goes around the nodes it does not join.  A layered
(Sugiyama) layout written here would redo that work less well.  So ``dot``
is given each node's size, as TikZ will draw it (estimated from its LaTeX
label, generously: a label narrower than its shape leaves a margin, a label
wider would grow the shape), lays the graph out, and its positions and
splines come back as JSON; :mod:`.figures` writes them as plain TikZ
coordinates and Bézier curves (``.. controls ..``), which a lecturer can
still move by hand.  Only numbered ids (``n0``, ``n1``, ...) and sizes reach
Graphviz, never a name from the model.  A picture larger than a page
(:data:`PAGE_WIDTH` by :data:`PAGE_HEIGHT`) is scaled to it as a whole
(``scale`` and ``transform shape``: coordinates, shapes and text alike).
Without Graphviz, or for a graph too big for it, :mod:`.figures` keeps its
own layered layout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["Shape", "Arrow", "Placement", "node_size", "layout_dot", "placement",
           "PAGE_WIDTH", "PAGE_HEIGHT"]

#: The width a figure may take on the page, in centimetres (an A4 page's text is ~15 cm).
PAGE_WIDTH = 15.0
#: The height it may take, in centimetres (an A4 page's text, less a caption).
PAGE_HEIGHT = 22.0
_PT = 2.54 / 72  # centimetres per point, Graphviz's unit
_MARGIN = 0.1  # cm of blank around the picture, inside its bounding box
_CHAR, _PAD, _HEIGHT, _TALL = 0.19, 0.34, 0.6, 1.05  # cm: a character, padding, a row, a fraction
_WORDS = {"log", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "max", "min", "det",
          "tr"}  # set upright as the word they spell; any other command is one character
_SHRINK = 0.7  # a left-to-right picture scaled less than this is tried bottom-up too
_CIRCLE = 0.6  # cm: an operator's circle, when its label fits in it


@dataclass(frozen=True)
class Shape:
    """A node as drawn: centre, width and height in centimetres; `round` for a circle."""

    x: float
    y: float
    width: float
    height: float
    round: bool = False

    def box(self):
        """(left, bottom, right, top)."""
        return (self.x - self.width / 2, self.y - self.height / 2,
                self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class Arrow:
    """An arrow from node `tail` to node `head`: a Bézier spline, then a straight tip.

    `spline` is a start point followed by (control, control, end) triples;
    `tip` is where the arrowhead's point touches the head's border.
    """

    tail: int
    head: int
    spline: tuple
    tip: tuple

    def points(self, steps=24):
        """Points along the drawn arrow, `steps` per Bézier piece, then the tip."""
        out = [self.spline[0]]
        for k in range(1, len(self.spline) - 2, 3):
            p0, p1, p2, p3 = self.spline[k - 1:k + 3]
            for i in range(1, steps + 1):
                t = i / steps
                a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
                out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                            a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
        return out + [self.tip]


@dataclass(frozen=True)
class Placement:
    """A laid-out figure: shapes by node index, arrows, and the bounding box.

    The bounding box runs from (0, 0) to (`width`, `height`) in centimetres
    before scaling; `scale` (at most 1) brings the width within the page.
    """

    shapes: tuple
    arrows: tuple
    width: float
    height: float
    scale: float


def _visible_width(latex):
    """About how many characters wide a LaTeX label renders (a fraction: its wider line)."""
    frac = re.fullmatch(r"\\frac\{(.*)\}\{(.*)\}", latex)
    if frac:
        return max(_visible_width(frac[1]), _visible_width(frac[2]))
    text = re.sub(r"\\(left|right|boldsymbol|mathbf|mathcal|operatorname|mathrm)\b", "", latex)
    text = re.sub(r"\\[,;:!]", "", text)
    text = re.sub(r"\\[{}|]", "x", text)  # a brace or bar set as a character
    text = re.sub(r"\\([A-Za-z]+)", lambda m: m[1] if m[1] in _WORDS else "x", text)
    text = re.sub(r"[_^]\{([^{}]*)\}", lambda m: m[1][:max(1, (len(m[1]) * 3 + 3) // 4)], text)
    return sum(c not in "{}^_ \\" for c in text)


def node_size(kind, label):
    """(width, height, round) in centimetres of a node of `kind` labelled `label` (LaTeX).

    An operator whose label fits a small circle is that circle; a longer
    one is a rounded rectangle as wide as its label, never a big circle.

    Examples
    --------
    >>> node_size("operator", "+")
    (0.6, 0.6, True)
    >>> width, height, round = node_size("operator", "\\\\operatorname{cross\\\\_entropy}")
    >>> round, width > 2 * height
    (False, True)
    """
    width = _CHAR * _visible_width(label) + _PAD
    height = _TALL if "\\frac" in label else _HEIGHT
    if kind == "operator" and width <= _CIRCLE:
        return (_CIRCLE, _CIRCLE, True)
    return (round(max(width, _HEIGHT), 2), height, False)


def layout_dot(sizes, edges, rankdir="LR"):
    """DOT for Graphviz to lay out: nodes ``n<i>`` of the given sizes, no labels.

    `sizes` are ``(width, height, round)`` in centimetres, `edges` pairs of
    node indices; `rankdir` is ``LR`` (inputs on the left) or ``BT`` (at the bottom).

    Examples
    --------
    >>> print(layout_dot([(0.6, 0.6, True), (1.0, 0.6, False)], [(0, 1)]))
    digraph {
      rankdir=LR; nodesep=0.2; ranksep=0.25; pad=0;
      node [label="", fixedsize=true, shape=box];
      n0 [width=0.2362, height=0.2362, shape=circle];
      n1 [width=0.3937, height=0.2362];
      n0 -> n1;
    }
    """
    lines = ["digraph {", f"  rankdir={rankdir}; nodesep=0.2; ranksep=0.25; pad=0;",
             '  node [label="", fixedsize=true, shape=box];']
    for i, (width, height, is_round) in enumerate(sizes):
        shape = ", shape=circle" if is_round else ""
        lines.append(f"  n{i} [width={width / 2.54:.4f}, height={height / 2.54:.4f}{shape}];")
    lines += [f"  n{u} -> n{v};" for u, v in edges]
    return "\n".join([*lines, "}"])


def _point(text, dx, dy):
    x, y = text.split(",")
    return (round(float(x) * _PT + dx, 3), round(float(y) * _PT + dy, 3))


def _scale(width, height):
    """The scale that fits a picture on a page (:data:`PAGE_WIDTH` by :data:`PAGE_HEIGHT`)."""
    fit = min(PAGE_WIDTH / width, PAGE_HEIGHT / height)
    return 1.0 if fit >= 1 else int(fit * 100) / 100


def placement(sizes, edges, run):
    """Lay out the graph with Graphviz: `run(dot_source)` gives ``dot -Tjson``'s output.

    From left to right, as the textbook draws it; a graph that would have to
    shrink below :data:`_SHRINK` to fit the page that way is laid out from the
    bottom up as well, and the one that fits at the larger scale is kept.

    Returns
    -------
    Placement
        In centimetres, the bounding box's lower left corner at (0, 0).
    """
    placed = _placement(sizes, edges, run, "LR")
    if placed.scale < _SHRINK:
        upright = _placement(sizes, edges, run, "BT")
        placed = upright if upright.scale > placed.scale else placed
    return placed


def _placement(sizes, edges, run, rankdir):
    laid = json.loads(run(layout_dot(sizes, edges, rankdir)))
    _, _, right, top = (float(v) * _PT for v in laid["bb"].split(","))
    dx = dy = _MARGIN
    shapes = [None] * len(sizes)
    for obj in laid["objects"]:
        i = int(obj["name"][1:])
        x, y = _point(obj["pos"], dx, dy)
        shapes[i] = Shape(x, y, round(float(obj["width"]) * 2.54, 3),
                          round(float(obj["height"]) * 2.54, 3), sizes[i][2])
    arrows = []
    for edge in laid.get("edges", []):
        tail, head = (int(laid["objects"][edge[end]]["name"][1:]) for end in ("tail", "head"))
        parts = edge["pos"].split()
        tip = next(_point(p[2:], dx, dy) for p in parts if p.startswith("e,"))
        spline = tuple(_point(p, dx, dy) for p in parts if p[:2] not in ("e,", "s,"))
        arrows.append(Arrow(tail, head, spline, tip))
    order = {edge: k for k, edge in enumerate(edges)}
    arrows.sort(key=lambda a: order[a.tail, a.head])
    width, height = round(right + 2 * _MARGIN, 2), round(top + 2 * _MARGIN, 2)
    return Placement(tuple(shapes), tuple(arrows), width, height, _scale(width, height))
