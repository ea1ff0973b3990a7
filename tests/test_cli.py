"""The command line: ``symbackprop derive|check|verify MODEL``.

Most tests run :func:`symbackprop.cli.main` in-process (it returns the exit
status; output is captured by capsys); a few run ``python -m symbackprop`` as
a subprocess to prove the module entry point works and prints no traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop.cli import main

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "examples" / "textbook_mlp.sbp"
BIND = "phi=tanh,ell=squared_error"

# The seven steps of the textbook's backward pass, in order.
TEXTBOOK_STEPS = ["∂J/∂L", "∂J/∂s", "∂J/∂o", "∂J/∂W2", "∂J/∂h", "∂J/∂z", "∂J/∂W1"]

TYPO_MODEL = """\
dim d, h
input x: vector(d)
param W1: matrix(h, d)
z = W1 @ x
J = sum(z) + sum(W3)
objective J
"""
TYPO_AT = (5, 18)   # 'W3'

LOCATED = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): error: (?P<message>.*)$")


def run(capsys, *argv):
    """Run the CLI in-process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def run_subprocess(*argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "symbackprop", *map(str, argv)], cwd=ROOT,
                          env=env, capture_output=True, text=True, encoding="utf-8", timeout=60)


def backward_lhs(text):
    """The left-hand sides of the lines of the 'Backward' section, in order."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Backward"))
    out = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        out.append(line.split(" = ", 1)[0].strip())
    return out


def func_position(name):
    """Line and column of `name` in its 'func NAME' line of the textbook model."""
    for number, line in enumerate(MLP.read_text(encoding="utf-8").splitlines(), start=1):
        if re.match(rf"func\s+{name}\b", line):
            return number, line.index(name, len("func")) + 1
    raise AssertionError(f"no 'func {name}' in {MLP}")


def assert_located(err, path, line, col, *fragments):
    """stderr is a compiler-style error: FILE:LINE:COL, the source line and a caret."""
    assert "Traceback" not in err
    lines = err.splitlines()
    m = LOCATED.match(lines[0])
    assert m, f"not FILE:LINE:COL: error: ...: {lines[0]!r}"
    assert (m["file"], int(m["line"]), int(m["col"])) == (str(path), line, col)
    for fragment in fragments:
        assert fragment in m["message"]
    return lines


# --- derive ------------------------------------------------------------------

def test_derive_prints_the_textbook_steps(capsys):
    status, out, err = run(capsys, "derive", MLP)
    assert status == 0 and err == ""
    lhs = backward_lhs(out)
    assert [s for s in lhs if s in TEXTBOOK_STEPS] == TEXTBOOK_STEPS
    assert "(∂J/∂o) hᵀ + λ W2" in out
    assert "∂J/∂h ⊙ φ'(z)" in out
    assert "(∂J/∂z) xᵀ + λ W1" in out
    # Each formula sits on its own step's line.
    steps = {line.split(" = ", 1)[0].strip(): line for line in out.splitlines() if " = " in line}
    assert "(∂J/∂o) hᵀ + λ W2" in steps["∂J/∂W2"]
    assert "∂J/∂h ⊙ φ'(z)" in steps["∂J/∂z"]
    assert "(∂J/∂z) xᵀ + λ W1" in steps["∂J/∂W1"]


def test_derive_shows_the_inputs_adjoints_on_request(capsys):
    _, out, _ = run(capsys, "derive", MLP)
    assert backward_lhs(out) == ["∂J/∂L", "∂J/∂s", "∂J/∂o", "∂s/∂W1", "∂s/∂W2", "∂J/∂W2",
                                 "∂J/∂h", "∂J/∂z", "∂J/∂W1"]
    status, out, err = run(capsys, "derive", MLP, "--inputs")
    assert status == 0 and err == "" and backward_lhs(out)[-2:] == ["∂J/∂y", "∂J/∂x"]
    status, out, err = run(capsys, "derive", MLP, "--wrt", "x", "--format", "md")
    assert status == 0 and "\\partial \\boldsymbol{x}" in out and "\\partial s}" not in out
    status, out, err = run(capsys, "derive", MLP, "--wrt", "W3")
    assert status == 2 and out == ""
    assert err == "symbackprop: error: no gradient of 'W3' to show: it is not a variable of " \
                  "the model\n"


def test_derive_tex(capsys):
    status, out, err = run(capsys, "derive", MLP, "--format", "tex")
    assert status == 0 and err == ""
    assert r"\frac{\partial J}{\partial \boldsymbol{W}^{(2)}}" in out
    assert r"\frac{\partial J}{\partial \boldsymbol{W}^{(1)}}" in out
    assert "∂" not in out   # LaTeX, not the Unicode text


def test_derive_with_bindings(capsys):
    status, out, err = run(capsys, "derive", MLP, "--bind", BIND)
    assert status == 0 and err == ""
    assert "tanh" in out and "∂J/∂W1" in out


def test_derive_to_file_prints_nothing(capsys, tmp_path):
    target = tmp_path / "mlp.txt"
    status, out, err = run(capsys, "derive", MLP, "-o", target)
    assert status == 0
    assert out == "" and err == ""
    written = target.read_text(encoding="utf-8")
    assert "(∂J/∂z) xᵀ + λ W1" in written
    status, out, _ = run(capsys, "derive", MLP)
    assert written == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.txt"]   # no temporary left


def test_derive_tex_to_file(capsys, tmp_path):
    target = tmp_path / "mlp.tex"
    status, out, err = run(capsys, "derive", MLP, "--format", "tex", "--output", target)
    assert (status, out, err) == (0, "", "")
    assert r"\frac{\partial J}{\partial \boldsymbol{W}^{(2)}}" in target.read_text(encoding="utf-8")


def test_failing_run_keeps_the_previous_output(capsys, tmp_path):
    broken = tmp_path / "broken.sbp"
    broken.write_text(TYPO_MODEL, encoding="utf-8")
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    status, out, err = run(capsys, "derive", broken, "-o", target)
    assert status == 2 and out == ""
    assert_located(err, broken, *TYPO_AT, "unknown name 'W3'")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.sbp", "out.txt"]


def test_output_into_missing_directory_names_the_target(capsys, tmp_path):
    target = tmp_path / "nodir" / "out.txt"
    status, out, err = run(capsys, "derive", MLP, "-o", target)
    assert status == 2 and out == "" and "Traceback" not in err
    assert err.startswith("symbackprop: error: ")
    assert str(target) in err, err


# --- check and verify --------------------------------------------------------

def test_check_with_bindings_passes(capsys):
    status, out, err = run(capsys, "check", MLP, "--bind", BIND)
    assert status == 0 and err == ""
    assert "passed" in out
    for name in ("W1", "W2"):
        # name, relative error, finite-difference resolution, verdict
        assert re.search(rf"^\s*{name}\s+\S+\s+\S+\s+ok$", out, re.M), out


def test_check_with_dims_and_seed(capsys):
    status, out, err = run(capsys, "check", MLP, "--bind", BIND, "--dims", "d=2,h=3,q=1",
                           "--seed", "7")
    assert status == 0 and err == ""
    assert "d=2, h=3, q=1" in out and "seed 7" in out and "passed" in out


def test_check_without_bindings_names_phi(capsys):
    status, out, err = run(capsys, "check", MLP)
    assert status == 2 and out == ""
    lines = assert_located(err, MLP, *func_position("phi"), "'phi'", "phi=tanh")
    assert lines[1].strip().startswith("func phi")
    assert lines[2].index("^") == lines[1].index("phi")


def test_verify_proves(capsys):
    status, out, err = run(capsys, "verify", MLP)
    assert status == 0 and err == ""
    assert "proved" in out


def test_verify_with_dims(capsys):
    status, out, err = run(capsys, "verify", MLP, "--dims", "d=2,h=2,q=1", "--bind", "phi=tanh")
    assert status == 0 and err == ""
    assert "d=2, h=2, q=1" in out and "proved" in out


# --- bad models --------------------------------------------------------------

def test_typo_is_a_located_error_with_a_caret(capsys, tmp_path):
    path = tmp_path / "typo.sbp"
    path.write_text(TYPO_MODEL, encoding="utf-8")
    for command in ("derive", "check", "verify"):
        status, out, err = run(capsys, command, path)
        assert status == 2 and out == ""
        lines = assert_located(err, path, *TYPO_AT, "unknown name 'W3'")
        source = TYPO_MODEL.splitlines()[TYPO_AT[0] - 1]
        assert lines[1].strip() == source
        assert lines[2].strip() == "^"
        assert lines[2].index("^") == lines[1].index("W3")


def test_missing_model_file(capsys, tmp_path):
    path = tmp_path / "missing.sbp"
    status, out, err = run(capsys, "derive", path)
    assert status == 2 and out == ""
    assert err.startswith(f"{path}: error: ") and "cannot read" in err
    assert "Traceback" not in err


def test_model_file_not_utf8(capsys, tmp_path):
    path = tmp_path / "latin.sbp"
    path.write_bytes(b"dim d\n# caf\xe9\n")
    status, out, err = run(capsys, "derive", path)
    assert status == 2 and out == ""
    assert err.startswith(f"{path}:2:6: error: ") and "UTF-8" in err


# --- bad options -------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "verify"])
@pytest.mark.parametrize("dims, fragments", [
    ("d=x", ("--dims", "d", "'x'")),
    ("d", ("--dims", "NAME=VALUE", "'d'")),
    ("zz=3", ("unknown dimension 'zz'", "d, h, q")),
    ("d=0", ("dimension d", "positive")),
    ("=3", ("--dims", "NAME=VALUE")),
], ids=["not-a-number", "no-value", "unknown-dim", "zero", "no-name"])
def test_bad_dims(capsys, command, dims, fragments):
    status, out, err = run(capsys, command, MLP, "--dims", dims, "--bind", BIND)
    assert status == 2 and out == ""
    assert err.startswith("symbackprop: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize("command", ["derive", "check", "verify"])
@pytest.mark.parametrize("bind, fragments", [
    ("phi", ("--bind", "NAME=VALUE", "'phi'")),
    ("phi=nope", ("cannot bind 'phi' to 'nope'", "no such built-in")),
    ("nope=tanh", ("cannot bind 'nope'",)),
    ("phi=sum", ("cannot bind 'phi' to 'sum'", "elementwise")),
], ids=["no-value", "unknown-builtin", "unknown-function", "wrong-kind"])
def test_bad_bind(capsys, command, bind, fragments):
    status, out, err = run(capsys, command, MLP, "--bind", bind)
    assert status == 2 and out == ""
    assert "Traceback" not in err
    assert err.startswith("symbackprop: error: ") or err.startswith(f"{MLP}")
    for fragment in fragments:
        assert fragment in err, err


def test_bad_bind_of_a_declared_function_points_at_it(capsys):
    status, out, err = run(capsys, "derive", MLP, "--bind", "phi=sum")
    assert status == 2
    assert_located(err, MLP, *func_position("phi"), "cannot bind 'phi' to 'sum'")


def test_no_command_prints_the_whole_help(capsys):
    status, out, err = run(capsys)
    assert status == 2
    assert "usage: symbackprop" in err and "examples:" in err and "exit status" in err
    for command in ("derive", "graph", "check", "verify", "hvp", "hessian", "memory", "codegen"):
        assert command in err


def test_unknown_command_and_missing_model_are_usage_errors(capsys):
    for argv in (["frobnicate", str(MLP)], ["derive"], ["derive", str(MLP), "--format", "pdf"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        out, err = capsys.readouterr()
        assert "usage: symbackprop" in err and "Traceback" not in err


# --- help --------------------------------------------------------------------

def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    assert "usage: symbackprop" in out
    for command in ("derive", "check", "verify"):
        assert command in out
        assert re.search(rf"^\s+symbackprop {command}\s+examples/textbook_mlp\.sbp", out, re.M)


@pytest.mark.parametrize("command", ["derive", "check", "verify"])
def test_subcommand_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    assert f"usage: symbackprop {command}" in out
    assert "example" in out
    assert re.search(rf"^\s+symbackprop {command} examples/textbook_mlp\.sbp", out, re.M)
    assert "--bind" in out


# --- python -m symbackprop ---------------------------------------------------

def test_module_runs_derive():
    proc = run_subprocess("derive", "examples/textbook_mlp.sbp")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lhs = backward_lhs(proc.stdout)
    assert [s for s in lhs if s in TEXTBOOK_STEPS] == TEXTBOOK_STEPS
    assert "(∂J/∂z) xᵀ + λ W1" in proc.stdout


def test_module_reports_a_bad_model_without_traceback(tmp_path):
    path = tmp_path / "typo.sbp"
    path.write_text(TYPO_MODEL, encoding="utf-8")
    proc = run_subprocess("derive", path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = assert_located(proc.stderr, path, *TYPO_AT, "unknown name 'W3'")
    assert lines[2].index("^") == lines[1].index("W3")


def test_module_help():
    proc = run_subprocess("--help")
    assert proc.returncode == 0
    assert "usage: symbackprop" in proc.stdout
    assert "symbackprop derive examples/textbook_mlp.sbp" in proc.stdout


def test_module_long_flat_sum_has_no_traceback(tmp_path):
    path = tmp_path / "flat.sbp"
    path.write_text("dim d\ninput x: vector(d)\nJ = sum(x" + " + x" * 500 + ")\nobjective J\n",
                    encoding="utf-8")
    proc = run_subprocess("derive", path)
    assert "Traceback" not in proc.stderr, proc.stderr[-500:]
    assert proc.returncode in (0, 2)


def test_written_files_get_the_usual_permissions(tmp_path, capsys):
    out = tmp_path / "mlp.txt"
    umask = os.umask(0o022)
    try:
        assert main(["derive", str(MLP), "-o", str(out)]) == 0
    finally:
        os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("command, output, starts", [
    ("derive", "notes.tex", "% Backpropagation through J"), ("derive", "notes.md", "**Forward"),
    ("derive", "notes.txt", "Forward"), ("derive", "notes", "Forward"),
    ("graph", "graph.tex", "\\begin{tikzpicture}"), ("graph", "graph.dot", "digraph"),
    ("hvp", "hvp.py", '"""'), ("hvp", "hvp.tex", "% ")])
def test_the_format_is_read_from_the_output_suffix(tmp_path, command, output, starts):
    bind = [] if command == "graph" else ["--bind", "phi=tanh,ell=squared_error"]
    assert main([command, str(MLP), *bind, "-o", str(tmp_path / output)]) == 0
    assert (tmp_path / output).read_text(encoding="utf-8").startswith(starts)


def test_standalone_implies_latex_and_an_unknown_suffix_is_refused(tmp_path, capsys):
    assert main(["derive", str(MLP), "--standalone"]) == 0
    assert capsys.readouterr().out.startswith("\\documentclass")
    assert main(["graph", str(MLP), "--standalone"]) == 0
    assert capsys.readouterr().out.startswith("\\documentclass")
    assert main(["derive", str(MLP), "-o", str(tmp_path / "notes.pdf")]) == 2
    err = capsys.readouterr().err
    assert ".pdf is not a suffix of a format written here" in err and "--standalone" in err
    assert main(["graph", str(MLP), "-o", str(tmp_path / "g.md")]) == 2
    assert "graph writes no .md file" in capsys.readouterr().err
    assert main(["derive", str(MLP), "--format", "text", "--standalone"]) == 2
    assert not list(tmp_path.iterdir())
