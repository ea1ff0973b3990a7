"""Reading a model: text or a file into a checked model, with or without loops.

:func:`parse` and :func:`load` are the package's entry points
(``symbackprop.parse``, ``symbackprop.load``).  A model without families or
loops becomes a :class:`~symbackprop.language.model.Model`; one with them a
:class:`~symbackprop.language.looped.LoopModel`.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from ..errors import ModelError
from .looped import check_looped
from .model import _checked_model
from .syntax import MAX_SOURCE_CHARS, parse_statements
from .unrolling import is_looped

__all__ = ["parse", "load", "MAX_SOURCE_BYTES"]

#: The most bytes read of a model file: the character limit in UTF-8's longest encoding.
#: Beyond it a model is refused unread (a sparse file of gigabytes, ``/dev/zero``).
MAX_SOURCE_BYTES = 4 * MAX_SOURCE_CHARS


def parse(text, filename="<string>", bind=None):
    """Parse and check a model given as text.

    Parameters
    ----------
    text : str
        The model, in the ``.sbp`` language.
    filename : str, optional
        Named in error messages.
    bind : dict, optional
        Abstract functions to replace by built-ins, as in :meth:`Model.bind`.

    Returns
    -------
    Model or LoopModel
        A :class:`~symbackprop.language.looped.LoopModel` when the model has families
        or loops.

    Raises
    ------
    ModelError
        With the file, line and column of the first problem found.

    Examples
    --------
    >>> m = parse('''
    ... dim n
    ... input x: vector(n)
    ... param w: vector(n)
    ... J = (w.T @ x)^2
    ... objective J
    ... ''')
    >>> m.objective, str(m.variables["J"].shape), m.variables["w"].role
    ('J', 'scalar', 'param')
    >>> parse("dim n\\ninput x: vector(n)\\nJ = sum(y)\\nobjective J")
    Traceback (most recent call last):
    ...
    symbackprop.errors.ModelError: <string>:3:9: error: unknown name 'y'
    """
    bindings = dict(bind or {})
    if not isinstance(text, str):
        raise ModelError("a model must be text (str)")
    try:
        statements = parse_statements(text)
    except ModelError as err:
        raise err.located(filename, text) from None
    if is_looped(statements):
        return check_looped(text, filename, bindings, statements)
    return _checked_model(text, filename, bindings, statements)


def load(path, bind=None):
    """Read, parse and check a model file.

    Only a regular file is read, and at most :data:`MAX_SOURCE_BYTES` of it; ``"-"`` reads
    the standard input.  A device (``/dev/zero``), a FIFO or a directory is refused
    unread: reading it could block forever or never end.

    Parameters
    ----------
    path : str or os.PathLike
        The model file, or ``"-"`` for the standard input.
    bind : dict, optional

    Returns
    -------
    Model or LoopModel

    Raises
    ------
    ModelError
        When the file cannot be read, is not a regular file, is too large, is not UTF-8 or
        holds a bad model.
    """
    if str(path) == "-":
        name, raw = "<stdin>", sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
    else:
        name, raw = str(path), _read_regular(Path(path))
    if len(raw) > MAX_SOURCE_BYTES:
        raise ModelError(f"the model is too large (more than {MAX_SOURCE_BYTES:,} bytes; the "
                         f"limit is {MAX_SOURCE_CHARS:,} characters)", 0, 0, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise ModelError("the model is not UTF-8 text", line, col, name) from None
    return parse(text, name, bind)


def _read_regular(path):
    """At most one byte more than :data:`MAX_SOURCE_BYTES` of the regular file `path`."""
    try:
        # not blocking: a FIFO with no writer would wait forever in open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise ModelError(f"cannot read the model: {err.strerror}", 0, 0, str(path)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) \
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file"
        raise ModelError(f"cannot read the model: {kind}, not a regular file (give '-' "
                         "to read the standard input)", 0, 0, str(path))
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read(MAX_SOURCE_BYTES + 1)
        except OSError as err:
            raise ModelError(f"cannot read the model: {err.strerror}", 0, 0,
                             str(path)) from None
