"""Generated NumPy code: ``symbackprop codegen`` writes the module ``lambdify`` runs.

The module is readable (a comment quoting each step, named intermediates),
imports NumPy only, frees each value after its last use, and is lint-clean
(pycodestyle and pyflakes rules, lines of at most 99 characters).
"""

import ast
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.proofs.sizes import default_dims
from symbackprop.proofs.check import random_arrays
from symbackprop.cli import main
from symbackprop.printing.numpy_code import LINE_LENGTH, generate_source
from test_zoo import BIND

ROOT = Path(__file__).resolve().parents[1]
PATHS = sorted((ROOT / "examples").glob("*.sbp"))
MLP = ROOT / "examples" / "textbook_mlp.sbp"


def source_of(path):
    return generate_source(sbp.derive(sbp.load(path, bind=BIND.get(path.stem))))


def test_lambdify_runs_the_generated_module():
    d = sbp.derive(sbp.load(MLP, bind=BIND["textbook_mlp"]))
    assert d.lambdify().source == generate_source(d)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_the_module_imports_numpy_only_and_keeps_lines_short(path):
    source = source_of(path)
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    assert imported <= {"numpy"}
    assert not any(isinstance(node, ast.ImportFrom) for node in ast.walk(tree))
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {"objective", "value_and_grad", "trace"} <= functions
    assert max(map(len, source.splitlines())) <= LINE_LENGTH


LINT = shutil.which("ruff")


@pytest.mark.skipif(LINT is None and not os.environ.get("SYMBACKPROP_CI"),
                    reason="ruff is not installed (pip install '.[test]')")
def test_the_zoo_modules_are_lint_clean(tmp_path):
    assert LINT, "ruff is required in CI"
    for path in PATHS:
        (tmp_path / f"{path.stem}.py").write_text(source_of(path), encoding="utf-8")
    proc = subprocess.run([LINT, "check", "--no-cache", "--isolated", "--select", "E,W,F",
                           "--line-length", str(LINE_LENGTH), str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_values_are_released_after_their_last_use():
    source = source_of(MLP)
    training = source.split("def value_and_grad")[1].split("def trace")[0]
    lines = [line.strip() for line in training.splitlines()]
    # tanh' is written with the output, 1 - h^2: z is released as soon as h exists
    assert lines.index("del z") == lines.index("h = np.tanh(z)") + 1
    # h is read by dJ/dW2 and dJ/dz, so training keeps it until dJ/dz
    released_h = next(i for i, line in enumerate(lines)
                      if line.startswith("del ") and "h" in line[4:].split(", "))
    assert lines[released_h - 1].startswith("grad_z =")
    inference = source.split("def objective")[1].split("def value_and_grad")[0]
    assert "del h" in [line.strip() for line in inference.splitlines()]


def test_only_the_adjoints_the_gradients_need_are_computed():
    d = sbp.derive(sbp.load(MLP, bind=BIND["textbook_mlp"]))
    training = generate_source(d, wrt=["W2"]).split("def value_and_grad")[1].split("def trace")[0]
    assert "grad_W2 =" in training
    assert "grad_h =" not in training and "grad_z =" not in training and "grad_W1" not in training


def test_codegen_writes_a_module_that_computes_the_gradients(tmp_path, capsys):
    out = tmp_path / "grads.py"
    assert main(["codegen", str(MLP), "--bind", "phi=tanh,ell=squared_error", "-o", str(out)]) == 0
    namespace = {}
    exec(compile(out.read_text(encoding="utf-8"), str(out), "exec"), namespace)
    model = sbp.load(MLP, bind=BIND["textbook_mlp"])
    dims = default_dims(model)
    arrays = random_arrays(model, dims, seed=3)
    J, grads = sbp.derive(model).lambdify()(**arrays)
    # called as lambdify's function is: 1-D vectors in, J and the gradients by name out (the
    # sizes are read off the arrays: the caller passes the arrays only)
    passed = [arrays[n] for n in ("x", "y", "W1", "W2", "lambda")]
    J2, grads2 = namespace["value_and_grad"](*passed)
    assert type(J2) is float and J2 == J and list(grads2) == ["W1", "W2"]
    for name in grads:
        np.testing.assert_array_equal(grads2[name], grads[name])
    assert namespace["objective"](*passed) == J
    # a column is taken too, as the formulas write a vector
    columns = [v.reshape(-1, 1) if np.ndim(v) == 1 else v for v in passed]
    assert namespace["value_and_grad"](*columns)[0] == J


def test_the_module_returns_vectors_and_scalars_as_lambdify_does():
    d = sbp.derive(sbp.parse("dim n\ninput x: vector(n)\nparam w: vector(n)\nparam c: scalar\n"
                             "J = sum(tanh(w * x)) + c^2\nobjective J\n"))
    namespace = {}
    exec(compile(generate_source(d), "<module>", "exec"), namespace)
    x, w = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.25, -0.5])
    J, grads = namespace["value_and_grad"](x, w, 3.0)
    expected = d.lambdify()(x=x, w=w, c=3.0)
    assert J == expected[0] and grads["w"].shape == (3,) and type(grads["c"]) is float
    np.testing.assert_array_equal(grads["w"], expected[1]["w"])
    assert grads["c"] == expected[1]["c"] == 6.0


def test_codegen_errors(capsys, tmp_path):
    assert main(["codegen", str(MLP)]) == 2
    assert "no numbers: bind to built-ins" in capsys.readouterr().err
    assert main(["codegen", str(MLP), "--bind", "phi=tanh,ell=squared_error", "--wrt", "W9"]) == 2
    assert "'W9' is not a variable" in capsys.readouterr().err


def test_memory_command(capsys):
    assert main(["memory", str(MLP), "--dims", "d=784,h=256,q=10", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "kept for backward: x, y, W1, W2, λ, z, h, o" in out
    assert "float32" in out and "peak, training" in out
    assert main(["memory", str(MLP), "--dims", "d=3"]) == 2
    assert "dims: missing h, q" in capsys.readouterr().err
    assert main(["derive", str(MLP), "--memory", "--dims", "d=3,h=2,q=2,k=1"]) == 2
    assert "unknown k" in capsys.readouterr().err


def test_derive_adds_the_memory_section_on_request(capsys):
    assert main(["derive", str(MLP), "--format", "md", "--memory"]) == 0
    out = capsys.readouterr().out
    assert "**What backward keeps.**" in out and "| Value | Elements |" in out
    assert main(["derive", str(MLP)]) == 0
    assert "What backward keeps" not in capsys.readouterr().out
    assert main(["derive", str(MLP), "--dims", "d=3,h=2,q=2"]) == 2
    assert "--dims and --dtype go with --memory" in capsys.readouterr().err


def test_the_memory_section_compiles(tmp_path):
    if not shutil.which("pdflatex"):
        if os.environ.get("SYMBACKPROP_REQUIRE_TEX"):
            pytest.fail("pdflatex is required")
        pytest.skip("pdflatex is not installed")
    d = sbp.derive(sbp.load(MLP))
    tex = tmp_path / "memory.tex"
    tex.write_text(d.latex(standalone=True, memory=True, dims={"d": 784, "h": 256, "q": 10},
                           dtype="float32"), encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "Overfull" not in proc.stdout, "the memory table is wider than the page"


def test_a_gradient_with_respect_to_a_const_is_refused(capsys):
    # a const is held fixed by the derivation: its "gradient" would silently be 0
    d = sbp.derive(sbp.load(MLP, bind=BIND["textbook_mlp"]))
    with pytest.raises(ValueError, match="'lambda' is a const"):
        d.lambdify(wrt=["lambda"])
    assert main(["codegen", str(MLP), "--bind", "phi=tanh,ell=squared_error",
                 "--wrt", "lambda"]) == 2
    assert "'lambda' is a const" in capsys.readouterr().err


@pytest.mark.parametrize("text", [
    "dim n\nparam a: vector(n)\nparam b: vector(n)\nJ = sum(a * b)\nobjective J",
    "dim n\nparam a: vector(n)\nparam b: vector(n)\nv = a + b\nJ = sum(v * v)\nobjective J",
    "dim n\nparam a: vector(n)\nparam b: vector(n)\nJ = sum(exp(a + b))\nobjective J",
    "dim n\nparam W: matrix(n, n)\ninput x: matrix(n, n)\nJ = sum(W * x.T)\nobjective J",
])
def test_gradients_share_memory_with_nothing(text):
    # an optimizer updating params in place must not change an input or another gradient
    model = sbp.parse(text)
    arrays = random_arrays(model, default_dims(model), seed=1)
    _, grads = sbp.derive(model).lambdify()(**arrays)
    held = list(arrays.values()) + list(grads.values())
    for name, g in grads.items():
        for other in held:
            if other is not g and isinstance(other, np.ndarray):
                assert not np.shares_memory(g, other), name


def test_scalar_results_are_floats():
    model = sbp.parse("param w: scalar\nparam u: scalar\nJ = w\nobjective J")
    J, grads = sbp.derive(model).lambdify()(w=2.0, u=1.0)
    source = generate_source(sbp.derive(model))
    assert "grad_w = 1.0" in source and "grad_u = 0.0" in source
    assert grads == {"w": 1.0, "u": 0.0}


def test_no_double_minus():
    source = generate_source(sbp.derive(sbp.parse(
        "dim n\nparam a: vector(n)\nJ = sum(log(sigmoid(-a)))\nobjective J")))
    assert "--" not in source.replace("# ", "")


def test_writing_to_a_directory_names_the_directory(tmp_path, capsys):
    assert main(["codegen", str(MLP), "--bind", "phi=tanh,ell=squared_error",
                 "-o", str(tmp_path)]) == 2
    assert f"{tmp_path}: Is a directory" in capsys.readouterr().err


def test_dims_are_checked(capsys):
    assert main(["memory", str(MLP), "--dims", "d=-5,h=2,q=2"]) == 2
    assert "d must be a positive whole number" in capsys.readouterr().err
    assert main(["memory", str(MLP), "--dims", "d=3,h=2,q=2,d=9"]) == 2
    assert "d is given twice" in capsys.readouterr().err
    assert main(["memory", str(MLP), "--dtype", "float32"]) == 2
    assert "--dtype goes with --dims" in capsys.readouterr().err


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_long_signatures_and_returns_are_wrapped(path):
    text = path.read_text(encoding="utf-8")
    # many params: the signature, docstring and returned tuple outgrow one line
    extra = "".join(f"param extra_parameter_{k}: scalar\n" for k in range(8))
    model = sbp.parse(extra + text)
    source = generate_source(sbp.derive(model.bind(BIND[path.stem]) if path.stem in BIND
                                        else model))
    assert max(map(len, source.splitlines())) <= LINE_LENGTH
    compile(source, "<generated>", "exec")


def test_a_long_power_of_a_sum_is_broken_inside_its_brackets():
    names = ["a_long_vector_name", "another_long_vector_name", "yet_another_long_vector_name"]
    text = "dim n\n" + "".join(f"param {n}: vector(n)\n" for n in names) + (
        f"J = ({names[0]}.T @ {names[1]} + {names[2]}.T @ {names[0]})^2\nobjective J\n")
    source = generate_source(sbp.derive(sbp.parse(text)))
    assert max(map(len, source.splitlines())) <= LINE_LENGTH
    assert "    ) ** 2" in source
