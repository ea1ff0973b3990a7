"""Typesetting what symbackprop prints, for the tests: pdflatex, xelatex, Graphviz, KaTeX, rows.

pdflatex (TeX Live) and KaTeX (node) are optional locally: without them, a test skips
and says why, unless ``SYMBACKPROP_REQUIRE_TEX=1`` or ``SYMBACKPROP_REQUIRE_KATEX=1``
(both set by ``.ci/run``) makes a missing tool a failure.  KaTeX is looked for in
``$SYMBACKPROP_KATEX`` or in ``.ci/node/node_modules/katex``, where ``.ci/run`` installs it.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symbackprop.printing.documents import STANDALONE_PREAMBLE

ROOT = Path(__file__).resolve().parent.parent
KATEX_VERSION = "0.16.47"  # as .ci/run installs it
RENDER = Path(__file__).resolve().parent / "katex_render.js"


# --- pdflatex ------------------------------------------------------------------------------

def pdflatex():
    """The path of pdflatex, or a skip (a failure when TeX is required)."""
    found = shutil.which("pdflatex")
    if found is None:
        if os.environ.get("SYMBACKPROP_REQUIRE_TEX"):
            pytest.fail("pdflatex is required (SYMBACKPROP_REQUIRE_TEX is set)")
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base "
                    "texlive-latex-recommended texlive-pictures)")
    return found


def compiles(directory, name, source):
    """Compile the whole LaTeX document `source` as ``name.tex`` in `directory`: its log."""
    tex = Path(directory) / f"{name}.tex"
    tex.write_text(source, encoding="utf-8")
    result = subprocess.run([pdflatex(), "-interaction=nonstopmode", "-halt-on-error", tex.name],
                            cwd=directory, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (Path(directory) / f"{name}.pdf").stat().st_size > 0
    return result.stdout


def xelatex():
    """The path of xelatex with ctex (the Chinese documents), or a skip (a failure when TeX
    is required)."""
    found = shutil.which("xelatex")
    kpsewhich = shutil.which("kpsewhich")
    has_ctex = found and kpsewhich and subprocess.run(
        [kpsewhich, "ctex.sty"], capture_output=True, text=True).stdout.strip()
    if not has_ctex:
        if os.environ.get("SYMBACKPROP_REQUIRE_TEX"):
            pytest.fail("xelatex and ctex are required (SYMBACKPROP_REQUIRE_TEX is set)")
        pytest.skip("xelatex or ctex is not installed (Debian: texlive-xetex "
                    "texlive-lang-chinese)")
    return found


def compiles_xelatex(directory, name, source):
    """Compile the whole LaTeX document `source` with XeLaTeX as ``name.tex``: its log."""
    tex = Path(directory) / f"{name}.tex"
    tex.write_text(source, encoding="utf-8")
    result = subprocess.run([xelatex(), "-interaction=nonstopmode", "-halt-on-error", tex.name],
                            cwd=directory, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (Path(directory) / f"{name}.pdf").stat().st_size > 0
    return result.stdout


def graphviz():
    """Graphviz's dot is there, or a skip that says why (a failure when it is required)."""
    if shutil.which("dot") is None:
        if os.environ.get("SYMBACKPROP_REQUIRE_GRAPHVIZ"):
            pytest.fail("Graphviz's dot is required (SYMBACKPROP_REQUIRE_GRAPHVIZ is set)")
        pytest.skip("Graphviz is not installed (Debian: graphviz)")


def _escaped(title):
    return "".join("\\" + c if c in "#$%&_{}\\" else c for c in title)


def compile_together(directory, fragments):
    """Compile the LaTeX fragments {title: fragment} as one document, in one pdflatex run.

    One run for many derivations: pdflatex takes about 0.3 s a document, most of it
    starting up.  On an error, the failure names the fragment the error is in.
    """
    lines, owner = ["\\documentclass{article}", STANDALONE_PREAMBLE.rstrip("\n"),
                    "\\allowdisplaybreaks", "\\begin{document}"], []
    owner += [None] * len(lines)
    for title, fragment in fragments.items():
        part = [f"\\section*{{{_escaped(title)}}}", *fragment.rstrip("\n").splitlines()]
        lines += part
        owner += [title] * len(part)
    lines.append("\\end{document}")
    owner.append(None)
    directory = Path(directory)
    (directory / "together.tex").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = subprocess.run([pdflatex(), "-interaction=nonstopmode", "-halt-on-error",
                             "together.tex"], cwd=directory, capture_output=True, text=True,
                            timeout=300)
    if result.returncode != 0:
        at = re.search(r"^l\.(\d+)", result.stdout, re.MULTILINE)
        where = owner[int(at.group(1)) - 1] if at and int(at.group(1)) <= len(owner) else None
        error = result.stdout[result.stdout.find("\n!"):][:1500]
        pytest.fail(f"pdflatex stops in {where!r}:{error}")
    assert (directory / "together.pdf").stat().st_size > 0
    return result.stdout


# --- KaTeX ---------------------------------------------------------------------------------

def katex():
    """(node, the KaTeX package directory), or a skip (a failure when KaTeX is required)."""
    node = shutil.which("node")
    package = Path(os.environ.get("SYMBACKPROP_KATEX")
                   or ROOT / ".ci" / "node" / "node_modules" / "katex")
    if node is None or not (package / "package.json").exists():
        missing = "node" if node is None else f"KaTeX in {package}"
        if os.environ.get("SYMBACKPROP_REQUIRE_KATEX"):
            pytest.fail(f"{missing} is required (SYMBACKPROP_REQUIRE_KATEX is set)")
        pytest.skip(f"{missing} is not installed (`npm install --prefix .ci/node "
                    f"katex@{KATEX_VERSION}`, or SYMBACKPROP_KATEX=its directory)")
    return node, package


def katex_failures(formulas):
    """The formulas {id: (math, display)} KaTeX rejects, {id: (math, error)}; one node run.

    Each distinct formula is rendered once, however many documents print it.
    """
    node, package = katex()
    distinct = sorted(set(formulas.values()))
    payload = [{"id": i, "math": math, "display": display}
               for i, (math, display) in enumerate(distinct)]
    result = subprocess.run([node, str(RENDER), str(package)], input=json.dumps(payload),
                            capture_output=True, text=True, timeout=300, check=True)
    errors = {distinct[f["id"]]: f["error"] for f in json.loads(result.stdout)}
    return {key: (formula[0], errors[formula]) for key, formula in formulas.items()
            if formula in errors}


def assert_katex_renders(formulas):
    failures = katex_failures(formulas)
    assert not failures, "\n\n".join(f"{key}: {error}\n{math}"
                                     for key, (math, error) in failures.items())


_DISPLAY = {"md": re.compile(r"\$\$\n(.*?)\n\$\$", re.DOTALL),
            "tex": re.compile(r"\\begin\{align\*\}.*?\\end\{align\*\}", re.DOTALL)}
_INLINE = re.compile(r"(?<![\\$])\$([^$]+)\$")


def formulas(document, kind, name):
    """The mathematics of a Markdown (`kind` "md") or LaTeX ("tex") document, as KaTeX sees it.

    {"name: display 1": (math, True), ..., "name: inline 1": (math, False), ...}: the
    display blocks ($$ ... $$, or align* with its environment: KaTeX has align* in
    display mode), then the inline $...$ of the headings, prose and tables.
    """
    found, rest = {}, document
    for i, match in enumerate(_DISPLAY[kind].finditer(document), start=1):
        found[f"{name}: display {i}"] = (match.group(1 if kind == "md" else 0), True)
    rest = _DISPLAY[kind].sub(" ", document)
    for i, match in enumerate(_INLINE.finditer(rest), start=1):
        found[f"{name}: inline {i}"] = (match.group(1), False)
    assert any(display for _, display in found.values()), f"{name}: no display block"
    return found


# --- the rows of an aligned block ----------------------------------------------------------

_ENVIRONMENT = re.compile(r"\\(begin|end)\{(align\*|aligned)\}")
_TOKEN = re.compile(r"\\(left|right)(?![A-Za-z])|\\[A-Za-z]+|\\.|[{}]")


def _aligned_bodies(document):
    """The bodies of the aligned blocks, a block inside another (a box's) on its own."""
    stack, bodies, position = [], [], 0
    for match in _ENVIRONMENT.finditer(document):
        if stack:
            stack[-1].append(document[position:match.start()])
        if match.group(1) == "begin":
            stack.append([])
        else:
            bodies.append("".join(stack.pop()))
            if stack:
                stack[-1].append("{}")  # the inner block stands in its row as a group
        position = match.end()
    assert not stack, "an aligned block is not closed"
    return bodies


_BMATRIX = re.compile(r"\\begin\{bmatrix\}((?:(?!\\begin\{bmatrix\}).)*?)\\end\{bmatrix\}",
                      re.S)


def unbalanced_rows(document):
    """The rows of the aligned blocks in which a brace group or \\left ... \\right is open.

    A line break (\\\\) is legal only at the top level of a row: every group a row opens,
    it closes (\\Bigl( ... \\Bigr) may span rows: it is no group).  A block matrix's rows
    and cells are inside its environment: each cell must close what it opens, and the
    matrix is one atom of its row.
    """
    bad = []
    for body in _aligned_bodies(document):
        while (matrix := _BMATRIX.search(body)) is not None:  # innermost first
            cells = re.split(r"\\\\(?![A-Za-z])(?:\[[^\]]*\])?|&", matrix.group(1))
            bad += [cell.strip() for cell in cells if _open(cell)]
            body = body[:matrix.start()] + "@" + body[matrix.end():]
        bad += [row.strip() for row in re.split(r"\\\\(?![A-Za-z])", body) if _open(row)]
    return bad


def _open(row):
    """Whether `row` leaves a brace group or a \\left open, or closes one it did not open."""
    braces = lefts = 0
    for token in _TOKEN.finditer(row):
        braces += {"{": 1, "}": -1}.get(token.group(), 0)
        lefts += {"left": 1, "right": -1}.get(token.group(1), 0)
        if braces < 0 or lefts < 0:
            break
    return bool(braces or lefts)
