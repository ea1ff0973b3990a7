"""Long LaTeX formulas broken over the rows of an aligned display, so they fit the page.

A sum breaks before its top-level terms; a term still too long breaks inside its widest
bracketed sum, whose brackets become ``\\Bigl( \\Bigr)``, since ``\\left`` and ``\\right``
cannot span rows.  A break is never put inside a brace group, where it would not compile.
"""

from __future__ import annotations

import re

__all__ = ["LINE_WIDTH", "broken_sum", "width"]


#: The tokens that nest: \left and \right with their delimiter (\left. \left\| \left\{
#: included; not \leftarrow), other commands and escaped characters (\{ is no brace), braces.
_TOKEN = re.compile(r"\\(left|right)(?![A-Za-z])\s*(\\[A-Za-z]+|\\.|.)|\\[A-Za-z]+|\\.|[{}]")


def _summands(latex):
    """A printed sum's top-level terms, each with its sign: [("", "a"), ("+", "b"), ("-", "c")].

    Top level: outside every brace group and every \\left ... \\right pair.
    """
    depth, start, out, sign = 0, 0, [], ""
    tokens = {m.start(): m for m in _TOKEN.finditer(latex)}
    i = 0
    while i < len(latex):
        token = tokens.get(i)
        if token is not None:
            if token.group(1) == "left" or token.group() == "{":
                depth += 1
            elif token.group(1) == "right" or token.group() == "}":
                depth -= 1
            i = token.end()
            continue
        if depth == 0 and latex[i:i + 3] in (" + ", " - ") and i > start:
            out.append((sign, latex[start:i]))
            sign, start = latex[i + 1], i + 3
            i += 3
            continue
        i += 1
    out.append((sign, latex[start:]))
    return out


_COMMAND = re.compile(r"\\([A-Za-z]+)")
_INVISIBLE = {"left", "right", "frac", "boldsymbol", "mathbf", "operatorname", "mathsf",
              "mathrm", "mathtt", "mathcal", "top", "quad", "qquad"}


def width(latex):
    """About how many characters wide `latex` renders (a fraction counts both its lines)."""
    text = _COMMAND.sub(lambda m: "" if m.group(1) in _INVISIBLE else "x", latex)
    return sum(c not in "{}^_ " for c in text)


#: About as many characters of mathematics as a line of an article holds.
LINE_WIDTH = 36


def broken_sum(latex, first, following):
    """`latex` as rows, breaking a long sum before its top-level terms, so it fits the page.

    A term still too long, such as W^T (a + b) with a long sum in its brackets, is
    broken inside its first bracketed sum, whose brackets become \\Bigl( \\Bigr).
    """
    if width(latex) <= LINE_WIDTH:
        return [first + latex]
    terms = _summands(latex)
    rows = [first + terms[0][1]]
    used = width(terms[0][1])
    for sign, term in terms[1:]:
        if used + width(term) > LINE_WIDTH:
            rows.append(f"{following}{sign} {term}")
            used = width(term)
        else:
            rows[-1] += f" {sign} {term}"
            used += width(term)
    out = []
    for row in rows:
        out += _broken_inside(row, following) if width(row) > LINE_WIDTH else [row]
    return out


class _Pair:
    """A \\left ... \\right pair of a row: where its two delimiters are, what encloses it."""

    def __init__(self, opening, parent, braces):
        self.opening, self.closing, self.parent = opening, None, parent
        self.braces = braces  # how many brace groups enclose it: \\ is legal only outside all

    @property
    def inside(self):
        return self.opening.end(), self.closing.start()

    def text(self, row):
        """What the brackets hold."""
        return row[self.opening.end():self.closing.start()]


def _pairs(row):
    """The \\left ... \\right pairs of `row`, each knowing its enclosing pair and brace depth."""
    pairs, stack, braces = [], [], 0
    for token in _TOKEN.finditer(row):
        if token.group(1) == "left":
            stack.append(_Pair(token, stack[-1] if stack else None, braces))
        elif token.group(1) == "right" and stack:
            pair = stack.pop()
            pair.closing = token
            pairs.append(pair)
        elif token.group() == "{":
            braces += 1
        elif token.group() == "}":
            braces -= 1
    return pairs


def _broken_inside(row, following):
    """`row` broken inside its widest bracketed sum, or as it is if it has none.

    A line break is legal only at the top level of an aligned row: never in a brace
    group (\\frac{}{}, \\sqrt{}, a superscript), so a sum there is not broken.  The
    brackets around the break, that one and the \\left ... \\right pairs enclosing it,
    become \\Bigl( \\Bigr) (or \\Bigl\\| \\Bigr\\|, ...): \\left and \\right cannot span lines.
    """
    candidates = [pair for pair in _pairs(row)
                  if pair.braces == 0 and pair.opening.group(2) == "("
                  and pair.closing.group(2) == ")" and len(_summands(pair.text(row))) > 1]
    if not candidates:
        return [row]  # too long, but a break inside a brace group would not compile
    chosen = max(candidates, key=lambda pair: width(pair.text(row)))
    fixed, pair = [], chosen
    while pair is not None:
        fixed += [(pair.opening, "\\Bigl"), (pair.closing, "\\Bigr")]
        pair = pair.parent
    fixed.sort(key=lambda f: f[0].start())
    # a term a row: the sum may fit on its own, the row around it does not
    start, end = chosen.inside
    terms = _summands(row[start:end])
    body = [terms[0][1]] + [f"{sign} {term}" for sign, term in terms[1:]]

    def text(first, last):  # row[first:last] with the enclosing brackets made Big
        out, position = "", first
        for match, big in fixed:
            if first <= match.start() and match.end() <= last:
                out += row[position:match.start()] + big + match.group(2)
                position = match.end()
        return out + row[position:last]

    rows = [text(0, start) + body[0]]
    rows += [f"{following}\\qquad {part}" for part in body[1:]]
    rows[-1] += text(end, len(row))
    return rows
