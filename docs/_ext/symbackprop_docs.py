"""Sphinx extension: symbackprop's own output on the documentation pages.

Nothing on the pages that symbackprop can produce is copied by hand, so
nothing can drift from the code:

Directives (for MyST pages)
    ``sbp-model PATH``
        The model file, highlighted.
    ``sbp-derivation PATH``
        The backward derivation, from :meth:`Derivation.markdown`, rendered
        by MyST (``:format: text`` shows the terminal's text instead).
    ``sbp-figure PATH``
        The computational graph (``:backward:``: the backward graph) as SVG,
        drawn by Graphviz from :func:`symbackprop.graph_figure`.
    ``sbp-command``
        Runs a ``symbackprop ...`` command line in-process, from the
        repository's root, and shows it with its output.  The build fails if
        its exit status is not ``:returncode:`` (0 unless given).

Generated pages (at ``builder-inited``, into git-ignored folders)
    ``_generated/operators.md``
        Every operator of :data:`symbackprop.primitives.operators.REGISTRY` with its
        local derivative rules, each derived by symbackprop from a one-line
        model and printed as LaTeX.
    ``_generated/cli.md``
        Every command and option of the argument parser.
    ``gallery/``
        One page per ``examples/*.sbp``.
    ``api/``
        One page per module of the package, from its numpydoc docstrings.

A Pygments lexer for the model language (``sbp``) highlights model listings.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from pygments.lexer import RegexLexer, words
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String,
                            Whitespace)
from sphinx.directives.code import container_wrapper
from sphinx.util.docutils import SphinxDirective

import package_layers
import symbackprop as sbp
from symbackprop import cli
from symbackprop.primitives.operators import FUNCTIONS
from symbackprop.printing.operator_reference import (escape_markdown as _escape,
                                                     math_block as _math, reference_markdown,
                                                     rule_model, rule_rows)

ROOT = Path(__file__).resolve().parents[2]
GENERATED = "_generated"
GALLERY = "gallery"
API = "api"
#: The modules in the order of the API reference; any other module follows.
#: The API pages in reading order: the façade, then the layers from the bottom up.
MODULES = ["api", "errors", "primitives.shapes", "primitives.expressions",
           "primitives.matrix_functions", "primitives.members", "primitives.pieces",
           "primitives.functions", "primitives.entries", "primitives.reductions",
           "primitives.piecewise", "primitives.linear_algebra", "primitives.blocks",
           "primitives.windows", "primitives.convolution", "primitives.operators",
           "language.loading", "language.tokens", "language.statements", "language.syntax",
           "language.expression_nodes", "language.dim_arithmetic", "language.exponents",
           "language.options", "language.model",
           "language.unrolling", "language.looped", "language.spelling", "derivation.graph",
           "derivation.reverse", "derivation.recurrences", "derivation.closed_forms",
           "derivation.folded", "derivation.program", "derivation.loop_statements",
           "derivation.loop_saved", "derivation.loop_program", "derivation.tangent",
           "derivation.loop_tangent",
           "printing.names", "printing.words", "printing.indicators", "printing.inverses",
           "printing.windows", "printing.entrywise",
           "printing.printers", "printing.line_breaks", "printing.documents", "printing.loops",
           "printing.loop_memory", "printing.graph_placement", "printing.figures",
           "printing.loop_figures", "printing.plate_layout", "printing.matrix_chains",
           "printing.numpy_printer", "printing.numpy_code", "printing.numpy_function",
           "printing.loop_code", "printing.loop_function", "printing.memory", "printing.files",
           "printing.entries", "printing.markup", "printing.page", "printing.loop_page",
           "printing.operator_reference",
           "proofs.sizes",
           "proofs.explicit",
           "proofs.check", "proofs.verify", "proofs.instances", "proofs.hessian",
           "proofs.forked", "proofs.bounded", "proofs.evaluation", "proofs.window_values",
           "proofs.notation_values", "proofs.reading",
           "proofs.index_reading", "proofs.readback", "proofs.loop_readback", "cli",
           "cli.budget"]
HELP_COLUMNS = "88"


# --- the model language's lexer ------------------------------------------------------

class SbpLexer(RegexLexer):
    """Pygments lexer for symbackprop model files (``.sbp``)."""

    name = "symbackprop model"
    aliases = ["sbp"]
    filenames = ["*.sbp"]
    tokens = {
        "root": [
            (r"#.*?$", Comment.Single),
            (r'"[^"\n]*"', String),
            (words(("dim", "input", "param", "const", "func", "objective", "as", "for", "in"),
                   suffix=r"\b"), Keyword),
            (words(("scalar", "vector", "matrix"), suffix=r"\b"), Keyword.Type),
            (words(FUNCTIONS, suffix=r"\b"), Name.Builtin),
            (r"\.T\b", Operator),
            (r"(?:\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE][+-]?\d+)?", Number),
            (r"\.\.|[-+*/@^=]", Operator),
            (r"[(),:\[\]]", Punctuation),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r"\s+", Whitespace),
        ],
    }


# --- helpers ---------------------------------------------------------------------------

def _pairs(text):
    """``"phi=tanh,ell=squared_error"`` as a dict."""
    out = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def default_bind(model):
    """Built-ins for a model's abstract functions: tanh for entrywise ones,
    squared_error for the others (as symbackprop's own error message suggests)."""
    return {name: "tanh" if f.elementwise else "squared_error"
            for name, f in model.functions.items()}


def _bind_option(bind):
    return ",".join(f"{k}={v}" for k, v in bind.items())


_DERIVATIONS = {}


def derivation(path, bind=None):
    """The derivation of a model file (relative to the repository), cached per build."""
    key = (path, tuple(sorted((bind or {}).items())))
    if key not in _DERIVATIONS:
        _DERIVATIONS[key] = sbp.derive(sbp.load(ROOT / path, bind=bind or None))
    return _DERIVATIONS[key]


def run_command(line):
    """Run ``symbackprop ARGS`` in-process from the repository's root.

    Returns
    -------
    status : int
    output : str
        What it wrote to stdout and stderr.
    """
    argv = shlex.split(line)
    if not argv or argv[0] != "symbackprop":
        raise ValueError(f"a command must start with 'symbackprop', not {line!r}")
    out = io.StringIO()
    cwd, columns = os.getcwd(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                status = cli.main(argv[1:])
            except SystemExit as stop:  # argparse: --help, --version, usage errors
                status = stop.code if isinstance(stop.code, int) else 0
    finally:
        os.chdir(cwd)
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return status, out.getvalue()


def _figure_file(app, path, backward):
    # examples/loops/bptt.sbp is loops-bptt: a name of its own beside examples/*.sbp
    stem = "-".join(Path(path).with_suffix("").parts[1:]) + ("-backward" if backward else "")
    file = Path(app.srcdir) / GENERATED / "figures" / f"{stem}.svg"
    return f"/{GENERATED}/figures/{stem}.svg", file


# --- directives ------------------------------------------------------------------------

class _ModelDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def model_path(self):
        path = self.arguments[0]
        if not (ROOT / path).is_file():
            raise self.error(f"no model file {path} (paths are relative to the repository)")
        self.env.note_dependency(str(ROOT / path))
        return path


class SbpModel(_ModelDirective):
    """The model file, highlighted, with its name as the caption."""

    option_spec = {"caption": directives.unchanged}

    def run(self):
        path = self.model_path()
        text = (ROOT / path).read_text(encoding="utf-8")
        literal = nodes.literal_block(text, text, language="sbp")
        self.set_source_info(literal)
        return [container_wrapper(self, literal, self.options.get("caption", path))]


class SbpDerivation(_ModelDirective):
    """The backward derivation of a model file."""

    option_spec = {
        "bind": directives.unchanged,
        "format": lambda arg: directives.choice(arg, ("md", "text")),
        "no-prod": directives.flag,
        "no-shapes": directives.flag,
        "substituted": directives.flag,
        "nabla": directives.flag,
        "bold": lambda arg: directives.choice(arg, ("boldsymbol", "mathbf")),
        "transpose": lambda arg: directives.choice(arg, ("top", "T", "mathsf")),
        "lang": lambda arg: directives.choice(arg, ("en", "zh")),
        "wrt": directives.unchanged,
    }

    def run(self):
        d = derivation(self.model_path(), _pairs(self.options.get("bind")))
        notation = {"prod": "no-prod" not in self.options,
                    "shapes": "no-shapes" not in self.options,
                    "substituted": "substituted" in self.options,
                    "nabla": "nabla" in self.options,
                    "lang": self.options.get("lang", "en")}
        if "wrt" in self.options:  # as derive --wrt: the steps to these gradients
            notation["wrt"] = tuple(n.strip() for n in self.options["wrt"].split(","))
        if self.options.get("format") == "text":
            text = d.text(**notation)
            literal = nodes.literal_block(text, text, language="text")
            self.set_source_info(literal)
            return [literal]
        for key in ("bold", "transpose"):
            if key in self.options:
                notation[key] = self.options[key]
        container = nodes.container(classes=["sbp-derivation"])
        markdown = d.markdown(**notation)
        self.state.nested_parse(StringList(markdown.splitlines(), source=self.arguments[0]),
                                self.content_offset, container)
        return [container]


class SbpFigure(_ModelDirective):
    """The computational graph (or, with ``:backward:``, the backward graph) as SVG."""

    option_spec = {"backward": directives.flag, "bind": directives.unchanged,
                   "alt": directives.unchanged, "caption": directives.unchanged}

    def run(self):
        path = self.model_path()
        backward = "backward" in self.options
        d = derivation(path, _pairs(self.options.get("bind")))
        if isinstance(d, sbp.LoopDerivation) and backward:
            raise self.error(f"{path} has loops: its figure is the folded graph, no backward")
        try:  # a model with loops: the folded graph, its loop body once in a plate
            figure = d.figure() if isinstance(d, sbp.LoopDerivation) else \
                d.figure(backward=backward)
            svg = figure.source("svg")
        except RuntimeError as err:  # no Graphviz
            raise self.error(f"cannot draw {path}: {err}") from None
        uri, file = _figure_file(self.env.app, path, backward)
        file.parent.mkdir(parents=True, exist_ok=True)
        if not file.exists() or file.read_text(encoding="utf-8") != svg:
            file.write_text(svg, encoding="utf-8")
        kind = "backward graph" if backward else "computational graph"
        image = nodes.image(uri=uri, alt=self.options.get("alt", f"The {kind} of {path}"),
                            classes=["sbp-graph"])
        figure = nodes.figure("", image, classes=["sbp-figure"])
        if "caption" in self.options:
            caption, _ = self.state.inline_text(self.options["caption"], self.lineno)
            figure += nodes.caption(self.options["caption"], "", *caption)
        return [figure]


class SbpCommand(SphinxDirective):
    """A ``symbackprop`` command line and what it prints, run at build time."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"returncode": directives.nonnegative_int}

    def run(self):
        line = " ".join(self.arguments[0].split())
        try:
            status, output = run_command(line)
        except ValueError as err:
            raise self.error(str(err)) from None
        expected = self.options.get("returncode", 0)
        if status != expected:
            raise self.error(f"'{line}' exited with status {status}, not {expected}:\n{output}")
        text = f"$ {line}\n{output}".rstrip("\n")
        literal = nodes.literal_block(text, text, language="console")
        self.set_source_info(literal)
        return [literal]


# --- generated pages -------------------------------------------------------------------

def _sentence(text):
    """Help text as a sentence: a capital first letter and a full stop, escaped."""
    text = text.strip()
    return _escape(text[:1].upper() + text[1:] + ("" if text.endswith(".") else "."))


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def rule_latex(source, operands, target="z"):
    """LaTeX rows ``z = ...`` and ``dJ/d(operand) = ...`` for a one-line model."""
    return rule_rows(source, operands, target)


def operators_page():
    """The operator reference, in Markdown: one section per registry entry
    (:func:`symbackprop.printing.operator_reference.reference_markdown`)."""
    return reference_markdown()


def abstract_rules():
    """The local rules of the two kinds of abstract function, as a Markdown snippet."""
    elementwise = rule_latex(rule_model("phi(A)", ["A: matrix(m, n)"], "func phi"), ["A"])
    scalar = rule_latex(rule_model("ell(o, y)", ["o: vector(n)", "y: vector(n)"],
                                   "func ell(a, b)", target="L"), ["o", "y"], target="L")
    return ("`z = phi(A)` with `func phi` and `A: matrix(m, n)`:\n\n" + _math(elementwise) +
            "\n`L = ell(o, y)` with `func ell(a, b)` and `o, y: vector(n)`:\n\n" + _math(scalar))


def _option_row(action):
    flags = ", ".join(action.option_strings) or action.metavar or action.dest
    if action.option_strings and action.nargs != 0:
        if action.choices:
            flags += " {" + ",".join(map(str, action.choices)) + "}"
        else:  # as argparse shows it: the metavar, or the destination in capitals
            flags += f" {action.metavar or action.dest.upper()}"
    return f"| `{flags}` | {_sentence(action.help or '')} |"


def cli_page():
    """The command-line reference, in Markdown, from the argument parser itself."""
    parser = cli._parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    out = ["| command | what it does |", "|---|---|"]
    out += [f"| [`{name}`](#cli-{name}) | {_sentence(helps.get(name, ''))} |"
            for name in sub.choices]
    out.append("")
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        for name, p in sub.choices.items():
            usage = p.format_usage().rstrip()
            out += [f"(cli-{name})=", f"# `symbackprop {name}`", "",
                    _sentence(p.description or helps.get(name, "")), "",
                    "```text", usage, "```", ""]
            groups = [(g.title, [a for a in g._group_actions if a.help != "==SUPPRESS=="])
                      for g in p._action_groups]
            for title, actions in groups:
                if not actions:
                    continue
                heading = {"positional arguments": "Arguments", "options": "Options"}.get(
                    title, title[:1].upper() + title[1:])
                column = "argument" if heading == "Arguments" else "option"
                out += [f"**{heading}**", "", f"| {column} | meaning |", "|---|---|"]
                out += [_option_row(a) for a in actions]
                out.append("")
            if p.epilog:
                out += ["```console"]
                out += [f"$ {line.strip()}" for line in p.epilog.splitlines()[1:] if line.strip()]
                out += ["```", ""]
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(out) + "\n"


def _description(path):
    """The first comment line of an example: what it teaches."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("#").strip()


def gallery_pages():
    """Page name to Markdown: the gallery's index and one page per example."""
    examples = sorted((ROOT / "examples").glob("*.sbp"))
    pages = {}
    index = ["# Gallery", "",
             "Every model in `examples/`, with its computational graph, its backward derivation "
             "as symbackprop writes it, and the finite-difference check of its gradients, all "
             "generated when these pages are built.", "",
             "| example | what it shows |", "|---|---|"]
    for path in examples:
        index.append(f"| [{path.name}]({path.stem}.md) | {_escape(_description(path))} |")
    index += ["", "```{toctree}", ":hidden:", ""] + [p.stem for p in examples] + ["```", ""]
    pages["index"] = "\n".join(index)
    for path in examples:
        rel = f"examples/{path.name}"
        model = sbp.load(path)
        bind = default_bind(model)
        option = f" --bind {_bind_option(bind)}" if bind else ""
        bound = f"`{_bind_option(bind)}` binds the abstract functions to built-ins for numbers. " \
            if bind else ""
        lines = [f"# {path.name}", "", _escape(_description(path)), "",
                 f"```{{sbp-model}} {rel}", "```", "",
                 "## Computational graph", "",
                 "Boxes are variables (params shaded, the objective doubled), circles operators.",
                 "", f"```{{sbp-figure}} {rel}", "```", "",
                 "## Backward derivation", "",
                 f"```{{sbp-derivation}} {rel}", "```", "",
                 "## Numeric check", "",
                 f"{bound}The test suite also proves this example with `verify` and against "
                 "PyTorch autograd.", "",
                 f"```{{sbp-command}} symbackprop check {rel}{option}", "```", "",
                 "## What backward keeps", "",
                 "The backward graph: one box per adjoint, and, dashed, the forward values each "
                 "backward step reads, which training keeps from the forward pass.", "",
                 f"```{{sbp-figure}} {rel}", ":backward:", "```", "",
                 f"```{{sbp-command}} symbackprop memory {rel}", "```", ""]
        pages[path.stem] = "\n".join(lines)
    loops = sorted((ROOT / "examples" / "loops").glob("*.sbp"))
    pages["index"] += "\n".join([
        "## Loops over layers and time", "",
        "Models with families and loops (`examples/loops/`), derived once for a general index: "
        "each family's adjoint as a recurrence with its boundary, the sums over an index of "
        "shared params (see [Backpropagation through time](../loops.md)).", "",
        "| example | what it shows |", "|---|---|"]
        + [f"| [loops/{p.name}](loops-{p.stem}.md) | {_escape(_description(p))} |"
           for p in loops]
        + ["", "```{toctree}", ":hidden:", ""] + [f"loops-{p.stem}" for p in loops]
        + ["```", ""])
    for path in loops:
        pages[f"loops-{path.stem}"] = _loop_page(path)
    return pages


def _loop_page(path):
    """The gallery page of a model with loops: folded graph, general derivation, proofs."""
    rel = f"examples/loops/{path.name}"
    bind = default_bind(sbp.load(path).unrolled())
    option = f" --bind {_bind_option(bind)}" if bind else ""
    return "\n".join([
        f"# loops/{path.name}", "", _escape(_description(path)), "",
        f"```{{sbp-model}} {rel}", "```", "",
        "## Folded graph", "",
        "One copy of each loop's body inside a plate with its range; an edge labelled with "
        "an index shift, t−1 → t, is the recurrence.", "",
        f"```{{sbp-figure}} {rel}", "```", "",
        "## Backward derivation, for a general index", "",
        f"```{{sbp-derivation}} {rel}", "```", "",
        "## Proofs", "",
        "The numbers of the model written out at length 3, the general derivation put at that "
        "length against the written-out one formula by formula, and every formula above read "
        "back at every index of the length.", "",
        f"```{{sbp-command}} symbackprop check {rel}{option}", "```", "",
        "## What backward keeps", "",
        f"```{{sbp-command}} symbackprop memory {rel}", "```", ""])


def api_pages():
    """Page name to Markdown: one page per module of the package."""
    package = Path(sbp.__file__).parent
    found = sorted(".".join(p.relative_to(package).with_suffix("").parts)
                   for p in package.rglob("*.py") if not p.stem.startswith("_"))
    order = [m for m in MODULES if m in found] + [m for m in found if m not in MODULES]
    # autodoc writes reStructuredText: MyST hands it to the rst parser through eval-rst
    return {name: f"# symbackprop.{name}\n\n```{{eval-rst}}\n"
                  f".. automodule:: symbackprop.{name}\n```\n"
            for name in order}


def api_toctree(pages):
    """The API reference's table of contents, in the order of `pages`."""
    return "\n".join(["```{toctree}", ":maxdepth: 1", ""] + [f"{API}/{name}" for name in pages]
                     + ["```", ""])


def _write_folder(folder, pages):
    """Write `pages` into `folder`, removing pages that are no longer generated."""
    if folder.exists():
        for old in folder.glob("*.md"):
            if old.stem not in pages:
                old.unlink()
    for name, text in pages.items():
        _write(folder / f"{name}.md", text)


def generate(app):
    """Write the generated pages into the source folder (git-ignored)."""
    src = Path(app.srcdir)
    _write(src / GENERATED / "operators.md", operators_page())
    _write(src / GENERATED / "abstract_rules.md", abstract_rules())
    _write(src / GENERATED / "cli.md", cli_page())
    _write_folder(src / GALLERY, gallery_pages())
    api = api_pages()
    _write_folder(src / API, api)
    _write(src / GENERATED / "api_toctree.md", api_toctree(api))
    _write(src / GENERATED / "architecture.svg", package_layers.svg(package_layers.import_graph()))


def setup(app):
    app.add_lexer("sbp", SbpLexer)
    app.add_directive("sbp-model", SbpModel)
    app.add_directive("sbp-derivation", SbpDerivation)
    app.add_directive("sbp-figure", SbpFigure)
    app.add_directive("sbp-command", SbpCommand)
    app.connect("builder-inited", generate)
    if shutil.which("dot") is None:
        raise RuntimeError("the documentation's figures need Graphviz's 'dot' program "
                           "(Debian: apt-get install graphviz)")
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
