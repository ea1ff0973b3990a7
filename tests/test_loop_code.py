"""NumPy code for models with loops, where loops stay loops.

The looped module (``symbackprop codegen`` of a model with loops, and
``LoopDerivation.lambdify``) is generated once and run at several lengths; at
each, its objective and every gradient equal those of the model written out at
that length (its own flat code) and those of PyTorch autograd on the written-out
model.  Its source does not depend on the length, runs the passes as ``for``
loops, imports NumPy only and is lint-clean.
"""

import ast
import functools
import inspect
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.derivation.loop_program import loop_program
from symbackprop.derivation.loop_statements import ForLoop, replayed
from symbackprop.printing.loop_code import generate_loop_source
from symbackprop.printing.numpy_code import LINE_LENGTH
from symbackprop.proofs.check import random_arrays
from symbackprop.proofs.sizes import default_dims
from layouts import differentiable, looped
from reference import relative_error, torch_value_and_grad

LOOPS = Path(__file__).resolve().parent.parent / "examples" / "loops"

#: Each example with loops, its bindings and the length it loops over.
EXAMPLES = {
    "bptt": ({"ell": "squared_error"}, "T"),
    "mlp_layers": ({"phi": "tanh", "ell": "squared_error"}, "L"),
    "rnn_tanh": ({}, "T"),
    "rnn_tanh_steps": ({}, "T"),
    "gru": ({}, "T"),
    "mlp_layers_batch": ({"phi": "relu", "ell": "squared_error"}, "L"),
}
CASES = [("bptt", k) for k in (1, 2, 5)] + [("mlp_layers", k) for k in (1, 3)] + \
    [("rnn_tanh", k) for k in (1, 2, 5)] + [("rnn_tanh_steps", k) for k in (1, 3)] + \
    [("gru", k) for k in (1, 2, 4)] + [("mlp_layers_batch", k) for k in (1, 3)]


@functools.cache
def _model(stem):
    return sbp.load(LOOPS / f"{stem}.sbp", bind=EXAMPLES[stem][0])


@functools.cache
def _compiled(stem):
    """The looped function of an example, generated once for every length."""
    model = _model(stem)
    return sbp.derive(model).lambdify(wrt=differentiable(model))


def _flat(value):
    return np.concatenate([np.ravel(m) for m in value]) if isinstance(value, list) else value


@pytest.mark.parametrize("stem, length", CASES, ids=lambda c: str(c))
def test_the_looped_code_agrees_with_the_written_out_code_and_pytorch(stem, length):
    model = _model(stem)
    lengths = {EXAMPLES[stem][1]: length}
    flat = model.unrolled(lengths)
    values = random_arrays(flat, default_dims(flat), seed=3)
    wrt = [n for n, v in flat.variables.items() if v.role in ("param", "input")]
    J_flat, g_flat = sbp.derive(flat).lambdify(wrt=wrt)(**values)
    J_torch, g_torch = torch_value_and_grad(flat, values, wrt)
    J, grads = _compiled(stem)(**looped(model, values, lengths))
    assert relative_error(J, J_flat) <= 1e-12 and relative_error(J, J_torch) <= 1e-12
    expected, by_torch = looped(model, g_flat, lengths), looped(model, g_torch, lengths)
    assert set(grads) == set(differentiable(model)) == set(expected)
    for name, g in grads.items():
        assert np.shape(_flat(g)) == np.shape(_flat(expected[name])), name
        assert relative_error(_flat(g), _flat(expected[name])) <= 1e-12, name
        assert relative_error(_flat(g), _flat(by_torch[name])) <= 1e-12, name
    assert _compiled(stem).objective(**looped(model, values, lengths)) == J


@pytest.mark.parametrize("stem", EXAMPLES)
def test_the_source_is_loops_of_numpy_and_the_same_for_every_length(stem):
    d = sbp.derive(_model(stem))
    source = generate_loop_source(d, differentiable(d.model))
    assert source == _compiled(stem).source  # one module, run at every length above
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    assert imported == {"numpy"}
    assert not any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    public = {name for name in functions if not name.startswith("_")}
    assert public == {"objective", "value_and_grad"}  # and the helpers softmax needs
    loops = [n for n in ast.walk(functions["value_and_grad"]) if isinstance(n, ast.For)]
    assert len(loops) >= 2 and all(isinstance(n.iter, ast.Call) and n.iter.func.id == "range"
                                   for n in loops)
    assert max(map(len, source.splitlines())) <= LINE_LENGTH
    # written for a general length: no member is named by a number past the first ones
    assert not re.search(r"(?<!shape)\[[2-9]\]", source)


LINT = shutil.which("ruff")


@pytest.mark.skipif(LINT is None and not os.environ.get("SYMBACKPROP_CI"),
                    reason="ruff is not installed (pip install '.[test]')")
def test_the_looped_modules_are_lint_clean(tmp_path):
    assert LINT, "ruff is required in CI"
    for stem in EXAMPLES:
        d = sbp.derive(_model(stem))
        for which, wrt in (("params", None), ("all", differentiable(d.model))):
            path = tmp_path / f"{stem}_{which}.py"
            path.write_text(generate_loop_source(d, wrt), encoding="utf-8")
    proc = subprocess.run([LINT, "check", "--no-cache", "--isolated", "--select", "E,W,F",
                           "--line-length", str(LINE_LENGTH), str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _randomlooped(stem, length, sizes, seed=0):
    model = _model(stem)
    flat = model.unrolled({EXAMPLES[stem][1]: length})
    values = random_arrays(flat, {n: sizes.get(n.rpartition("_")[0] or n, sizes.get(n, 2))
                                  for n in flat.dims}, seed=seed)
    return looped(model, values, {EXAMPLES[stem][1]: length})


@pytest.mark.parametrize("stem, length", [("bptt", 1000), ("rnn_tanh", 1000),
                                          ("mlp_layers", 500)])
def test_long_loops_run_as_loops(stem, length):
    # no recursion, no source per iteration: a thousand steps are a thousand iterations
    J, grads = _compiled(stem)(**_randomlooped(stem, length, {}))
    assert np.isfinite(J) and all(np.isfinite(_flat(g)).all() for g in grads.values())


@pytest.mark.parametrize("stem", EXAMPLES)
def test_the_module_is_called_as_the_compiled_function_is(stem):
    # the generated module takes the arrays in lambdify's layout (a family of vectors one
    # array, a member a row; a family whose sizes vary a list of 1-D arrays), by position
    f = _compiled(stem)
    namespace = {}
    exec(compile(f.source, f"<{stem}>", "exec"), namespace)
    arrays = _randomlooped(stem, 3, {})
    names = {n.rstrip("_"): n for n in inspect.signature(namespace["value_and_grad"]).parameters}
    J, grads = namespace["value_and_grad"](*(arrays[n] for n in names))
    J2, grads2 = f(**arrays)
    assert type(J) is float and J == J2 and list(grads) == list(grads2)
    for name, g in grads.items():
        for mine, theirs in zip(*(m if isinstance(m, list) else [m] for m in (g, grads2[name]))):
            np.testing.assert_array_equal(mine, theirs)
            assert np.shape(mine) == np.shape(theirs)
    assert namespace["objective"](*(arrays[n] for n in names)) == J


def test_a_family_is_passed_and_returned_stacked_index_first():
    arrays = _randomlooped("bptt", 4, {"d": 3, "h": 5, "q": 2})
    assert arrays["x"].shape == (4, 3)  # x[t] for t = 1..4, x[1] at x[0]
    J, grads = _compiled("bptt")(**arrays)
    assert grads["x"].shape == (4, 3) and grads["y"].shape == (4, 2)
    assert grads["W_hh"].shape == (5, 5)
    layers = _randomlooped("mlp_layers", 3, {})
    assert isinstance(layers["W"], list) and len(layers["W"]) == 3
    _, grads = _compiled("mlp_layers")(**layers)
    assert [g.shape for g in grads["W"]] == [w.shape for w in layers["W"]]


def test_the_recurrence_runs_as_hand_written_backpropagation_through_time():
    d = sbp.derive(_model("rnn_tanh"))
    body = generate_loop_source(d).split("def value_and_grad")[1]
    loop = body.split("for t in range(T - 1, 0, -1):")[1].split("return")[0]
    # one iteration: dJ/dH_t, the tanh' product once (carried to the next iteration), the
    # two shared weights' sums added to: four matrix products, as written by hand
    assert loop.count(" @ ") == 4 and loop.count("1 - H[t] ** 2") == 1
    assert "carried0 = t" in loop and "grad_W_hh += H[t - 1].T @ t" in loop
    program = loop_program(d)
    loops = [item for item in program.backward if isinstance(item, ForLoop)]
    assert [(str(r.lo), str(r.hi)) for r in loops] == [("1", "T"), ("1", "T - 1")]


def test_the_run_on_paper_finds_a_read_before_its_write():
    d = sbp.derive(_model("bptt"))
    program = loop_program(d)
    assert replayed(program) is None
    k = next(i for i, item in enumerate(program.backward)
             if isinstance(item, ForLoop) and str(item.hi) == "T - 1")
    backward = list(program.backward)
    backward[k] = ForLoop(backward[k].var, backward[k].lo, backward[k].hi, backward[k].body,
                          descending=False)  # t = 1 first reads dJ/dh_2, not yet there
    program.backward = tuple(backward)
    assert "∂L/∂h', 2) is read before it is written" in replayed(program)


def test_abstract_functions_must_be_bound_and_arrays_must_fit():
    d = sbp.derive(sbp.load(LOOPS / "bptt.sbp"))
    with pytest.raises(sbp.ModelError, match="'ell' has no numbers"):
        d.lambdify()
    f = d.lambdify(bind={"ell": "squared_error"})
    arrays = _randomlooped("bptt", 3, {})
    assert np.isfinite(f(**arrays)[0])
    with pytest.raises(ValueError, match="x is a family of 3 members"):
        f(**{**arrays, "x": arrays["x"][:, :, None]})
    with pytest.raises(ValueError, match=r"W_qh is a matrix\(q, h\): got shape \(2, 2\), but "
                                         "q = 5 from the arrays before it"):
        f(**{**arrays, "y": np.zeros((3, 5))})
    with pytest.raises(ValueError, match="y is a family of 3 members .* got shape"):
        f(**{**arrays, "y": arrays["y"][:2]})
    with pytest.raises(TypeError, match="missing h0"):
        f(**{k: v for k, v in arrays.items() if k != "h0"})
    with pytest.raises(ValueError, match="'h0' is a const"):
        d.lambdify(bind={"ell": "squared_error"}, wrt=["h0"])


def test_codegen_prints_the_looped_module(tmp_path, capsys):
    path = str(LOOPS / "bptt.sbp")
    out = tmp_path / "bptt.py"
    assert main(["codegen", path, "--bind", "ell=squared_error", "-o", str(out)]) == 0
    source = out.read_text(encoding="utf-8")
    assert source == generate_loop_source(sbp.derive(_model("bptt")))
    namespace = {}
    exec(compile(source, str(out), "exec"), namespace)
    arrays = _randomlooped("bptt", 4, {})
    # called as lambdify's function is: a family of vectors one array, a member a row
    J, grads = namespace["value_and_grad"](*(arrays[n] for n in
                                             ("x", "y", "h0", "W_hx", "W_hh", "W_qh")))
    J2, grads2 = _compiled("bptt")(**arrays)
    assert type(J) is float and J == J2 and list(grads) == ["W_hx", "W_hh", "W_qh"]
    for name in grads:
        np.testing.assert_array_equal(grads[name], grads2[name])
    assert main(["codegen", path]) == 2
    assert "no numbers: bind to built-ins" in capsys.readouterr().err
    assert main(["codegen", path, "--bind", "ell=squared_error", "--unroll", "T=2"]) == 0
    assert "x_2" in capsys.readouterr().out  # written out first, as --unroll says


#: Models that put the looped code's other paths to work, each with the lengths it runs at.
MORE = {
    # a scalar gain, a bias and L2 on a weight shared across time: sums over t and a term
    # outside the loop added to one gradient; a family of scalar losses
    "gain_bias_l2": ("""\
dim d, h, T
input x[t]: vector(d) for t in 1..T
const h0: vector(h)
param W: matrix(h, h)
param U: matrix(h, d)
param b: vector(h)
param a: scalar
const lambda: scalar
h[0] = h0
for t in 1..T:
    h[t] = tanh(a * (W @ h[t-1]) + U @ x[t] + b)
    l[t] = sum(h[t] * h[t])
J = sum(l[t] for t in 1..T) / T + lambda * norm(W)^2
objective J
""", ("T", (1, 2, 5))),
    # a recurrence two steps back: two boundaries, and a value carried two iterations
    "second_order": ("""\
dim h, T
input x[t]: vector(h) for t in 2..T
param W: matrix(h, h)
param V: matrix(h, h)
param h0: vector(h)
param h1: vector(h)
h[0] = h0
h[1] = h1
for t in 2..T:
    h[t] = tanh(W @ h[t-1] + V @ h[t-2] + x[t])
J = sum(h[T] * h[T]) + sum(sum(h[t]) for t in 0..T)
objective J
""", ("T", (3, 4, 7))),
    # every member of x read in every iteration: a sum inside a loop over the same index
    "sum_in_loop": ("""\
dim d, T
input x[t]: vector(d) for t in 1..T
param W: matrix(d, d)
for t in 1..T:
    c[t] = W @ x[t] + sum(x[s] for s in 1..T)
J = sum(sum(c[t] * c[t]) for t in 1..T)
objective J
""", ("T", (1, 2, 5))),
    # relu's derivative reads the pre-activation, which the forward loop keeps for it
    "relu_rnn": ((LOOPS / "rnn_tanh.sbp").read_text().replace("tanh(X[t]", "relu(X[t]"),
                 ("T", (1, 2, 5))),
    # layers of their own widths, a bias a layer, the input summed over time first
    "widths": ("""\
dim L, T
dim n[l] for l in 0..L
input x[t]: vector(n[0]) for t in 1..T
param W[l]: matrix(n[l], n[l-1]) for l in 1..L
param b[l]: vector(n[l]) for l in 1..L
s[0] = sum(x[t] for t in 1..T)
for l in 1..L:
    s[l] = sigmoid(W[l] @ s[l-1] + b[l])
J = sum(s[L] * s[L])
objective J
""", ("L", (1, 3))),
    # families the objective does not read: their gradients are zeros, stacked or a list
    "unused": ("""\
dim d, h, T, L
dim n[l] for l in 0..L
input x[t]: vector(d) for t in 1..T
input z[t]: vector(d) for t in 1..T
param W: matrix(h, d)
param V[l]: matrix(n[l], n[l-1]) for l in 1..L
for t in 1..T:
    a[t] = W @ x[t]
J = sum(sum(a[t]) for t in 1..T)
objective J
""", ("T", (1, 3))),
}


@pytest.mark.parametrize("name", MORE)
def test_more_models_agree_with_the_written_out_code_and_pytorch(name):
    text, (length, values) = MORE[name]
    model = sbp.parse(text, f"{name}.sbp")
    wrt = differentiable(model)
    f = sbp.derive(model).lambdify(wrt=wrt)  # once, for every length below
    for k in values:
        lengths = {**{n: 2 for n in model.lengths}, length: k}
        flat = model.unrolled(lengths)
        given = random_arrays(flat, default_dims(flat), seed=5)
        flat_wrt = [n for n, v in flat.variables.items() if v.role in ("param", "input")]
        J_flat, g_flat = sbp.derive(flat).lambdify(wrt=flat_wrt)(**given)
        J_torch, g_torch = torch_value_and_grad(flat, given, flat_wrt)
        J, grads = f(**looped(model, given, lengths))
        assert relative_error(J, J_flat) <= 1e-12 and relative_error(J, J_torch) <= 1e-12
        expected, by_torch = looped(model, g_flat, lengths), looped(model, g_torch, lengths)
        for n in wrt:
            assert relative_error(_flat(grads[n]), _flat(expected[n])) <= 1e-12, (n, k)
            assert relative_error(_flat(grads[n]), _flat(by_torch[n])) <= 1e-12, (n, k)


def test_a_kept_pre_activation_is_not_computed_again():
    d = sbp.derive(sbp.parse(MORE["relu_rnn"][0]))
    source = generate_loop_source(d)
    backward = source.split("def value_and_grad")[1].split("for t in range(T, 0, -1):")[1]
    assert "saved0[t - 1] = X[t - 1] @ W_xh + H[t - 1] @ W_hh" in source
    assert "X[t - 1] @ W_xh" not in backward and "(saved0[t - 1] > 0)" in backward
    program = loop_program(d)
    assert program.storage["\0saved0"].count == sp.Symbol("T", integer=True, positive=True)


def test_a_sum_over_the_index_of_its_loop_has_an_index_of_its_own():
    source = generate_loop_source(sbp.derive(sbp.parse(MORE["sum_in_loop"][0])), ["x"])
    assert "for t_ in range(T, 0, -1):\n            grad_x[t - 1] += grad_c[t_ - 1]" in source
    assert "Σ_{t=1}^{T} ∂J/∂c_t" in source  # the comment reads as the derivation prints it


def test_a_length_no_array_has_is_given_by_name():
    model = sbp.parse("dim h, T\nparam h0: vector(h)\nparam W: matrix(h, h)\nh[0] = h0\n"
                      "for t in 1..T:\n    h[t] = tanh(W @ h[t-1])\nJ = sum(h[T])\nobjective J\n")
    f = sbp.derive(model).lambdify()
    rng = np.random.default_rng(0)
    h0, W = rng.normal(size=3), rng.normal(size=(3, 3))
    for T in (1, 4):
        J, grads = f(h0=h0, W=W, T=T)
        J_flat, g_flat = sbp.derive(model.unrolled({"T": T})).lambdify()(h0=h0, W=W)
        assert relative_error(J, J_flat) <= 1e-12
        assert all(relative_error(grads[n], g_flat[n]) <= 1e-12 for n in ("h0", "W"))
    with pytest.raises(TypeError, match="no array has the length T: give it"):
        f(h0=h0, W=W)
