"""The model language's tokens: names, numbers, strings, operators, and the lines' indentation.

:func:`tokens` reads a model's text into :class:`Token` records with their line
and column.  Newlines inside brackets join lines; a line indented deeper than
the one before opens a block (an INDENT token), a shallower one closes blocks
(DEDENT), as in Python.  A character that starts no token becomes an ERROR
token, which the parser reports when it reaches it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ModelError

__all__ = ["Token", "tokens", "literal_value", "describe", "MAX_NUMBER_DIGITS",
           "MAX_NUMBER_EXPONENT"]

MAX_NUMBER_DIGITS = 100
MAX_NUMBER_EXPONENT = 308


# --- tokens ------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str   # NAME NUMBER STRING OP NEWLINE INDENT DEDENT ERROR END
    text: str
    line: int
    col: int


_TOKEN = re.compile(r"""
    (?P<space>[ \t\f]+)
  | (?P<comment>\#[^\n]*)
  | (?P<newline>\r?\n)
  | (?P<NUMBER>(?:\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<STRING>"[^"\n]*")
  | (?P<OP>\.\.|[-+*/@^(),:=.\[\]])
""", re.VERBOSE)

_OPENING, _CLOSING = "([", ")]"


def tokens(source):
    """Yield tokens; newlines inside brackets join lines; a line's indentation, deeper or
    shallower than the line before, gives INDENT or DEDENT tokens before its first token."""
    depth = 0
    line, line_start, pos = 1, 0, 0
    levels = [0]          # the indentations of the open blocks
    at_line_start = True
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        col = pos - line_start + 1
        if m is not None and m.lastgroup in ("NUMBER", "NAME", "STRING", "OP") \
                or m is None:
            if at_line_start and depth == 0:
                yield from _indentation(source[line_start:pos], levels, line, col)
            at_line_start = False
        if m is None:
            # An ERROR token: the parser reports it when it reaches it, then
            # resumes at the next line, so later errors are found too.
            ch = source[pos]
            if ch == '"':
                yield Token("ERROR", "unterminated string: a LaTeX name ends with '\"' on the "
                            "same line", line, col)
                end = source.find("\n", pos)
                pos = len(source) if end < 0 else end
            else:
                yield Token("ERROR", _unexpected(ch), line, col)
                pos += 1
            continue
        if m.group() == "*" and source.startswith("**", pos):
            yield Token("ERROR", "a power is written ^, not ** (write x ^ 2)", line, col)
        kind = m.lastgroup
        text = m.group()
        if kind == "newline":
            if depth == 0:
                if not at_line_start:
                    yield Token("NEWLINE", "\n", line, col)
                at_line_start = True
            line, line_start = line + 1, m.end()
        elif kind in ("NUMBER", "NAME", "STRING", "OP"):
            if text in _OPENING:
                depth += 1
            elif text in _CLOSING:
                depth = max(depth - 1, 0)
            yield Token(kind, text, line, col)
        pos = m.end()
    end_col = pos - line_start + 1
    yield Token("NEWLINE", "\n", line, end_col)
    for _ in levels[1:]:
        yield Token("DEDENT", "", line, end_col)
    yield Token("END", "", line, end_col)


def _unexpected(ch):
    """The message for a character no token starts with, naming the habit it comes from.

    Examples
    --------
    >>> _unexpected("λ")
    "unexpected character 'λ': names are ASCII; write lambda (it prints as λ)"
    >>> print(_unexpected("'"))
    unexpected character "'": a transpose is written x.T, not x'
    """
    if ch == "'":
        return "unexpected character \"'\": a transpose is written x.T, not x'"
    try:
        parts = unicodedata.name(ch).split()
    except ValueError:
        parts = []
    if parts[:1] == ["GREEK"] and parts[-2:-1] == ["LETTER"]:
        word = {"LAMDA": "LAMBDA"}.get(parts[-1], parts[-1]).lower()
        word = word.capitalize() if "CAPITAL" in parts else word
        return f"unexpected character {ch!r}: names are ASCII; write {word} (it prints as {ch})"
    return f"unexpected character {ch!r}"


def _indentation(blank, levels, line, col):
    """INDENT or DEDENT tokens for a line indented by `blank`, given the open `levels`."""
    if "\t" in blank and " " in blank:
        yield Token("ERROR", "indentation mixes tabs and spaces: indent with spaces only",
                    line, 1)
        return
    width = len(blank)
    if width > levels[-1]:
        levels.append(width)
        yield Token("INDENT", blank, line, col)
        return
    while width < levels[-1]:
        levels.pop()
        yield Token("DEDENT", "", line, col)
    if width != levels[-1]:
        yield Token("ERROR", "this line's indentation matches no enclosing block: indent a "
                    "loop's body by the same amount on every line", line, col)


def literal_value(tok):
    """The exact value of a numeric literal, within limits that keep it cheap."""
    mantissa, _, exponent = tok.text.lower().partition("e")
    if len(mantissa) > MAX_NUMBER_DIGITS or abs(int(exponent or 0)) > MAX_NUMBER_EXPONENT:
        raise ModelError(f"number out of range: at most {MAX_NUMBER_DIGITS} digits and an "
                         f"exponent within ±{MAX_NUMBER_EXPONENT}", tok.line, tok.col)
    return Fraction(tok.text)


def describe(tok):
    if tok.kind == "NEWLINE":
        return "end of line"
    if tok.kind == "END":
        return "end of file"
    if tok.kind == "INDENT":
        return "an indented line"
    if tok.kind == "DEDENT":
        return "the end of an indented block"
    return repr(tok.text)
