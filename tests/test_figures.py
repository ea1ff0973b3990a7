"""The TikZ figures' geometry: what the code places, checked shape by shape and arrow by arrow.

For every example (forward and backward), the textbook's second-order graph and random
models: no two node shapes overlap, no arrow passes through a node it does not join, each
arrow leaves its tail and ends at its head, the bounding box holds every node, and the
picture fits the page or is scaled to it.  TeX's own measure of each node, in the compiled
figure, is the size the layout reserved for it: no label grows its shape.
"""

import dataclasses
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import symbackprop as sbp
import test_random_models as random_models
from symbackprop import derive_hvp
from symbackprop.printing import figures
from symbackprop.printing.graph_placement import PAGE_HEIGHT, PAGE_WIDTH, Shape
from symbackprop.printing.figures import figure_placement, graph_figure
from typeset import compiles, graphviz

EXAMPLES = sorted(Path("examples").glob("*.sbp"))
GAP = 0.02  # cm: how far into a shape an arrow may cut a corner (a line's width is 0.014 cm)


def _inside(shape, x, y, margin):
    if shape.round:
        return math.hypot(x - shape.x, y - shape.y) < shape.width / 2 - margin
    left, bottom, right, top = shape.box()
    return left + margin < x < right - margin and bottom + margin < y < top - margin


def _crosses(shape, a, b):
    """Whether the segment a-b passes through `shape` (shrunk by GAP)."""
    steps = max(2, int(math.dist(a, b) / 0.01))
    return any(_inside(shape, a[0] + (b[0] - a[0]) * t / steps, a[1] + (b[1] - a[1]) * t / steps,
                       GAP) for t in range(steps + 1))


def _distance_to_border(shape, point):
    x, y = point
    if shape.round:
        return abs(math.hypot(x - shape.x, y - shape.y) - shape.width / 2)
    left, bottom, right, top = shape.box()
    outside = math.hypot(max(left - x, 0, x - right), max(bottom - y, 0, y - top))
    return outside or min(x - left, right - x, y - bottom, top - y)


def assert_sound(placed):
    """The geometry every figure must have."""
    shapes = placed.shapes
    for k, shape in enumerate(shapes):
        left, bottom, right, top = shape.box()
        assert 0 <= left and right <= placed.width and 0 <= bottom and top <= placed.height, (
            f"node {k} at {shape} is outside the bounding box {placed.width} x {placed.height}")
    for i, a in enumerate(shapes):
        for j in range(i + 1, len(shapes)):
            b = shapes[j]  # circles as their squares: stricter than needed
            (l1, b1, r1, t1), (l2, b2, r2, t2) = a.box(), b.box()
            assert r1 <= l2 or r2 <= l1 or t1 <= b2 or t2 <= b1, f"nodes {i} and {j} overlap"
    assert len(placed.arrows) == len({(a.tail, a.head) for a in placed.arrows})
    for arrow in placed.arrows:
        points = arrow.points()
        assert _distance_to_border(shapes[arrow.tail], points[0]) < 0.05
        assert _distance_to_border(shapes[arrow.head], points[-1]) < 0.05
        for k, shape in enumerate(shapes):
            if k in (arrow.tail, arrow.head):
                continue
            assert not any(_crosses(shape, p, q) for p, q in zip(points, points[1:])), (
                f"the arrow n{arrow.tail} -> n{arrow.head} passes through node n{k}")
    assert placed.scale <= 1
    assert placed.width * placed.scale <= PAGE_WIDTH + 1e-9
    assert placed.height * placed.scale <= PAGE_HEIGHT + 1e-9


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_figure_is_laid_out_without_overlaps(example, backward):
    graphviz()
    d = sbp.derive(sbp.load(example))
    placed = figure_placement(d, backward=backward)
    g = figures.backward_graph(d) if backward else d.graph
    assert len(placed.shapes) == len(g) and len(placed.arrows) == g.number_of_edges()
    assert_sound(placed)


def test_the_second_order_figure_is_laid_out_without_overlaps():
    graphviz()
    d = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))
    assert_sound(figure_placement(d, second_order=derive_hvp(d)))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=random_models.models())
def test_random_models_are_laid_out_without_overlaps(text):
    graphviz()
    d = random_models.derived(text)
    assert_sound(figure_placement(d))
    if figures.backward_graph(d):
        assert_sound(figure_placement(d, backward=True))


def test_the_checks_catch_an_overlap_an_arrow_through_a_node_and_a_node_outside():
    graphviz()
    placed = figure_placement(sbp.derive(sbp.load("examples/softmax_regression.sbp")))
    assert_sound(placed)
    arrow = max(placed.arrows, key=lambda a: math.dist(a.points()[0], a.tip))
    middle = arrow.points()[len(arrow.points()) // 2]
    small = Shape(middle[0], middle[1], 0.1, 0.1)  # a node no arrow joins, on an arrow
    first = placed.shapes[0]
    for extra, message in [(small, "passes through"), (
            dataclasses.replace(first, x=first.x + 0.1), "overlap"), (
            dataclasses.replace(first, x=placed.width), "outside the bounding box")]:
        with pytest.raises(AssertionError, match=message):
            assert_sound(dataclasses.replace(placed, shapes=(*placed.shapes, extra)))
    with pytest.raises(AssertionError):
        assert_sound(dataclasses.replace(placed, width=placed.width * 3))  # not scaled


def test_the_tikz_draws_what_was_placed():
    graphviz()
    d = sbp.derive(sbp.load("examples/softmax_regression.sbp"))
    placed, tikz = figure_placement(d), graph_figure(d, "tikz")
    nodes = re.findall(r"\\node\[([^\]]*)\] \(n(\d+)\) at \(([-\d.]+), ([-\d.]+)\)", tikz)
    assert len(nodes) == len(placed.shapes)
    for options, k, x, y in nodes:
        shape = placed.shapes[int(k)]
        assert (float(x), float(y)) == (shape.x, shape.y)
        assert (f"minimum size={shape.width}cm" if shape.round
                else f"minimum width={shape.width}cm, minimum height={shape.height}cm") in options
    assert f"rectangle ({placed.width}, {placed.height})" in tikz
    assert tikz.count("\\draw[->") == len(placed.arrows)
    # a long operator name is a rounded box, the circles are small
    entropy = next(line for line in tikz.splitlines() if "cross\\_entropy" in line)
    assert "rectangle, rounded corners" in entropy and "circle" not in entropy
    assert all(s.width <= 0.6 for s in placed.shapes if s.round)


def test_a_figure_wider_than_the_page_is_scaled_and_says_so(tmp_path):
    graphviz()
    d = sbp.derive(sbp.load("examples/rnn_bptt.sbp"))
    placed = figure_placement(d, backward=True)
    assert placed.scale < 1
    tikz = graph_figure(d, "tikz", backward=True)
    assert tikz.startswith(f"\\begin{{tikzpicture}}[>=stealth, font=\\small, "
                           f"scale={placed.scale}, transform shape]\n  % scaled to "
                           f"{placed.scale} to fit a page of 15 cm by 22 cm\n")
    compiles(tmp_path, "scaled", graph_figure(d, "tikz", standalone=True, backward=True))


def _measured(tmp_path, source, count):
    """TeX's width and height (cm) of nodes n0 .. n<count - 1> in the compiled `source`."""
    measure = "".join(
        f"\\pgfpointdiff{{\\pgfpointanchor{{n{k}}}{{west}}}}{{\\pgfpointanchor{{n{k}}}{{east}}}}"
        f"\\pgfgetlastxy{{\\w}}{{\\h}}\\typeout{{WIDTH {k} \\w}}"
        f"\\pgfpointdiff{{\\pgfpointanchor{{n{k}}}{{south}}}}{{\\pgfpointanchor{{n{k}}}{{north}}}}"
        f"\\pgfgetlastxy{{\\w}}{{\\h}}\\typeout{{HEIGHT {k} \\h}}\n" for k in range(count))
    log = compiles(tmp_path, "measured", source.replace("\\end{tikzpicture}",
                                                        measure + "\\end{tikzpicture}"))
    sizes = {}
    for kind, k, value in re.findall(r"(WIDTH|HEIGHT) (\d+) ([-\d.]+)pt", log):
        sizes.setdefault(int(k), {})[kind] = float(value) * 2.54 / 72.27
    return sizes


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_no_label_grows_its_shape(example, tmp_path):
    graphviz()
    d = sbp.derive(sbp.load(example))
    for backward in (False, True):
        placed = figure_placement(d, backward=backward)
        sizes = _measured(tmp_path, graph_figure(d, "tikz", standalone=True, backward=backward),
                          len(placed.shapes))
        assert len(sizes) == len(placed.shapes)
        for k, shape in enumerate(placed.shapes):
            # the border's line (doubled for the objective) is all TeX may add
            assert sizes[k]["WIDTH"] <= shape.width + 0.06, (k, sizes[k], shape)
            assert sizes[k]["HEIGHT"] <= shape.height + 0.06, (k, sizes[k], shape)


def test_without_graphviz_the_figure_is_laid_out_here(tmp_path, monkeypatch):
    d = sbp.derive(sbp.load("examples/softmax_regression.sbp"))
    monkeypatch.setattr(figures.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz"):
        figure_placement(d)
    tikz = graph_figure(d, "tikz", standalone=True)
    monkeypatch.undo()  # pdflatex is found again
    assert "\\useasboundingbox" not in tikz and "\\node[draw" in tikz
    compiles(tmp_path, "fallback", tikz)
