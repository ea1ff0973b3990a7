"""Sphinx configuration for the symbackprop documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
Every derivation, figure, operator rule and command output on these pages is
produced at build time by symbackprop itself (``_ext/symbackprop_docs.py``),
so the pages cannot drift from the code.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import symbackprop  # noqa: E402

project = "symbackprop"
author = "the symbackprop authors"
copyright = "the symbackprop authors"
release = version = symbackprop.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "symbackprop_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# docs/operators.md is the operator reference read on the forge (the site generates its own)
exclude_patterns = ["_build", "_generated", "README.md", "operators.md"]
templates_path = []

# MyST: $...$ and $$...$$ math (the derivations' Markdown), amsmath environments,
# ::: fences and definition lists.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# numpydoc: our docstrings are numpydoc.  Class members are documented by
# autodoc's :members:, not by numpydoc's autosummary tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_inherit_docstrings = False  # document our docstrings, not SymPy's
autodoc_default_options = {"members": True, "show-inheritance": False}

html_theme = "pydata_sphinx_theme"
html_title = f"symbackprop {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": []}  # the top bar has the navigation: the page keeps its width
html_show_sourcelink = False
pygments_style = "sphinx"
# Help texts quote options (--format): keep "--" as two hyphens, never a dash.
smartquotes = False
