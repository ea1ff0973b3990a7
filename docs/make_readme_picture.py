"""Regenerate docs/_static/textbook-derivation.png, the derivation pictured in the README.

The picture is symbackprop's own LaTeX for the textbook model, compiled with pdflatex and cut
to the text with pdftoppm (both from TeX Live and Poppler):

    python docs/make_readme_picture.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import symbackprop as sbp  # noqa: E402
from symbackprop.printing.documents import STANDALONE_PREAMBLE

OUT = ROOT / "docs" / "_static" / "textbook-derivation.png"
DPI = 130
MARGIN = 24  # pixels of white around the text


def document():
    """``symbackprop derive --format tex`` of the textbook model, from its backward pass on.

    Every line is symbackprop's, as it writes them: one ``align*`` a section.
    """
    d = sbp.derive(sbp.load(ROOT / "examples" / "textbook_mlp.sbp"))
    fragment = d.latex()
    body = fragment[fragment.index("\\par\\noindent\\textbf{Backward"):]
    return ("\\documentclass[11pt]{article}\n" + STANDALONE_PREAMBLE +
            "\\usepackage[paperwidth=19cm, paperheight=40cm, margin=1cm]{geometry}\n"
            "\\pagestyle{empty}\n\\begin{document}\n" + body + "\\end{document}\n")


def ink_box(pgm):
    """The bounding box (x, y, width, height) of the non-white pixels of a binary PGM."""
    header, rest = pgm.split(b"\n", 1)
    assert header == b"P5"
    dims, rest = rest.split(b"\n", 1)
    width, height = map(int, dims.split())
    _, pixels = rest.split(b"\n", 1)
    image = np.frombuffer(pixels[:width * height], dtype=np.uint8).reshape(height, width)
    rows = np.flatnonzero((image < 250).any(axis=1))
    cols = np.flatnonzero((image < 250).any(axis=0))
    x0, y0 = max(cols[0] - MARGIN, 0), max(rows[0] - MARGIN, 0)
    return x0, y0, min(cols[-1] + MARGIN, width) - x0, min(rows[-1] + MARGIN, height) - y0


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tex = Path(tmp) / "derivation.tex"
        tex.write_text(document(), encoding="utf-8")
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                       cwd=tmp, check=True, capture_output=True)
        pdf = str(Path(tmp) / "derivation.pdf")
        pgm = subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-singlefile", pdf],
                             check=True, capture_output=True).stdout
        x, y, w, h = ink_box(pgm)
        subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-singlefile", "-x", str(x),
                        "-y", str(y), "-W", str(w), "-H", str(h), pdf, str(OUT.with_suffix(""))],
                       check=True)
    print(f"wrote {OUT.relative_to(ROOT)} ({w} x {h} pixels)")


if __name__ == "__main__":
    main()
