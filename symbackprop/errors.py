"""Errors a model can raise, located in the user's file.

Every problem with a model, from a stray character to a shape mismatch, is a
:class:`ModelError`: a :class:`ValueError` that knows the file, line and column
it is about, so that the command line can print it as compilers do.
"""

from __future__ import annotations

__all__ = ["ModelError"]


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
        return f"{where}: error: {self.message}"

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
                caret = " " * (err.col - 1) + "^"
                out += f"\n    {err.source_line.expandtabs(1)}\n    {caret}"
            parts.append(out)
        if len(parts) > 1:
            parts.append(f"{len(parts)} errors")
        return "\n".join(parts)
