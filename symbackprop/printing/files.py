"""Outputs written to files so that nothing is lost and nothing is replaced that should not be.

A command's output reaches a file through :func:`write_atomically`: the whole text, or
nothing, and never by replacing a device, a link or a file's permissions.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from ..errors import visible

__all__ = ["OutputError", "write_atomically", "same_file", "SUFFIXES"]

#: The formats an output file's suffix names, the first a command writes being taken.
SUFFIXES = {".txt": ("text",), ".tex": ("tex", "tikz"), ".md": ("md",), ".markdown": ("md",),
            ".html": ("html",), ".htm": ("html",), ".py": ("py",), ".dot": ("dot",),
            ".gv": ("dot",), ".svg": ("svg",), ".png": ("png",)}


class OutputError(ValueError):
    """An output that cannot be written where it was asked to go; nothing was written."""


def _data(text):
    # the last guard against terminal escapes: nothing printed carries a raw control character
    return text if isinstance(text, bytes) else visible(text).encode("utf-8")


def write_atomically(path, text):
    """Write `text` to `path` so that nothing is lost on a failure, and nothing is replaced
    that is not a regular file.

    A regular file is replaced whole through a temporary file beside it (a failure, a full
    disk included, leaves it as it was), and keeps its permissions; a symbolic link is
    written through, to its target; a device or a FIFO (``/dev/null``, a pipe) is opened and
    written, never removed; a block device, a socket or a directory is refused.
    """
    path = Path(os.path.realpath(path))  # through a link: the link stays, its target changes
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory", str(path))
    if st is not None and not stat.S_ISREG(st.st_mode):
        return _write_into(path, st, _data(text))
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_data(text))
        if st is None:  # mkstemp makes the file private (0600): as a plain write would make it
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        else:  # a replaced file keeps its mode (a private file stays private) and its owner
            os.chmod(tmp, stat.S_IMODE(st.st_mode) & 0o777)
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException as err:
        os.unlink(tmp)
        if isinstance(err, OSError):
            raise OSError(err.errno, err.strerror, str(path)) from None
        raise


def _write_into(path, st, data):
    """Write into a character device or a FIFO, opened as it is; refuse any other kind."""
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise OutputError(f"-o {path}: not a regular file, a character device or a FIFO; "
                         "nothing was written")
    try:
        # a FIFO nobody reads would block forever: opened without waiting, it says so
        fd = os.open(path, os.O_WRONLY | (os.O_NONBLOCK if stat.S_ISFIFO(st.st_mode) else 0))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise OutputError(f"-o {path}: a FIFO that nothing reads; nothing was "
                             "written") from None
        raise OSError(err.errno, err.strerror, str(path)) from None


def same_file(a, b):
    """Whether the paths `a` and `b` name one file (through links and relative paths)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
