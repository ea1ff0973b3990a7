"""Notes in Chinese (``--lang zh``, ``Notation(lang="zh")``): the book's words, the same formulas.

The Chinese edition of *Dive into Deep Learning* (§3.14) heads its derivation 正向传播,
反向传播 and 参数的梯度; a document in Chinese says the same, and its formulas are the
English document's, character for character, and read back as they do.  The standalone
LaTeX compiles with XeLaTeX and ctex; the web page is in Chinese too.
"""

import re
from pathlib import Path

import pytest
from test_page import EXAMPLES, _opened
from typeset import compiles_xelatex

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.printing import documents
from symbackprop.printing.names import Notation
from symbackprop.proofs.readback import page_equations, printed_equations, prove_printed

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("text", "LaTeX", "Markdown", "HTML")


def _derived(name):
    d = sbp.derive(sbp.load(ROOT / "examples" / name))
    return d, sbp.derive_hvp(d)


def _equations(subject, fmt, lang):
    """The equations of a document of `subject` in `lang`, as (lhs, sides) pairs."""
    hvp = hasattr(subject, "derivation")
    if fmt == "HTML":
        page = (subject.html(lang=lang) if hvp else subject.html(second_order=False, lang=lang))
        found = page_equations(page, "hvp" if hvp else "backprop")
    else:
        writer = {"text": subject.text, "LaTeX": subject.latex, "Markdown": subject.markdown}
        found = printed_equations(writer[fmt](lang=lang), fmt != "text")
    return [(e.lhs, e.sides) for e in found]


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_chinese_document_has_the_english_formulas_and_they_read_back(name):
    for subject in _derived(name):
        for fmt in FORMATS:
            chinese = _equations(subject, fmt, "zh")
            assert chinese and chinese == _equations(subject, fmt, "en"), fmt
        report = prove_printed(subject, formats=FORMATS, notation=Notation(lang="zh"))
        assert report.ok, str(report)
        english = prove_printed(subject, formats=("text",)).counts["text"]
        assert report.counts["text"] == english  # every section was found by its heading


def test_the_headings_are_the_textbooks():
    d, hvp = _derived("textbook_mlp.sbp")
    text = d.text(lang="zh")
    assert text.splitlines()[0] == "正向传播"
    assert "\n反向传播（按逆拓扑顺序，从 ∂J/∂J = 1 开始）\n" in text
    assert "\n参数的梯度\n" in text
    tex = d.latex(lang="zh")
    assert "\\textbf{反向传播（按逆拓扑顺序，从 $\\frac{\\partial J}{\\partial J} = 1$ 开始）。}" \
        in tex
    assert tex.splitlines()[0].startswith("% J 的反向传播，由 symbackprop 从 ")
    assert d.markdown(lang="zh").startswith("**正向传播。**")
    second = hvp.text(lang="zh")
    for heading in ("方向", "正向切向量（按正向顺序）", "反向切向量（按逆拓扑顺序）",
                    "Hessian 向量积"):
        assert f"\n{heading}\n" in second
    assert "W1 的 H v: R{∂J/∂W1} = " in second
    page = d.html(lang="zh")
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh">')
    assert "<title>反向传播：textbook_mlp.sbp</title>" in page
    assert ">反向传播的计算图</button>" in page and "<h2>二阶导数</h2>" in page
    assert not re.search(r"\b(Forward|Backward|Gradients|Directions)\b", text + second)


#: English words that the notes and domains of a document would carry (the formulas'
#: function names, erf, exp, max, are not among them).
_ENGLISH = re.compile(r"\b(the|is|of|at|each|entries|entry|window|tie|one-hot|symmetric|"
                      r"positive|definite|density|adjoint|kernel|block|indicator)\b")


@pytest.mark.parametrize("name", ["mlp_gelu.sbp", "hinge_max.sbp", "conv2d_pool.sbp",
                                  "gaussian_nll.sbp", "softmax_regression.sbp",
                                  "conv1d_layer.sbp"])
def test_the_notes_and_domains_are_in_chinese(name):
    d = sbp.derive(sbp.load(ROOT / "examples" / name))
    for fmt in ("text", "latex", "markdown"):
        chinese, english = (getattr(d, fmt)(lang=lang) for lang in ("zh", "en"))
        said = [line for line in chinese.splitlines() if line not in english.splitlines()]
        notes = [line for line in said if re.search("[.。]$", line.strip())]
        assert notes, fmt  # each of these models has a note or a domain
        for line in said:  # the words, the headings included: no English is left
            prose = re.sub(r"\$[^$]*\$|\\[a-zA-Z]+|torch\.\w+|max_pool2d|max\\_pool2d", "",
                           line)
            assert not _ENGLISH.search(prose), (fmt, line)


def test_an_english_document_is_as_it_was():
    d, _ = _derived("textbook_mlp.sbp")
    assert d.text() == d.text(lang="en") and d.text().startswith("Forward\n")


def test_the_chinese_standalone_compiles_with_xelatex_and_ctex(tmp_path):
    d, hvp = _derived("textbook_mlp.sbp")
    source = d.latex(standalone=True, lang="zh")
    assert "\\usepackage{ctex}" in source and "\\section*{反向传播：\\texttt{" in source
    compiles_xelatex(tmp_path, "mlp", source)
    compiles_xelatex(tmp_path, "hvp", hvp.latex(standalone=True, lang="zh"))


def test_what_backward_keeps_in_chinese(tmp_path, capsys):
    d, _ = _derived("self_attention.sbp")
    source = d.latex(standalone=True, lang="zh", memory=True, dims={"n": 8, "d": 6, "k": 4})
    assert "\\textbf{反向传播保留的中间变量。} 反向传播要读取正向传播的值" in source
    assert "\\text{训练} &= \\underbrace{" in source and "字节（float64）" in source
    assert "What backward keeps" not in source and "caller" not in source
    compiles_xelatex(tmp_path, "memory", source)
    markdown = d.markdown(lang="zh", memory=True)
    assert "**反向传播保留的中间变量。**" in markdown and "| 值 | 元素数 |" in markdown
    english = d.markdown(memory=True)
    assert "**What backward keeps.** Backward reads forward values" in english
    model = str(ROOT / "examples" / "textbook_mlp.sbp")
    assert main(["derive", model, "--lang", "zh", "--memory"]) == 2
    assert "not yet in text" in capsys.readouterr().err


def test_every_example_in_chinese_compiles_together(tmp_path):
    body = []
    for name in EXAMPLES:
        d, hvp = _derived(name)
        body += [f"\\section*{{\\texttt{{{name.replace('_', chr(92) + '_')}}}}}",
                 d.latex(lang="zh"), hvp.latex(lang="zh")]
    source = ("\\documentclass{article}\n" + documents.STANDALONE_PREAMBLE +
              documents.CHINESE_PREAMBLE + "\\allowdisplaybreaks\n\\begin{document}\n" +
              "\n".join(body) + "\\end{document}\n")
    compiles_xelatex(tmp_path, "together", source)


def test_the_command_line_writes_chinese(tmp_path, capsys):
    model = ROOT / "examples" / "textbook_mlp.sbp"
    assert main(["derive", str(model), "--lang", "zh"]) == 0
    assert capsys.readouterr().out.startswith("正向传播\n")
    assert main(["derive", str(model), "--lang", "zh", "--format", "html",
                 "-o", str(tmp_path / "p.html")]) == 0
    assert '<html lang="zh">' in (tmp_path / "p.html").read_text(encoding="utf-8")
    loops = str(ROOT / "examples" / "loops" / "bptt.sbp")
    assert main(["derive", loops, "--lang", "zh"]) == 0
    assert capsys.readouterr().out.startswith("正向传播\n")
    assert main(["derive", loops, "--lang", "zh", "--memory"]) == 2  # its report is English
    assert "--memory" in capsys.readouterr().err


def test_a_language_off_the_list_is_refused():
    with pytest.raises(ValueError, match="lang must be one of en, zh"):
        Notation(lang="fr")
    loops = sbp.derive(sbp.load(ROOT / "examples" / "loops" / "bptt.sbp"))
    with pytest.raises(ValueError, match="lang must be one of en, zh"):
        loops.text(lang="fr")


def test_the_chinese_page_in_a_browser(browser, tmp_path):
    d, _ = _derived("textbook_mlp.sbp")
    path = tmp_path / "zh.html"
    path.write_text(d.html(lang="zh"), encoding="utf-8")
    context, page, fetched, problems = _opened(browser, path)
    try:
        page.locator('figure[data-graph="forward"] g.node:has(> title:text-is("z"))').click()
        lit = page.locator(".eq.lit")
        assert lit.count() == 2
        assert page.locator("h2").first.inner_text() == "正向传播。"
        page.screenshot(path=str(tmp_path / "zh.png"))
        assert fetched == [] and problems == []
    finally:
        context.close()


# --- models with loops, derived in general ---------------------------------------------------

LOOPS = sorted(p.name for p in (ROOT / "examples" / "loops").glob("*.sbp"))


def _derived_loops(name):
    d = sbp.derive(sbp.load(ROOT / "examples" / "loops" / name))
    return d, sbp.derive_hvp(d)


def _direction_in_english(side):
    """A direction's words, V_W = W 的方向, as the English document says them (the rest is a
    formula, the same in both)."""
    for chinese, english in ((" \\text{ 的方向}", "\\text{a direction of } "),
                             (" 的方向", "a direction of ")):
        if side.endswith(chinese):
            return english + side[:-len(chinese)]
    return side


@pytest.mark.parametrize("name", LOOPS)
def test_a_chinese_loop_document_has_the_english_formulas_and_they_read_back(name):
    for subject in _derived_loops(name):
        for fmt, latex in (("text", False), ("LaTeX", True), ("Markdown", True)):
            writer = {"text": subject.text, "LaTeX": subject.latex,
                      "Markdown": subject.markdown}[fmt]
            # the same formulas, each read under the same loop's range
            chinese, english = ([(e.lhs, tuple(map(_direction_in_english, e.sides)), e.ranges)
                                 for e in printed_equations(writer(lang=lang), latex)]
                                for lang in ("zh", "en"))
            assert chinese and chinese == english, fmt
        report = subject.prove_printed(notation=Notation(lang="zh"))
        assert report.ok, str(report)
        assert report.counts == subject.prove_printed().counts  # every section found


def test_the_loop_headings_are_the_textbooks():
    d, hvp = _derived_loops("bptt.sbp")
    text = d.text(lang="zh")
    assert text.splitlines()[:3] == ["正向传播", "  h_0 = h0  ∈ ℝ^h", "  对 t = 1, …, T："]
    for heading in ("反向传播（按逆拓扑顺序，从 ∂L/∂L = 1 开始）", "闭式解", "参数的梯度"):
        assert f"\n{heading}\n" in text
    assert "\n  对 t = T - 1, …, 1：\n" in text and "这个递推是线性的" in text
    tex = d.latex(lang="zh")
    assert "\\par\\noindent 对 $t = T - 1, \\dots, 1$：\n" in tex
    assert "\\textbf{闭式解。}" in tex and d.markdown(lang="zh").startswith("**正向传播。**")
    second = hvp.text(lang="zh")
    for heading in ("方向", "正向切向量", "反向切向量"):
        assert f"\n{heading}\n" in "\n" + second
    assert "  V_W_hh = W_hh 的方向\n" in second
    direction = ("{V}_{\\boldsymbol{W}_{\\mathrm{hh}}} &= \\boldsymbol{W}_{\\mathrm{hh}} "
                 "\\text{ 的方向}")
    assert direction in hvp.latex(lang="zh")
    part = _derived_loops("rnn_tanh_steps.sbp")[0].text(lang="zh")
    assert "  ∈ ℝ^h  （对 t = T, …, 2）\n" in part  # the part of a range a step holds in
    english = re.compile(r"\b(for|Forward|Backward|Closed|Gradients|Directions|direction)\b")
    assert not english.search(text + second + part)


def test_an_english_loop_document_is_as_it_was():
    d, _ = _derived_loops("bptt.sbp")
    assert d.text() == d.text(lang="en") and "\n  for t = T - 1, …, 1:\n" in d.text()


@pytest.mark.parametrize("name", LOOPS)
def test_every_chinese_loop_standalone_compiles_with_xelatex(tmp_path, name):
    for k, subject in enumerate(_derived_loops(name)):
        source = subject.latex(standalone=True, lang="zh")
        assert "\\usepackage{ctex}" in source and "对 $" in source
        compiles_xelatex(tmp_path, f"loops{k}", source)
