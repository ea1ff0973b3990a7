"""The command line: ``symbackprop derive|check|verify MODEL``.

Exit status: 0 on success, 1 when a check or verification fails, 2 for a bad
model or bad usage.  Errors in a model print as compilers print them,
``FILE:LINE:COL: error: message`` with the line and a caret, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from . import __version__
from .checks import check, verify
from .derivation import derive
from .errors import ModelError
from .model import load
from .printing import derivation_latex, derivation_text

__all__ = ["main"]

EXAMPLES = """\
examples:
  symbackprop derive examples/textbook_mlp.sbp
  symbackprop derive examples/textbook_mlp.sbp --format tex -o mlp.tex
  symbackprop check  examples/textbook_mlp.sbp --bind phi=tanh,ell=squared_error
  symbackprop verify examples/textbook_mlp.sbp --dims d=3,h=2,q=2
"""


class UsageError(Exception):
    """Bad command-line usage: printed as ``symbackprop: error: ...``, exit status 2."""


def _pairs(text, what, convert=str):
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--{what} takes NAME=VALUE pairs separated by commas, not {item!r}")
        try:
            out[key.strip()] = convert(value.strip())
        except ValueError:
            raise UsageError(f"--{what}: {key.strip()} must be a whole number, "
                             f"not {value.strip()!r}") from None
    return out


def write_atomically(path, text):
    """Write `text` to `path` through a temporary file, so a failure leaves `path` as it was."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _emit(text, out):
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomically(out, text)


def _derive(args):
    d = derive(load(args.model, bind=args.bind))
    text = derivation_latex(d) if args.format == "tex" else derivation_text(d)
    _emit(text, args.output)
    return 0


def _check(args):
    report = check(load(args.model), dims=args.dims, bind=args.bind, seed=args.seed)
    print(report)
    return 0 if report.ok else 1


def _verify(args):
    report = verify(load(args.model), dims=args.dims, bind=args.bind)
    print(report)
    return 0 if report.ok else 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description="Derive backpropagation by symbols: a model written as equations becomes "
                    "its backward derivation in matrix form, with numeric and symbolic proofs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help_, func, example):
        p = sub.add_parser(name, help=help_, description=help_,
                           epilog=f"example:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("model", metavar="MODEL", help="the model file (.sbp)")
        p.set_defaults(func=func)
        return p

    def add_bind(p):
        p.add_argument("--bind", metavar="F=BUILTIN,...", default="",
                       help="bind abstract functions to built-ins, e.g. phi=tanh,ell=squared_error")

    def add_dims(p):
        p.add_argument("--dims", metavar="NAME=SIZE,...", default="",
                       help="sizes of the dims, e.g. d=5,h=4,q=3 (small distinct sizes by default)")

    p = command("derive", "print the backward derivation, step by step", _derive,
                "symbackprop derive examples/textbook_mlp.sbp --format tex -o mlp.tex")
    p.add_argument("--format", choices=("text", "tex"), default="text",
                   help="text (Unicode, the default) or tex (a LaTeX fragment for \\input)")
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of the terminal")
    add_bind(p)

    p = command("check", "compare the gradients with finite differences (float64)", _check,
                "symbackprop check examples/textbook_mlp.sbp --bind phi=tanh,ell=squared_error")
    add_dims(p)
    add_bind(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the random values (default 0)")

    p = command("verify", "prove the gradients equal to SymPy's entrywise derivatives", _verify,
                "symbackprop verify examples/textbook_mlp.sbp --dims d=3,h=2,q=2")
    add_dims(p)
    add_bind(p)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        args.bind = _pairs(args.bind, "bind")
        if hasattr(args, "dims"):
            args.dims = _pairs(args.dims, "dims", int)
        return args.func(args)
    except ModelError as err:
        print(err.render(), file=sys.stderr)
        return 2
    except (UsageError, ValueError) as err:
        print(f"symbackprop: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"symbackprop: error: {err.filename or ''}: {err.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
