"""The documentation builds without a warning, and what its pages show runs.

The build (Sphinx, MyST, numpydoc) generates every figure, derivation, operator rule and
command output from symbackprop itself; ``-W`` turns any warning into a failure.  The model
listings and the ``>>>`` examples written by hand on the pages are run here.  In CI
(SYMBACKPROP_CI=1) nothing is skipped; elsewhere these tests skip, with the reason, when the
documentation tools or Graphviz are missing.
"""

import doctest
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.derivation.program import needed_steps
from symbackprop.primitives.operators import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GENERATED = ("_build", "_generated", "gallery", "api")
#: The pages written by hand (the others are generated when the docs are built).
PAGES = sorted(p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).parts[0] not in GENERATED)
CI = bool(os.environ.get("SYMBACKPROP_CI"))


def _require_tools():
    missing = [m for m in ("sphinx", "myst_parser", "numpydoc", "pydata_sphinx_theme")
               if importlib.util.find_spec(m) is None]
    if shutil.which("dot") is None:
        missing.append("Graphviz's dot")
    if missing and not CI:
        pytest.skip(f"the documentation needs {', '.join(missing)}: pip install '.[test]' "
                    "(and apt-get install graphviz)")
    assert not missing, f"CI must build the documentation; missing: {missing}"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The documentation built as HTML, with warnings as errors."""
    _require_tools()
    out = tmp_path_factory.mktemp("docs") / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", str(DOCS),
         str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, (f"the documentation build failed:\n{result.stdout}\n"
                                    f"{result.stderr}")
    return out


def test_the_docs_build_without_warnings(html):
    for page in ("index", "tutorial", "tutorial_zh", "loops", "convolution", "language", "cli",
                 "api", "comparison",
                 "gallery/index"):
        assert (html / f"{page}.html").is_file(), page


def test_the_tutorial_shows_the_textbook_derivation_and_graphs(html):
    page = (html / "tutorial.html").read_text(encoding="utf-8")
    d = sbp.derive(sbp.load(ROOT / "examples/textbook_mlp.sbp"))
    # the rendered derivation is symbackprop's own LaTeX, step by step (the book's steps)
    for step in needed_steps(d, d.params)[1:]:
        assert d.latex().count("\\frac") and _latex(d, step.node) in page, step.node
    assert 'src="_images/textbook_mlp.svg"' in page
    assert 'src="_images/textbook_mlp-backward.svg"' in page
    svg = (html / "_images" / "textbook_mlp.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and ">W1<" in svg
    # command outputs are real: check passed
    assert "passed" in page and "proved" in page


def test_the_chinese_tutorial_shows_the_derivation_in_chinese(html):
    page = (html / "tutorial_zh.html").read_text(encoding="utf-8")
    d = sbp.derive(sbp.load(ROOT / "examples/textbook_mlp.sbp"))
    for heading in ("正向传播", "反向传播（按逆拓扑顺序，从", "参数的梯度", "反向传播保留的中间变量"):
        assert heading in page, heading
    for step in needed_steps(d, d.params)[1:]:  # the same formulas as the English page
        assert _latex(d, step.node) in page, step.node
    assert "passed" in page and "proved" in page


def _latex(d, name):
    """The LaTeX of a step's left-hand side, as the page escapes it."""
    from symbackprop.printing.printers import MatrixLatexPrinter
    from symbackprop.printing.names import display_names
    text = MatrixLatexPrinter(display_names(d, latex=True)).doprint(d.step(name).adjoint)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_the_language_reference_has_every_operator_with_its_rule(html):
    page = (html / "language.html").read_text(encoding="utf-8")
    for name in REGISTRY:
        anchor = page.find(f'id="op-{name.replace("_", "-")}"')
        assert anchor >= 0, name
        section = page[anchor:page.find('id="op-', anchor + 1)]
        assert "\\frac{\\partial J}{\\partial" in section, name  # a local rule, in LaTeX
    assert "phi&#39;" in page or "\\phi'" in page  # the abstract functions' rules


def test_the_gallery_has_every_example(html):
    index = (html / "gallery" / "index.html").read_text(encoding="utf-8")
    for path in sorted((ROOT / "examples").glob("*.sbp")):
        page = (html / "gallery" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert f'href="{path.stem}.html"' in index, path.stem
        assert f'src="../_images/{path.stem}.svg"' in page, path.stem
        assert "\\begin{aligned}" in page and "passed" in page, path.stem
    for path in sorted((ROOT / "examples" / "loops").glob("*.sbp")):
        page = (html / "gallery" / f"loops-{path.stem}.html").read_text(encoding="utf-8")
        assert f'href="loops-{path.stem}.html"' in index, path.stem
        assert f'src="../_images/loops-{path.stem}.svg"' in page, path.stem  # folded graph
        # the general derivation under its loop headings, and its three proofs, passed
        assert "\\begin{aligned}" in page and "\\dots" in page, path.stem
        assert "passed" in page and "formulas agree" in page, path.stem
        assert "read back equal" in page, path.stem


def test_the_cli_reference_has_every_command(html):
    from symbackprop import cli
    page = (html / "cli.html").read_text(encoding="utf-8")
    commands = next(a for a in cli._parser()._actions if a.choices).choices
    for name, parser in commands.items():
        assert f'id="cli-{name}"' in page, name
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in page, (name, flag)


def test_the_api_reference_documents_the_public_names(html):
    pages = "".join(p.read_text(encoding="utf-8") for p in (html / "api").glob("*.html"))
    for name in sbp.__all__:
        obj = getattr(sbp, name)
        assert f'id="{obj.__module__}.{obj.__qualname__}"' in pages, name


def _blocks(text, language):
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_every_model_listing_in_the_docs_parses():
    listings = [(page.name, block) for page in PAGES
                for block in _blocks(page.read_text(encoding="utf-8"), "sbp")]
    assert len(listings) >= 5
    for name, block in listings:
        model = sbp.parse(block, name)
        assert sbp.derive(model).steps, (name, block)


@pytest.mark.parametrize("page", [p for p in PAGES + [ROOT / "README.md"]
                                  if "```pycon" in p.read_text(encoding="utf-8")],
                         ids=lambda p: p.name)
def test_python_examples_in_the_docs_run(page, monkeypatch):
    """Every ``pycon`` block of a page, in order, sharing one namespace, as a reader runs them."""
    monkeypatch.chdir(ROOT)
    text = page.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    namespace, report, examples = {}, [], 0
    for block in re.finditer(r"^```pycon\n(.*?)^```", text, flags=re.S | re.M):
        line = text.count("\n", 0, block.start(1))
        test = parser.get_doctest(block.group(1), namespace, page.name, str(page), line)
        runner.run(test, out=report.append, clear_globs=False)
        namespace = test.globs  # a DocTest runs in a copy: carry it to the next block
        examples += len(test.examples)
    assert examples and runner.failures == 0, "".join(report)
