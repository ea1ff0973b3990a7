"""Hostile input, round two: outputs that cannot attack their reader, files never lost.

Each class of attack has its test: the model's path in every output format, names that
could carry HTML into Markdown, control characters that would drive a terminal, echoes of
huge lines, and ``-o`` and ``MODEL`` at what is not a plain file.  The properties at the
end (fuzz targets: ``SYMBACKPROP_FUZZ=1`` explores, tests/profiles.py) draw file names,
display names and source lines at random.
"""

import os
import re
import shutil
import stat
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples
from typeset import compiles

import symbackprop as sbp
from symbackprop import cli
from symbackprop.cli import main
from symbackprop.errors import ECHO_WIDTH, ModelError, visible
from symbackprop.language.loading import MAX_SOURCE_BYTES
from symbackprop.language.spelling import latex_text, safe_latex

MODEL = "dim n\ninput x: vector(n)\nparam w: vector(n)\nJ = (w.T @ x)^2\nobjective J\n"

#: File names an attacker would send: each ends a comment, opens math or a group, calls a
#: command, or carries a tag or a terminal escape.
HOSTILE_NAMES = ["m\n\\input{secret}\n.sbp", "a^b.sbp", "x}}.sbp", "\\input{secret}.sbp",
                 "<script>alert(1)<\\script>.sbp", "esc\x1b[2J\x07.sbp", "m\r\\def\\x{}.sbp",
                 "50%_$#&~.sbp", "sep\u2028\\input{secret}.sbp", "Übung 中.sbp"]
SECRET = "SECRET-WAS-READ"


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _raw_controls(text):
    """The control and format characters of `text` other than line breaks and tabs."""
    return [c for c in text if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cf",
                                                                                "Zl", "Zp")]


@pytest.fixture
def hostile_dir(tmp_path, monkeypatch):
    """A directory holding the model under every hostile name, and a file not to be read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.tex").write_text(f"\\typeout{{{SECRET}}}{SECRET}\n", encoding="utf-8")
    for name in HOSTILE_NAMES:
        (tmp_path / name).write_text(MODEL, encoding="utf-8")
    return tmp_path


# --- the model's path in every output --------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_file_name_stays_in_the_latex_comment_and_the_title(hostile_dir, name):
    d = sbp.derive(sbp.load(name))
    fragment = d.latex()
    first, *rest = fragment.splitlines()
    assert first.startswith("% ") and not _raw_controls(first)
    # the name took no line of its own: the rest is the derivation's own
    assert rest == sbp.derive(sbp.parse(MODEL, "plain.sbp")).latex().splitlines()[1:]
    title = "\\section*{" + d.latex(standalone=True).split("\\section*{", 1)[1].split("\n")[0]
    assert "\\input" not in title.replace("\\textbackslash{}input", "")
    assert title.count("{") - title.count("\\{") == title.count("}") - title.count("\\}")


def test_every_hostile_name_compiles_and_reads_nothing(hostile_dir):
    for k, name in enumerate(HOSTILE_NAMES):
        status = main(["derive", name, "--format", "tex", "--standalone", "-o", f"d{k}.tex"])
        assert status == 0
        log = compiles(hostile_dir, f"d{k}", (hostile_dir / f"d{k}.tex").read_text("utf-8"))
        assert SECRET not in log
        assert SECRET.encode() not in (hostile_dir / f"d{k}.pdf").read_bytes()
    assert sorted(p.name for p in hostile_dir.iterdir() if not p.name.startswith("d")) == \
        sorted([*HOSTILE_NAMES, "secret.tex"])  # nothing written but the documents


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_file_name_reaches_no_other_output_raw(hostile_dir, capsys, name):
    for argv in (["derive", name, "--format", "md"], ["derive", name, "--memory"],
                 ["graph", name, "--format", "dot"], ["graph", name, "--format", "tikz"],
                 ["memory", name], ["codegen", name], ["hvp", name, "--format", "md"]):
        status, out, err = run(capsys, *argv)
        assert status == 0, err
        assert not _raw_controls(out), argv
        if "md" in argv or "dot" in argv:  # read as HTML, or drawn into SVG
            assert "<script>" not in out, argv
    status, source, _ = run(capsys, "codegen", name)
    code = compile(source, "generated", "exec")  # the name is in a comment, quoted
    assert "input" not in code.co_names and "alert" not in code.co_names


# --- names that would carry HTML into Markdown -------------------------------------------------

@pytest.mark.parametrize("latex", ["<img src=x onerror=alert(1)>", "\\text{<script>}",
                                   "x &amp; y", "a\x1bb", "a\x1cb", "a\u2028b"])
def test_a_display_name_cannot_carry_a_tag_or_a_control_character(latex):
    text = MODEL.replace("vector(n)\nparam", f'vector(n) as "{latex}"\nparam')
    with pytest.raises(ModelError, match="which LaTeX documents may not take") as caught:
        sbp.parse(text, "tags.sbp")
    assert (caught.value.line, caught.value.col) == (2, 23)
    assert not _raw_controls(caught.value.render())


#: Display names the language accepts, each a construct pdflatex must set as it is.
ACCEPTED = ["\\mathbf{}", "x^{}", "x'", "x''^2", "x'_1", "^2", "a|b", "\\|", "\\text{}",
            "\\left(x\\right)", "\\left\\langle x \\right\\rangle", "\\left. x \\right|_{0}",
            "\\left(\\right.", "{\\left(x\\right)}^2", "(x", "x)", "[x]", "x/", "x!",
            "\\hat\\hat x", "\\mathbf\\alpha", "\\hat x_1^2", "x^ 2", "x^\\alpha_\\beta",
            "{x}^2_1", "x_{a}{}_{b}",
            "\\text{a \\textbf{b}}", "\\text{a\\,b\\ c\\{\\}}", "\\mathrm{\\text{a}}", "x_1'",
            "\\left(x' \\right)", "\\mathrm{x}^{\\mathrm{y}}_{z}", "\\bar{x}_{\\ast}"]


def test_every_accepted_construct_and_command_compiles(tmp_path):
    # A name the language accepts must never stop the lecturer's document: every construct
    # above and every command it allows, all in one document.
    from symbackprop.language.spelling import _TAKING, _TEXT, SAFE_COMMANDS
    names = list(ACCEPTED)
    for command in sorted(SAFE_COMMANDS - {"left", "right"}):
        names.append(f"\\{command}{{x}}" if command in _TAKING | _TEXT else f"x_{{\\{command}}}")
    assert all(safe_latex(name) for name in names)
    lines = ["dim n"] + [f'param w{k}: vector(n) as "{name}"' for k, name in enumerate(names)]
    lines += ["J = " + " + ".join(f"sum(w{k})" for k in range(len(names))), "objective J"]
    d = sbp.derive(sbp.parse("\n".join(lines) + "\n", "accepted.sbp"))
    assert "\\left. x \\right|_{0}" in d.latex()
    compiles(tmp_path, "accepted", d.latex(standalone=True))


def test_angle_brackets_are_written_as_commands():
    text = MODEL.replace("vector(n)\nparam", 'vector(n) as "\\langle x \\rangle"\nparam')
    markdown = sbp.derive(sbp.parse(text)).markdown()
    assert "\\langle x \\rangle" in markdown and "<" not in markdown


# --- control characters ---------------------------------------------------------------------

def test_an_error_echoes_control_characters_escaped(tmp_path, capsys):
    path = tmp_path / "esc.sbp"
    path.write_text("dim n\ninput x\x1b[31m: vector(n)\x07\n", encoding="utf-8")
    status, out, err = run(capsys, "derive", path)
    assert status == 2 and not _raw_controls(err)
    lines = err.splitlines()
    assert lines[1] == "    input x\\x1b[31m: vector(n)\\x07"
    assert lines[2].index("^") == lines[1].index("\\x1b")  # the caret under the character


def test_a_comment_with_escapes_and_a_hostile_path_print_nothing_raw(tmp_path, capsys):
    path = tmp_path / "bell\x07.sbp"
    path.write_text(MODEL.replace("objective J", "objective J # \x1b]0;owned\x07"), "utf-8")
    for argv in (["derive", path], ["memory", path], ["check", path], ["derive", tmp_path]):
        status, out, err = run(capsys, *argv)
        assert not _raw_controls(out + err), argv


# --- huge echoes -----------------------------------------------------------------------------

def test_a_huge_one_line_model_makes_a_short_message(tmp_path, capsys):
    path = tmp_path / "huge.sbp"
    path.write_text("J = " + "x + " * 1_300_000 + "x\n", encoding="utf-8")  # 5 MB
    status, out, err = run(capsys, "derive", path)
    assert status == 2 and "too large" in err and len(err) < 500


def test_a_long_line_is_echoed_around_its_column():
    line = "J = " + "w + " * 1000 + "q + " + "w + " * 1000 + "w"
    col = line.index("q") + 1
    err = ModelError("unknown name 'q'", 2, col, "long.sbp", line)
    shown, caret = err.render().splitlines()[1:]
    assert len(shown) < 2 * ECHO_WIDTH + 20
    assert shown[caret.index("^")] == "q"
    assert shown.startswith("    ...") and shown.endswith("...")


# --- files never lost, never replaced ----------------------------------------------------------

@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.sbp"
    path.write_text(MODEL, encoding="utf-8")
    return path


def test_output_is_never_the_model_itself(model, capsys):
    os.symlink(model, model.parent / "link.sbp")
    for out in (model, model.parent / "link.sbp", model.parent / "." / "m.sbp"):
        status, _, err = run(capsys, "derive", model, "-o", out)
        assert status == 2 and "is the model file itself" in err
        assert model.read_text(encoding="utf-8") == MODEL


def test_output_through_a_link_keeps_the_link_and_a_private_file_stays_private(model, capsys):
    target, link = model.parent / "target.tex", model.parent / "link.tex"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    link.symlink_to(target.name)
    assert run(capsys, "derive", model, "-o", link)[0] == 0
    assert link.is_symlink() and target.read_text(encoding="utf-8").startswith("% Backpropagation")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_output_to_a_device_or_a_fifo_is_written_into_never_replaced(model, capsys):
    assert run(capsys, "derive", model, "-o", os.devnull)[0] == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = model.parent / "fifo"
    os.mkfifo(fifo)
    status, _, err = run(capsys, "derive", model, "-o", fifo)  # nothing reads it
    assert status == 2 and "a FIFO that nothing reads" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_full_disk_names_the_file_and_leaves_nothing(model, capsys, monkeypatch):
    if os.path.exists("/dev/full"):
        status, _, err = run(capsys, "derive", model, "-o", "/dev/full")
        assert status == 2 and "/dev/full: No space left on device" in err
    target = model.parent / "out.tex"
    target.write_text("previous", encoding="utf-8")

    fdopen = os.fdopen

    class Full:  # a file on a full disk: opened for writing, every write fails
        def __new__(cls, fd, mode):
            return super().__new__(cls) if mode == "wb" else fdopen(fd, mode)

        def __init__(self, fd, mode):
            self.file = fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "fdopen", Full)
    status, _, err = run(capsys, "derive", model, "-o", target)
    assert status == 2 and f"{target}: No space left on device" in err
    assert target.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in model.parent.iterdir()) == ["m.sbp", "out.tex"]


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo", "directory"])
def test_only_a_regular_file_is_read(tmp_path, capsys, special):
    if special == "fifo":
        os.mkfifo(tmp_path / "fifo")  # no writer: reading would wait forever
    path = tmp_path / special if special in ("fifo", "directory") else special
    os.makedirs(tmp_path / "directory", exist_ok=True)
    status, _, err = run(capsys, "derive", path)
    assert status == 2 and "not a regular file" in err


def test_a_huge_sparse_file_is_refused_after_the_limit(tmp_path, capsys):
    path = tmp_path / "sparse.sbp"
    with open(path, "wb") as f:
        f.truncate(1_500_000_000)
    status, _, err = run(capsys, "derive", path)
    assert status == 2 and f"more than {MAX_SOURCE_BYTES:,} bytes" in err


def test_the_standard_input_is_read_with_a_dash(capsys, monkeypatch, tmp_path):
    stdin = tmp_path / "stdin"
    stdin.write_text(MODEL, encoding="utf-8")
    with open(stdin, "rb") as f:
        monkeypatch.setattr(sys, "stdin", type("In", (), {"buffer": f})())
        status, out, _ = run(capsys, "derive", "-")
    assert status == 0 and out.startswith("Forward")


# --- fuzz targets ------------------------------------------------------------------------------

_ALLOWED = {"\\textbackslash", "\\textless", "\\textgreater", "\\textbar", "\\{", "\\}", "\\#",
            "\\$", "\\%", "\\&", "\\_", "\\^", "\\~"}


@settings(max_examples=examples(200))
@given(st.text(max_size=40))
def test_any_file_name_is_latex_text_without_a_command_of_its_own(name):
    text = latex_text(name)
    assert "\n" not in text and "\r" not in text and not _raw_controls(text)
    assert set(re.findall(r"\\(?:[A-Za-z]+|.)", text)) <= _ALLOWED
    depth = 0
    for brace in re.sub(r"\\[{}]", "", text):
        depth += {"{": 1, "}": -1}.get(brace, 0)
        assert depth >= 0
    assert depth == 0 and not re.search(r"(?<!\\)[$^_%#&~]", text.replace("\\^{}", ""))


@settings(max_examples=examples(200))
@given(st.text(max_size=30))
def test_an_accepted_display_name_carries_no_tag_and_no_control(latex):
    if safe_latex(latex):
        assert not set(latex) & set("<>&$%#\"") and not _raw_controls(latex)


@settings(max_examples=examples(150))
@given(st.text(st.characters(blacklist_characters="\n"), min_size=1, max_size=400),
       st.integers(1, 400))
def test_an_echoed_line_is_short_and_shows_nothing_raw(line, col):
    col = min(col, len(line))
    shown = ModelError("bad", 1, col, "f.sbp", line).render()
    assert not _raw_controls(shown) and visible(shown) == shown
    echoed = shown.splitlines()[1]
    assert len(echoed) <= 4 + 6 + 2 * ECHO_WIDTH * len("\\U0001ffff")


# --- bounded time: constants beyond float64 ----------------------------------------------------

@pytest.mark.parametrize("power, col", [("10 ^ 1e300", 12), ("(10^300)^300", 17), ("2^1024", 10),
                                        ("0.5^2000", 12), ("(1.0000001 - 1)^(-1000)", 24)])
def test_a_constant_power_beyond_float64_is_refused_at_once(power, col):
    text = f"param x: scalar\nJ = x * {power}\nobjective J\n"
    with pytest.raises(ModelError, match="constant power is beyond float64") as caught:
        sbp.parse(text, "power.sbp")
    assert (caught.value.line, caught.value.col) == (2, col)


@pytest.mark.parametrize("power, value", [
    ("2^1000", 2.0 ** 1000), ("(2^10)^100", 2.0 ** 1000), ("1^1e300", 1.0), ("(1/3)^2", 1 / 9),
    ("2^0.5", 2 ** 0.5)])
def test_a_constant_power_within_float64_is_kept(power, value):
    d = sbp.derive(sbp.parse(f"param x: scalar\nJ = x * {power}\nobjective J\n"))
    assert d.lambdify()(x=1.0)[0] == pytest.approx(value, rel=1e-15)


# --- bounded time: a figure Graphviz would lay out for minutes ---------------------------------

def test_a_huge_graph_is_refused_as_svg_with_a_message(tmp_path, capsys, monkeypatch):
    from symbackprop.printing import figures
    lines = ["dim n", "param w: vector(n)", "a0 = w"]
    lines += [f"a{k} = a{k - 1} * w + a{max(0, k - 2)}" for k in range(1, 200)]
    (tmp_path / "many.sbp").write_text("\n".join([*lines, "J = sum(a199)", "objective J\n"]),
                                       encoding="utf-8")
    monkeypatch.setattr(figures.subprocess, "run", None)  # Graphviz is never started
    for fmt in ("svg", "png"):
        status, out, err = run(capsys, "graph", tmp_path / "many.sbp", "--format", fmt, "-o",
                               tmp_path / f"many.{fmt}")
        assert status == 2 and "edges, more than the 500" in err and "Traceback" not in err
        assert not (tmp_path / f"many.{fmt}").exists()
    status, out, _ = run(capsys, "graph", tmp_path / "many.sbp", "--format", "dot")
    assert status == 0 and out.count(" -> ") > 500  # the source is still there to lay out


def _product(factors):
    return "param x: scalar\nJ = " + " * ".join(["x"] * factors) + "\nobjective J\n"


def test_a_value_read_down_a_long_chain_is_refused_as_a_figure_before_the_work(
        tmp_path, capsys, monkeypatch):
    # x read by each of 2000 chained products: dot would place 2 million waypoints (minutes,
    # 120 s at only 250 factors), and the TikZ drawn without it took a minute to write them
    from symbackprop.printing import figures
    (tmp_path / "product.sbp").write_text(_product(2000), encoding="utf-8")
    monkeypatch.setattr(figures.subprocess, "run", None)  # Graphviz is never started
    for fmt, says in (("tikz", "1,999,002 places on its columns"), ("svg", "3,998 edges")):
        status, out, err = run(capsys, "graph", tmp_path / "product.sbp", "--format", fmt, "-o",
                               tmp_path / f"product.{fmt}")
        assert status == 2 and "Traceback" not in err and says in err, err
        assert not (tmp_path / f"product.{fmt}").exists()
    (tmp_path / "product.sbp").write_text(_product(150), encoding="utf-8")  # 300 edges
    status, out, err = run(capsys, "graph", tmp_path / "product.sbp", "--format", "svg")
    assert status == 2 and "places on its ranks, more than the 10,000" in err, err


def test_the_places_a_layout_needs_count_each_rank_an_edge_passes():
    from symbackprop.printing.figures import _layout_places
    chain = [(f"m{k}", f"m{k + 1}") for k in range(1, 10)]
    reads = [("x", f"m{k}") for k in range(1, 11)]
    # ten nodes of the chain and x just before m1: x -> m_k passes k - 1 ranks
    assert _layout_places(chain + reads) == 11 + sum(range(10))
    assert _layout_places(chain) == 10  # a chain: no edge passes a rank


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz")
def test_a_large_graph_is_placed_with_a_bounded_layout(tmp_path, capsys, monkeypatch):
    from symbackprop.printing import figures
    calls = []
    real = figures.subprocess.run
    monkeypatch.setattr(figures.subprocess, "run",
                        lambda argv, **kwargs: calls.append(argv) or real(argv, **kwargs))
    for factors, bounded in ((30, False), (60, True)):  # 58 and 118 edges
        (tmp_path / "product.sbp").write_text(_product(factors), encoding="utf-8")
        calls.clear()
        status, out, err = run(capsys, "graph", tmp_path / "product.sbp", "--format", "svg")
        assert status == 0 and out.startswith("<?xml"), err
        assert all(("-Gnslimit=1" in argv) == bounded for argv in calls) and calls


def test_graphviz_running_out_of_time_is_a_message(monkeypatch):
    import subprocess

    from symbackprop.printing import figures

    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])
    monkeypatch.setattr(figures.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(figures.subprocess, "run", slow)
    with pytest.raises(RuntimeError, match="did not lay out the svg figure within 60 s"):
        figures._graphviz("digraph { a -> b }", "svg")


def test_the_backward_graph_of_an_objective_of_no_param_is_a_message(tmp_path, capsys):
    (tmp_path / "constant.sbp").write_text("dim n\nparam w: vector(n)\nJ = 3\nobjective J\n",
                                           encoding="utf-8")
    for fmt in ("tikz", "dot"):
        status, out, err = run(capsys, "graph", tmp_path / "constant.sbp", "--backward",
                               "--format", fmt)
        assert status == 2 and "J depends on no param" in err and out == ""


# --- bounded memory: literal sizes --------------------------------------------------------------

@pytest.mark.parametrize("command, limit", [("check", "1,000,000"), ("verify", "5,000"),
                                            ("hessian", "500")])
def test_a_huge_literal_size_is_refused_before_the_work(tmp_path, capsys, command, limit):
    (tmp_path / "huge.sbp").write_text("param w: vector(99999999)\nJ = sum(w * w)\n"
                                       "objective J\n", encoding="utf-8")
    status, out, err = run(capsys, command, tmp_path / "huge.sbp")
    assert status == 2 and "100,000,000 entries" in err and f"limit of {limit}" in err
    assert "--max-entries" in err


def test_memory_of_a_huge_literal_size_counts_without_allocating(tmp_path, capsys):
    # memory only counts elements: 100,000,000 of them answer at once, nothing allocated
    (tmp_path / "huge.sbp").write_text("param w: vector(99999999)\nJ = sum(w * w)\n"
                                       "objective J\n", encoding="utf-8")
    status, out, err = run(capsys, "memory", tmp_path / "huge.sbp")
    assert status == 0 and err == ""
    assert "peak, training: 99999999 + 100000000 elements" in out


def test_max_entries_is_the_limit_and_can_be_raised(capsys):
    mlp = os.path.join(os.path.dirname(__file__), "..", "examples", "textbook_mlp.sbp")
    status, _, err = run(capsys, "verify", mlp, "--max-entries", "10")
    assert status == 2 and "38 entries" in err
    status, out, _ = run(capsys, "verify", mlp, "--max-entries", "38")
    assert status == 0 and "proved: all 24 entries" in out


def test_running_out_of_memory_is_a_message(model, capsys, monkeypatch):
    def exhausted(args):
        raise MemoryError
    parser = cli._parser
    monkeypatch.setattr(cli, "_parser", lambda *only: _with_derive(parser(*only), exhausted))
    status, out, err = run(capsys, "derive", model)
    assert status == 2 and err == f"symbackprop: error: derive ran out of memory on {model} " \
        "(try smaller --dims)\n"


def _with_derive(parser, func):
    """`parser` with the derive command running `func`."""
    for action in parser._subparsers._group_actions:
        action.choices["derive"].set_defaults(func=func)
    return parser


def test_verify_of_an_entrywise_composition_through_abs_is_proved():
    # tanh(abs(s)) once reported a false failure: the kink of abs is a branch to compare on
    text = ("dim n\nparam w: vector(n)\ns = sum(w)\nJ = tanh(abs(s)) + sum(tanh(abs(w)))\n"
            "objective J\n")
    report = sbp.verify(sbp.derive(sbp.parse(text)), dims={"n": 2})
    assert report.ok, str(report)
