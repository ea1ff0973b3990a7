"""The web page of a model with loops (``derive examples/loops/bptt.sbp --format html``).

As for a model without loops (tests/test_page.py): each formula is the LaTeX printer's string
(here the loop printer's) as MathML of exactly that string, read back, at every index of a
length, under the loop heading the page shows it under; the page has its own script and style
only, and text from a model file is text.  In headless Chromium, with the network cut off,
clicking each node of the folded graph lights the equations about the value it computes (and
nothing else), the edges it reads, the arrow from the previous member among them, and the
screenshot is not blank.
"""

import html
import re
from pathlib import Path

import pytest
from browser import inked
from test_hostile import HOSTILE_NAMES
from test_page import _FORMULA, _LIT, _clicks, _document_strings, _only_own_script, _opened

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.derivation.folded import folded_graph
from symbackprop.printing.loops import LoopLatexPrinter, loop_document, loop_hvp_document
from symbackprop.printing.markup import presentation
from symbackprop.printing.names import Notation
from symbackprop.proofs.readback import page_equations, printed_equations

ROOT = Path(__file__).resolve().parent.parent
LOOPS = sorted(p.name for p in (ROOT / "examples" / "loops").glob("*.sbp"))
BPTT = (ROOT / "examples" / "loops" / "bptt.sbp").read_text(encoding="utf-8")


def _derived(name):
    d = sbp.derive(sbp.load(ROOT / "examples" / "loops" / name))
    return d, sbp.derive_hvp(d)


def _documents(d, hvp, lang="en"):
    notation = Notation(lang=lang)
    return loop_document(d, True, notation), loop_hvp_document(hvp, True, notation)


# --- the formulas -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", LOOPS)
def test_the_page_carries_the_loop_printers_formulas_as_mathml_of_them(name):
    d, hvp = _derived(name)
    page = d.html()
    formulas = _FORMULA.findall(page)
    said = set().union(*map(_document_strings, _documents(d, hvp)))
    assert len(formulas) > len(d.forward)
    for shown, tex in formulas:
        tex = html.unescape(tex)
        assert tex in said  # the string the LaTeX document prints
        assert shown == presentation(tex) and "merror" not in shown
    # each loop's equations follow its heading, as in the LaTeX document
    for heading in re.findall(r"\\par\\noindent (For \$.*?\$:)", d.latex()):
        shown = heading.replace("$", "")
        assert any(html.unescape(re.sub(r"<math.*?<annotation[^>]*>(.*?)</annotation>.*?"
                                        r"</math>", r"\1", h, flags=re.S)) == shown
                   for h in re.findall(r"<h3>(.*?)</h3>", page, re.S))


@pytest.mark.parametrize("name", LOOPS)
def test_the_pages_formulas_read_back_at_every_index(name):
    d, hvp = _derived(name)
    for subject, part in ((d, "backprop"), (hvp, "hvp")):
        report = subject.prove_printed(formats=("HTML", "LaTeX"))
        assert report.ok, str(report)
        assert report.counts["HTML"] == report.counts["LaTeX"] > 0
        # each formula is read under the ranges the LaTeX document gives it
        on_page = [(e.lhs, e.sides, e.ranges) for e in page_equations(subject.html(), part)]
        printed = [(e.lhs, e.sides, e.ranges) for e in printed_equations(subject.latex(), True)]
        assert [e for e in on_page if e[0] in {p[0] for p in printed}] and \
            {(lhs, ranges) for lhs, _, ranges in on_page} == \
            {(lhs, ranges) for lhs, _, ranges in printed}


def test_the_chinese_page_reads_back_and_says_the_books_words():
    d, hvp = _derived("rnn_tanh_steps.sbp")
    page = d.html(lang="zh")
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh">')
    assert "<title>反向传播：rnn_tanh_steps.sbp</title>" in page
    assert "<h3>对 <math" in page and "<h2>二阶导数</h2>" in page and ">计算图</button>" in page
    assert not re.search(r">(For|Forward|Backward|Gradients)\b", page)
    for subject in (d, hvp):
        report = subject.prove_printed(formats=("HTML",), notation=Notation(lang="zh"))
        assert report.ok and report.counts == subject.prove_printed(formats=("HTML",)).counts


def test_the_readback_of_a_loop_page_catches_a_wrong_index():
    d, _ = _derived("bptt.sbp")
    page = d.html(second_order=False)
    right = "{\\boldsymbol{W}_{\\mathrm{hh}}}^\\top \\frac{\\partial L}{\\partial " \
        "\\boldsymbol{h}_{t+1}}"
    assert right in html.unescape(page)
    wrong = html.escape(right.replace("t+1", "t"), quote=True)
    bad = page.replace(html.escape(right, quote=True), wrong, 1)
    report = d.prove_printed(formats=("HTML",), documents={"HTML": (bad, True)})
    assert not report.ok and "h}_{t}" in report.failures[0][1]


# --- safety -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_file_name_is_text_on_the_loop_page(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(BPTT, encoding="utf-8")
    assert main(["derive", name, "--format", "html", "-o", "page.html"]) == 0
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    _only_own_script(page)
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "<" not in title and ">" not in title


@pytest.mark.parametrize("shown", ["\\langle x \\rangle", "\\text{x}", "\\mathrm{a\\,b}"])
def test_a_display_name_in_a_model_with_loops_is_a_formula_on_the_page(shown):
    text = BPTT.replace("vector(d) for t in 1..T", f'vector(d) for t in 1..T as "{shown}"')
    text = text.replace("matrix(h, h)", f'matrix(h, h) as "{shown}"')
    assert text.count(shown) == 2
    page = sbp.derive(sbp.parse(text, "loops.sbp")).html()
    _only_own_script(page)
    assert html.escape(shown, quote=True) in page  # as its annotation: text


# --- the command line ---------------------------------------------------------------------------

def test_the_command_line_writes_the_loop_page(tmp_path, capsys):
    model = str(ROOT / "examples" / "loops" / "bptt.sbp")
    assert main(["derive", model, "--format", "html", "-o", str(tmp_path / "d.html")]) == 0
    assert main(["hvp", model, "-o", str(tmp_path / "h.html")]) == 0  # the format from .html
    assert main(["hvp", model, "--lang", "zh", "--format", "html",
                 "-o", str(tmp_path / "zh.html")]) == 0
    first, second = ((tmp_path / f).read_text(encoding="utf-8") for f in ("d.html", "h.html"))
    assert first == second and 'data-document="hvp"' in first and "<svg" in first
    assert '<html lang="zh">' in (tmp_path / "zh.html").read_text(encoding="utf-8")
    plain = str(ROOT / "examples" / "textbook_mlp.sbp")
    assert main(["hvp", plain, "--format", "html"]) == 0
    assert 'data-show="second-order"' in capsys.readouterr().out
    assert main(["hvp", plain, "--lang", "zh"]) == 0
    assert "\n反向切向量（按逆拓扑顺序）\n" in capsys.readouterr().out
    assert main(["hvp", plain, "--lang", "zh", "--format", "py"]) == 2
    assert "--lang goes with" in capsys.readouterr().err


# --- in a browser ------------------------------------------------------------------------------

def _owner(g, node):
    while g.nodes[node]["kind"] == "operator":
        node = next(iter(g.successors(node)))
    data = g.nodes[node]
    return data.get("family", node)


def _rows_about(documents, name):
    """The left-hand sides of the equations about `name`, by what the documents say."""
    return sorted(e.lhs for document in documents for section in document.sections
                  for e in section.equations if name in e.keys)


@pytest.mark.parametrize("name", LOOPS)
def test_clicking_a_node_of_the_folded_graph_lights_its_equations(browser, tmp_path, name):
    d, hvp = _derived(name)
    documents = _documents(d, hvp)
    path = tmp_path / f"{Path(name).stem}.html"
    path.write_text(d.html(), encoding="utf-8")
    g = folded_graph(d.model)
    printer = LoopLatexPrinter(d.display_names(True), Notation(), d.model.objective)
    forward = {}
    for target, _, _ in d.forward:
        name = getattr(target, "family", None) or str(target)
        forward.setdefault(name, set()).add(printer.doprint(target))
    context, page, fetched, problems = _opened(browser, path)
    try:
        assert page.locator('figure[data-graph="forward"]').is_visible()
        lit = _clicks(page, "forward", list(g)[::-1])
        for node in g:
            rows, edges = lit[node]
            owner = _owner(g, node)
            assert rows == _rows_about(documents, owner), node
            # its forward equations (at the index its loop runs over) are among them
            assert forward.get(owner, set()) <= set(rows), node
            assert {f"{u}->{v}" for u, v in g.in_edges(node)} <= edges, node
            recurrences = {f"{u}->{v}" for u, v, k in g.edges(data="kind")
                           if k == "recurrence" and _owner(g, v) == node}
            assert recurrences <= edges, node  # the arrow from the previous member
        family = next(n for n in g if g.nodes[n]["kind"] == "family" and lit[n][0])
        page.locator(f'figure[data-graph="forward"] g.node:has(> title:text-is("{family}"))') \
            .click()
        assert sorted(page.evaluate(_LIT)) == lit[family][0]
        clicked = page.screenshot()
        (tmp_path / "clicked.png").write_bytes(clicked)
        assert inked(browser, clicked) > 0.02, "the screenshot is blank"
        assert fetched == [] and problems == []
    finally:
        context.close()
