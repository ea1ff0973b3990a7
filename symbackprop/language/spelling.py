"""Default names in print: how a model name becomes LaTeX or Unicode.

Vectors and matrices are bold, a trailing number is a layer index
(``W1`` is :math:`\\boldsymbol{W}^{(1)}`), Greek names are Greek letters, and
``_suffix`` is a subscript.  A LaTeX name given in the model with
``as "..."`` always wins; these are only the defaults.
"""

from __future__ import annotations

import re

__all__ = ["default_latex", "unicode_name", "GREEK"]

_LOWER = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho "
          "sigma tau upsilon phi chi psi omega").split()
_UNICODE_LOWER = "αβγδεζηθικλμνξπρστυφχψω"
_UPPER = "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
_UNICODE_UPPER = "ΓΔΘΛΞΠΣΥΦΨΩ"

#: Greek names (and ``ell``) to their Unicode letters.
GREEK = {**dict(zip(_LOWER, _UNICODE_LOWER)), **dict(zip(_UPPER, _UNICODE_UPPER)),
         "ell": "ℓ", "varepsilon": "ε", "varphi": "φ", "vartheta": "ϑ"}

_PARTS = re.compile(r"(?P<base>[A-Za-z]+?)(?P<num>\d+)?(?:_(?P<sub>[A-Za-z0-9]+))?")


def _latex_base(base):
    if base in GREEK:
        return "\\" + base
    return base if len(base) == 1 else f"\\mathrm{{{base}}}"


def default_latex(name, bold=False, bold_macro="\\boldsymbol"):
    """The default LaTeX for a model name.

    Examples
    --------
    >>> default_latex("W1", bold=True)
    '\\\\boldsymbol{W}^{(1)}'
    >>> default_latex("lambda"), default_latex("x_in", bold=True), default_latex("loss")
    ('\\\\lambda', '\\\\boldsymbol{x}_{\\\\mathrm{in}}', '\\\\mathrm{loss}')
    """
    m = _PARTS.fullmatch(name)
    if m is None:
        return "\\mathrm{" + name.replace("_", "\\_") + "}"
    out = _latex_base(m["base"])
    if bold:
        out = f"{bold_macro}{{{out}}}"
    if m["num"]:
        out += f"^{{({m['num']})}}"
    if m["sub"]:
        sub = m["sub"]
        out += f"_{{{sub}}}" if len(sub) == 1 or sub.isdigit() else f"_{{\\mathrm{{{sub}}}}}"
    return out


def unicode_name(name):
    """A model name for a terminal: Greek names become Greek letters.

    Examples
    --------
    >>> unicode_name("lambda"), unicode_name("W1"), unicode_name("phi")
    ('λ', 'W1', 'φ')
    """
    m = _PARTS.fullmatch(name)
    if m is None or m["base"] not in GREEK:
        return name
    return GREEK[m["base"]] + name[len(m["base"]):]
