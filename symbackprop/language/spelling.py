"""Default names in print: how a model name becomes LaTeX or Unicode.

Vectors and matrices are bold, a trailing number is a layer index
(``W1`` is :math:`\\boldsymbol{W}^{(1)}`), Greek names are Greek letters, and
``_suffix`` is a subscript.  A LaTeX name given in the model with
``as "..."`` always wins; these are only the defaults.
"""

from __future__ import annotations

import re

from ..errors import visible

__all__ = ["default_latex", "unicode_name", "as_subscript", "INDEX_STYLES", "GREEK", "safe_latex",
           "unsafe_part", "SAFE_COMMANDS", "latex_text"]

_LOWER = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho "
          "sigma tau upsilon phi chi psi omega").split()
_UNICODE_LOWER = "αβγδεζηθικλμνξπρστυφχψω"
_UPPER = "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
_UNICODE_UPPER = "ΓΔΘΛΞΠΣΥΦΨΩ"

#: Greek names (and ``ell``) to their Unicode letters.
GREEK = {**dict(zip(_LOWER, _UNICODE_LOWER)), **dict(zip(_UPPER, _UNICODE_UPPER)),
         "ell": "ℓ", "varepsilon": "ε", "varphi": "φ", "vartheta": "ϑ"}

#: Short names written for Greek letters: ``eps`` is ε, as ``epsilon`` is.
ALIASES = {"eps": "epsilon"}

_PARTS = re.compile(r"(?P<base>[A-Za-z]+?)(?P<num>\d+)?(?:_(?P<sub>[A-Za-z0-9]+))?")
#: A member of a family of two or more indices written out, h[1, 2] as h_1_2: h_{1,2}.
_MEMBER = re.compile(r"(?P<base>[A-Za-z]+)(?P<indices>(?:_\d+){2,})")


def _latex_base(base):
    base = ALIASES.get(base, base)
    if base in GREEK:
        return "\\" + base
    return base if len(base) == 1 else f"\\mathrm{{{base}}}"


def _lettered(m):
    """A name's base and subscript: a capital and one small letter (``Wq``) is W_q, written
    as lecture notes write the query weights; otherwise as the name has them."""
    base, sub = m["base"], m["sub"]
    if sub is None and re.fullmatch(r"[A-Z][a-z]", base) and base not in GREEK:
        return base[0], base[1]
    return base, sub


def default_latex(name, bold=False, bold_macro="\\boldsymbol"):
    """The default LaTeX for a model name.

    Examples
    --------
    >>> default_latex("W1", bold=True)
    '\\\\boldsymbol{W}^{(1)}'
    >>> default_latex("lambda"), default_latex("x_in", bold=True), default_latex("loss")
    ('\\\\lambda', '\\\\boldsymbol{x}_{\\\\mathrm{in}}', '\\\\mathrm{loss}')
    >>> default_latex("h_1_2", bold=True)
    '\\\\boldsymbol{h}_{1,2}'
    >>> default_latex("Wq", bold=True), default_latex("eps"), default_latex("Pi")
    ('\\\\boldsymbol{W}_{q}', '\\\\epsilon', '\\\\Pi')
    """
    member = _MEMBER.fullmatch(name)
    if member is not None:
        out = _latex_base(member["base"])
        out = f"{bold_macro}{{{out}}}" if bold else out
        return out + "_{" + ",".join(member["indices"].split("_")[1:]) + "}"
    m = _PARTS.fullmatch(name)
    if m is None:
        return "\\mathrm{" + name.replace("_", "\\_") + "}"
    base, sub = _lettered(m)
    out = _latex_base(base)
    if bold:
        out = f"{bold_macro}{{{out}}}"
    if m["num"]:
        out += f"^{{({m['num']})}}"
    if sub:
        out += f"_{{{sub}}}" if len(sub) == 1 or sub.isdigit() else f"_{{\\mathrm{{{sub}}}}}"
    return out


#: How a name's trailing number may print: a layer's index, or a subscript (a time step).
INDEX_STYLES = ("layer", "subscript")


def as_subscript(name):
    """`name` with its trailing number as a subscript, as a time step is written: ``x1`` as
    ``x_1`` (printed x_1, :math:`\\boldsymbol{x}_{1}`), where by default it is a layer's
    index (:math:`\\boldsymbol{x}^{(1)}`); a name with no trailing number, or with a
    subscript already, as it is.

    Examples
    --------
    >>> as_subscript("x1"), as_subscript("W12"), as_subscript("lambda2")
    ('x_1', 'W_12', 'lambda_2')
    >>> as_subscript("W_in"), as_subscript("Wq2"), as_subscript("h_1_2"), as_subscript("W1_in")
    ('W_in', 'Wq2', 'h_1_2', 'W1_in')
    """
    m = _PARTS.fullmatch(name)
    if m is None or not m["num"] or m["sub"] is not None or _MEMBER.fullmatch(name):
        return name
    if _lettered(m)[1] is not None:  # Wq2 is W_q2 already
        return name
    return f"{m['base']}_{m['num']}"


def unicode_name(name):
    """A model name for a terminal: Greek names become Greek letters.

    Examples
    --------
    >>> unicode_name("lambda"), unicode_name("W1"), unicode_name("phi"), unicode_name("h_1_2")
    ('λ', 'W1', 'φ', 'h_{1,2}')
    >>> unicode_name("eps"), unicode_name("Wq"), unicode_name("Eout")
    ('ε', 'W_q', 'Eout')
    """
    member = _MEMBER.fullmatch(name)
    if member is not None:
        indices = ",".join(member["indices"].split("_")[1:])
        return f"{unicode_name(member['base'])}_{{{indices}}}"
    m = _PARTS.fullmatch(name)
    if m is None:
        return name
    base, sub = _lettered(m)
    if sub is not None and m["sub"] is None:  # Wq, Wq2
        return f"{base}_{sub}{m['num'] or ''}"
    base = ALIASES.get(base, base)
    if base not in GREEK:
        return name
    return GREEK[base] + name[len(m["base"]):]


#: The commands a LaTeX name may use: letters, accents, fonts and symbols; none reads or
#: writes a file, defines a macro or changes how TeX reads its input.
SAFE_COMMANDS = frozenset((
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu "
    "xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta "
    "Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell hbar imath jmath partial nabla infty "
    "mathbf boldsymbol mathrm mathit mathsf mathtt mathcal mathbb mathfrak "
    "operatorname text textrm textbf textit textsf hat widehat tilde widetilde bar overline "
    "underline vec dot ddot breve check acute grave mathring prime top intercal dagger ast "
    "star circ bullet cdot odot otimes oplus times div pm mp leq geq neq left right langle "
    "rangle lvert rvert lVert rVert vert Vert quad qquad").split())

# no < > & (a Markdown or HTML reader would take them for a tag or an entity), no control
# or other white space than a blank and a tab (a terminal would act on it)
_TOKENS = re.compile(r"\\([A-Za-z]+)|\\([{}|,;:! _])|([A-Za-z0-9 \t{}^_'()\[\],.;:!?+\-*/=|])")


def safe_latex(text):
    """Whether a LaTeX name is harmless to compile: no command that reads or writes a file,
    defines a macro or changes how TeX reads its input, and its braces balanced.

    Examples
    --------
    >>> safe_latex("\\\\mathbf{W}_{\\\\mathrm{in}}"), safe_latex("\\\\tilde{x}'")
    (True, True)
    >>> safe_latex("\\\\input{/etc/passwd}"), safe_latex("^^5cinput"), safe_latex("{x")
    (False, False, False)
    """
    return unsafe_part(text) is None


def unsafe_part(text):
    """What makes a LaTeX name unsafe (``\\input``, ``^^``, ``#``, an unbalanced brace, a
    construct that stops pdflatex such as ``x^`` or ``\\left(`` alone), or None when it is
    safe (:func:`safe_latex`)."""
    found, at = [], 0
    while at < len(text):
        if text.startswith("^^", at):  # ^^5c is a backslash to TeX
            return "^^"
        m = _TOKENS.match(text, at)
        if m is None:
            return f"'{text[at:at + 2] if text[at] == chr(92) else text[at]}'"
        if m.group(1) is not None and m.group(1) not in SAFE_COMMANDS:
            return "\\" + m.group(1)
        if m.group(0) not in (" ", "\t"):  # TeX skips blanks in math
            found.append(m.group(0))
        at = m.end()
    return _unbuilt(found)


#: The commands that take an argument: a group, a letter or a symbol after them.
_TAKING = frozenset((
    "mathbf boldsymbol mathrm mathit mathsf mathtt mathcal mathbb mathfrak "
    "operatorname hat widehat tilde widetilde bar overline underline vec dot ddot breve check "
    "acute grave mathring").split())
_TEXT = frozenset("text textrm textbf textit textsf".split())
#: What may follow \left and \right.
_DELIMITERS = frozenset("( ) [ ] . | / \\{ \\} \\| \\langle \\rangle \\lvert \\rvert \\lVert "
                        "\\rVert \\vert \\Vert".split())
_SPACES = frozenset(("\\ ", "\\,", "\\;", "\\:", "\\!", "\\quad", "\\qquad"))
#: The commands text mode takes besides \text, \textbf and the like.
_IN_TEXT = frozenset(("\\ ", "\\,", "\\{", "\\}"))


def _unbuilt(tokens):
    """What in the LaTeX `tokens` (no blanks) pdflatex stops at, or None: braces out of
    balance, ``^``, ``_``, an accent or a font without its argument, a double script,
    ``\\left`` and ``\\right`` unpaired, math inside ``\\text``."""
    # per open group: [\left open in it, in text mode, a script's argument, the scripts
    # of the atom before it]; `scripts` are those of the atom being built (_, ^, ')
    groups, scripts, wants = [[0, False, False, set()]], set(), None
    for k, tok in enumerate(tokens):
        text = groups[-1][1]
        if wants is not None:  # the argument of ^, _, an accent or a font
            if tok == "{":
                groups.append([0, wants == "text" or text, wants == "script", scripts])
                scripts, wants = set(), None
                continue
            if wants == "text" or tok in ("}", "^", "_", "'") or tok in _SPACES \
                    or tok[1:] in _TEXT | {"left", "right"} \
                    or wants == "script" and tok[1:] in _TAKING:
                return f"{tokens[k - 1]} without its argument"
            wants = "accent" if tok[1:] in _TAKING else None
        elif tok == "}":
            if len(groups) == 1:
                return "an unmatched '}'"
            opened, _, argument, before = groups.pop()
            if opened:
                return "\\left without its \\right"
            scripts = before if argument else set()
        elif text:
            if tok in ("^", "_") or tok.startswith("\\") and tok not in _IN_TEXT \
                    and tok[1:] not in _TEXT:
                return f"{tok} in \\text"
            wants = "text" if tok[1:] in _TEXT else None
        elif tok in ("^", "_", "'"):
            kind = "_" if tok == "_" else "^"
            if kind in scripts or tok == "^" and "'" in scripts and tokens[k - 1] != "'":
                return "a double subscript" if kind == "_" else "a double superscript"
            scripts = scripts | {tok}
            wants = None if tok == "'" else "script"
        elif tok in ("\\left", "\\right"):
            if tokens[k + 1:k + 2] == [] or tokens[k + 1] not in _DELIMITERS:
                return f"{tok} without a delimiter"
            if tok == "\\right" and not groups[-1][0]:
                return "\\right without its \\left"
            groups[-1][0] += 1 if tok == "\\left" else -1
        elif tok[1:] in _TAKING or tok[1:] in _TEXT:
            wants, scripts = "text" if tok[1:] in _TEXT else "accent", set()
        elif tok == "{":
            groups.append([0, False, False, scripts])
            scripts = set()
        elif tok not in _SPACES:  # a new atom, for scripts of its own
            scripts = set()
    if wants is not None:
        return f"{tokens[-1]} without its argument"
    if len(groups) > 1:
        return "an unclosed '{'"
    return "\\left without its \\right" if groups[0][0] else None


# what text mode cannot take as it is, spelled so that it prints as itself
_TEXT_SPECIALS = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "#": "\\#", "$": "\\$",
                  "%": "\\%", "&": "\\&", "_": "\\_", "^": "\\^{}", "~": "\\~{}",
                  "<": "\\textless{}", ">": "\\textgreater{}", "|": "\\textbar{}",
                  "-": "-{}"}
# the letters beyond ASCII that pdflatex sets in its default encoding (OT1) from UTF-8
_LATIN = frozenset(map(chr, range(0xC0, 0x100))) - set("\u00d0\u00d7\u00de\u00f0\u00f7\u00fe")


def latex_text(text):
    r"""`text` (a file name) as LaTeX text that prints as itself: every character TeX reads
    as a command, a group, math or a comment is spelled out, a control character is shown
    escaped (``\x1b``), and a character pdflatex cannot set is a ``?``.  Nothing in it
    can end a line, open a group or call a command the text does not show.

    Examples
    --------
    >>> print(latex_text("a^b_{c}.sbp"), latex_text("\\input{x}"))
    a\^{}b\_\{c\}.sbp \textbackslash{}input\{x\}
    >>> print(latex_text("line\nbreak.sbp"), latex_text("Übung 中.sbp"))
    line\textbackslash{}nbreak.sbp Übung ?.sbp
    """
    shown = visible(text.replace("\n", "\\n").replace("\r", "\\r"))
    return "".join(_TEXT_SPECIALS.get(c, c) if c < "\x7f" else c if c in _LATIN else "?"
                   for c in shown)
