"""LaTeX that compiles and renders: line breaks at the top level only, display names, KaTeX.

pdflatex stops at a line break inside a group (``! Missing } inserted.``) and KaTeX
rejects it (``Expected 'EOF', got '&'``), so every aligned row must close what it opens.
Every example, in every notation, is compiled (one document per notation, all the
examples in it) and rendered by KaTeX, as Jupyter, GitHub and MkDocs render the Markdown.
"""

import functools
import re
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.proofs.sizes import default_dims
from symbackprop.printing.line_breaks import LINE_WIDTH, _broken_inside, broken_sum, width
from symbackprop import derive_hvp
from typeset import assert_katex_renders, compile_together, formulas, unbalanced_rows

EXAMPLES = sorted(Path("examples").glob("*.sbp"))
NOTATIONS = [dict(), dict(bold="mathbf"), dict(transpose="T"), dict(transpose="mathsf"),
             dict(prod=False), dict(shapes=False), dict(substituted=True), dict(nabla=True)]
NOTATION_IDS = [",".join(f"{k}={v}" for k, v in o.items()) or "default" for o in NOTATIONS]

#: The model of the report: its only long row has its sums inside \frac{}{}, \left\| \right\|.
FRACTION_MODEL = """\
dim d
input z: vector(d)
param W: matrix(d, d)
J = norm(norm(z) * W) / (1 + norm(W.T @ z) ^ 2)
objective J
"""


@functools.lru_cache(maxsize=None)
def derived(path):
    d = sbp.derive(sbp.load(path))
    return d, derive_hvp(d)


def documents(d, hvp, **options):
    """{title: LaTeX fragment} and {title: Markdown}: first order and second order."""
    name = Path(d.model.filename).name
    tex = {f"{name}": d.latex(**options), f"{name}, H v": hvp.latex(**options)}
    md = {f"{name}": d.markdown(**options), f"{name}, H v": hvp.markdown(**options)}
    return tex, md


@functools.lru_cache(maxsize=None)
def example_documents(path, notation):
    """An example's documents in the notation NOTATIONS[notation], made once a session."""
    return documents(*derived(path), **NOTATIONS[notation])


# --- the line breaker ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def fraction_documents():
    d = sbp.derive(sbp.parse(FRACTION_MODEL, filename="fraction.sbp"))
    return d, documents(d, derive_hvp(d))


def test_no_line_break_inside_a_fraction_or_a_norm():
    d, (tex, md) = fraction_documents()
    for title, document in {**tex, **md}.items():
        assert unbalanced_rows(document) == [], title
    # the long row of dJ/dz stays one row: its only sum is in the numerator of a fraction
    row = next(r for r in d.latex(inputs=True).splitlines() if "\\operatorname{sum}" in r)
    assert row.startswith("  &\\quad + \\frac{\\operatorname{sum}{\\left(")
    assert "\\Bigl" not in d.latex()


def test_the_fraction_model_compiles(tmp_path):
    compile_together(tmp_path, fraction_documents()[1][0])


def test_the_fraction_model_renders_in_katex():
    assert_katex_renders(markdown_formulas(fraction_documents()[1][1]))


def markdown_formulas(md):
    return {k: v for title, document in md.items()
            for k, v in formulas(document, "md", title).items()}


LONG = "\\boldsymbol{h}^\\top \\boldsymbol{W}^{(1)} \\boldsymbol{x}"  # 6 characters wide


def test_a_long_bracketed_sum_is_broken_inside_its_brackets():
    inner = " + ".join([LONG] * 9)
    row = f"  &= \\boldsymbol{{W}}^\\top \\left({inner}\\right) \\odot \\boldsymbol{{h}}"
    rows = _broken_inside(row, "  &\\quad ")
    assert rows[0] == f"  &= \\boldsymbol{{W}}^\\top \\Bigl({LONG}"
    assert rows[1:-1] == [f"  &\\quad \\qquad + {LONG}"] * 7
    assert rows[-1] == f"  &\\quad \\qquad + {LONG}\\Bigr) \\odot \\boldsymbol{{h}}"


def test_the_brackets_enclosing_a_break_become_big_a_norm_included():
    inner = " + ".join([LONG] * 9)
    row = f"  &= \\left\\|\\boldsymbol{{W}} \\left({inner}\\right)\\right\\|^{{2}}"
    rows = _broken_inside(row, "  &\\quad ")
    assert rows[0].startswith("  &= \\Bigl\\|\\boldsymbol{W} \\Bigl(")
    assert rows[-1].endswith("\\Bigr)\\Bigr\\|^{2}")
    assert unbalanced_rows("\\begin{align*}" + " \\\\\n".join(rows) + "\\end{align*}") == []


@pytest.mark.parametrize("group", ["\\frac{{{}}}{{2}}", "\\sqrt{{{}}}", "{{{}}}^{{\\top}}",
                                   "\\boldsymbol{{x}}^{{{}}}"])
def test_a_sum_inside_a_brace_group_is_not_broken(group):
    inner = "\\left(" + " + ".join([LONG] * 9) + "\\right)"
    row = "  &= " + group.format(inner) + " \\boldsymbol{h}"
    assert width(row) > LINE_WIDTH
    assert _broken_inside(row, "  &\\quad ") == [row]


def test_a_long_sum_breaks_at_its_top_level_terms():
    latex = " + ".join([f"\\frac{{{LONG}}}{{2}}"] * 5 + [f"\\sqrt{{{LONG} + {LONG}}}"])
    rows = broken_sum(latex, "  J &= ", "  &\\quad ")
    assert len(rows) > 1 and all(r.startswith("  &\\quad + ") for r in rows[1:])
    assert unbalanced_rows("\\begin{align*}" + " \\\\\n".join(rows) + "\\end{align*}") == []


# --- display names -------------------------------------------------------------------------

NAMES = {  # a display name, and how its transpose must print
    "\\hat{\\boldsymbol{X}}^\\top": "\\left(\\hat{\\boldsymbol{X}}^\\top\\right)^\\top",
    "\\tilde{\\boldsymbol{W}}^{(1)}": "\\left(\\tilde{\\boldsymbol{W}}^{(1)}\\right)^\\top",
    "\\mathbf{\\hat{X}}^{2}": "\\left(\\mathbf{\\hat{X}}^{2}\\right)^\\top",
    "\\boldsymbol{W}^{(1)}": "{\\boldsymbol{W}^{(1)}}^\\top",  # no accent: as the textbook
    "\\hat{\\boldsymbol{X}}_1": "{\\hat{\\boldsymbol{X}}_1}^\\top",
}


@functools.lru_cache(maxsize=None)
def named_documents():
    """The documents of a model per display name: LaTeX {title: fragment}, Markdown."""
    fragments, md = {}, {}
    for i, (name, transposed) in enumerate(NAMES.items()):
        text = (f'dim n, d\ninput X: matrix(n, d) as "{name}"\nparam w: vector(n)\n'
                "J = sum(X.T @ w) + norm(X @ X.T @ w)\nobjective J\n")
        d = sbp.derive(sbp.parse(text, filename=f"name{i}.sbp"))
        assert transposed in d.latex(), name
        tex, markdown = documents(d, derive_hvp(d))
        fragments.update(tex)
        md.update(markdown)
    return fragments, md


def test_transposed_display_names_compile(tmp_path):
    compile_together(tmp_path, named_documents()[0])


def test_transposed_display_names_render_in_katex():
    assert_katex_renders(markdown_formulas(named_documents()[1]))


# --- every example -------------------------------------------------------------------------

@pytest.mark.parametrize("notation", range(1, len(NOTATIONS)), ids=NOTATION_IDS[1:])
def test_every_example_compiles_in_every_notation(notation, tmp_path):
    # one document a notation, every example in it: the default notation is compiled
    # example by example, fitting the page, by test_golden.py
    fragments = {}
    for path in EXAMPLES:
        tex, _ = example_documents(path, notation)
        for title, fragment in tex.items():
            assert unbalanced_rows(fragment) == [], title
        fragments.update(tex)
    compile_together(tmp_path, fragments)


def test_every_example_renders_in_katex():
    found = {}
    for path in EXAMPLES:
        for notation, label in enumerate(NOTATION_IDS):
            tex, md = example_documents(path, notation)
            for title, document in md.items():
                assert unbalanced_rows(document) == [], (title, label)
                found.update(formulas(document, "md", f"{title} [{label}] md"))
            for title, document in tex.items():
                found.update(formulas(document, "tex", f"{title} [{label}] tex"))
        d, _ = derived(path)
        dims, name = default_dims(d.model), path.name
        found.update(formulas(d.markdown(memory=True, dims=dims), "md", f"{name} memory md"))
        found.update(formulas(d.latex(memory=True, dims=dims), "tex", f"{name} memory tex"))
    assert len(found) > 1000
    assert_katex_renders(found)


def test_a_function_and_its_brackets_are_one_symbol_to_tex():
    # \phi\left(z\right) is an ordinary symbol and an inner group, which TeX spaces apart
    # (φ (z)); braced, the brackets are one ordinary symbol: φ(z)
    latex = sbp.derive(sbp.load("examples/textbook_mlp.sbp")).latex()
    assert "\\phi{\\left(\\boldsymbol{z}\\right)}" in latex
    assert "\\ell{\\left(\\boldsymbol{o}, \\boldsymbol{y}\\right)}" in latex
    assert "\\operatorname{prod}{\\left(" in latex
    assert not re.search(r"(\\phi|\\ell|\\operatorname\{[a-z_\\]+\}|')\\left\(", latex)
