"""``symbackprop ops``, the operator reference docs/operators.md, and the command line's
start-up (checked by what it imports: its times are measured by benchmarks/run.py).

docs/operators.md is generated; when an operator or its rules change on purpose,
regenerate it and review the diff::

    SYMBACKPROP_REGENERATE=1 python -m pytest tests/test_ops.py -k operators_md
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop import cli
from symbackprop.primitives.operators import REGISTRY
from symbackprop.printing.operator_reference import reference_markdown

ROOT = Path(__file__).resolve().parent.parent
OPERATORS_MD = ROOT / "docs" / "operators.md"
HEADER = ("# Operators\n\nEvery operator of the model language: how it is written, what it "
          "computes, and, on one-line models `z = op(A, ...)` with `J = f(z)`, the shape of `z` "
          "and each operand's local rule (its vector-Jacobian product), all derived by "
          "symbackprop. `symbackprop ops NAME` prints one of them in the terminal. This file is "
          "generated (tests/test_ops.py); do not edit it.\n\n")


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_ops_prints_one_operator_with_its_shape_and_local_rule(capsys):
    status, out, err = run(capsys, "ops", "tanh")
    assert status == 0 and err == ""
    assert out.splitlines() == ["tanh(x)    tanh: tanh entrywise",
                                "  z = tanh(A)  with A: matrix(m, n)",
                                "    z = tanh(A) ∈ ℝ^(m×n)",
                                "    ∂J/∂A = ∂J/∂z ⊙ (1 - z^⊙2)"]
    status, out, _ = run(capsys, "ops", "matmul")
    assert status == 0
    assert "    z = A x ∈ ℝ^m" in out and "    ∂J/∂A = (∂J/∂z) Bᵀ" in out
    assert "    ∂J/∂x = Aᵀ (∂J/∂z)" in out


def test_ops_lists_every_operator_of_the_registry_once(capsys):
    status, out, _ = run(capsys, "ops")
    assert status == 0 and "== Arithmetic ==" in out and "== Losses ==" in out
    # each operator's first line: its written form, four spaces, its name and a colon
    names = [line.split("    ", 1)[1].split(":")[0] for line in out.splitlines()
             if line and not line.startswith((" ", "=="))]
    assert sorted(names) == sorted(REGISTRY)


def test_an_unknown_operator_is_an_error_naming_close_matches(capsys):
    status, out, err = run(capsys, "ops", "tahn")
    assert status == 2 and out == ""
    assert err == ("symbackprop: error: 'tahn' is not an operator; did you mean tanh? "
                   f"(symbackprop ops lists all {len(REGISTRY)})\n")
    status, _, err = run(capsys, "ops", "zzzz")
    assert status == 2 and "did you mean" not in err and "not an operator" in err


def test_operators_md_is_the_generated_reference():
    text = HEADER + reference_markdown(targets="html")
    if os.environ.get("SYMBACKPROP_REGENERATE"):
        OPERATORS_MD.write_text(text, encoding="utf-8")
    assert OPERATORS_MD.read_text(encoding="utf-8") == text, (
        "docs/operators.md is out of date: regenerate it (see this file's docstring)")
    for name in REGISTRY:
        assert f'<a id="op-{name.replace("_", "-")}"></a>' in text, name
    assert "(docs/operators.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


_IMPORTED = """
import sys
sys.argv = ["symbackprop"] + sys.argv[1:]
from symbackprop import cli
try:
    cli.main()
except SystemExit:
    pass
print("imported:", *(m for m in ("sympy", "networkx", "numpy") if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["ops", "--help"]])
def test_the_program_starts_without_sympy(argv):
    # as run from the shell (the program's path, its budget included): SymPy, NetworkX and
    # NumPy cost most of a second to import, which --version and --help need not pay
    done = subprocess.run([sys.executable, "-c", _IMPORTED, *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.stdout.rsplit("imported:", 1)[1].split() == [], argv
