"""Figures of models with loops: the folded graph, each loop's body once inside its plate.

For the two models of the reference (examples/loops/): the DOT has one cluster per
plate labelled with its range, each family is one box, the recurrence arrow is
there with its offset; the TikZ compiles and keeps every value outside a loop
outside its plate; Graphviz renders the SVG; the figure is the same whatever
Python's string hashing.  A LaTeX name from a model file that would read a file
or run a program is never written into the TikZ.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.derivation.folded import folded_graph, plate_path
from symbackprop.printing.figures import Figure
from symbackprop.printing.loop_figures import LoopFigure, loop_figure, safe_latex
from symbackprop.printing.plate_layout import plate_layout
from typeset import compiles, graphviz

ROOT = Path(__file__).resolve().parent.parent
LOOPS = ROOT / "examples" / "loops"

#: Each example: its plates' labels in DOT, its families' boxes, its recurrence arrow and
#: its label, the values that stay outside every plate.
CASES = {
    "bptt": (["t = 1, …, T"], {"x": "x_t", "y": "y_t", "h": "h_t", "o": "o_t"},
             ("h", "h[t]#2", "t−1 → t"), ["h0", "W_hx", "W_hh", "W_qh", "h[0]", "L"]),
    "mlp_layers": (["l = 1, …, L"], {"W": "W⁽ˡ⁾", "z": "z⁽ˡ⁾", "h": "h⁽ˡ⁾"},
                   ("h", "z[l]#1", "l−1 → l"), ["x", "y", "lambda", "h[0]", "J"]),
}


def derivation(name):
    return sbp.derive(sbp.load(LOOPS / f"{name}.sbp"))


def clusters(dot):
    """Each cluster's label and the nodes written inside it (its own and its inner ones')."""
    out, stack = [], []
    for line in dot.splitlines():
        if line.strip().startswith("subgraph"):
            stack.append({"label": None, "nodes": []})
        elif line.strip() == "}" and stack:
            out.append(stack.pop())
        elif stack and line.strip().startswith("label="):
            stack[-1]["label"] = re.match(r'\s*label="([^"]*)"', line).group(1)
        elif stack and re.match(r'\s*"[^"]+" \[label=', line):
            name = re.match(r'\s*"([^"]+)"', line).group(1)
            for cluster in stack:
                cluster["nodes"].append(name)
    return out


def node_labels(dot):
    return dict(re.findall(r'^\s*"([^"]+)" \[label="([^"]*)"', dot, re.MULTILINE))


# --- the folded graph, as DOT ----------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_one_cluster_per_loop_labelled_with_its_range(name):
    ranges, families, _, outside = CASES[name]
    dot = loop_figure(derivation(name), "dot")
    found = clusters(dot)
    assert [c["label"] for c in found] == ranges
    inside = set(found[0]["nodes"])
    assert set(families) <= inside
    assert not inside & set(outside), "a value outside the loop is drawn inside the plate"


@pytest.mark.parametrize("name", CASES)
def test_every_family_is_one_box_labelled_with_its_member(name):
    _, families, _, _ = CASES[name]
    labels = node_labels(loop_figure(derivation(name), "dot"))
    for family, label in families.items():
        assert labels[family] == label
        assert list(labels.values()).count(label) == 1, label
    g = folded_graph(derivation(name).model)
    boxes = [data["family"] for _, data in g.nodes(data=True) if data["kind"] == "family"]
    assert sorted(boxes) == sorted(families)


@pytest.mark.parametrize("name", CASES)
def test_the_recurrence_arrow_is_there_with_its_offset(name):
    _, _, (source, reader, label), _ = CASES[name]
    dot = loop_figure(derivation(name), "dot")
    assert f'"{source}" -> "{reader}" [label="{label}", constraint=false, style=bold];' in dot
    g = folded_graph(derivation(name).model)
    recurrences = [(u, v) for u, v, kind in g.edges(data="kind") if kind == "recurrence"]
    assert recurrences == [(source, reader)]


def test_boundary_arrows_say_which_iteration_or_member_they_join():
    dot = loop_figure(derivation("bptt"), "dot")
    assert '"h[0]" -> "h[t]#2" [label="t = 1"];' in dot
    dot = loop_figure(derivation("mlp_layers"), "dot")
    assert '"h[0]" -> "z[l]#1" [label="l = 1"];' in dot
    assert '"h" -> "J#1" [label="l = L"];' in dot  # ℓ(h⁽ᴸ⁾, y): the last member


def test_the_loss_of_every_step_is_drawn_in_the_plate_and_its_sum_outside():
    g = folded_graph(derivation("bptt").model)
    sums = [n for n, op in g.nodes(data="op") if op == "index_sum"]
    assert [plate_path(g, n) for n in sums] == [()]
    assert g.nodes[sums[0]]["over"] == "t=1..T"
    (loss,) = [n for n, op in g.nodes(data="op") if op == "ell"]
    assert plate_path(g, loss) == ("t=1..T",)
    assert node_labels(loop_figure(derivation("bptt"), "dot"))[sums[0]] == "Σₜ"


def test_a_sum_inside_a_loop_is_a_plate_inside_the_loops():
    model = sbp.parse("dim d, T, K\ninput x[t]: vector(d) for t in 1..T\n"
                      "param w[k]: vector(d) for k in 1..K\nfor t in 1..T:\n"
                      "    s[t] = sum(w[k].T @ x[t] for k in 1..K)\n"
                      "L = sum(s[t] for t in 1..T)\nobjective L\n")
    g = folded_graph(model)
    assert g.graph["plates"]["t=1..T/k=1..K"]["parent"] == "t=1..T"
    dot = loop_figure(sbp.derive(model), "dot")
    labels = [c["label"] for c in clusters(dot)]
    assert sorted(labels) == ["k = 1, …, K", "k = 1, …, K", "t = 1, …, T"]


#: Other shapes of loops: two recurrences and a second loop over the same range, a sum
#: inside a loop, an input read at an offset from a plate of its own, members from t + 1.
SHAPES = {
    "two recurrences": ("""\
dim d, h, T
input x[t]: vector(d) for t in 1..T
const h0: vector(h)
const c0: vector(h)
param U: matrix(h, d)
param V: matrix(h, h)
func sig
h[0] = h0
c[0] = c0
for t in 1..T:
    c[t] = c[t-1] + sig(U @ x[t])
    h[t] = tanh(c[t]) + V @ h[t-1]
for t in 1..T:
    e[t] = h[t] - x[t].T @ x[t] * h[t-1]
L = sum(sum(e[t]) for t in 2..T) + sum(h[T])
objective L
""", ["t = 1, …, T", "t = 2, …, T"], 3),
    "a sum inside a loop": ("""\
dim d, T, K
input x[t]: vector(d) for t in 1..T
param w[k]: vector(d) for k in 1..K
for t in 1..T:
    s[t] = sum(w[k].T @ x[t] for k in 1..K)
L = sum(s[t] for t in 1..T)
objective L
""", ["k = 1, …, K", "k = 1, …, K", "t = 1, …, T"], 0),
    "an input at an offset": ("""\
dim d, T
input x[s]: vector(d) for s in 1..T
param w: vector(d)
for t in 2..T:
    e[t] = w.T @ (x[t] - x[t-1])
L = sum(e[t]^2 for t in 2..T)
objective L
""", ["s = 1, …, T", "t = 2, …, T"], 0),
    "members from t + 1": ("""\
dim d, T
input x[t]: vector(d) for t in 1..T
param W: matrix(d, d)
const h0: vector(d)
h[1] = h0
for t in 1..T-1:
    h[t+1] = tanh(W @ h[t]) + x[t]
L = sum(h[T])
objective L
""", ["t = 1, …, T", "t = 1, …, T−1"], 1),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_other_shapes_of_loops_are_drawn(shape, tmp_path):
    text, ranges, recurrences = SHAPES[shape]
    d = sbp.derive(sbp.parse(text))
    dot = loop_figure(d, "dot")
    assert sorted(c["label"] for c in clusters(dot)) == ranges
    assert dot.count("constraint=false") == recurrences
    log = compiles(tmp_path, "shape", loop_figure(d, "tikz", standalone=True))
    assert "Overfull" not in log and "(1 page," in log


def test_reads_across_plates_say_which_iteration_they_join():
    dot = loop_figure(sbp.derive(sbp.parse(SHAPES["an input at an offset"][0])), "dot")
    assert '"x" -> "e[t]#2" [label="t−1 → t"];' in dot  # x_t itself: no label
    dot = loop_figure(sbp.derive(sbp.parse(SHAPES["members from t + 1"][0])), "dot")
    assert '"h" -> "h[t+1]#1" [label="t−1 → t", constraint=false, style=bold];' in dot
    assert '"h" -> "L#1" [label="t = T−1"];' in dot  # h_T, computed at t = T - 1


# --- TikZ and Graphviz's pictures --------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_tikz_standalone_compiles(name, tmp_path):
    source = loop_figure(derivation(name), "tikz", standalone=True)
    log = compiles(tmp_path, name, source)
    assert "Overfull" not in log and "(1 page," in log  # the page is cut to the picture


def test_a_tikz_fragment_loads_the_library_it_fits_plates_with(tmp_path):
    fragment = loop_figure(derivation("bptt"), "tikz")
    assert fragment.startswith("\\usetikzlibrary{fit}\n")
    host = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{tikz}\n"
            "\\usepackage[landscape]{geometry}\n\\begin{document}\nThe folded graph:\n\n"
            f"{fragment}\n\n{fragment}\n\\end{{document}}\n")
    compiles(tmp_path, "host", host)


def test_tikz_labels_the_plate_and_the_arrows_that_join_iterations():
    tikz = loop_figure(derivation("bptt"), "tikz")
    assert "{$t = 1, \\dots, T$}" in tikz
    assert "{$t - 1 \\to t$}" in tikz and "{$t = 1$}" in tikz
    assert "{$\\boldsymbol{h}_{t}$}" in tikz and "{$\\Sigma_{t}$}" in tikz
    tikz = loop_figure(derivation("mlp_layers"), "tikz")
    assert "{$\\boldsymbol{W}^{(l)}$}" in tikz and "{$l - 1 \\to l$}" in tikz


@pytest.mark.parametrize("name", CASES)
def test_tikz_keeps_values_outside_a_loop_outside_its_plate(name):
    g = folded_graph(derivation(name).model)
    layout = plate_layout(g)
    for key in g.graph["plates"]:
        inside = [n for n in g if key in plate_path(g, n)]
        xs = [layout.pos[n][0] for n in inside] + [x for x, _ in layout.extent[key]]
        ys = [layout.pos[n][1] for n in inside] + [y for _, y in layout.extent[key]]
        for n in g:
            if n in inside:
                continue
            x, y = layout.pos[n]
            # a node's centre at least its half size and the plate's margin from the body
            assert not (min(xs) - 0.6 < x < max(xs) + 0.6 and min(ys) - 0.6 < y < max(ys) + 0.6), n


@pytest.mark.parametrize("name", CASES)
def test_graphviz_renders_svg_and_png(name):
    graphviz()
    svg = loop_figure(derivation(name), "svg")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    ranges, families, (_, _, label), _ = CASES[name]
    assert ranges[0] in svg and label in svg
    assert loop_figure(derivation(name), "png").startswith(b"\x89PNG")


def test_the_figure_does_not_depend_on_string_hashing():
    script = ("import symbackprop as sbp\nfrom symbackprop.printing.loop_figures import "
              "loop_figure\nfor name in ('bptt', 'mlp_layers'):\n"
              "    d = sbp.derive(sbp.load(f'examples/loops/{name}.sbp'))\n"
              "    print(loop_figure(d, 'tikz'))\n    print(loop_figure(d, 'dot'))\n")
    outputs = set()
    for seed in ("0", "1", "12345"):
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                                text=True, timeout=300, check=True,
                                env={**os.environ, "PYTHONHASHSEED": seed})
        outputs.add(result.stdout)
    assert len(outputs) == 1


# --- the API and the command line ----------------------------------------------------------

def test_a_loop_derivation_shows_its_folded_graph_and_its_written_out_one():
    d = derivation("bptt")
    folded = d.figure()
    assert isinstance(folded, LoopFigure)
    assert repr(folded) == "<folded graph of L: 18 nodes, 1 plate>"
    assert folded.source("dot") == loop_figure(d, "dot")
    if shutil.which("dot"):
        assert "<svg" in folded._repr_svg_()
    written = d.figure(unrolled={"T": 2})
    assert isinstance(written, Figure) and not isinstance(written, LoopFigure)
    dot = written.source("dot")
    assert '"h_2"' in dot and "cluster" not in dot


def test_graph_command_draws_the_folded_graph(tmp_path, capsys):
    graphviz()
    out = tmp_path / "bptt.svg"
    assert main(["graph", str(LOOPS / "bptt.sbp"), "--format", "svg", "-o", str(out)]) == 0
    assert "t = 1, …, T" in out.read_text(encoding="utf-8")
    assert main(["graph", str(LOOPS / "mlp_layers.sbp"), "--format", "dot"]) == 0
    assert 'subgraph "cluster_0"' in capsys.readouterr().out
    assert main(["graph", str(LOOPS / "bptt.sbp"), "--unroll", "T=3", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert '"h_3"' in dot and "cluster" not in dot


def test_graph_command_refuses_the_backward_graph_of_a_folded_model(capsys):
    assert main(["graph", str(LOOPS / "bptt.sbp"), "--backward"]) == 2
    assert "--unroll T=3" in capsys.readouterr().err


# --- names from a model file --------------------------------------------------------------

@pytest.mark.parametrize("text, safe", [
    ("\\mathbf{W}_{\\mathrm{in}}", True), ("\\tilde{x}'", True), ("\\hat{y}_t", True),
    ("\\boldsymbol{\\theta}^{(k)}", True), ("x_{\\{a\\}}", True),
    ("\\input{/etc/passwd}", False), ("\\include{x}", False), ("\\openin5=x", False),
    ("\\immediate\\write18{touch pwned}", False), ("^^5cinput{x}", False),
    ("\\def\\x{y}", False), ("\\catcode`\\^=7", False), ("x}\\end{tikzpicture}", False),
    ("{x", False), ("50%", False), ("a#1", False), ("$x$", False),
])
def test_only_harmless_latex_names_are_drawn(text, safe):
    assert safe_latex(text) is safe


HOSTILE = """\
dim d, T
input x[t]: vector(d) for t in 1..T as "\\input{secret}"
param w: vector(d) as "^^5cinput{secret}"
param __import__: vector(d) as "\\mathbf{w}_{\\mathrm{in}}"
const write18: scalar
func phi as "\\immediate\\write18{touch pwned}"
h[0] = w + __import__
for t in 1..T:
    h[t] = phi(h[t-1]) + write18 * x[t] as "\\openin5=secret"
L = sum(h[T])
objective L
"""


def test_a_hostile_latex_name_is_refused_where_it_is_written():
    with pytest.raises(sbp.ModelError) as caught:
        sbp.parse(HOSTILE, "hostile.sbp")
    errors = caught.value.errors
    assert [(e.line, e.col) for e in errors] == [(2, 40), (3, 23), (6, 13), (9, 44)]
    assert all("which LaTeX documents may not take from a model" in e.message for e in errors)
    assert ["\\input", "^^", "\\immediate", "\\openin"] == [
        e.message.split(" uses ")[1].split(",")[0] for e in errors]


def test_harmless_names_are_drawn_and_nothing_is_read(tmp_path):
    (tmp_path / "secret.tex").write_text("\\typeout{SECRET-WAS-READ}\n", encoding="utf-8")
    harmless = re.sub(r' as "[^"]*(input|write18|openin)[^"]*"', "", HOSTILE)
    d = sbp.derive(sbp.parse(harmless))
    tikz = loop_figure(d, "tikz", standalone=True)
    assert "\\mathbf{w}_{\\mathrm{in}}" in tikz  # a harmless name is kept
    assert "{$\\boldsymbol{x}_{t}$}" in tikz and "{$\\boldsymbol{w}$}" in tikz
    log = compiles(tmp_path, "hostile", tikz)
    assert "SECRET-WAS-READ" not in log
    assert not (tmp_path / "pwned").exists()
    dot = loop_figure(d, "dot")
    assert node_labels(dot)["__import__"] == "__import__"
    assert node_labels(dot)["write18"] == "write18"
