"""Errors a model can raise, located in the user's file.

Every problem with a model, from a stray character to a shape mismatch, is a
:class:`ModelError`: a :class:`ValueError` that knows the file, line and column
it is about, so that the command line can print it as compilers do.
"""

from __future__ import annotations

import unicodedata
import warnings

__all__ = ["ModelError", "ModelWarning", "with_model_warnings", "visible", "ECHO_WIDTH"]

#: How many characters of the source line an error shows on each side of its column: a
#: model of one long line must not make a message of the same size.
ECHO_WIDTH = 60

# control and format characters (ESC, BEL, a line or paragraph separator, a bidirectional
# override): a terminal acts on them, or they show a line other than the one read
_HIDDEN = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"))


def _shown(char):
    """One character as an error or a document shows it: itself, or its escape."""
    if char in "\n\t" or unicodedata.category(char) not in _HIDDEN:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else (
        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def visible(text):
    r"""`text` with its control characters escaped, as compilers echo them: nothing in it can
    drive a terminal (ESC, BEL) or hide what it shows (a bidirectional override); line breaks
    and tabs stay.

    Examples
    --------
    >>> print(visible("x\x1b[31m = 1\x07"), visible("a\u202eb"), visible("α and ∂"))
    x\x1b[31m = 1\x07 a\u202eb α and ∂
    """
    if text.isprintable():
        return text
    return "".join(map(_shown, text))


def _echo(source_line, col):
    """The source line around column `col` (1-based), control characters escaped, and the
    caret under the column: at most :data:`ECHO_WIDTH` characters on each side."""
    start, end = max(0, col - 1 - ECHO_WIDTH), col - 1 + ECHO_WIDTH
    shown = [" " if c == "\t" else _shown(c) for c in source_line[start:end]]
    head = "..." if start > 0 else ""
    tail = "..." if end < len(source_line) else ""
    before = len(head) + sum(map(len, shown[:col - 1 - start]))
    return f"{head}{''.join(shown)}{tail}", " " * before + "^"


class ModelError(ValueError):
    """A problem in a model, at a place in its source text.

    Parameters
    ----------
    message : str
        What is wrong, in the user's words (it names the construct).
    line, col : int
        1-based position of the offending construct; 0 when the problem has
        no place in the text (an unreadable file, a bad binding).
    filename : str, optional
        The model file, or ``"<string>"`` for text given directly.
    source_line : str, optional
        The text of line `line`, shown under the message with a caret.

    Examples
    --------
    >>> err = ModelError("unknown name 'W3'", 4, 9, "mlp.sbp")
    >>> str(err)
    "mlp.sbp:4:9: error: unknown name 'W3'"
    >>> isinstance(err, ValueError), err.line, err.col
    (True, 4, 9)
    """

    def __init__(self, message, line=0, col=0, filename="<string>", source_line=None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.filename = filename
        self.source_line = source_line
        #: Every independent problem found in the file, this one first.
        self.errors = [self]

    @classmethod
    def collect(cls, errors):
        """The first of `errors`, carrying all of them in ``.errors``."""
        first = errors[0]
        first.errors = list(errors)
        return first

    def __str__(self):
        where = f"{self.filename}:{self.line}:{self.col}" if self.line else self.filename
        return visible(f"{where}: error: {self.message}")

    def located(self, filename, source):
        """Return this error (and the others found with it) with file name and source line."""
        lines = source.split("\n")  # as the tokenizer counts lines

        def one(err):
            text = lines[err.line - 1] if 1 <= err.line <= len(lines) else None
            return ModelError(err.message, err.line, err.col, filename,
                              None if text is None else text.rstrip("\r"))
        return ModelError.collect([one(err) for err in self.errors])

    def render(self):
        """The error as a compiler prints it: location, message, line, caret.

        The line is shown with its control characters escaped (``\\x1b``), and only around
        the column when it is long (:data:`ECHO_WIDTH`).

        Examples
        --------
        >>> print(ModelError("unknown name 'q2'", 1, 5, "m.sbp", "z = q2 @ x").render())
        m.sbp:1:5: error: unknown name 'q2'
            z = q2 @ x
                ^
        """
        parts = []
        for err in self.errors:
            out = str(err)
            if err.source_line is not None and err.col > 0:
                line, caret = _echo(err.source_line, err.col)
                out += f"\n    {line}\n    {caret}"
            parts.append(out)
        if len(parts) > 1:
            parts.append(f"{len(parts)} errors")
        return "\n".join(parts)


class ModelWarning(UserWarning):
    """Something in a model that is allowed but likely not meant: a param the objective does
    not use.  Issued with :func:`warnings.warn` where a derivation is made.

    Examples
    --------
    >>> str(ModelWarning("∂J/∂w = 0: w does not reach J", 2, 7, "m.sbp"))
    'm.sbp:2:7: warning: ∂J/∂w = 0: w does not reach J'
    """

    def __init__(self, message, line=0, col=0, filename="<string>"):
        super().__init__(message)
        self.message, self.line, self.col, self.filename = message, line, col, filename

    def __str__(self):
        where = f"{self.filename}:{self.line}:{self.col}" if self.line else self.filename
        return visible(f"{where}: warning: {self.message}")


def with_model_warnings(run, stream):
    """``run()``, the model's warnings it gives written to `stream` as its errors are (each
    once, ``FILE:LINE:COL: warning: ...``), any other warning as Python shows it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ModelWarning)
        result = run()
    for w in caught:
        if not issubclass(w.category, ModelWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    for shown in dict.fromkeys(str(w.message) for w in caught
                               if issubclass(w.category, ModelWarning)):
        print(shown, file=stream)
    return result
