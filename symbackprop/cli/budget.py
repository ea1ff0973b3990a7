"""A command run as the program: in a child process, within its time and memory budget.

The child runs the command and writes its output; the parent waits, and when the child
runs out of time or memory it stops it and says which limit was reached (exit status 2).
Nothing is left half-written: outputs are written whole or not at all
(:func:`symbackprop.printing.files.write_atomically`).
"""

from __future__ import annotations

import functools
import sys
import time
import traceback

from ..errors import visible
from ..proofs.forked import address_space_limit, run_bounded

__all__ = ["run_within"]


def run_within(run, args, seconds, memory):
    """``run(args)`` in a child process stopped after `seconds` or beyond `memory` GiB; its
    exit status, or 2 with a message naming the limit reached."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # the child writes to the same files: nothing written twice
    start = time.monotonic()
    status = run_bounded(functools.partial(_child, run, args), seconds,
                         memory=int(memory * 2**30) if memory else None)
    if status is not None:
        return int(status)
    what = f"symbackprop: error: {args.command} {visible(args.model)}"
    if seconds and time.monotonic() - start >= seconds:
        print(f"{what}: stopped after {seconds:g} s, its time limit (--time-limit); nothing "
              "was written", file=sys.stderr)
    else:
        allowed = address_space_limit(int(memory * 2**30)) / 2**30
        limit = "its memory limit (--memory-limit)" if allowed >= memory else \
            "the memory this shell allows (ulimit -v)"
        print(f"{what}: stopped, it needed more than {allowed:.3g} GiB, {limit}; nothing "
              "was written", file=sys.stderr)
    return 2


def _child(run, args):
    """The command in the child process: its exit status as a string, every output flushed
    (the child leaves without Python's own exit)."""
    try:
        return str(run(args))
    except BaseException:  # a bug: reported as Python would report it, status 1
        traceback.print_exc()
        return "1"
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
