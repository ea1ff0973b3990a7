"""The command line: ``symbackprop COMMAND MODEL``, one command per job.

derive, graph, check, verify, memory, codegen, hvp and hessian; see
``symbackprop --help`` and ``symbackprop COMMAND --help``.

Exit status: 0 on success, 1 when a check or verification fails, 2 for a bad
model or bad usage.  Errors in a model print as compilers print them,
``FILE:LINE:COL: error: message`` with the line and a caret, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

from .. import __version__
from ..errors import ModelError, visible, with_model_warnings
from ..printing.files import SUFFIXES, same_file, write_atomically
from ..language.spelling import INDEX_STYLES
from ..printing.words import LANGUAGES
from .budget import run_within

# The rest of the package is imported by the command that needs it: SymPy, NetworkX and
# NumPy take most of a second to import, which --version, --help and the budget's
# parent process need not pay (tests/test_cli.py checks that --version imports none).

__all__ = ["main"]

EXAMPLES = """\
examples:
  symbackprop derive examples/textbook_mlp.sbp
  symbackprop derive examples/textbook_mlp.sbp --format tex --standalone -o mlp.tex
  symbackprop derive examples/textbook_mlp.sbp --format md --nabla --transpose T
  symbackprop derive examples/textbook_mlp.sbp --format html -o mlp.html
  symbackprop graph  examples/textbook_mlp.sbp --format png -o mlp.png
  symbackprop check  examples/textbook_mlp.sbp --bind phi=tanh,ell=squared_error
  symbackprop verify examples/textbook_mlp.sbp --dims d=3,h=2,q=2
  symbackprop memory examples/textbook_mlp.sbp --dims d=784,h=256,q=10 --dtype float32
  symbackprop codegen examples/textbook_mlp.sbp --bind phi=tanh,ell=squared_error -o grads.py
  symbackprop hvp    examples/textbook_mlp.sbp --format tex --standalone -o hvp.tex
  symbackprop hessian examples/ridge_regression.sbp --dims n=2,d=2
  symbackprop ops tanh

exit status: 0 on success, 1 when check or verify finds a wrong gradient, 2 for a bad
model file or bad usage (the message says FILE:LINE:COL).
"""


#: The budget of a command run as the program (``symbackprop ...``): seconds of wall-clock
#: time and GiB of memory; --time-limit and --memory-limit change it, 0 lifts it.
TIME_LIMIT, MEMORY_LIMIT = 600.0, 8.0

#: The most entries (of all the model's variables, at the sizes used) each proof takes on
#: before it starts, unless --max-entries raises it: arrays of finite differences for
#: check, symbolic entries for verify, and for hessian a table that grows as their square.
MAX_ENTRIES = {"check": 1_000_000, "verify": 5_000, "hessian": 500}


#: Each command and what it does, in the order ``--help`` lists them.
COMMANDS = {
    "derive": "print the backward derivation, step by step",
    "graph": "draw the computational graph (boxes: variables, circles: operators)",
    "check": "compare the gradients with finite differences (float64)",
    "verify": "prove the gradients equal to SymPy's entrywise derivatives",
    "hvp": "derive the Hessian-vector products, node by node (forward-over-reverse)",
    "hessian": "the Hessian: blocks in closed form, and entry by entry at small sizes",
    "memory": "what backward keeps: each value's lifetime, and peak memory of training and "
              "inference",
    "codegen": "write the NumPy module computing the objective and its gradients",
    "ops": "the operators: how each is written, its shape and its local derivative rules",
}


class UsageError(Exception):
    """Bad command-line usage: printed as ``symbackprop: error: ...``, exit status 2."""


def _option_pairs(text, what, convert=str):
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--{what} takes NAME=VALUE pairs separated by commas, not {item!r}")
        if key.strip() in out:
            raise UsageError(f"--{what}: {key.strip()} is given twice")
        try:
            out[key.strip()] = convert(value.strip())
        except ValueError:
            raise UsageError(f"--{what}: {key.strip()} must be a whole number, "
                             f"not {value.strip()!r}") from None
    return out


def _emit(text, out):
    if out is not None:
        write_atomically(out, text)
    elif isinstance(text, bytes):
        sys.stdout.buffer.write(text)
    else:
        sys.stdout.write(visible(text))


def _graph(args):
    from ..api import LoopDerivation, derive, derive_hvp
    from ..printing.figures import graph_figure
    from ..printing.names import Notation
    d = derive(_load(args, loops=True))
    if args.standalone and args.format != "tikz":
        raise UsageError("--standalone goes with --format tikz")
    if args.format == "png" and args.output is None and sys.stdout.isatty():
        raise UsageError("--format png writes binary data: give a file with -o OUT")
    if args.backward and args.second_order:
        raise UsageError("--backward and --second-order draw different graphs: choose one")
    if isinstance(d, LoopDerivation) and (args.backward or args.second_order):
        raise UsageError("--backward and --second-order: not yet for a model with loops drawn "
                         "folded; write it out with --unroll " +
                         ",".join(f"{n}=3" for n in d.model.lengths))
    hvp = None
    if args.second_order:
        hvp = derive_hvp(d)
    try:
        if isinstance(d, LoopDerivation):  # the folded graph: each loop's body in its plate
            figure = d.figure().source(args.format, standalone=args.standalone)
        else:
            figure = graph_figure(d, args.format, standalone=args.standalone,
                                  backward=args.backward, second_order=hvp,
                                  notation=Notation(index_style=args.index_style))
    except RuntimeError as err:
        raise UsageError(str(err)) from None
    _emit(figure, args.output)
    return 0


def _derive(args):
    from ..api import LoopDerivation, derive
    from ..printing import documents
    d = derive(_load(args, loops=True))
    if isinstance(d, LoopDerivation):
        return _derive_loops(d, args)
    if (args.dims or args.dtype != "float64") and not args.memory:
        raise UsageError("--dims and --dtype go with --memory (sizes and element type to price "
                         "the memory table in bytes)")
    notation = dict(prod=args.prod, shapes=args.shapes, substituted=args.substituted,
                    nabla=args.nabla, lang=args.lang, wrt=_wrt_names(args.wrt), inputs=args.inputs,
                    index_style=args.index_style, memory=args.memory, dims=args.dims or None,
                    dtype=args.dtype)
    if args.format == "text":
        if args.standalone:
            raise UsageError("--standalone goes with --format tex")
        if args.memory and args.lang != "en":
            raise UsageError("--memory with --lang: not yet in text; write --format tex or md")
        text = documents.text(d, **notation)
    elif args.format == "html":
        if args.standalone or args.memory:
            raise UsageError("--standalone and --memory do not go with --format html "
                             "(a page is a whole document)")
        text = d.html(**{k: notation[k] for k in ("prod", "shapes", "substituted", "nabla",
                                                  "lang", "wrt", "inputs", "index_style")},
                      bold=args.bold, transpose=args.transpose)
    else:
        notation.update(bold=args.bold, transpose=args.transpose)
        if args.format == "tex":
            text = documents.latex(d, standalone=args.standalone, **notation)
        else:
            if args.standalone:
                raise UsageError("--standalone goes with --format tex")
            text = documents.markdown(d, **notation)
    _emit(text, args.output)
    return 0


def _derive_loops(d, args):
    """A model with loops, derived for a general index."""
    unsupported = [flag for flag, used in (("--memory", args.memory and (args.format != "text"
                                                                      or args.lang != "en")),
                                           ("--dims", bool(args.dims)),
                                           ("--substituted", args.substituted)) if used]
    if unsupported:
        raise UsageError(f"{', '.join(unsupported)}: not yet for a model with loops derived in "
                         "general; write it out with --unroll T=3")
    notation = dict(prod=args.prod, shapes=args.shapes, nabla=args.nabla, lang=args.lang,
                    wrt=_wrt_names(args.wrt), inputs=args.inputs, index_style=args.index_style)
    if args.standalone and args.format != "tex":
        raise UsageError("--standalone goes with --format tex")
    if args.format == "html":  # the general formulas and the folded graph
        text = d.html(bold=args.bold, transpose=args.transpose, **notation)
    elif args.format == "text":
        text = d.text(**notation) + ("\n" + d.memory().text() if args.memory else "")
    elif args.format == "tex":
        text = d.latex(standalone=args.standalone, bold=args.bold, transpose=args.transpose,
                       **notation)
    else:
        text = d.markdown(bold=args.bold, transpose=args.transpose, **notation)
    _emit(text, args.output)
    return 0


def _wrt_names(text):
    """A --wrt list: names separated by commas; None (the params) when empty."""
    return [n.strip() for n in text.split(",") if n.strip()] or None


def _memory(args):
    from ..api import LoopDerivation, derive, derive_hvp
    if args.dtype != "float64" and not args.dims:
        raise UsageError("--dtype goes with --dims (sizes to count bytes at)")
    d = derive(_load(args, loops=True))
    if isinstance(d, LoopDerivation):
        if args.hvp or args.dims or args.wrt:
            raise UsageError("--hvp, --dims and --wrt: not yet for a model with loops counted "
                             "in general; write it out with --unroll T=3")
        _emit(d.memory().text(), args.output)
        return 0
    if args.hvp:
        report = derive_hvp(d, _wrt_names(args.wrt)).memory()
    else:
        report = d.memory(_wrt_names(args.wrt))
    _emit(report.text(args.dims or None, args.dtype), args.output)
    return 0


def _codegen(args):
    from ..api import LoopDerivation, derive
    from ..printing.numpy_code import generate_source
    d = derive(_load(args, loops=True)).bound()
    if isinstance(d, LoopDerivation):  # the looped module: the same source for every length
        from ..printing.loop_code import generate_loop_source
        _emit(generate_loop_source(d, _wrt_names(args.wrt)), args.output)
        return 0
    _emit(generate_source(d, _wrt_names(args.wrt)), args.output)
    return 0


def _hvp(args):
    from ..api import LoopHVPDerivation, derive, derive_hvp
    from ..printing.numpy_code import generate_hvp_source
    hvp = derive_hvp(derive(_load(args, loops=True)))
    if args.standalone and args.format != "tex":
        raise UsageError("--standalone goes with --format tex")
    if args.format == "py" and args.lang != "en":
        raise UsageError("--lang goes with text, tex, md and html: a module has no headings")
    if args.format == "py" and isinstance(hvp, LoopHVPDerivation):
        raise UsageError("--format py: not yet for a model with loops; write it out with "
                         "--unroll T=3")
    if args.format == "text":
        text = hvp.text(lang=args.lang)
    elif args.format == "tex":
        text = hvp.latex(standalone=args.standalone, lang=args.lang)
    elif args.format == "md":
        text = hvp.markdown(lang=args.lang)
    elif args.format == "html":  # the first-order derivation too, and the graphs
        text = hvp.html(lang=args.lang)
    else:
        text = generate_hvp_source(hvp.bound())
    _emit(text, args.output)
    return 0


def _hessian(args):
    from ..api import derive
    from ..proofs.hessian import hessian_text
    from ..proofs.sizes import default_dims, refuse_beyond
    d = derive(_load(args))
    if not d.params:
        raise UsageError("the model has no params: there is no Hessian to show")
    # 2 for each dim by default: the entries grow as the fourth power of the sizes
    dims = default_dims(d.model, args.dims or None, sizes=(2,))
    refuse_beyond(d.model, dims, args.max_entries or MAX_ENTRIES["hessian"], "hessian")
    _emit(hessian_text(d, dims), args.output)
    return 0


def _check(args):
    from ..language.looped import LoopModel
    from ..proofs.check import check, default_dims
    from ..proofs.readback import prove_printed
    from ..proofs.sizes import refuse_beyond
    from ..api import derive
    model = _load(args, bind=False, loops=True)
    if isinstance(model, LoopModel):
        return _check_loops(args, model)
    refuse_beyond(model, default_dims(model, args.dims), args.max_entries or MAX_ENTRIES["check"],
                  "check")
    report = check(model, dims=args.dims, bind=args.bind, seed=args.seed)
    print(visible(str(report)))
    # the numbers prove the expression trees; the notes are the printed text: read it back
    printed = prove_printed(derive(model), formats=("text", "LaTeX"))
    print(visible(str(printed)))
    return 0 if report.ok and printed.ok else 1


def _check_loops(args, model):
    """A model with loops: the numbers of the model written out, the general derivation
    against the written-out one, and the general formulas as printed, read back."""
    from ..api import derive
    from ..language.looped import CHECK_LENGTH
    from ..proofs.check import check, default_dims
    from ..proofs.sizes import refuse_beyond
    lengths = {n: CHECK_LENGTH for n in model.lengths}
    at = ", ".join(f"{n} = {k}" for n, k in lengths.items())
    flat = model.unrolled(lengths)
    refuse_beyond(flat, default_dims(flat, args.dims), args.max_entries or MAX_ENTRIES["check"],
                  "check")
    report = check(flat, dims=args.dims, bind=args.bind, seed=args.seed)
    print(visible(f"The model written out at {at}:\n{report}"))
    general = derive(model)
    instances = general.prove(lengths)
    print(visible(str(instances)))
    printed = general.prove_printed(lengths, formats=("text", "LaTeX"))
    print(visible(str(printed)))
    return 0 if report.ok and instances.ok and printed.ok else 1


def _verify(args):
    from ..proofs.sizes import refuse_beyond, small_dims
    from ..proofs.verify import TIMEOUT, verify
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    model = _load(args, bind=False)
    refuse_beyond(model, small_dims(model, args.dims), args.max_entries or MAX_ENTRIES["verify"],
                  "verify")
    report = verify(model, dims=args.dims, bind=args.bind,
                    timeout=TIMEOUT if args.timeout is None else args.timeout,
                    accept_numeric=args.accept_numeric)
    print(visible(str(report)))
    return 0 if report.ok else 1


def _parser(command=None):
    """The argument parser of every command, in the order ``--help`` lists them.

    With `command` (a name, or "" for none), only that command's options are added and
    the others are listed with what they do: the help of some options names the operators
    of the registry or the proofs' defaults, whose modules import SymPy.
    """
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description="Derive backpropagation by symbols: a model written as equations becomes "
                    "its backward derivation in matrix form, with numeric and symbolic proofs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add_command in (("derive", _derive_command), ("graph", _graph_command),
                              ("check", _check_command), ("verify", _verify_command),
                              ("hvp", _hvp_command), ("hessian", _hessian_command),
                              ("memory", _memory_command), ("codegen", _codegen_command),
                              ("ops", _ops_command)):
        if command is None or command == name:
            add_command(sub)
        else:
            sub.add_parser(name, help=COMMANDS[name])
    return parser


def _command(sub, name, func, example, more=""):
    """A subcommand's parser, taking the model file; `more` continues the description."""
    p = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name] + more,
                       epilog=f"example:\n  {example}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="the model file (.sbp)")
    p.add_argument("--unroll", metavar="LENGTH=N,...", default="",
                   help="for a model with loops: write it out at these lengths first, e.g. T=3 "
                        "(the derivation of the model without loops, as a check of the general "
                        "one)")
    p.add_argument("--time-limit", metavar="SECONDS", type=float, default=None,
                   help=f"stop with a message after this long (default {TIME_LIMIT:g} s for "
                        "the program; 0 for no limit)")
    p.add_argument("--memory-limit", metavar="GIB", type=float, default=None,
                   help=f"stop with a message beyond this much memory (default {MEMORY_LIMIT:g} "
                        "GiB for the program; 0 for no limit)")
    p.set_defaults(func=func)
    return p


def _load(args, bind=True, loops=False):
    """The command's model, written out with --unroll; a model with loops is read by the
    commands that derive it in general (`loops`), and written out for the others."""
    from ..language.loading import load
    from ..language.looped import LoopModel, WrittenOutModel
    model = load(args.model, bind=args.bind if bind else None)
    if args.unroll:
        if not isinstance(model, (LoopModel, WrittenOutModel)):
            raise UsageError(f"--unroll: {args.model} has no loops to write out")
        return model.unrolled(args.unroll)
    if isinstance(model, WrittenOutModel):
        raise model.why
    if isinstance(model, LoopModel) and not loops:
        lengths = ",".join(f"{n}=3" for n in model.lengths)
        raise UsageError(f"{args.model} has loops: this command reads it written out at "
                         f"lengths, --unroll {lengths}")
    return model


@functools.cache
def _bind_help():
    """The help of --bind, naming the built-ins (the registry is fixed: worked out once)."""
    from ..primitives.operators import bindable
    elementwise, losses = map(", ".join, bindable())
    return ("bind abstract functions to built-ins, e.g. phi=tanh,ell=squared_error; an "
            f"elementwise func to one of {elementwise}; a func of two arguments to one of "
            f"{losses}")


def _add_bind(p):
    p.add_argument("--bind", metavar="F=BUILTIN,...", default="", help=_bind_help())


def _add_dims(p, help_="sizes of the dims, e.g. d=5,h=4,q=3 (small distinct sizes by default)"):
    p.add_argument("--dims", metavar="NAME=SIZE,...", default="", help=help_)


def _add_max_entries(p, command):
    p.add_argument("--max-entries", metavar="N", type=int, default=None,
                   help=f"refuse a model with more than N entries at the sizes used (default "
                        f"{MAX_ENTRIES[command]:,}: the cost grows with them)")


def _add_output(p):
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of the terminal")


def _add_format(p, formats, help_):
    """--format, whose default is read from -o's suffix, else from --standalone."""
    p.add_argument("--format", choices=formats, default=None,
                   help=help_ + f"; by default, from -o's suffix, else {formats[0]}")
    p.set_defaults(formats=formats)


def _resolve_format(args):
    """The format a command writes: --format, else -o's suffix (``notes.tex``), else LaTeX
    where --standalone asks for a whole document, else the command's first format."""
    formats = getattr(args, "formats", None)
    if formats is None or args.format is not None:
        return
    suffix = os.path.splitext(args.output or "")[1].lower()
    if suffix and suffix not in SUFFIXES:
        raise UsageError(f"-o {args.output}: {suffix} is not a suffix of a format written here "
                         f"({', '.join(s for s in SUFFIXES if set(SUFFIXES[s]) & set(formats))}"
                         "); give --format" + ("; for a PDF, -o NAME.tex --standalone, then "
                                                "pdflatex NAME.tex" if suffix == ".pdf" else ""))
    found = [f for f in SUFFIXES.get(suffix, ()) if f in formats]
    if suffix and not found:
        raise UsageError(f"-o {args.output}: {args.command} writes no {suffix} file "
                         f"(--format {', '.join(formats)})")
    latex = [f for f in ("tex", "tikz") if f in formats and args.standalone]
    args.format = (found or latex or formats)[0]


def _add_document(p, formats, help_):
    """The options of a command printing a document: format, standalone, output, bind."""
    _add_format(p, formats, help_)
    p.add_argument("--standalone", action="store_true",
                   help="a whole LaTeX document that compiles with pdflatex (implies --format "
                        "tex)")
    _add_output(p)
    _add_bind(p)


def _add_wrt(p):
    p.add_argument("--wrt", metavar="NAME,...", default="",
                   help="the variables to differentiate with respect to (default: the params)")


def _add_dtype(p):
    from ..printing.memory import DTYPES
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float64",
                   help="the element type bytes are counted in (default float64)")


def _derive_command(sub):
    p = _command(sub, "derive", _derive,
                 "symbackprop derive examples/textbook_mlp.sbp --format tex -o mlp.tex")
    _add_document(p, ("text", "tex", "md", "html"), "text (Unicode, the default), tex (a LaTeX "
                  "fragment for \\input), md (Markdown with $$ blocks) or html (one page that "
                  "works offline: the graphs, and the equations of the node clicked)")
    notation = p.add_argument_group("notation")
    notation.add_argument("--bold", choices=("boldsymbol", "mathbf"), default="boldsymbol",
                          help="LaTeX macro for vectors and matrices (default boldsymbol)")
    notation.add_argument("--transpose", choices=("top", "T", "mathsf"), default="top",
                          help="transpose mark: ^\\top, ^T or ^\\mathsf{T} (default top)")
    notation.add_argument("--no-prod", dest="prod", action="store_false",
                          help="leave out the generic prod(dJ/dchild, dchild/dnode) lines")
    notation.add_argument("--no-shapes", dest="shapes", action="store_false",
                          help="leave out the shapes")
    notation.add_argument("--substituted", action="store_true",
                          help="add each adjoint in forward variables only")
    notation.add_argument("--nabla", action="store_true", help="write ∇_W J instead of ∂J/∂W")
    _add_index_style(notation)
    notation.add_argument("--lang", choices=LANGUAGES, default="en",
                          help="the language of the headings and notes: en (the default) or zh "
                          "(Chinese, as the textbook's Chinese edition; tex compiles with "
                          "xelatex); the formulas are the same")
    shown = p.add_argument_group("steps shown")
    _add_wrt(shown)  # the steps on the way to these gradients are shown
    shown.add_argument("--inputs", action="store_true",
                       help="show the adjoints of the inputs too (data and labels)")
    memory = p.add_argument_group("memory")
    memory.add_argument("--memory", action="store_true",
                        help="add the section 'What backward keeps' (see the memory command)")
    _add_dims(memory, "with --memory: sizes to price the table in bytes, e.g. d=784,h=256,q=10")
    _add_dtype(memory)


def _graph_command(sub):
    from ..printing.figures import FORMATS
    p = _command(sub, "graph", _graph,
                 "symbackprop graph examples/textbook_mlp.sbp --format png -o mlp.png",
                 "; of a model with loops, the folded graph: each loop's body once, inside a "
                 "plate labelled with its range (--unroll draws it written out)")
    _add_format(p, FORMATS, "tikz, dot, svg or png (svg and png need Graphviz)")
    p.add_argument("--standalone", action="store_true",
                   help="a whole LaTeX document of the TikZ picture (implies --format tikz)")
    p.add_argument("--backward", action="store_true",
                   help="draw the backward graph: adjoints, and the forward values they read")
    p.add_argument("--second-order", action="store_true",
                   help="draw the graph of the Hessian-vector products: the backward graph and "
                        "the tangents R{·} of forward-over-reverse, with what each reads")
    _add_index_style(p)
    _add_output(p)
    _add_bind(p)


def _add_index_style(p):
    p.add_argument("--index-style", choices=INDEX_STYLES, default="layer",
                   help="how a name's trailing number prints: layer (W1 as W^(1) in LaTeX, "
                   "the default) or subscript (x1 as x_1, for time steps)")


def _check_command(sub):
    from ..language.looped import CHECK_LENGTH
    from ..proofs.check import TOLERANCE
    p = _command(sub, "check", _check,
                 "symbackprop check examples/textbook_mlp.sbp --bind phi=tanh,ell=squared_error",
                 ". Each gradient is compared along random unit directions. Passes (exit 0) "
                 f"when every relative error is at most {TOLERANCE:g} (or within what finite "
                 "differences resolve) and every formula printed by 'derive' (text and LaTeX) "
                 "reads back equal to its value under every plausible reading; exit 1 "
                 "otherwise, quoting the formula. A model with loops is checked written out at "
                 f"length {CHECK_LENGTH} (or --unroll), and its general derivation, as "
                 "printed, is read back at every index of that length. Abstract functions "
                 "must be bound for the numbers.")
    _add_dims(p)
    _add_bind(p)
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random values and directions (default 0)")
    _add_max_entries(p, "check")


def _verify_command(sub):
    from ..proofs.verify import TIMEOUT
    p = _command(sub, "verify", _verify,
                 "symbackprop verify examples/textbook_mlp.sbp --dims d=3,h=2,q=2",
                 ". Abstract functions may stay abstract (the derivation as written is proved); "
                 "exit 1 when an entry differs, or when an entry is only equal at random points "
                 "to 50 digits because its proof did not finish (unless --accept-numeric). "
                 "Small --dims keep it fast.")
    _add_dims(p, "sizes of the dims, e.g. d=3,h=2,q=4 (distinct small sizes 2, 3, 4, ... by "
              "default)")
    _add_bind(p)
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=None,
                   help=f"time budget of the proofs (default {TIMEOUT:g}); an entry not proved "
                        "in time is compared at random points to 50 digits instead")
    p.add_argument("--accept-numeric", action="store_true",
                   help="pass (exit 0) when every entry is proved or equal at random points to "
                        "50 digits, not proved symbolically")
    _add_max_entries(p, "verify")


def _hvp_command(sub):
    p = _command(sub, "hvp", _hvp,
                 "symbackprop hvp examples/textbook_mlp.sbp --format tex --standalone -o hvp.tex")
    _add_document(p, ("text", "tex", "md", "html", "py"), "text (the default), tex, md, html "
                  "(one page that works offline: the derivation and its H v, the graphs, and the "
                  "equations of the node clicked) or py (the NumPy module computing J, its "
                  "gradients and H v; abstract functions must be bound)")
    p.add_argument("--lang", choices=LANGUAGES, default="en",
                   help="the language of the headings and notes of text, tex, md and html: en "
                        "(the default) or zh (Chinese; tex compiles with xelatex)")


def _hessian_command(sub):
    p = _command(sub, "hessian", _hessian,
                 "symbackprop hessian examples/ridge_regression.sbp --dims n=2,d=2")
    _add_dims(p, "small sizes for the entries, e.g. n=3,d=2 (2 each by default)")
    _add_max_entries(p, "hessian")
    _add_output(p)
    _add_bind(p)


def _memory_command(sub):
    p = _command(sub, "memory", _memory,
                 "symbackprop memory examples/textbook_mlp.sbp --dims d=784,h=256,q=10 "
                 "--dtype float32")
    _add_dims(p, "sizes to price the values in bytes, e.g. d=784,h=256,q=10 (formulas only "
              "without)")
    _add_dtype(p)
    _add_wrt(p)
    p.add_argument("--hvp", action="store_true",
                   help="describe the program of the Hessian-vector products (the hvp "
                        "command's code), the tangents' lifetimes and its peak beside "
                        "training's and inference's")
    _add_output(p)
    _add_bind(p)


def _codegen_command(sub):
    p = _command(sub, "codegen", _codegen,
                 "symbackprop codegen examples/textbook_mlp.sbp "
                 "--bind phi=tanh,ell=squared_error -o grads.py",
                 "; for a model with loops, a module with the loops kept, the same for every "
                 "length")
    _add_output(p)
    _add_wrt(p)
    _add_bind(p)


def _ops(args):
    from ..printing.operator_reference import find_operators, groups, operator_text
    shown = [("", find_operators(args.names))] if args.names else groups()
    _emit("\n\n".join((title and f"== {title} ==\n\n") + "\n\n".join(map(operator_text, names))
                      for title, names in shown) + "\n", None)
    return 0


def _ops_command(sub):
    p = sub.add_parser("ops", help=COMMANDS["ops"], epilog="example:\n  symbackprop ops tanh",
                       description=COMMANDS["ops"] + ", each derived by symbackprop on one-line "
                       "models z = op(A, ...) with J = f(z)", formatter_class=argparse.
                       RawDescriptionHelpFormatter)
    p.add_argument("names", metavar="NAME", nargs="*", help="the operators shown (all by default)")
    p.set_defaults(func=_ops, model="", bind="", unroll="", time_limit=None, memory_limit=None)


def main(argv=None):
    """Run the command line; returns the exit status.

    Run as the program (`argv` None), a command works within a budget, --time-limit and
    --memory-limit (:data:`TIME_LIMIT` s and :data:`MEMORY_LIMIT` GiB by default): in a child
    process that is stopped, with a message naming the limit and exit status 2, when it runs
    out of either.  Called with `argv` (from Python), it runs here, bounded only by the
    limits given in `argv`.
    """
    words = sys.argv[1:] if argv is None else argv
    # the first word not an option is the command (the program's own options take no value)
    parser = _parser(next((w for w in words if not w.startswith("-")), ""))
    if not words:
        parser.print_help(sys.stderr)  # a newcomer typing just `symbackprop` sees the commands
        return 2
    args = parser.parse_args(argv)
    program = argv is None  # the defaults hold for the program, not for Python callers
    seconds = (TIME_LIMIT if program and args.time_limit is None else args.time_limit) or None
    memory = (MEMORY_LIMIT if program and args.memory_limit is None else args.memory_limit) \
        or None
    if not (seconds or memory) or not hasattr(os, "fork"):
        return _run(args)
    return run_within(_run, args, seconds, memory)


def _run(args):
    """The command `args` names; its exit status, every expected failure a message."""
    try:
        args.bind = _option_pairs(args.bind, "bind")
        if hasattr(args, "dims"):
            args.dims = _option_pairs(args.dims, "dims", int)
        args.unroll = _option_pairs(args.unroll, "unroll", int)
        if getattr(args, "output", None) is not None and same_file(args.output, args.model):
            raise UsageError(f"-o {args.output} is the model file itself: writing there would "
                             "replace the model by its output; nothing was written")
        _resolve_format(args)
        return with_model_warnings(lambda: args.func(args), sys.stderr)
    except ModelError as err:
        print(err.render(), file=sys.stderr)
        return 2
    except (UsageError, ValueError) as err:
        print(visible(f"symbackprop: error: {err}"), file=sys.stderr)
        return 2
    except OSError as err:
        print(visible(f"symbackprop: error: {err.filename or ''}: {err.strerror}"),
              file=sys.stderr)
        return 2
    except MemoryError:  # a model within the limits may still need more than the machine has
        print(f"symbackprop: error: {args.command} ran out of memory on {visible(args.model)} "
              "(try smaller --dims)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
