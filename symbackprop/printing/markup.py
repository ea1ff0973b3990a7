"""Markup a web page may carry: escaped text, MathML from the LaTeX printer, clean SVG.

Everything from a model (its names, display names, path) reaches a page through
this module, and only as text: :func:`escape` for HTML, and :func:`clean` for the
trees of MathML and SVG, which rebuilds a tree from scratch, element by element,
from a list of the elements and attributes a formula or a Graphviz drawing is made
of.  An element or attribute off the list (a script, an event handler, a link) is
an error, never passed on, and every text and attribute value is written escaped.

The MathML of a formula is the LaTeX printer's string converted by latex2mathml;
the string itself is kept beside it, as the formula's TeX annotation, so that the
page carries exactly the formulas the LaTeX document prints and
:mod:`symbackprop.proofs.readback` reads them back.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree

__all__ = ["escape", "clean", "mathml", "presentation", "math_in_text", "svg_tree",
           "UnsafeMarkup"]

MATHML = "http://www.w3.org/1998/Math/MathML"
SVG = "http://www.w3.org/2000/svg"

#: The elements of the formulas and their attributes (presentation only).
_MATH_ELEMENTS = {"math", "semantics", "annotation", "mrow", "mi", "mo", "mn", "mtext",
                  "mspace", "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "menclose",
                  "mover", "munder", "munderover", "mstyle", "mpadded", "mphantom", "mtable",
                  "mtr", "mtd"}
_MATH_ATTRIBUTES = {"xmlns", "display", "mathvariant", "stretchy", "fence", "form", "width",
                    "height", "depth", "notation", "linethickness", "displaystyle",
                    "scriptlevel", "accent", "accentunder", "columnalign", "rowalign",
                    "columnspacing", "rowspacing", "lspace", "rspace", "separator",
                    "largeop", "movablelimits", "symmetric", "minsize", "maxsize", "encoding",
                    "class"}
#: The elements of a Graphviz drawing and their attributes (shapes, text, no links).
_SVG_ELEMENTS = {"svg", "g", "title", "polygon", "polyline", "ellipse", "path", "text"}
_SVG_ATTRIBUTES = {"width", "height", "viewBox", "id", "class", "transform", "fill", "stroke",
                   "stroke-width", "stroke-dasharray", "points", "cx", "cy", "rx", "ry", "d",
                   "x", "y", "text-anchor", "font-family", "font-size", "font-weight",
                   "font-style", "xmlns"}
#: Attributes a drawing carries that a page does not need (they are left out).
_SVG_DROPPED = {"{http://www.w3.org/XML/1998/namespace}space"}


class UnsafeMarkup(ValueError):
    """Markup with an element or attribute a page does not take."""


def escape(text):
    """`text` as HTML text or an attribute's value: nothing in it is markup.

    Examples
    --------
    >>> escape('<script>alert("x")</script> & co')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co'
    """
    return html.escape(str(text), quote=True)


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def clean(element, kind, extra=None):
    """The tree `element` (an ElementTree element of MathML or SVG) as HTML markup.

    Parameters
    ----------
    element : xml.etree.ElementTree.Element
    kind : {"math", "svg"}
        Which list of elements and attributes the tree must keep to.
    extra : dict, optional
        An element's id to the attributes to add to it (``data-*`` only).

    Raises
    ------
    UnsafeMarkup
        For an element or an attribute off the list.

    Examples
    --------
    >>> tree = ElementTree.fromstring('<mrow><mi>x</mi><mo>&lt;</mo></mrow>')
    >>> clean(tree, "math")
    '<mrow><mi>x</mi><mo>&lt;</mo></mrow>'
    >>> clean(ElementTree.fromstring('<mrow onclick="f()"/>'), "math")
    Traceback (most recent call last):
    ...
    symbackprop.printing.markup.UnsafeMarkup: a formula may not carry the attribute onclick
    """
    elements, attributes = ((_MATH_ELEMENTS, _MATH_ATTRIBUTES) if kind == "math" else
                            (_SVG_ELEMENTS, _SVG_ATTRIBUTES))
    what = "a formula" if kind == "math" else "a drawing"
    extra = extra or {}
    out = []

    def write(node):
        tag = _local(node.tag)
        if tag not in elements:
            raise UnsafeMarkup(f"{what} may not carry the element {tag}")
        attrs = []
        for name, value in node.attrib.items():
            if name in _SVG_DROPPED and kind == "svg":
                continue
            if _local(name) not in attributes or name.startswith("{"):
                raise UnsafeMarkup(f"{what} may not carry the attribute {_local(name)}")
            attrs.append((name, value))
        for name, value in extra.get(node.attrib.get("id"), {}).items():
            if not name.startswith("data-"):
                raise UnsafeMarkup(f"only data- attributes are added, not {name}")
            attrs.append((name, value))
        out.append("<" + tag + "".join(f' {n}="{escape(v)}"' for n, v in attrs) + ">")
        out.append(escape(node.text or "") if tag != "svg" and tag != "g" else "")
        for child in node:
            write(child)
            if tag not in ("svg", "g"):
                out.append(escape(child.tail or ""))
        out.append(f"</{tag}>")

    write(element)
    return "".join(out)


#: A bold upright name, \\boldsymbol{\\mathrm{out}}, whose bold latex2mathml would drop.
_BOLD_UPRIGHT = re.compile(r"\\(?:boldsymbol|mathbf)\{\\mathrm\{([^{}]*)\}\}")


#: The extra space of a row break, \\[1.5ex], which latex2mathml would print as text.
_ROW_SPACE = re.compile(r"\\\\\[[0-9.]+(?:ex|em|pt)\]")


def _converted(latex):
    from latex2mathml.converter import convert  # the page's one dependency
    latex = _ROW_SPACE.sub(r"\\\\", _BOLD_UPRIGHT.sub(r"\\mathbf{\1}", latex))
    try:
        return ElementTree.fromstring(convert(latex))
    except ElementTree.ParseError as e:  # a formula latex2mathml writes as broken XML
        raise UnsafeMarkup(f"latex2mathml wrote no well-formed MathML for {latex!r}: {e}") \
            from None


#: Where the bold letters start in Unicode's mathematical alphanumerics: Chromium renders
#: mathvariant only as "normal", so bold is written in the letters themselves (MathML Core).
_ALPHANUMERICS = {
    "bold": {"A": 0x1D400, "a": 0x1D41A, "0": 0x1D7CE, "Α": 0x1D6A8, "α": 0x1D6C2},
    "bold-italic": {"A": 0x1D468, "a": 0x1D482, "0": 0x1D7CE, "Α": 0x1D71C, "α": 0x1D736},
}
_RUNS = {"A": ("A", "Z"), "a": ("a", "z"), "0": ("0", "9"), "Α": ("Α", "Ω"), "α": ("α", "ω")}
#: The Greek symbols after the small letters, in the order of the alphanumerics.
_GREEK_SYMBOLS = "∂ϵϑϰϕϱϖ"


def _styled(text, variant):
    """`text` in the mathematical letters of `variant`, or None if one has none."""
    starts, out = _ALPHANUMERICS[variant], []
    for c in text:
        first = next((f for f, (lo, hi) in _RUNS.items() if lo <= c <= hi), None)
        if first is not None:
            out.append(chr(starts[first] + ord(c) - ord(first)))
        elif c in _GREEK_SYMBOLS:
            out.append(chr(starts["α"] + 25 + _GREEK_SYMBOLS.index(c)))
        else:
            return None
    return "".join(out)


#: What makes brackets around it grow: a bracket around none of these keeps its size.
_TALL = {"mfrac", "mtable", "msqrt", "mroot", "munder", "mover", "munderover", "menclose"}


def _for_chromium(tree):
    """Bold letters as letters; brackets stretched only around what is tall (Chromium sets a
    stretchy bracket apart from a single line, where \\left( hugs it)."""
    for node in tree.iter():
        tag, variant = _local(node.tag), node.get("mathvariant")
        if tag in ("mi", "mn") and variant in _ALPHANUMERICS and node.text:
            styled = _styled(node.text, variant)
            if styled is not None:
                node.text = styled
                del node.attrib["mathvariant"]
        fences = [c for c in node if _local(c.tag) == "mo" and c.get("fence") == "true"]
        if fences and not any(_local(d.tag) in _TALL for d in node.iter()):
            for fence in fences:
                fence.set("stretchy", "false")


def mathml(latex, display=False, role=None):
    """The formula `latex` (as the LaTeX printer prints it) as MathML that carries it.

    The presentation is latex2mathml's; the LaTeX string is its TeX annotation,
    which the browser does not show and :mod:`symbackprop.proofs.readback` reads.
    `role` is its class: ``"lhs"``, ``"side"`` or ``"shape"`` in an equation.

    Examples
    --------
    >>> page = mathml("x^{2}", role="side")
    >>> page[:page.index("<semantics>")]
    '<math display="inline" class="side">'
    >>> presentation("x^{2}")
    '<mrow><mrow><msup><mi>x</mi><mrow><mn>2</mn></mrow></msup></mrow></mrow>'
    >>> page[page.index("<annotation"):]
    '<annotation encoding="application/x-tex">x^{2}</annotation></semantics></math>'
    """
    tree = _converted(latex)
    _for_chromium(tree)
    tree.set("display", "block" if display else "inline")
    if role:
        tree.set("class", role)
    body = list(tree)
    semantics = ElementTree.Element("semantics")
    row = ElementTree.SubElement(semantics, "mrow")
    row.extend(body)
    ElementTree.SubElement(semantics, "annotation", encoding="application/x-tex").text = latex
    for child in body:
        tree.remove(child)
    tree.append(semantics)
    tree.text = None
    return clean(tree, "math")


def svg_tree(svg):
    """Graphviz's SVG text as a tree (its XML declaration, doctype and comments left out)."""
    return ElementTree.fromstring(svg.encode("utf-8"))


def presentation(latex):
    """The presentation part of :func:`mathml` of `latex`: what the reader sees."""
    page = mathml(latex)
    return page[page.index("<semantics>") + len("<semantics>"):page.index("<annotation ")]


def math_in_text(text):
    """Prose with ``$...$`` formulas (a heading, a note) as HTML: text escaped, math as MathML.

    Examples
    --------
    >>> shown = math_in_text("from $J$ & <on>")
    >>> shown[:22], shown[-20:]
    ('from <math display="in', 'th> &amp; &lt;on&gt;')
    """
    parts = text.split("$")
    if len(parts) % 2 == 0:  # an unpaired $: text, not math
        return escape(text)
    return "".join(mathml(part) if k % 2 else escape(part) for k, part in enumerate(parts))
