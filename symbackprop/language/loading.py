"""Reading a model: text or a file into a checked model, with or without loops.

:func:`parse` and :func:`load` are the package's entry points
(``symbackprop.parse``, ``symbackprop.load``).  A model without families or
loops becomes a :class:`~symbackprop.language.model.Model`; one with them a
:class:`~symbackprop.language.looped.LoopModel`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from .looped import check_looped
from .model import _checked_model
from .syntax import parse_statements
from .unrolling import is_looped

__all__ = ["parse", "load"]


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

    Parameters
    ----------
    path : str or os.PathLike
    bind : dict, optional

    Returns
    -------
    Model or LoopModel
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ModelError(f"cannot read the model: {err.strerror}", 0, 0, str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise ModelError("the model is not UTF-8 text", line, col, str(path)) from None
    return parse(text, str(path), bind)
