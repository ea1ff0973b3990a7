"""A computation in a forked child process, stopped when its time or memory runs out.

The one limit that holds whatever the computation does (SymPy cannot be interrupted
from another thread, and swallows alarm signals in its own ``except`` clauses) is a
child process killed when its time is up, with its address space capped.  The
bounded proofs (:mod:`symbackprop.proofs.bounded`) and the command line's budget
run through :func:`run_bounded`.  This module imports nothing but the standard
library, so that the command line pays no SymPy for its budget.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import warnings

__all__ = ["address_space_limit", "run_bounded"]


def address_space_limit(memory):
    """The address space a child asking for `memory` bytes gets: no more than this process
    may have (``ulimit -v`` in the shell lowers it; raising it past that is refused).

    Examples
    --------
    >>> address_space_limit(2**20) == 2**20
    True
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX: no limit to meet
        return memory
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    return memory if hard == resource.RLIM_INFINITY else min(memory, hard)


def run_bounded(func, seconds, memory=None):
    """``func()``, a short string, computed in a child process killed after `seconds`.

    `seconds` None waits as long as the child runs; `memory` (bytes), if given, caps the
    child's address space, so that a computation that would need more fails there (with a
    :class:`MemoryError`) instead of taking the machine's memory.

    Returns
    -------
    str or None
        What `func` returned; None if it did not finish in time, failed or
        was killed (out of memory, say).  Where processes cannot be forked
        (Windows), `func` runs here, unbounded.

    Examples
    --------
    >>> run_bounded(lambda: "done", 5.0)
    'done'
    >>> import time
    >>> run_bounded(lambda: time.sleep(10) or "late", 0.2) is None
    True
    """
    if not hasattr(os, "fork"):  # pragma: no cover - no fork: no hard limit either
        try:
            return func()
        except Exception:
            return None
    read, write = os.pipe()
    parent = os.getpid()
    with warnings.catch_warnings():
        # Python 3.12 warns that forking a multi-threaded process may deadlock the child;
        # this child only runs SymPy (pure Python) and leaves by os._exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: compute, write, leave without running the parent's exit code
        status = 1
        try:
            os.close(read)
            _die_with(parent)
            if memory:
                import resource  # POSIX only, like fork
                memory = address_space_limit(memory)
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            result = func()
            if result is not None:
                os.write(write, str(result).encode("utf-8")[:4096])
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    try:
        # no limit (None, or the infinite share of a proof without a deadline): wait for it
        unlimited = seconds is None or seconds == float("inf")
        ready, _, _ = select.select([read], [], [], None if unlimited else max(seconds, 0.0))
        out = os.read(read, 4096) if ready else b""
    finally:
        os.close(read)
        _reap(pid, kill=True)
    return out.decode("utf-8") or None


def _die_with(parent):
    """Have this child killed when `parent` dies (Linux): a proof forked inside a bounded
    command must not outlive the command when the command is stopped."""
    if sys.platform.startswith("linux"):
        import ctypes  # prctl(PR_SET_PDEATHSIG, SIGKILL)

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _reap(pid, kill):
    if kill:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.waitpid(pid, 0)
