"""The web page (``derive --format html``): its formulas, its safety, and how it behaves.

The formulas: each carries the LaTeX printer's string as its TeX annotation and is
latex2mathml's MathML of exactly that string, and the annotations are read back
(proofs/readback.py) like every other format.  The safety: one script, the page's own,
allowed by its hash in a Content-Security-Policy that allows nothing else, and nothing
from a model that becomes markup.  The behaviour: in headless Chromium, opened from
disk with the network cut off, each node clicked lights its equations and the edges it
reads, each graph shows when its button is pressed, and the screenshots are not blank.
"""

import base64
import hashlib
import html
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import networkx as nx
import pytest
from browser import inked
from latex2mathml.symbols_parser import convert_symbol
from test_hostile import HOSTILE_NAMES, MODEL, _raw_controls

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.errors import visible
from symbackprop.derivation.program import needed_steps
from symbackprop.printing import documents
from symbackprop.printing.documents import wanted_gradients
from symbackprop.printing.figures import backward_graph
from symbackprop.printing.markup import UnsafeMarkup, clean, mathml, presentation
from symbackprop.printing.names import Notation, adjoint_name
from symbackprop.printing.page import SCRIPT, STYLE
from symbackprop.proofs.readback import page_equations, prove_printed

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.sbp"))
_FORMULA = re.compile(r"<semantics>(.*?)<annotation encoding=\"application/x-tex\">(.*?)"
                      r"</annotation>", re.S)


def _derived(name):
    d = sbp.derive(sbp.load(ROOT / "examples" / name))
    return d, sbp.derive_hvp(d)


def _document_strings(document):
    """Every formula a document says: equations' parts, and the $...$ of its prose."""
    out = set()
    for section in document.sections:
        for text in (section.heading, *section.notes):
            out.update(text.split("$")[1::2])
        for e in section.equations:
            out.update(filter(None, [e.lhs, e.result, e.substituted, e.shape.strip(),
                                     " + ".join(e.chain)]))
    return out


# --- the formulas -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLES)
def test_the_page_carries_the_latex_printers_formulas_as_mathml_of_them(name):
    d, hvp = _derived(name)
    page = d.html()
    formulas = _FORMULA.findall(page)
    assert len(formulas) > len(d.forward)
    said = set()
    for document in (documents.backprop_document(documents.Writer(d, True, Notation())),
                     documents.hvp_document(documents.Writer(d, True, Notation(), hvp))):
        said |= _document_strings(document)
    for shown, tex in formulas:
        tex = html.unescape(tex)
        assert tex in said  # the LaTeX printer's string, as the LaTeX document prints it
        assert shown == presentation(tex)  # and what the reader sees is its MathML
        assert "merror" not in shown


# What a reader sees of a formula, from its LaTeX and from its MathML, written alike: the
# glyphs in order, each script, fraction and root with the glyphs inside it.  Equal, the
# MathML shows every symbol of the LaTeX, in its place, and nothing else.
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\S")
_WRAPPERS = {"\\boldsymbol", "\\mathbf", "\\mathrm", "\\operatorname", "\\mathcal",
             "\\mathbb", "\\mathsf", "\\text", "\\boxed"}
_SPACES = {"\\,", "\\;", "\\!", "\\quad", "\\qquad", "\\left", "\\right", "\\displaystyle",
           "\\\\"}  # a row break of a block matrix shows nothing of its own
#: A block matrix's brackets, as MathML shows them around its table.
_ENVIRONMENTS = {"\\begin": "[", "\\end": "]"}
#: Accents over their argument: MathML's mover shows the argument, then the mark.
_ACCENT_MARKS = {"\\hat": "^", "\\widehat": "^", "\\tilde": "~", "\\widetilde": "~",
                 "\\bar": "¯"}


def _glyph(token):
    if token.startswith("\\") and token[1:].isalpha():
        code = convert_symbol(token)
        return token[1:] if code is None else chr(int(code, 16))  # \tanh prints its name
    return {"\\|": "‖", "-": "−"}.get(token, token.lstrip("\\"))


def _latex_seen(tokens, i=0):
    """The skeleton of tokens[i:] up to the closing brace of its group; and where it ends."""
    out = []
    while i < len(tokens) and tokens[i] != "}":
        t = tokens[i]
        if t in _SPACES or t in _WRAPPERS or t == "&":
            i += 1
            if t == "\\\\" and tokens[i:i + 1] == ["["]:  # \\[1.5ex]: a row break's space
                i = tokens.index("]", i) + 1
            if t in ("\\left", "\\right") and tokens[i] == ".":
                i += 1  # the empty delimiter
        elif t in ("^", "_", "\\sqrt"):
            inner, i = _argument(tokens, i + 1)
            out.append(("√" if t == "\\sqrt" else t) + f"({inner})")
        elif t in _ENVIRONMENTS and tokens[i + 1] == "{":  # \begin{bmatrix}: [
            i = tokens.index("}", i) + 1
            out.append(_ENVIRONMENTS[t])
        elif t in _ACCENT_MARKS:  # \hat{X}: X, then its hat
            inner, i = _argument(tokens, i + 1)
            out.append(inner + _ACCENT_MARKS[t])
        elif t == "\\frac":
            top, i = _argument(tokens, i + 1)
            bottom, i = _argument(tokens, i)
            out.append(f"frac({top})({bottom})")
        elif t == "{":
            inner, i = _latex_seen(tokens, i + 1)
            out.append(inner)
            i += 1
        elif t == "'":  # primes are a superscript
            primes = next((k for k, u in enumerate(tokens[i:]) if u != "'"), len(tokens) - i)
            out.append(f"^({'′' * primes})")
            i += primes
        else:
            out.append(_glyph(t))
            i += 1
    return "".join(out), i


def _argument(tokens, i):
    if tokens[i] == "{":
        inner, end = _latex_seen(tokens, i + 1)
        return inner, end + 1
    if tokens[i] in _WRAPPERS:
        return _argument(tokens, i + 1)
    return _glyph(tokens[i]), i + 1


def _mathml_seen(node):
    tag, parts = node.tag, [_mathml_seen(child) for child in node]
    if tag in ("mi", "mo", "mn", "mtext"):
        return (node.text or "").replace(" ", "")
    if tag == "msup":
        return f"{parts[0]}^({parts[1]})"
    if tag == "msub":
        return f"{parts[0]}_({parts[1]})"
    if tag == "msubsup":
        return f"{parts[0]}_({parts[1]})^({parts[2]})"
    if tag == "mfrac":
        return f"frac({parts[0]})({parts[1]})"
    if tag == "msqrt":
        return f"√({''.join(parts)})"
    return "".join(parts)


def _seen(text):
    return unicodedata.normalize("NFKC", text)


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_mathml_shows_each_symbol_of_the_latex_in_its_place(name):
    d, hvp = _derived(name)
    for shown, tex in _FORMULA.findall(d.html()):
        tex = html.unescape(tex)
        seen, end = _latex_seen(_TOKEN.findall(tex))
        assert end == len(_TOKEN.findall(tex)), tex
        tree = ElementTree.fromstring(shown)
        assert _seen(_mathml_seen(tree)) == _seen(seen), tex


@pytest.mark.parametrize("tex, other", [
    ("{\\boldsymbol{W}^{(2)}}^\\top", "\\boldsymbol{W}^{(2)\\top}"), ("x^{2} y", "x^{2 y}"),
    ("\\frac{a}{b c}", "\\frac{a}{b} c"), ("a - b", "a + b"), ("\\phi'(z)", "\\phi(z)")])
def test_what_a_reader_sees_tells_formulas_apart(tex, other):
    seen = _seen(_mathml_seen(ElementTree.fromstring(presentation(tex))))
    assert seen == _seen(_latex_seen(_TOKEN.findall(tex))[0])
    assert seen != _seen(_latex_seen(_TOKEN.findall(other))[0])


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_pages_formulas_read_back(name):
    d, hvp = _derived(name)
    for subject in (d, hvp):
        report = prove_printed(subject, formats=("HTML",))
        assert report.ok, str(report)
        assert report.counts["HTML"] > 0
    first = page_equations(d.html(), "backprop")
    assert [e.lhs for e in first[:len(d.forward)]] == [
        d.display_names(True)[("var", n)] for n in d.forward]


def test_the_readback_of_a_page_catches_a_wrong_formula():
    d = sbp.derive(sbp.load(ROOT / "examples" / "textbook_mlp.sbp"))
    page = d.html(second_order=False)
    right = "\\boldsymbol{x}^\\top + \\lambda"
    assert right in html.unescape(page)
    wrong = html.escape(right.replace("^\\top", ""), quote=True)
    bad = page.replace(html.escape(right, quote=True), wrong, 1)
    report = prove_printed(d, formats=("HTML",), documents={"HTML": (bad, True)})
    assert not report.ok and "x}" in report.failures[0][1]


def test_notation_reaches_the_page():
    d = sbp.derive(sbp.load(ROOT / "examples" / "textbook_mlp.sbp"))
    page = html.unescape(d.html(bold="mathbf", transpose="T", nabla=True))
    assert "\\nabla_{\\mathbf{W}^{(1)}} J" in page and "\\mathbf{x}^{T}" in page
    report = prove_printed(d, formats=("HTML",), notation=Notation(bold="mathbf", nabla=True))
    assert report.ok, str(report)


# --- safety -----------------------------------------------------------------------------------

def _hash(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _only_own_script(page):
    assert len(re.findall(r"<script", page, re.I)) == 1
    assert page.count(f"<script>{SCRIPT}</script>") == 1
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert policy.group(1).startswith("default-src 'none'; ")
    assert f"script-src {_hash(SCRIPT)};" in policy.group(1)
    assert f"style-src {_hash(STYLE)};" in policy.group(1)
    assert not re.search(r"\son[a-z]+\s*=|javascript:|href|src=", page.replace(SCRIPT, ""), re.I)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_file_name_is_text_on_the_page(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(MODEL, encoding="utf-8")
    assert main(["derive", name, "--format", "html", "-o", "page.html"]) == 0
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    _only_own_script(page)
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    base = name.replace("\\", "/").split("/")[-1]
    assert html.unescape(title).endswith(visible(base.replace("\n", "\\n")))
    assert "<" not in title and ">" not in title and not _raw_controls(title)


@pytest.mark.parametrize("shown", ["\\langle x \\rangle", "\\text{x}", "\\mathrm{a\\,b}"])
def test_a_display_name_is_a_formula_on_the_page(shown):
    text = MODEL.replace("vector(n)\nparam", f'vector(n) as "{shown}"\nparam')
    page = sbp.derive(sbp.parse(text, "shown.sbp")).html()
    _only_own_script(page)
    assert html.escape(shown, quote=True) in page  # as its annotation: text


@pytest.mark.parametrize("markup", [
    "<mrow><script>alert(1)</script></mrow>", '<mrow onclick="alert(1)"/>',
    '<mrow><mi href="javascript:alert(1)">x</mi></mrow>', "<mrow><foreignObject/></mrow>",
    '<mrow xmlns:x="http://www.w3.org/1999/xlink"><mi x:href="y">x</mi></mrow>'])
def test_markup_off_the_list_is_refused(markup):
    with pytest.raises(UnsafeMarkup):
        clean(ElementTree.fromstring(markup), "math")
    with pytest.raises(UnsafeMarkup):
        clean(ElementTree.fromstring(markup.replace("mrow", "g")), "svg")


@pytest.mark.parametrize("tex", ["\\text{</math><script>alert(1)</script>}",
                                 "\\text{<script>alert(1)</script>}", "\\text{<b>x</b>}"])
def test_markup_in_a_formula_is_refused_never_passed_on(tex):
    # latex2mathml copies text into its output as it is: what would be markup is refused
    with pytest.raises(UnsafeMarkup):
        mathml(tex)


def test_text_in_a_formula_is_written_escaped():
    assert "<mo>&gt;</mo>" in mathml("\\mathbb{I}\\left[x > 0\\right]")


# --- in a browser ------------------------------------------------------------------------------

def _opened(browser, path):
    """A page of the file at `path`, every request but for the file refused and recorded."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    fetched, problems = [], []

    def route(r):
        if r.request.url == path.as_uri():
            r.continue_()
        else:
            fetched.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri())
    return context, page, fetched, problems


_LIT = """() => Array.from(document.querySelectorAll(".eq.lit")).map(
  row => row.querySelector("math.lhs annotation").textContent)"""
_LIT_EDGES = """(which) => Array.from(document.querySelectorAll(
  'figure[data-graph="' + which + '"] g.edge.lit > title')).map(t => t.textContent)"""


_CLICK_ALL = """([which, titles]) => titles.map(title => {
  const node = Array.from(document.querySelectorAll(
    'figure[data-graph="' + which + '"] g.node')).find(n => n.querySelector("title")
    .textContent === title);
  node.dispatchEvent(new MouseEvent("click", {bubbles: true}));
  return [Array.from(document.querySelectorAll(".eq.lit")).map(
            row => row.querySelector("math.lhs annotation").textContent).sort(),
          Array.from(document.querySelectorAll('figure[data-graph="' + which + '"] g.edge.lit'
            + ' > title')).map(t => t.textContent)];
})"""


def _clicks(page, which, nodes, real=3):
    """What lights when each of `nodes` is clicked: {node: (sorted rows' lhs, edges)}.

    The first `real` nodes are clicked with the mouse; the others by a click event each,
    in one call (a mouse click a node would take minutes for the large models)."""
    out = {}
    for node in nodes[:real]:
        selector = f'figure[data-graph="{which}"] g.node:has(> title:text-is("{node}"))'
        page.locator(selector).click()
        out[node] = (sorted(page.evaluate(_LIT)), set(page.evaluate(_LIT_EDGES, which)))
    lit = page.evaluate(_CLICK_ALL, [which, list(nodes[real:])])
    out.update({node: (rows, set(edges)) for node, (rows, edges) in zip(nodes[real:], lit)})
    return out


def _shown(d):
    """The backward steps the page shows: those on the way to the params' gradients."""
    roles = {n: v.role for n, v in d.model.variables.items()}
    return needed_steps(d, wanted_gradients(roles, d.order, Notation()))


def _expected_rows(d, node, names, j):
    """The left-hand sides of the rows about a variable: forward, backward step, gradient,
    and a scalar's own gradients (∂s/∂W1 of the regularizer s)."""
    rows = [names[("var", node)]] if node in d.forward else []
    adjoint = adjoint_name(j, names[("var", node)], True, Notation())
    shown = _shown(d)
    rows += [adjoint] * (any(s.node == node and s.terms for s in shown) + (node in d.params))
    for step in shown:
        for term in step.terms if len(step.terms) > 1 else ():
            if term.consumer == node and term.local is not None:
                rows.append(adjoint_name(names[("var", node)], names[("var", step.node)], True,
                                         Notation()))
    return sorted(rows)


def _forward_clicks(d, page):
    names = d.display_names(True)
    j = names[("var", d.model.objective)]
    g = d.graph
    variables = [n for n, k in g.nodes(data="kind") if k == "variable"]
    operators = {node: next(u for u, _ in g.in_edges(node)) for node in variables
                 if g.in_degree(node)}
    lit = _clicks(page, "forward", variables[::-1] + list(operators.values()))
    for node in variables:
        rows, edges = lit[node]
        assert rows == _expected_rows(d, node, names, j), node
        into = {f"{u}->{v}" for u, v in g.in_edges(node)}
        assert into <= edges, node  # what it reads, through the operators that compute it
        assert all(g.nodes[e.split("->")[1]]["kind"] == "operator" or e in into for e in edges)
        if node in operators:  # an operator lights the equation of what it computes
            assert lit[operators[node]][0] == rows, node


def _backward_clicks(d, page):
    names = d.display_names(True)
    g = backward_graph(d)
    steps = [s for s in d.steps if s.adjoint.name in g]
    shown = {s.node for s in _shown(d)}
    lit = _clicks(page, "backward", [s.adjoint.name for s in steps])
    for step in steps:
        rows, edges = lit[step.adjoint.name]
        assert rows == [names[step.adjoint]] * (bool(step.terms and step.node in shown)
                                                + (step.node in d.params))
        assert edges == {f"{u}->{v}" for u, v in g.in_edges(step.adjoint.name)}


def _second_order_clicks(hvp, page):
    names = hvp.display_names(True)
    steps = (*hvp.forward, *hvp.backward)
    lit = _clicks(page, "second-order", [s.symbol.name for s in steps])
    for step in steps:
        rows, _ = lit[step.symbol.name]
        assert rows and set(rows) == {names[step.symbol]}, step.symbol.name


@pytest.mark.parametrize("name", EXAMPLES)
def test_clicking_a_node_lights_its_equations_and_what_it_reads(browser, tmp_path, name):
    d, hvp = _derived(name)
    path = tmp_path / f"{Path(name).stem}.html"
    path.write_text(d.html(), encoding="utf-8")
    context, page, fetched, problems = _opened(browser, path)
    try:
        assert page.locator('figure[data-graph="forward"]').is_visible()
        _forward_clicks(d, page)
        shots = [page.screenshot()]
        for which in ("backward", "second-order"):
            page.locator(f'button[data-show="{which}"]').click()
            assert page.locator(f'figure[data-graph="{which}"]').is_visible()
            assert page.locator('figure[data-graph="forward"]').is_hidden()
            assert page.evaluate(_LIT) == []  # a graph shown afresh lights nothing
            (_backward_clicks(d, page) if which == "backward" else
             _second_order_clicks(hvp, page))
            shots.append(page.screenshot())
        for k, shot in enumerate(shots):
            (tmp_path / f"{k}.png").write_bytes(shot)
            assert inked(browser, shot) > 0.02, f"screenshot {k} is blank"
        assert page.evaluate("document.querySelectorAll('math').length") > 0
        assert fetched == [] and problems == []
    finally:
        context.close()


def test_a_node_is_reached_from_the_keyboard(browser, tmp_path):
    d = sbp.derive(sbp.load(ROOT / "examples" / "textbook_mlp.sbp"))
    path = tmp_path / "mlp.html"
    path.write_text(d.html(), encoding="utf-8")
    context, page, _, _ = _opened(browser, path)
    try:
        page.locator('figure[data-graph="forward"] g.node:has(> title:text-is("h"))').focus()
        page.keyboard.press("Enter")
        assert sorted(page.evaluate(_LIT)) == ["\\boldsymbol{h}",
                                               "\\frac{\\partial J}{\\partial \\boldsymbol{h}}"]
    finally:
        context.close()


def test_the_policy_stops_a_script_the_page_did_not_write(browser, tmp_path):
    page_text = sbp.derive(sbp.parse(MODEL, "m.sbp")).html()
    injected = page_text.replace("</main>", "<script>document.title = 'ran'</script></main>")
    path = tmp_path / "injected.html"
    path.write_text(injected, encoding="utf-8")
    context, page, _, problems = _opened(browser, path)
    try:
        assert page.title() != "ran"
        assert any("Content Security Policy" in p for p in problems)
    finally:
        context.close()


def test_the_forward_graph_is_the_derivations_graph():
    d = sbp.derive(sbp.load(ROOT / "examples" / "textbook_mlp.sbp"))
    titles = re.findall(r'<figure data-graph="forward".*?</figure>', d.html(), re.S)[0]
    shown = set(re.findall(r'class="node"[^>]*><title>([^<]*)</title>', titles))
    assert shown == {html.escape(n) for n in d.graph} and nx.is_directed_acyclic_graph(d.graph)
