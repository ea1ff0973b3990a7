"""What users see: golden files for the textbook model, and every example compiles.

The golden files in tests/golden/ are the textbook model in every format.  When
a change to the output is intended, regenerate them and review the diff:

    SYMBACKPROP_REGENERATE=1 python -m pytest tests/test_golden.py
    git diff tests/golden

Regenerating writes the files and skips their tests (a file just written
proves nothing); the next run without the variable compares again.

The LaTeX tests run ``pdflatex``; without it they skip, unless
``SYMBACKPROP_REQUIRE_TEX=1`` (as in CI) makes a missing TeX a failure.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.proofs.sizes import default_dims
from symbackprop.printing import documents
from symbackprop.printing.figures import graph_figure
from symbackprop import derive_hvp
from typeset import compiles, graphviz

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = sorted(Path("examples").glob("*.sbp"))
TEXTBOOK = sbp.derive(sbp.load("examples/textbook_mlp.sbp"))

OUTPUTS = {
    "textbook_mlp.txt": lambda: documents.text(TEXTBOOK),
    "textbook_mlp.tex": lambda: documents.latex(TEXTBOOK),
    "textbook_mlp.md": lambda: documents.markdown(TEXTBOOK),
    "textbook_mlp.tikz": lambda: graph_figure(TEXTBOOK, "tikz"),
    "textbook_mlp.dot": lambda: graph_figure(TEXTBOOK, "dot"),
    "textbook_mlp_backward.tikz": lambda: graph_figure(TEXTBOOK, "tikz", backward=True),
    "textbook_mlp_hvp.txt": lambda: derive_hvp(TEXTBOOK).text(),
    "textbook_mlp_hvp.tex": lambda: derive_hvp(TEXTBOOK).latex(),
    "textbook_mlp_second_order.dot": lambda: graph_figure(
        TEXTBOOK, "dot", second_order=derive_hvp(TEXTBOOK)),
    "textbook_mlp_memory.md": lambda: documents.markdown(TEXTBOOK, memory=True),
}

# SymPy's internals must never reach a lecture note.
ARTEFACTS = re.compile(r"Lambda|ElementwiseApplyFunction|HadamardProduct|Map\(|Partial\(|"
                       r"AsScalar|SumAll|Derivative|Subs|ξ|__d\d|d/dd|\\operatorname{Max}")


def check_golden(path, output):
    """Compare `output` with the golden file `path`; when regenerating, write it and skip.

    A file just written says nothing about the output, so regenerating never
    passes: it skips, and the change is for a person to review.
    """
    if os.environ.get("SYMBACKPROP_REGENERATE"):
        path.write_text(output, encoding="utf-8")
        pytest.skip(f"regenerated {path.name}: review the change with git diff -- {path}")
    assert path.exists(), f"no golden file {path}: run with SYMBACKPROP_REGENERATE=1"
    assert output == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", OUTPUTS)
def test_golden(name):
    check_golden(GOLDEN / name, OUTPUTS[name]())


def test_a_changed_output_fails_the_golden_comparison(tmp_path, monkeypatch):
    monkeypatch.delenv("SYMBACKPROP_REGENERATE", raising=False)
    path = tmp_path / "textbook_mlp.txt"
    path.write_text(documents.text(TEXTBOOK), encoding="utf-8")
    check_golden(path, documents.text(TEXTBOOK))
    changed = documents.text(TEXTBOOK).replace("W2ᵀ", "W2", 1)
    assert changed != documents.text(TEXTBOOK)
    with pytest.raises(AssertionError):
        check_golden(path, changed)
    with pytest.raises(AssertionError, match="no golden file"):
        check_golden(tmp_path / "missing.txt", changed)


def test_regenerating_writes_the_file_and_skips(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_REGENERATE", "1")
    path = tmp_path / "textbook_mlp.txt"
    path.write_text("the old output\n", encoding="utf-8")
    with pytest.raises(pytest.skip.Exception, match="review the change with git diff"):
        check_golden(path, "the new output\n")
    assert path.read_text(encoding="utf-8") == "the new output\n"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_no_sympy_artefacts(example):
    d = sbp.derive(sbp.load(example))
    for output in (d.text(), d.latex(), d.markdown(), d.text(substituted=True),
                   d.latex(substituted=True, nabla=True)):
        assert not ARTEFACTS.search(output), ARTEFACTS.search(output)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_standalone_derivation_compiles_and_fits_the_page(example, tmp_path):
    # with the memory section, priced at small sizes: its table and formulas must fit too
    model = sbp.load(example)
    d = sbp.derive(model)
    log = compiles(tmp_path, "derivation",
                   d.latex(standalone=True, memory=True, dims=default_dims(model)))
    assert "Overfull" not in log, log[log.index("Overfull") - 300:][:900]
    log = compiles(tmp_path, "second_order", derive_hvp(d).latex(standalone=True))
    assert "Overfull" not in log, log[log.index("Overfull") - 300:][:900]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_tikz_figures_compile(example, tmp_path):
    d = sbp.derive(sbp.load(example))
    compiles(tmp_path, "forward", graph_figure(d, "tikz", standalone=True))
    compiles(tmp_path, "backward", graph_figure(d, "tikz", standalone=True, backward=True))


@pytest.mark.parametrize("options", [
    dict(bold="mathbf"), dict(transpose="T"), dict(transpose="mathsf"), dict(prod=False),
    dict(shapes=False), dict(substituted=True), dict(nabla=True),
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_every_notation_option_compiles(options, tmp_path):
    compiles(tmp_path, "notation", TEXTBOOK.latex(standalone=True, **options))


def test_notation_options_change_what_they_say():
    assert "\\mathbf{W}^{(1)}" in TEXTBOOK.latex(bold="mathbf")
    assert "\\boldsymbol{h}^{T}" in TEXTBOOK.latex(transpose="T")
    assert "\\boldsymbol{h}^{\\mathsf{T}}" in TEXTBOOK.latex(transpose="mathsf")
    assert "prod" not in TEXTBOOK.latex(prod=False) and "prod" in TEXTBOOK.latex()
    assert "\\mathbb{R}^{q \\times h}" not in TEXTBOOK.latex(shapes=False)
    assert "\\nabla_{\\boldsymbol{W}^{(2)}} J" in TEXTBOOK.latex(nabla=True)
    substituted = TEXTBOOK.text(substituted=True)
    assert "((W2ᵀ (∂L/∂o)) ⊙ φ'(z)) xᵀ + λ W1" in substituted


def test_model_latex_names_are_respected():
    text = Path("examples/textbook_mlp.sbp").read_text().replace(
        "param W1: matrix(h, d)", 'param W1: matrix(h, d) as "\\mathbf{W}_1"')
    d = sbp.derive(sbp.parse(text))
    assert "\\frac{\\partial J}{\\partial \\mathbf{W}_1}" in d.latex()
    assert "\\boldsymbol{W}^{(1)}" not in d.latex()


@pytest.mark.parametrize("backward", [False, True])
def test_svg_and_png_figures(backward):
    graphviz()
    svg = graph_figure(TEXTBOOK, "svg", backward=backward)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert ("∂J/∂W1" if backward else "W1") in svg
    png = graph_figure(TEXTBOOK, "png", backward=backward)
    assert png.startswith(b"\x89PNG")


def test_notebook_display():
    assert TEXTBOOK._repr_markdown_() == TEXTBOOK.markdown()
    figure = TEXTBOOK.figure()
    if shutil.which("dot"):
        assert "<svg" in figure._repr_svg_()
    else:
        assert figure._repr_svg_() is None
    assert "graph of J" in repr(figure)
